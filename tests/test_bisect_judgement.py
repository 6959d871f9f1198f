"""A bisect step's verdict from a comparison: only "slower or not" is asked."""

from types import SimpleNamespace

import pytest

from snnbench.measure.records import CaseSpec
from snnbench.regress import bisect
from snnbench.regress.verdict import FASTER, INCONCLUSIVE, NO_CHANGE, SLOWER, Verdict


def _row(phase: str, verdict: str, low: float, high: float, threshold: float = 0.10):
    spec = CaseSpec("jaxley", phase, 16, "float32", "cpu", 1e-3)
    ratio = (low * high) ** 0.5
    return SimpleNamespace(
        spec=spec, threshold=threshold, verdict=Verdict(verdict, "cpu", ratio, low, high)
    )


def _judge(*rows):
    regressions = [r for r in rows if r.verdict.verdict == SLOWER]
    comparison = SimpleNamespace(rows=rows, regressions=regressions, lost=[], only_baseline=[])
    return bisect.judgement_of(comparison, rounds=16, folder="job").verdict


def test_an_undecided_row_whose_interval_stays_below_the_threshold_is_not_slower():
    # faster forward, and a gradient step between "faster" and "no change"
    rows = (_row("forward", FASTER, 0.686, 0.727), _row("grad_step", INCONCLUSIVE, 0.871, 0.962))
    assert _judge(*rows) == FASTER


def test_an_undecided_row_that_may_still_be_slower_keeps_the_step_inconclusive():
    rows = (_row("forward", FASTER, 0.686, 0.727), _row("grad_step", INCONCLUSIVE, 0.95, 1.12))
    assert _judge(*rows) == INCONCLUSIVE


@pytest.mark.parametrize(
    ("high", "threshold", "expected"),
    [(1.099, 0.10, NO_CHANGE), (1.101, 0.10, INCONCLUSIVE), (1.20, 0.25, NO_CHANGE)],
)
def test_the_row_s_own_threshold_decides(high, threshold, expected):
    assert _judge(_row("grad_compile", INCONCLUSIVE, 0.97, high, threshold)) == expected


def test_a_slower_row_wins_over_everything():
    rows = (_row("forward", SLOWER, 1.2, 1.3), _row("grad_step", INCONCLUSIVE, 0.95, 1.12))
    assert _judge(*rows) == SLOWER


def test_a_bisect_of_a_job_judges_its_steps_by_the_jobs_rules():
    from snnbench.regress.bisect import criteria_of

    info = {
        "options": {
            "criteria": {
                "threshold_pct": 100.0,
                "phase_threshold_pct": [["grad_compile", 40.0]],
                "alpha": 0.01,
                "metric": "cpu",
                "look": 3,
                "drift_tolerance_pct": 10.0,
                "power": 0.8,
            }
        }
    }
    criteria = criteria_of(info)
    assert (
        criteria.threshold_for("forward") == 1.0 and criteria.threshold_for("grad_compile") == 0.4
    )
    assert (criteria.alpha, criteria.metric, criteria.look) == (0.01, "cpu", 0)
