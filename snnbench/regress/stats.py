"""Statistics that compare two sets of timings: pure functions of numpy arrays.

Everything works on the log scale, where a slowdown is a shift: ``log(candidate /
baseline)``. The unit of replication is chosen by the caller (see
:func:`paired_log_ratio`, :func:`welch_log_ratio`); the estimate then carries its
standard error and degrees of freedom, and intervals and p-values come from
Student's t distribution (what pyperf uses), so every figure can be checked by hand.

Multiplicity: :func:`holm` adjusts the p-values of all rows of one job, and
:func:`alpha_at_look` spends a job's alpha over the interim looks of a sequential
A/B run (alpha / 2, alpha / 4, ...: the sum never exceeds alpha however many looks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Default family-wise significance level of one job (one ``compare`` or ``ab``).
DEFAULT_ALPHA = 0.05
#: Power at which :meth:`LogRatio.detectable_change` is quoted.
DEFAULT_POWER = 0.8


def _t():
    from scipy import stats as sps

    return sps.t


def _logs(samples: Sequence[float], name: str) -> np.ndarray:
    x = np.asarray(samples, dtype=float)
    if x.size == 0:
        raise ValueError(f"`{name}` must hold at least one value; got none")
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise ValueError(f"`{name}` must hold positive finite seconds; got {x[:5].tolist()}...")
    return np.log(x)


@dataclass(frozen=True)
class LogRatio:
    """An estimate of ``log(candidate / baseline)`` with its standard error.

    Attributes:
        estimate: the estimated log ratio.
        se: its standard error (``inf`` when the data cannot estimate it).
        df: degrees of freedom of the t distribution (``0`` when untestable).
        n_baseline / n_candidate: units of replication on each side.
        design: how the units were formed ("paired rounds", "runs", "samples").
    """

    estimate: float
    se: float
    df: float
    n_baseline: int
    n_candidate: int
    design: str

    @property
    def ratio(self) -> float:
        return math.exp(self.estimate)

    @property
    def testable(self) -> bool:
        return self.df > 0 and math.isfinite(self.se)

    def critical(self, alpha: float) -> float:
        """The two-sided t quantile ``t(1 - alpha / 2, df)``."""
        return float(_t().ppf(1.0 - alpha / 2.0, self.df)) if self.testable else math.inf

    def p_value(self) -> float:
        """Two-sided p-value of "no change" (log ratio 0)."""
        if not self.testable:
            return 1.0
        if self.se == 0.0:
            return 1.0 if self.estimate == 0.0 else 0.0
        return float(2.0 * _t().sf(abs(self.estimate) / self.se, self.df))

    def interval(self, alpha: float) -> tuple[float, float]:
        """The two-sided ``1 - alpha`` interval of the ratio."""
        if not self.testable:
            return 0.0, math.inf
        half = self.critical(alpha) * self.se
        return math.exp(self.estimate - half), math.exp(self.estimate + half)

    def detectable_change(
        self, alpha: float, threshold: float, power: float = DEFAULT_POWER
    ) -> float:
        """The smallest slowdown (a fraction) this data would call slower with ``power``.

        A change is called slower when it is significant at ``alpha`` *and* its
        estimate exceeds ``threshold``, so the estimate must clear
        ``max(log(1 + threshold), t_crit * se)``; with probability ``power`` it
        does once the true log ratio is that much plus ``t_power * se``.
        """
        if not self.testable:
            return math.inf
        t_power = float(_t().ppf(power, self.df))
        bar = max(math.log1p(threshold), self.critical(alpha) * self.se)
        return math.expm1(bar + t_power * self.se)


def paired_log_ratio(baseline: Sequence[float], candidate: Sequence[float]) -> LogRatio:
    """Paired rounds: ``log(candidate_i / baseline_i)``, one difference per round.

    For interleaved A/B rounds: each round's A and B ran next to each other, so
    the machine's state at that moment cancels in the difference, and the rounds
    (not the calls inside them) are the independent units.
    """
    a, b = _logs(baseline, "baseline"), _logs(candidate, "candidate")
    if a.size != b.size:
        raise ValueError(f"paired rounds need equal counts; got {a.size} and {b.size}")
    d = b - a
    n = d.size
    if n < 2:
        return LogRatio(float(d.mean()), math.inf, 0.0, n, n, "paired rounds")
    return LogRatio(
        float(d.mean()), float(d.std(ddof=1) / math.sqrt(n)), n - 1.0, n, n, "paired rounds"
    )


def process_log_ratio(
    baseline: Sequence[float], candidate: Sequence[float], processes: Sequence[object]
) -> LogRatio:
    """Paired rounds grouped by the pair of worker processes that measured them.

    Each process carries its own speed offset (about 1 % between quiet processes
    of the same code), which the rounds inside one process share and cannot
    average away. So the unit is the process pair: ``d_p`` is the mean of
    ``log(candidate_i / baseline_i)`` over the rounds of pair ``p``, and the
    estimate is the mean of the ``d_p`` with a t interval on ``P - 1`` degrees of
    freedom (``P`` pairs). With one round per pair this is :func:`paired_log_ratio`.
    """
    a, b = _logs(baseline, "baseline"), _logs(candidate, "candidate")
    if not a.size == b.size == len(processes):
        raise ValueError(
            f"process pairs need equal counts; got {a.size}, {b.size} and {len(processes)}"
        )
    d = b - a
    groups: dict[object, list[float]] = {}
    for key, value in zip(processes, d, strict=True):
        groups.setdefault(key, []).append(float(value))
    means = np.array([np.mean(v) for v in groups.values()])
    n = means.size
    design = "process pairs"
    if n < 2:
        return LogRatio(float(means.mean()), math.inf, 0.0, n, n, design)
    return LogRatio(
        float(means.mean()), float(means.std(ddof=1) / math.sqrt(n)), n - 1.0, n, n, design
    )


def welch_log_ratio(
    baseline: Sequence[float], candidate: Sequence[float], design: str = "runs"
) -> LogRatio:
    """Unpaired units (runs, or samples of one run): Welch's t on the logs.

    The estimate is the difference of mean logs (a ratio of geometric means);
    the degrees of freedom are Welch-Satterthwaite's.
    """
    a, b = _logs(baseline, "baseline"), _logs(candidate, "candidate")
    estimate = float(b.mean() - a.mean())
    if a.size < 2 or b.size < 2:
        return LogRatio(estimate, math.inf, 0.0, a.size, b.size, design)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se2 = va + vb
    if se2 == 0.0:
        return LogRatio(estimate, 0.0, a.size + b.size - 2.0, a.size, b.size, design)
    df = se2**2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    return LogRatio(estimate, math.sqrt(se2), float(df), a.size, b.size, design)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error, any dependence).

    Sorted ascending, the k-th smallest (k from 0) is multiplied by ``m - k``;
    a running maximum keeps the order; nothing exceeds 1.
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


def alpha_at_look(alpha: float, look: int) -> float:
    """The alpha a sequential A/B run spends at interim look ``look`` (1, 2, ...).

    ``alpha / 2**look``: the looks together never spend more than ``alpha``, so
    stopping as soon as a verdict is clear does not inflate false alarms. Look 0
    is a single, fixed-size analysis (all of ``alpha``).
    """
    return alpha if look <= 0 else alpha / 2.0**look


def proportion_interval(
    successes: int, trials: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Clopper-Pearson (exact) interval of a binomial proportion."""
    from scipy import stats as sps

    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0; got {successes}/{trials}")
    tail = (1.0 - confidence) / 2.0
    low = 0.0 if successes == 0 else float(sps.beta.ppf(tail, successes, trials - successes + 1))
    high = (
        1.0
        if successes == trials
        else float(sps.beta.ppf(1 - tail, successes + 1, trials - successes))
    )
    return low, high
