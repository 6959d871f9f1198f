"""The noise study's bookkeeping: its plan, per-job rates, injected effects, targets, and the
background load (no timing asserted; whole jobs run in the study itself)."""

import os
import time

import pandas as pd
import pytest

from snnbench.errors import SnnbenchError
from snnbench.regress.compare import CLEAN, REGRESSION, UNDECIDED
from snnbench.render import noise_page
from snnbench.studies import noise_study
from snnbench.studies.noise_study.load import background_load


def test_config_is_checked():
    with pytest.raises(SnnbenchError, match="`jobs`"):
        noise_study.StudyConfig(jobs=0)
    with pytest.raises(SnnbenchError, match="`load_fraction`"):
        noise_study.StudyConfig(load_fraction=1.5)


def test_plan_rotates_levels_and_spreads_the_load():
    plan = noise_study.plan_jobs(noise_study.StudyConfig(jobs=4, slowdowns=(0.0, 0.2, 0.4)))
    assert [p.slowdown for p in plan] == [
        0.0,
        0.2,
        0.4,
        0.2,
        0.4,
        0.0,
        0.4,
        0.0,
        0.2,
        0.0,
        0.2,
        0.4,
    ]
    assert [p.loaded for p in plan[::3]] == [False, True, False, True]
    assert [p.index for p in plan] == list(range(12))
    for level in (0.0, 0.2, 0.4):  # half of every level's jobs are loaded
        assert sum(p.loaded for p in plan if p.slowdown == level) == 2
    quiet = noise_study.plan_jobs(noise_study.StudyConfig(jobs=3, load_fraction=0.0))
    assert not any(p.loaded for p in quiet)


def jobs_table() -> pd.DataFrame:
    outcomes = {0.0: [CLEAN, CLEAN, UNDECIDED, REGRESSION], 0.4: [REGRESSION] * 3 + [CLEAN]}
    rows = []
    for slowdown, found in outcomes.items():
        for j, outcome in enumerate(found):
            rows.append(
                {
                    "slowdown": slowdown,
                    "loaded": j % 2 == 1,
                    "outcome": outcome,
                    "job_s": 60.0 * (j + 1),
                }
            )
    return pd.DataFrame(rows).assign(load_1min_before=1.0, load_1min_after=2.0)


def test_rates_count_jobs_with_exact_bounds():
    found = {
        (r.slowdown, r.condition): r
        for r in noise_study.job_rates(jobs_table())
        if r.metric == "deciding"
    }
    a = found[(0.0, "all")]
    assert (a.jobs, a.flagged, a.inconclusive, a.clean, a.kind) == (4, 1, 1, 2, "false alarms")
    # one success in four: the exact lower bound is 1 - 0.975 ** (1 / 4); the upper, from tables
    assert a.low == pytest.approx(1 - 0.975**0.25) and a.high == pytest.approx(0.80588, abs=1e-5)
    loaded = found[(0.4, "loaded")]
    assert (loaded.jobs, loaded.flagged, loaded.kind) == (2, 1, "detections")
    assert found[(0.4, "quiet")].rate == 1.0


def test_injected_effects_come_from_quiet_jobs_only():
    rows = pd.DataFrame(
        {
            "index": [0, 1, 2, 3],
            "slowdown": [0.4] * 4,
            "loaded": [False, True, False, True],
            "case_id": ["x"] * 4,
            "metric": ["cpu"] * 4,
            "ratio": [1.38, 2.0, 1.42, 0.9],
            "other_ratio": [1.5, 1.0, 1.3, 1.0],
        }
    )
    (effect,) = noise_study.injected_effects(rows).itertuples()
    assert (effect.quiet_jobs, effect.median_ratio, effect.median_other_ratio) == (
        2,
        pytest.approx(1.40),
        pytest.approx(1.40),
    )
    assert "1.400 (cpu)" in noise_page.injected_table(noise_study.injected_effects(rows))


def test_targets_say_met_or_missed_and_by_how_much():
    jobs = jobs_table()
    lines = noise_page.target_lines(noise_study.job_rates(jobs), jobs)
    assert lines[0].startswith("- false alarms per A-vs-A job: 1/4 = 25 %")
    assert "**missed** by 20 points" in lines[0]
    assert "not measured (no jobs at +20 %)" in lines[1]
    assert "3/4 = 75 %" in lines[2] and "**missed**" in lines[2]
    assert "the longest took 4.0 min" in lines[3] and "**met**" in lines[3]


def test_a_target_on_track_with_too_few_jobs_is_not_established():
    jobs = jobs_table()
    clean = jobs.assign(outcome=CLEAN)  # 0/4 false alarms: on target, but 4 < 20
    (line, *_) = noise_page.target_lines(noise_study.job_rates(clean), clean)
    assert "0/4 = 0 %" in line
    assert "**not established**" in line and "16 short of the 20" in line
    assert "**met**" not in line


def test_background_load_starts_and_stops_its_processes():
    with background_load(2) as pids:
        assert len(pids) == 2
        time.sleep(0.2)
        for pid in pids:
            os.kill(pid, 0)  # alive
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with background_load(0) as none:
        assert none == []


def test_each_metric_alone_is_rated_from_its_own_outcome_column():
    jobs = jobs_table().assign(outcome_cpu=CLEAN, outcome_wall=REGRESSION)
    found = {(r.slowdown, r.condition, r.metric): r for r in noise_study.job_rates(jobs)}
    assert found[(0.0, "all", "cpu")].flagged == 0
    assert found[(0.0, "all", "wall")].flagged == 4
    assert found[(0.0, "all", "deciding")].flagged == 1
    assert "| none (A vs A) | all" in noise_page.rates_table(list(found.values()), "wall")
