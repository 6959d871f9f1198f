"""Change points: where a configuration's time per call moved, by how much, and why.

Candidates come from ``ruptures`` (PELT on the log of each run's median, the
penalty scaled by the series' own run-to-run noise). A candidate only stands if
the two segments it separates pass a test *and* differ by at least the minimum
effect, so noise alone does not make change points: Student's t on the runs of
either side with their pooled variance (runs, not samples, are the unit: a run's
samples share its machine state), its p-value multiplied by the split positions
it was chosen among, at the history's alpha shared over its series; or, for the
newest run alone, whether it falls outside the prediction interval of the
segment before it. A candidate that fails is removed and its neighbours are
tested again on the merged segment.
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass

import numpy as np

from snnbench.errors import expect
from snnbench.history.series import History, RunRecord, Series
from snnbench.measure.machine import PACKAGES
from snnbench.regress.drift import DEFAULT_DRIFT_TOLERANCE_PCT, yardstick_drift
from snnbench.regress.stats import LogRatio

#: Packages ``snnbench bisect`` can move between two sides (pip specs ``NAME==VERSION``).
INSTALLABLE = tuple(name for name in PACKAGES if name != "snnbench")
#: A configuration needs this many runs before it can show a change.
MIN_RUNS = 3
#: The fewest runs of a segment (but the newest run, which may stand alone).
MIN_SEGMENT = 2
#: Backends ``bench`` and ``bisect`` take (``none`` is the overhead phase's, not a flag value).
_BENCH_BACKENDS = ("jaxley", "dense")


@dataclass(frozen=True)
class ChangeCriteria:
    """When a moved series counts as a change point.

    Attributes:
        alpha: the family-wise significance over a history: each of its ``m`` series is
            tested at ``alpha / m`` (Bonferroni), so a tree of hundreds of
            configurations does not raise false changes by its size alone.
        min_change_pct: and by at least this much, either way (ratio >= 1 + m or <= 1 / (1 + m)).
    """

    alpha: float = 0.01
    min_change_pct: float = 10.0

    def __post_init__(self) -> None:
        expect(0 < self.alpha < 1, "alpha", "a number between 0 and 1", self.alpha)
        expect(self.min_change_pct >= 0, "min_change_pct", "a number >= 0", self.min_change_pct)

    @property
    def min_log_change(self) -> float:
        return math.log1p(self.min_change_pct / 100.0)

    def per_series(self, series_count: int) -> ChangeCriteria:
        """These criteria for one of ``series_count`` series (Bonferroni-adjusted alpha)."""
        return ChangeCriteria(self.alpha / max(series_count, 1), self.min_change_pct)

    def holds(self, estimate: LogRatio, looks: int = 1) -> bool:
        return (
            estimate.testable
            and _adjusted(estimate, looks) < self.alpha
            and abs(estimate.estimate) >= self.min_log_change
        )


@dataclass(frozen=True)
class ChangePoint:
    """A step in one series: the runs on either side and the segments' comparison.

    Attributes:
        series: the configuration that moved.
        index: the position in ``series.points`` of the first point after the step.
        n_before / n_after: runs in the segments either side.
        estimate: ``log(after / before)`` of the segments' run medians, with its error.
        looks: the split positions the step was chosen among (its p-value is multiplied
            by them: the best of many splits looks significant more often than one).
        alpha: the significance the test was made at (its interval is quoted at
            ``alpha / looks``, so it excludes 1 exactly when the step is significant).
    """

    series: Series
    index: int
    n_before: int
    n_after: int
    estimate: LogRatio
    looks: int
    alpha: float

    @property
    def before(self) -> RunRecord:
        """The last run before the step."""
        return self.series.points[self.index - 1].run

    @property
    def after(self) -> RunRecord:
        """The first run after the step."""
        return self.series.points[self.index].run

    @property
    def ratio(self) -> float:
        """Time per call after / before (a ratio of geometric means of run medians)."""
        return self.estimate.ratio

    @property
    def interval(self) -> tuple[float, float]:
        return self.estimate.interval(self.alpha / self.looks)

    @property
    def p_value(self) -> float:
        """The two segments' p-value of "no change", adjusted for the split being chosen."""
        return _adjusted(self.estimate, self.looks)

    @property
    def slower(self) -> bool:
        return self.estimate.estimate > 0

    def machine_drift(self) -> str:
        """Whether the yardstick moved across the step too (the machine, not the code), or
        could not be compared; ``""`` when it held still."""
        before = self.series.points[self.index - self.n_before : self.index]
        after = self.series.points[self.index : self.index + self.n_after]
        return yardstick_drift(
            [p.yardstick_s for p in before if p.yardstick_s == p.yardstick_s],
            [p.yardstick_s for p in after if p.yardstick_s == p.yardstick_s],
            DEFAULT_DRIFT_TOLERANCE_PCT / 100.0,
        )

    def environment_diff(self) -> tuple[tuple[str, str, str], ...]:
        """``(field, before, after)`` for every version, commit or machine field that differs."""
        a, b = self.before.environment(), self.after.environment()
        return tuple(
            (k, a.get(k, ""), b.get(k, "")) for k in sorted({*a, *b}) if a.get(k) != b.get(k)
        )

    def bisect_command(self) -> str | None:
        """The ``snnbench bisect`` command that localises this step, when both sides install.

        The good side is the faster one. Package versions that differ are pinned on
        each side; when only snnbench's own commit moved (both clean), the commit range
        is bisected instead. ``None`` when neither applies.
        """
        fast, slow = (self.before, self.after) if self.slower else (self.after, self.before)
        a, b = dict(fast.versions), dict(slow.versions)
        moved = [n for n in INSTALLABLE if n in a and n in b and a[n] != b[n]]
        backend = dict(self.series.key)["backend"]
        if backend not in _BENCH_BACKENDS or not all(_installable(a.get(n, "")) for n in moved):
            return None
        if moved:
            sides = [f"--a-spec {n}=={a[n]}" for n in moved] + [
                f"--b-spec {n}=={b[n]}" for n in moved
            ]
        elif fast.git_commit != slow.git_commit and _clean_commits(fast, slow):
            sides = [
                "--name snnbench --repo .",
                f"--good {fast.git_commit}",
                f"--bad {slow.git_commit}",
            ]
        else:
            return None
        return " ".join(["snnbench bisect", *sides, *self._matrix_flags()])

    def _matrix_flags(self) -> list[str]:
        key = dict(self.series.key)
        flags = {
            "--backend": key["backend"],
            "--phases": key["phase"],
            "--batch-sizes": key["batch_size"],
            "--precision": key["precision"],
            "--device": key["platform"],
            "--dt-ms": f"{key['dt_ms']:g}",
            "--n-input": key["n_input"],
            "--n-hidden": key["n_hidden"],
        }
        return [f"{flag} {shlex.quote(str(value))}" for flag, value in flags.items()]


def _installable(version: str) -> bool:
    return bool(version) and version not in ("not installed", "unknown")


def _clean_commits(*runs: RunRecord) -> bool:
    return all(r.git_commit not in ("", "unknown") and not r.git_dirty for r in runs)


# ---------------------------------------------------------------- detection


def find_changes(
    history: History, criteria: ChangeCriteria | None = None
) -> tuple[ChangePoint, ...]:
    """Every change point of every series of ``history``, largest first."""
    criteria = criteria or ChangeCriteria()
    testable = [s for s in history.series if len(s.points) >= MIN_RUNS]
    each = criteria.per_series(len(testable))
    found = [c for s in testable for c in series_changes(s, each)]
    return tuple(sorted(found, key=lambda c: (-abs(c.estimate.estimate), c.series.label)))


def new_changes(
    history: History, criteria: ChangeCriteria | None = None
) -> tuple[ChangePoint, ...]:
    """The change points that the newest run brought: found now, not without that run."""
    criteria = criteria or ChangeCriteria()
    earlier = {
        (c.series.key, c.after.run_id) for c in find_changes(history.without_newest_run(), criteria)
    }
    return tuple(
        c for c in find_changes(history, criteria) if (c.series.key, c.after.run_id) not in earlier
    )


def series_changes(series: Series, criteria: ChangeCriteria) -> list[ChangePoint]:
    """The change points of one series that pass ``criteria``, oldest first.

    Segments hold at least two runs: a single run in the middle of a series is an
    outlier until another run agrees with it. Only the newest run may stand alone,
    tested against the segment before it (the one comparison a nightly job makes,
    so it is one look, not a choice among splits).
    """
    logs = np.log([p.median_s for p in series.points])
    if logs.size < MIN_RUNS:
        return []
    bounds = _pruned([0, *_candidates(logs, criteria), logs.size], logs, criteria)
    if logs.size - 1 - bounds[-2] >= 2:
        newest = [bounds[-2], logs.size - 1, logs.size]
        if criteria.holds(*_test(logs, newest, 1)):
            bounds = [*bounds[:-1], logs.size - 1, logs.size]
    changes = []
    for i in range(1, len(bounds) - 1):
        estimate, looks = _test(logs, bounds, i)
        before, after = bounds[i] - bounds[i - 1], bounds[i + 1] - bounds[i]
        changes.append(
            ChangePoint(series, bounds[i], before, after, estimate, looks, criteria.alpha)
        )
    return changes


def _pruned(bounds: list[int], logs: np.ndarray, criteria: ChangeCriteria) -> list[int]:
    """``bounds`` less every breakpoint whose segments fail ``criteria``, weakest first."""
    while len(bounds) > 2:
        tests = [_test(logs, bounds, i) for i in range(1, len(bounds) - 1)]
        failing = [(i, t) for i, t in enumerate(tests, start=1) if not criteria.holds(*t)]
        if not failing:
            break
        weakest, _ = max(failing, key=lambda item: (_adjusted(*item[1]), -abs(item[1][0].estimate)))
        del bounds[weakest]
    return bounds


def _candidates(logs: np.ndarray, criteria: ChangeCriteria) -> list[int]:
    """PELT's breakpoints (first index of each new segment), penalised by the series' noise."""
    import ruptures

    sigma = max(_noise(logs), criteria.min_log_change / 4.0, 1e-6)
    penalty = 2.0 * sigma**2 * math.log(logs.size)
    fitted = ruptures.Pelt(model="l2", min_size=MIN_SEGMENT, jump=1).fit(logs.reshape(-1, 1))
    return [int(e) for e in fitted.predict(pen=penalty)[:-1]]


def _noise(logs: np.ndarray) -> float:
    """Run-to-run noise of a series: the MAD of successive differences (a step moves one)."""
    steps = np.diff(logs)
    return float(1.4826 * np.median(np.abs(steps - np.median(steps))) / math.sqrt(2.0))


def _test(logs: np.ndarray, bounds: list[int], i: int) -> tuple[LogRatio, int]:
    """The segment before ``bounds[i]`` against the one after it, and the looks it took.

    Two segments of runs: Student's t with their pooled variance (the runs of one
    series share its noise; a variance from two runs alone is too unsteady for
    Welch's). The split was the best of the merged segment's possible positions,
    so those count as looks. The newest run alone: the t of a new observation.
    """
    before = logs[bounds[i - 1] : bounds[i]]
    after = logs[bounds[i] : bounds[i + 1]]
    if before.size >= MIN_SEGMENT and after.size >= MIN_SEGMENT:
        looks = max(1, before.size + after.size - 2 * MIN_SEGMENT + 1)
        return _pooled(before, after), looks
    if before.size >= MIN_SEGMENT and after.size == 1:
        return _one_run(before, float(after[0])), 1
    return LogRatio(
        float(after.mean() - before.mean()), math.inf, 0.0, before.size, after.size, "runs"
    ), 1


def _pooled(before: np.ndarray, after: np.ndarray) -> LogRatio:
    n1, n2 = before.size, after.size
    df = n1 + n2 - 2.0
    pooled = ((n1 - 1) * before.var(ddof=1) + (n2 - 1) * after.var(ddof=1)) / df
    se = math.sqrt(pooled * (1.0 / n1 + 1.0 / n2))
    return LogRatio(float(after.mean() - before.mean()), se, df, n1, n2, "runs (pooled)")


def _one_run(segment: np.ndarray, single: float) -> LogRatio:
    """The newest run against the segment before it: the t of a new observation."""
    n = segment.size
    se = float(segment.std(ddof=1) * math.sqrt(1.0 + 1.0 / n))
    return LogRatio(
        single - float(segment.mean()), se, n - 1.0, n, 1, "newest run against its segment"
    )


def _adjusted(estimate: LogRatio, looks: int) -> float:
    return min(1.0, looks * estimate.p_value())
