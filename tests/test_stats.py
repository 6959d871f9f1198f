"""Statistics against hand-computed values: paired and Welch log ratios, Holm, alpha spending,
the detectable change, Clopper-Pearson."""

import math

import numpy as np
import pytest

from snnbench.regress import stats
from snnbench.regress.verdict import Criteria

# Student t quantiles, from tables: t(0.975, 3), t(0.995, 10), t(0.8, 10).
T_975_3 = 3.182446305
T_995_10 = 3.169272673
T_80_10 = 0.879057828


def test_paired_rounds_hand_computed():
    # log differences 0.1, 0.2, 0.1, 0.2: mean 0.15, sd sqrt(4 * 0.05^2 / 3), se sd / 2, df 3
    a = [1.0, 2.0, 3.0, 4.0]
    b = [x * math.exp(d) for x, d in zip(a, [0.1, 0.2, 0.1, 0.2], strict=True)]
    found = stats.paired_log_ratio(a, b)
    se = math.sqrt(4 * 0.05**2 / 3) / 2
    assert found.estimate == pytest.approx(0.15)
    assert found.se == pytest.approx(se)
    assert (found.df, found.design) == (3.0, "paired rounds")
    low, high = found.interval(0.05)
    assert low == pytest.approx(math.exp(0.15 - T_975_3 * se))
    assert high == pytest.approx(math.exp(0.15 + T_975_3 * se))
    # the interval at alpha is exactly where p = alpha
    edge = stats.LogRatio(T_975_3 * se, se, 3.0, 4, 4, "paired rounds")
    assert edge.p_value() == pytest.approx(0.05)


def test_welch_hand_computed():
    # logs: A 0, 0.2 (mean 0.1, var 0.02); B 0.3, 0.3, 0.6 (mean 0.4, var 0.03)
    a = [1.0, math.exp(0.2)]
    b = [math.exp(0.3), math.exp(0.3), math.exp(0.6)]
    found = stats.welch_log_ratio(a, b)
    assert found.estimate == pytest.approx(0.3)
    assert found.se == pytest.approx(math.sqrt(0.02 / 2 + 0.03 / 3))
    # Welch-Satterthwaite: 0.02^2 / (0.01^2 / 1 + 0.01^2 / 2)
    assert found.df == pytest.approx(0.0004 / 0.00015)


def test_one_unit_a_side_cannot_be_tested():
    found = stats.welch_log_ratio([1.0], [2.0, 2.1])
    assert not found.testable and found.p_value() == 1.0
    assert found.interval(0.05) == (0.0, math.inf)
    assert found.detectable_change(0.05, 0.1) == math.inf
    assert not stats.paired_log_ratio([1.0], [1.2]).testable
    with pytest.raises(ValueError, match="equal counts"):
        stats.paired_log_ratio([1.0, 2.0], [1.0])


def test_identical_spread_free_samples():
    same = stats.welch_log_ratio([1.0, 1.0], [1.0, 1.0])
    assert same.se == 0.0 and same.p_value() == 1.0
    shifted = stats.welch_log_ratio([1.0, 1.0], [2.0, 2.0])
    assert shifted.p_value() == 0.0 and shifted.ratio == pytest.approx(2.0)


def test_holm_hand_computed():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> running max 0.06
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert stats.holm([]) == []


def test_alpha_spent_over_looks_never_exceeds_alpha():
    assert stats.alpha_at_look(0.05, 0) == 0.05
    assert [stats.alpha_at_look(0.05, k) for k in (1, 2, 3)] == [0.025, 0.0125, 0.00625]
    assert sum(stats.alpha_at_look(0.05, k) for k in range(1, 60)) <= 0.05


def test_detectable_change_hand_computed():
    found = stats.LogRatio(0.0, 0.02, 10.0, 11, 11, "paired rounds")
    # the bar is the threshold (log 1.1 > t(0.995, 10) * 0.02), plus t(0.8, 10) * se for power
    expected = math.expm1(math.log(1.1) + T_80_10 * 0.02)
    assert found.detectable_change(0.01, 0.10, power=0.8) == pytest.approx(expected)
    # a noisy estimate: now significance is the bar
    noisy = stats.LogRatio(0.0, 0.05, 10.0, 11, 11, "runs")
    expected = math.expm1(T_995_10 * 0.05 + T_80_10 * 0.05)
    assert noisy.detectable_change(0.01, 0.10, power=0.8) == pytest.approx(expected)


def test_proportion_interval_hand_computed():
    low, high = stats.proportion_interval(0, 100)
    assert low == 0.0
    assert high == pytest.approx(1 - 0.025 ** (1 / 100))  # exact for 0 successes
    low, high = stats.proportion_interval(5, 10)
    assert low == pytest.approx(1 - high)
    low, high = stats.proportion_interval(20, 20)
    assert (low, high) == (pytest.approx(0.025 ** (1 / 20)), 1.0)


@pytest.mark.parametrize("bad", [[], [0.0, 1.0], [math.nan], [-1.0]])
def test_bad_samples_are_rejected(bad):
    with pytest.raises(ValueError, match="baseline"):
        stats.welch_log_ratio(bad, [1.0])


def test_paired_rounds_ignore_a_shared_drift():
    # both sides drift by a factor of 2 over the rounds; B is 10 % slower in every round
    drift = np.linspace(1.0, 2.0, 8)
    found = stats.paired_log_ratio(drift, 1.1 * drift)
    assert found.ratio == pytest.approx(1.1) and found.se == pytest.approx(0.0, abs=1e-12)
    unpaired = stats.welch_log_ratio(drift, 1.1 * drift)
    assert unpaired.se > 0.1  # the drift, taken as noise, swamps the change


def test_process_pairs_hand_computed():
    # Two rounds per process pair; the pair means of log(b/a) are the units.
    a = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    b = [math.e**0.02, math.e**0.04, math.e**0.01, math.e**0.01, math.e**0.06, math.e**0.0]
    found = stats.process_log_ratio(a, b, [0, 0, 1, 1, 2, 2])
    means = [0.03, 0.01, 0.03]  # by hand
    assert found.estimate == pytest.approx(sum(means) / 3)
    sd = math.sqrt(sum((m - 0.07 / 3) ** 2 for m in means) / 2)
    assert found.se == pytest.approx(sd / math.sqrt(3))
    assert (found.df, found.design, found.n_baseline) == (2.0, "process pairs", 3)
    # One round per pair is the paired-rounds test.
    single = stats.process_log_ratio(a, b, range(6))
    assert single.se == pytest.approx(stats.paired_log_ratio(a, b).se)


def _simulated_job(rng, true_log, offset_sd, within_sd, pairs, threshold, alpha, m):
    """One simulated A/B job's verdict on one row (process offsets + within noise)."""
    from snnbench.regress.verdict import _decide, _Pending

    a = np.exp(rng.normal(0.0, offset_sd, pairs) + rng.normal(0.0, within_sd, pairs))
    b = np.exp(true_log + rng.normal(0.0, offset_sd, pairs) + rng.normal(0.0, within_sd, pairs))
    est = stats.process_log_ratio(a, b, range(pairs))
    p_holm = min(1.0, est.p_value() * m)  # the row with the smallest p of m
    return _decide(_Pending("cpu", est, None, ""), p_holm, threshold, alpha, m, Criteria()).verdict


@pytest.mark.slow
def test_simulated_operating_characteristic_of_the_defaults():
    """1 % offset between processes, 0.5 % within: false alarms and power at +10 %.

    The default first look (8 rounds, one fresh process pair per round, alpha / 2
    spent, 7 rows judged together, 10 % threshold) is simulated 2,000 times.
    """
    rng = np.random.default_rng(21)
    defaults = dict(
        offset_sd=0.01, within_sd=0.005, pairs=8, threshold=0.10, alpha=0.025, m=7, rng=rng
    )
    null = [_simulated_job(true_log=0.0, **defaults) for _ in range(2000)]
    assert null.count("slower") / 2000 <= 0.05 / 7  # the per-row share of the job's alpha
    at_20 = [_simulated_job(true_log=math.log(1.20), **defaults) for _ in range(2000)]
    assert at_20.count("slower") / 2000 >= 0.95
    # Exactly at the threshold a change is caught about half the time: the
    # threshold is the size that is ruled out, not the size that is caught.
    at_10 = [_simulated_job(true_log=math.log(1.10), **defaults) for _ in range(2000)]
    assert 0.3 < at_10.count("slower") / 2000 < 0.7
    # ... and wrongly ended "no change" (exit 0) only when a small sample's spread
    # comes out far too small: rarely, not the one job in five of one process a side.
    assert at_10.count("no change") / 2000 <= 0.01
