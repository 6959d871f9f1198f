"""Verdicts for every configuration of one job, with false alarms controlled across them.

For each configuration the two sides give an estimate of ``log(candidate /
baseline)`` (:mod:`snnbench.regress.stats`) from the best unit of replication
they hold: paired A/B rounds, else separate runs, else the samples of single runs.
Then, across every row of the job (``m`` rows, alpha spent at this look):

- **slower** / **faster**: Holm-adjusted p < alpha *and* the estimate beyond the
  threshold (a real change that is also large enough to matter);
- **no change**: the simultaneous ``1 - alpha / m`` interval lies inside
  ``[1 / (1 + threshold), 1 + threshold]``: a change as large as the threshold
  is ruled out;
- **inconclusive**: everything else, with the smallest change this data could
  have caught; also when CPU time decided and wall time alone moved beyond the
  threshold (a wall-only slowdown is never "no change"); also when separate runs disagree on the machine's speed
  (the yardstick, :func:`snnbench.regress.drift.yardstick_drift`);
- **not comparable**: a side failed, was skipped, or lacks the metric.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from snnbench.errors import expect
from snnbench.measure.phases import Phase
from snnbench.regress import stats
from snnbench.regress.drift import DEFAULT_DRIFT_TOLERANCE_PCT, machine_drift
from snnbench.regress.sides import METRICS, Side

SLOWER, FASTER, NO_CHANGE = "slower", "faster", "no change"
INCONCLUSIVE, NOT_COMPARABLE = "inconclusive", "not comparable"
#: Every verdict, in display order (what needs attention first).
VERDICTS = (SLOWER, FASTER, INCONCLUSIVE, NO_CHANGE, NOT_COMPARABLE)
AUTO = "auto"
DEFAULT_THRESHOLD_PCT = 10.0


def _percentage(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value >= 0


@dataclass(frozen=True)
class Criteria:
    """When a difference counts.

    Attributes:
        threshold_pct: a change smaller than this (percent) is never called slower
            or faster; near it, a row whose interval straddles it is inconclusive,
            not "no change" (so "never a verdict" is not what it means).
        phase_threshold_pct: per-phase overrides, ``(phase, percent)`` pairs.
        alpha: family-wise false-alarm rate of one job (all rows together).
        metric: "cpu" (per-call process CPU time), "wall", or "auto": CPU time
            where both sides recorded it in a process pinned to one core, else wall.
        look: 0 for a single analysis; k >= 1 for the k-th interim look of a
            sequential A/B run, which spends ``alpha / 2**k``.
        drift_tolerance_pct: how far the yardstick may move between separate runs.
        power: the power at which an inconclusive row's detectable change is quoted.
    """

    threshold_pct: float = DEFAULT_THRESHOLD_PCT
    phase_threshold_pct: tuple[tuple[str, float], ...] = ()
    alpha: float = stats.DEFAULT_ALPHA
    metric: str = AUTO
    look: int = 0
    drift_tolerance_pct: float = DEFAULT_DRIFT_TOLERANCE_PCT
    power: float = stats.DEFAULT_POWER

    def __post_init__(self) -> None:
        expect(
            _percentage(self.threshold_pct),
            "threshold_pct",
            "a percentage >= 0",
            self.threshold_pct,
        )
        for phase, pct in self.phase_threshold_pct:
            Phase.parse(phase, "phase_threshold_pct")
            expect(_percentage(pct), "phase_threshold_pct", "percentages >= 0", pct)
        expect(0.0 < self.alpha < 1.0, "alpha", "a number in (0, 1)", self.alpha)
        expect(self.metric in (AUTO, *METRICS), "metric", f"one of {AUTO}, cpu, wall", self.metric)
        expect(isinstance(self.look, int) and self.look >= 0, "look", "an integer >= 0", self.look)
        expect(
            _percentage(self.drift_tolerance_pct),
            "drift_tolerance_pct",
            "a percentage >= 0",
            self.drift_tolerance_pct,
        )
        expect(0.0 < self.power < 1.0, "power", "a number in (0, 1)", self.power)

    def threshold_for(self, phase: str) -> float:
        """The threshold of ``phase`` as a fraction (10 % -> 0.10)."""
        return dict(self.phase_threshold_pct).get(phase, self.threshold_pct) / 100.0

    @property
    def spent_alpha(self) -> float:
        """The alpha this analysis may spend (all of it, or its look's share)."""
        return stats.alpha_at_look(self.alpha, self.look)


@dataclass(frozen=True)
class Verdict:
    """The verdict on one configuration.

    Attributes:
        verdict: one of :data:`VERDICTS`.
        metric: the metric that decided ("cpu" or "wall"; "" when none did).
        ratio / ratio_low / ratio_high: candidate / baseline and its simultaneous interval.
        p_value / p_holm: the raw and the Holm-adjusted two-sided p-value.
        detectable_pct: for inconclusive rows, the smallest slowdown (percent)
            this data would have caught with the policy's power.
        design: the unit of replication ("process pairs", "paired rounds", "runs", "samples").
        other_ratio: the other metric's estimate, shown next to it.
        detail: the reason in words.
    """

    verdict: str
    metric: str = ""
    ratio: float | None = None
    ratio_low: float | None = None
    ratio_high: float | None = None
    p_value: float | None = None
    p_holm: float | None = None
    detectable_pct: float | None = None
    design: str = ""
    other_ratio: float | None = None
    detail: str = ""


def choose_metric(a: Side, b: Side, wanted: str, platform: str) -> tuple[str, str]:
    """``(metric, "")``, or ``("", why not)`` when the wanted metric is missing.

    "auto" takes CPU time only where it measures the work: a CPU platform whose
    benchmark process was pinned to one core on both sides (unpinned, XLA's
    helper threads spin and their CPU time shrinks under load).
    """
    if wanted == AUTO:
        cpu_ok = platform == "cpu" and a.has("cpu") and b.has("cpu") and a.pinned and b.pinned
        return ("cpu" if cpu_ok else "wall"), ""
    if a.has(wanted) and b.has(wanted):
        return wanted, ""
    return "", f"no {wanted} time recorded on both sides (an older snnbench); try --metric wall"


def estimate(a: Side, b: Side, metric: str) -> stats.LogRatio:
    """The log ratio from the best unit both sides hold.

    Interleaved rounds that record their worker processes: the process pair is the
    unit (:func:`snnbench.regress.stats.process_log_ratio`). Rounds all from one pair
    are untestable: the rounds share that pair's speed offset, so their spread says
    nothing of the spread between processes. Interleaved rounds without processes
    recorded: paired rounds; else separate runs, else samples.
    """
    shared = sorted(a.pair_keys & b.pair_keys)
    if a.paired and b.paired and len(shared) >= 2:
        by_a = {r.pair_key: r for r in a.repeats}
        by_b = {r.pair_key: r for r in b.repeats}
        base = [by_a[k].median(metric) for k in shared]
        cand = [by_b[k].median(metric) for k in shared]
        processes = [by_a[k].process_key for k in shared]
        if all(p is not None for p in processes):
            return stats.process_log_ratio(base, cand, processes)
        return stats.paired_log_ratio(base, cand)
    if len(a.repeats) >= 2 and len(b.repeats) >= 2:
        return stats.welch_log_ratio(
            [r.median(metric) for r in a.repeats], [r.median(metric) for r in b.repeats], "runs"
        )
    return stats.welch_log_ratio(a.samples(metric), b.samples(metric), "samples")


@dataclass(frozen=True)
class _Pending:
    """A row between estimating and deciding."""

    metric: str
    estimate: stats.LogRatio
    other: float | None
    drift: str
    wall: stats.LogRatio | None = None


def _pending(
    a: Side, b: Side, platform: str, policy: Criteria, yardsticks: dict
) -> _Pending | Verdict:
    if a.problem or b.problem:
        if a.problem == b.problem:
            return Verdict(NOT_COMPARABLE, detail=f"both {a.problem}")
        detail = "; ".join(
            f"{name} {side.problem}"
            for name, side in (("baseline", a), ("candidate", b))
            if side.problem
        )
        return Verdict(NOT_COMPARABLE, detail=detail)
    metric, why = choose_metric(a, b, policy.metric, platform)
    if not metric:
        return Verdict(NOT_COMPARABLE, detail=why)
    found = estimate(a, b, metric)
    other_metric = "wall" if metric == "cpu" else "cpu"
    other = wall = None
    if a.has(other_metric) and b.has(other_metric):
        other_estimate = estimate(a, b, other_metric)
        other = other_estimate.ratio
        wall = other_estimate if other_metric == "wall" else None
    drift = ""
    if found.design not in ("paired rounds", "process pairs"):  # interleaved: drift cancels
        name = yardstick_for(metric, a, b)
        whole = yardsticks.get(name, ((), ()))
        drift = machine_drift(
            a.yardsticks_s(name), b.yardsticks_s(name), *whole, policy.drift_tolerance_pct / 100
        )
    return _Pending(metric, found, other, drift, wall)


def yardstick_for(metric: str, a: Side, b: Side) -> str:
    """The yardstick that watches ``metric``: where CPU time decides, the XLA program's CPU
    time (it sees memory and cache pressure), else the numpy workload's CPU time when
    both runs predate it; where wall time decides, the numpy workload's wall time."""
    if metric == "cpu":
        for name in ("xla_cpu", "cpu"):
            if a.yardsticks_s(name) and b.yardsticks_s(name):
                return name
    return "wall"


def judge_rows(
    rows: list[tuple[str, str, Side, Side]],
    policy: Criteria | None = None,
    yardsticks: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] | None = None,
) -> list[Verdict]:
    """Verdicts for one job's rows, each ``(phase, platform, baseline, candidate)``.

    The rows are judged together: Holm's adjustment and the simultaneous
    intervals run over every row that has an estimate. ``yardsticks`` holds every
    yardstick of each side (all rows) by name, for the drift check of separate runs.
    """
    policy = policy or Criteria()
    yardsticks = yardsticks or {}
    pending = [_pending(a, b, platform, policy, yardsticks) for _, platform, a, b in rows]
    estimated = [p for p in pending if isinstance(p, _Pending)]
    m = max(1, len(estimated))
    alpha = policy.spent_alpha
    adjusted = iter(stats.holm([p.estimate.p_value() for p in estimated]))
    out = []
    for (phase, _, _, _), item in zip(rows, pending, strict=True):
        if isinstance(item, Verdict):
            out.append(item)
            continue
        out.append(_decide(item, next(adjusted), policy.threshold_for(phase), alpha, m, policy))
    return out


def _decide(
    row: _Pending, p_holm: float, threshold: float, alpha: float, m: int, policy: Criteria
) -> Verdict:
    est = row.estimate
    low, high = est.interval(alpha / m)
    found = dict(
        metric=row.metric,
        ratio=est.ratio,
        ratio_low=low,
        ratio_high=high,
        p_value=est.p_value(),
        p_holm=p_holm,
        design=est.design,
        other_ratio=row.other,
    )
    change = f"{(est.ratio - 1) * 100:+.1f} %"
    limit = f"{threshold * 100:g} %"
    if row.drift:
        return Verdict(
            INCONCLUSIVE, **found, detail=f"{row.drift}; rerun interleaved (snnbench ab)"
        )
    if not est.testable:
        return Verdict(
            INCONCLUSIVE,
            **found,
            detail=f"{change}; too few {est.design} to estimate the spread "
            f"({est.n_baseline} vs {est.n_candidate})",
        )
    significant = p_holm < alpha
    if significant and est.ratio > 1.0 + threshold:
        return Verdict(SLOWER, **found, detail=f"{change}, beyond {limit}")
    wall = row.wall
    if wall is not None and wall.testable and wall.ratio > 1.0 + threshold:
        # CPU time decided, but a slowdown in wall time alone (waiting, a host
        # callback, lost parallelism) is something users pay for: never "no change".
        return Verdict(
            INCONCLUSIVE,
            **found,
            detail=f"{change} in CPU time, but wall time {(wall.ratio - 1) * 100:+.1f} %, "
            f"beyond {limit}: slower (wall) unless the machine's load explains it",
        )
    if significant and est.ratio < 1.0 / (1.0 + threshold):
        return Verdict(FASTER, **found, detail=f"{change}, beyond {limit}")
    if low >= 1.0 / (1.0 + threshold) and high <= 1.0 + threshold:
        return Verdict(NO_CHANGE, **found, detail=f"{change}; a change of {limit} is ruled out")
    detectable = est.detectable_change(alpha / m, threshold, policy.power) * 100
    return Verdict(
        INCONCLUSIVE,
        **found,
        detectable_pct=detectable,
        detail=f"{change}; this data could catch +{detectable:.0f} % or more",
    )
