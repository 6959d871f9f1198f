"""The noise study's bookkeeping: configuration checks and rate tables (no timing asserted)."""

import time

import pytest

from snnbench.errors import SnnbenchError
from snnbench.regress.compare import NO_CHANGE, SLOWER
from snnbench.studies import noise_study


def test_config_is_checked():
    with pytest.raises(SnnbenchError, match="`trials`"):
        noise_study.StudyConfig(trials=0)


def test_slowed_rounds_make_every_call_last_longer_by_the_fraction():
    calls = []

    def ten_ms():
        calls.append(1)
        time.sleep(0.01)

    samples = noise_study.slowed_rounds(0.5)(ten_ms, rounds=3, iterations=2)
    assert len(calls) == 6 and len(samples) == 3
    # sleep never returns early, and the busy-wait adds half of each call's own time
    assert min(samples) >= 0.015


def result(trial, case, slowdown, verdict):
    return noise_study.TrialResult(trial, case, slowdown, 1.0, ((10.0, verdict),))


def test_rates_per_configuration_and_pooled():
    results = [
        result(0, "x", 0.3, SLOWER),
        result(1, "x", 0.3, NO_CHANGE),
        result(0, "y", 0.3, SLOWER),
        result(1, "y", 0.3, SLOWER),
    ]
    found = {r.case_id: r for r in noise_study.rates(results)}
    assert (found["x"].flagged, found["x"].trials) == (1, 2)
    assert (found["all"].flagged, found["all"].trials) == (3, 4)
    assert found["all"].low < 0.75 < found["all"].high
    table = noise_study.rates_table(list(found.values()))
    assert "| +30 %      | 10 %        | all" in table and "3/4" in table
