"""Statistics that compare two sets of timing samples: pure functions of numpy arrays."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Default two-sided significance level for comparisons.
DEFAULT_ALPHA = 0.05
#: Default confidence of the bootstrap interval of a ratio.
DEFAULT_CONFIDENCE = 0.95
#: Default number of bootstrap resamples (enough for a stable 95 % interval).
DEFAULT_RESAMPLES = 2000


@dataclass(frozen=True)
class RankTest:
    """Two-sided Mann-Whitney U test of ``candidate`` against ``baseline``.

    Attributes:
        u: the U statistic of ``candidate`` (large when candidate is slower).
        p_value: two-sided p-value (exact for small samples without ties).
        min_p_value: the smallest p-value these sample sizes can reach; when it
            exceeds alpha the test can never be significant (too few samples).
    """

    u: float
    p_value: float
    min_p_value: float


@dataclass(frozen=True)
class RatioInterval:
    """Ratio of medians ``candidate / baseline`` and its bootstrap interval."""

    ratio: float
    low: float
    high: float
    confidence: float

    def excludes_one(self) -> bool:
        return bool(self.low > 1.0 or self.high < 1.0)


def _positive_samples(samples: Sequence[float], name: str) -> np.ndarray:
    x = np.asarray(samples, dtype=float)
    if x.size == 0:
        raise ValueError(f"`{name}` must hold at least one sample; got none")
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise ValueError(f"`{name}` must hold positive finite seconds; got {x[:5].tolist()}...")
    return x


def mann_whitney_u(baseline: Sequence[float], candidate: Sequence[float]) -> RankTest:
    """Mann-Whitney U test (two-sided) of two independent sets of samples.

    A rank test makes no assumption on the shape of the timing distribution and
    is robust to the long right tail that timings on shared machines have.
    """
    from scipy import stats as sps

    a = _positive_samples(baseline, "baseline")
    b = _positive_samples(candidate, "candidate")
    result = sps.mannwhitneyu(b, a, alternative="two-sided", method="auto")
    return RankTest(
        u=float(result.statistic),
        p_value=float(result.pvalue),
        min_p_value=min_p_value(a.size, b.size),
    )


def min_p_value(n_baseline: int, n_candidate: int) -> float:
    """Smallest two-sided exact p-value of a rank test with these sample sizes.

    It is reached when every candidate sample is larger than every baseline
    sample: ``2 / C(n_a + n_b, n_a)``.
    """
    return min(1.0, 2.0 / math.comb(n_baseline + n_candidate, n_baseline))


def bootstrap_ratio_of_medians(
    baseline: Sequence[float],
    candidate: Sequence[float],
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> RatioInterval:
    """Percentile-bootstrap interval of ``median(candidate) / median(baseline)``.

    Each side is resampled with replacement on its own (the samples are not
    paired); the same ``seed`` gives the same interval.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"`confidence` must lie in (0, 1); got {confidence!r}")
    a = _positive_samples(baseline, "baseline")
    b = _positive_samples(candidate, "candidate")
    rng = np.random.default_rng(seed)
    med_a = np.median(a[rng.integers(0, a.size, size=(n_resamples, a.size))], axis=1)
    med_b = np.median(b[rng.integers(0, b.size, size=(n_resamples, b.size))], axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(med_b / med_a, [tail, 1.0 - tail])
    return RatioInterval(
        ratio=float(np.median(b) / np.median(a)),
        low=float(low),
        high=float(high),
        confidence=confidence,
    )


def hodges_lehmann_ratio(baseline: Sequence[float], candidate: Sequence[float]) -> float:
    """Hodges-Lehmann estimate of the ratio ``candidate / baseline``.

    The median of all pairwise log differences, exponentiated: the shift that
    the Mann-Whitney test is about, on a multiplicative scale.
    """
    a = np.log(_positive_samples(baseline, "baseline"))
    b = np.log(_positive_samples(candidate, "candidate"))
    return float(np.exp(np.median(b[:, None] - a[None, :])))


def proportion_interval(
    successes: int, trials: int, confidence: float = DEFAULT_CONFIDENCE
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


def _resample_runs(runs: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    drawn = rng.integers(0, len(runs), size=len(runs))
    return np.concatenate(
        [runs[j][rng.integers(0, runs[j].size, size=runs[j].size)] for j in drawn]
    )


def bootstrap_hodges_lehmann_ratio(
    baseline_runs: Sequence[Sequence[float]],
    candidate_runs: Sequence[Sequence[float]],
    confidence: float = DEFAULT_CONFIDENCE,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> RatioInterval:
    """Hodges-Lehmann ratio ``candidate / baseline`` with a two-level bootstrap interval.

    The Hodges-Lehmann estimate (median of all pairwise log differences) is the
    shift the Mann-Whitney test measures; unlike a ratio of two medians it does
    not jump when the samples are bimodal (calls that were preempted and calls
    that were not), which is the usual shape of timings on a busy machine.
    Samples of one run share that run's machine state (load, clock, cache), so
    they are not independent: each resample draws runs with replacement, then
    samples with replacement within each drawn run (a two-level, or cluster,
    bootstrap), and the interval widens when runs disagree. One run per side is
    a plain bootstrap.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"`confidence` must lie in (0, 1); got {confidence!r}")
    a = [np.log(_positive_samples(r, "baseline")) for r in baseline_runs]
    b = [np.log(_positive_samples(r, "candidate")) for r in candidate_runs]
    rng = np.random.default_rng(seed)
    shifts = np.concatenate(
        [
            _log_shifts(_resample_many(a, rng, size), _resample_many(b, rng, size))
            for size in _batches(n_resamples)
        ]
    )
    tail = (1.0 - confidence) / 2.0
    low, high = np.exp(np.quantile(shifts, [tail, 1.0 - tail]))
    ratio = float(np.exp(_log_shift(np.concatenate(a), np.concatenate(b))))
    return RatioInterval(ratio=ratio, low=float(low), high=float(high), confidence=confidence)


def _log_shift(log_a: np.ndarray, log_b: np.ndarray) -> float:
    return float(np.median(log_b[:, None] - log_a[None, :]))


def _batches(n: int, size: int = 100) -> list[int]:
    return [min(size, n - start) for start in range(0, n, size)]


def _resample_many(runs: list[np.ndarray], rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` two-level resamples as rows of one array (runs of equal length) or a list."""
    sizes = {r.size for r in runs}
    if len(sizes) != 1:
        return [_resample_runs(runs, rng) for _ in range(count)]
    size = sizes.pop()
    stacked = np.stack(runs)  # (n_runs, size)
    drawn = rng.integers(0, len(runs), size=(count, len(runs), 1))
    within = rng.integers(0, size, size=(count, len(runs), size))
    return stacked[drawn, within].reshape(count, -1)


def _log_shifts(log_a, log_b) -> np.ndarray:
    """Hodges-Lehmann log shifts of paired resamples (rows of two arrays, or two lists)."""
    if isinstance(log_a, np.ndarray) and isinstance(log_b, np.ndarray):
        return np.median(log_b[:, :, None] - log_a[:, None, :], axis=(1, 2))
    return np.array([_log_shift(x, y) for x, y in zip(log_a, log_b, strict=True)])
