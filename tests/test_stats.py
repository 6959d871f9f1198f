"""Statistics on samples with known distributions and hand-computed values."""

import math

import numpy as np
import pytest

from snnbench.regress import stats

SEEDS = range(40)


def lognormal(seed: int, n: int = 20, scale: float = 1.0) -> np.ndarray:
    return scale * 1e-3 * np.random.default_rng(seed).lognormal(0.0, 0.1, size=n)


def test_mann_whitney_separated_samples_reach_min_p():
    # every candidate above every baseline: U = n_a * n_b, p = 2 / C(10, 5) = 2/252
    test = stats.mann_whitney_u([1.0, 2, 3, 4, 5], [6.0, 7, 8, 9, 10])
    assert test.u == 25
    assert test.p_value == pytest.approx(2 / 252)
    assert test.min_p_value == pytest.approx(2 / 252)


def test_min_p_value_hand_computed():
    assert stats.min_p_value(3, 3) == pytest.approx(0.1)  # 2 / C(6, 3) = 2/20
    assert stats.min_p_value(1, 1) == 1.0


def test_bootstrap_ratio_is_seeded_and_brackets_the_ratio():
    a, b = lognormal(1), lognormal(2, scale=1.3)
    first = stats.bootstrap_ratio_of_medians(a, b, seed=7)
    again = stats.bootstrap_ratio_of_medians(a, b, seed=7)
    assert first == again
    assert first.ratio == pytest.approx(np.median(b) / np.median(a))
    assert first.low < first.ratio < first.high
    assert first.excludes_one()


def test_hodges_lehmann_of_a_pure_scaling():
    a = np.array([1.0, 2.0, 4.0])
    assert stats.hodges_lehmann_ratio(a, 1.5 * a) == pytest.approx(1.5)


def test_same_lognormal_rarely_significant():
    significant = sum(
        stats.mann_whitney_u(lognormal(2 * s), lognormal(2 * s + 1)).p_value < 0.05
        and stats.bootstrap_ratio_of_medians(lognormal(2 * s), lognormal(2 * s + 1)).excludes_one()
        for s in SEEDS
    )
    assert significant <= 0.05 * len(SEEDS)


def test_shifted_lognormal_detected():
    detected = sum(
        stats.mann_whitney_u(lognormal(2 * s), lognormal(2 * s + 1, scale=1.3)).p_value < 0.05
        for s in SEEDS
    )
    assert detected >= 0.95 * len(SEEDS)


def test_proportion_interval_hand_computed():
    low, high = stats.proportion_interval(0, 100)
    assert low == 0.0
    assert high == pytest.approx(1 - 0.025 ** (1 / 100))  # exact for 0 successes
    low, high = stats.proportion_interval(5, 10)
    assert low == pytest.approx(1 - high)


@pytest.mark.parametrize("bad", [[], [0.0, 1.0], [math.nan], [-1.0]])
def test_bad_samples_are_rejected(bad):
    with pytest.raises(ValueError, match="baseline"):
        stats.mann_whitney_u(bad, [1.0])


def test_hodges_lehmann_bootstrap_pure_scaling_and_seed():
    a = [[1.0, 1.1, 1.2, 1.3]]
    b = [[1.3 * x for x in a[0]]]
    found = stats.bootstrap_hodges_lehmann_ratio(a, b, seed=3)
    assert found.ratio == pytest.approx(1.3)
    assert found == stats.bootstrap_hodges_lehmann_ratio(a, b, seed=3)


def test_runs_that_disagree_widen_the_interval():
    # each side: one fast run and one slow run; pooled, B looks a little slower
    a = [list(np.linspace(1.0, 1.05, 10)), list(np.linspace(2.0, 2.1, 10))]
    b = [list(np.linspace(1.1, 1.15, 10)), list(np.linspace(2.2, 2.3, 10))]
    flat = stats.bootstrap_hodges_lehmann_ratio([sum(a, [])], [sum(b, [])], seed=1)
    by_run = stats.bootstrap_hodges_lehmann_ratio(a, b, seed=1)
    assert by_run.high - by_run.low > flat.high - flat.low
    assert not by_run.excludes_one()
