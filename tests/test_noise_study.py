"""The noise study's bookkeeping: its plan, journal, per-job rates, injected effects, targets,
variance components and predicted operating characteristic, and the background loads (no
timing asserted; whole jobs run in the study itself)."""

import json
import math
import os
import time

import numpy as np
import pandas as pd
import pytest

from snnbench.errors import SnnbenchError
from snnbench.regress import stats
from snnbench.regress.compare import CLEAN, REGRESSION, UNDECIDED
from snnbench.regress.verdict import Criteria, _decide, _Pending
from snnbench.render import noise_page
from snnbench.studies import noise_study
from snnbench.studies.noise_study import components
from snnbench.studies.noise_study.load import background_load
from snnbench.studies.noise_study.study import JOURNAL, _open, read_journal, tables


@pytest.mark.parametrize(
    ("flag", "value", "expected", "hint"),
    [
        ("--kinds", "step,memory", "step,trace,compile", ""),
        ("--loads", "busy,x", "quiet,busy,memory", ""),
        ("--loads", "quiet,memroy", "quiet,busy,memory", "; did you mean 'memory'?"),
    ],
)
def test_a_bad_list_item_is_one_line_naming_the_flag(flag, value, expected, hint, capsys):
    from snnbench.cli import main

    assert main(["noise-study", flag, value]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    bad = value.split(",")[1]
    assert lines[-1].startswith(f"snnbench: error: argument {flag}: expected one of {expected}")
    assert f"got {bad!r}{hint} (see" in lines[-1]


def test_config_is_checked():
    with pytest.raises(SnnbenchError, match="`jobs`"):
        noise_study.StudyConfig(jobs=0)
    with pytest.raises(SnnbenchError, match="`kinds` must be kinds from step, trace, compile"):
        noise_study.StudyConfig(kinds=("memory",))
    with pytest.raises(SnnbenchError, match="`loads` must be loads from quiet, busy, memory"):
        noise_study.StudyConfig(loads=("heavy",))


def test_plan_covers_each_cell_once_per_replicate_deciding_cells_first():
    config = noise_study.StudyConfig(jobs=2, kinds=("step", "trace"), slowdowns=(0.0, 0.05, 0.1))
    plan = noise_study.plan_jobs(config)
    assert len(plan) == 2 * 3 * (1 + 2 * 2)
    first = plan[:15]
    assert [p.slowdown for p in first[:3]] == [0.0] * 3 and {p.kind for p in first[:3]} == {"none"}
    assert [p.slowdown for p in first[3:9]] == [0.1] * 6  # +10 % before +5 %
    assert {p.replicate for p in first} == {0}
    assert [p.load for p in plan[:3]] == ["quiet", "busy", "memory"]
    assert [p.load for p in plan[15:18]] == ["busy", "memory", "quiet"]  # loads rotate
    assert len({p.key for p in plan}) == len(plan)
    assert [p.index for p in plan] == list(range(len(plan)))


def entry(key_parts, outcome, pairs):
    kind, slowdown, load, replicate = key_parts
    job = {
        "key": f"{kind}:{slowdown:g}:{load}:{replicate}",
        "kind": kind,
        "slowdown": slowdown,
        "load": load,
        "outcome": outcome,
        "job_s": 300.0,
        "load_1min_before": 1.0,
        "load_1min_after": 2.0,
    }
    return {"job": job, "rows": [], "pairs": pairs}


def pair(case, values):
    return [
        {"case_id": case, "backend": "dense", "phase": "forward", "round": i, "log_cpu": v}
        for i, v in enumerate(values)
    ]


def test_variance_components_match_a_hand_computation():
    # Two A-vs-A jobs and one slowed job, one row. Within: deviations from each job's mean.
    entries = [
        entry(("none", 0.0, "quiet", 0), CLEAN, pair("x", [0.01, 0.03])),
        entry(("none", 0.0, "quiet", 1), CLEAN, pair("x", [-0.02, 0.0])),
        entry(("step", 0.1, "quiet", 0), REGRESSION, pair("x", [0.10, 0.12])),
    ]
    _, _, pairs = tables(entries)
    fitted = components.fit(pairs)
    row = fitted[fitted["load"] == "quiet"].iloc[0]
    pair_var = (3 * 2 * 0.01**2) / 3  # each job: two values 0.01 from their mean, 1 df each
    means = np.array([0.02, -0.01])
    job_var = np.mean(means**2) - pair_var / 2
    assert row["pair_sd"] == pytest.approx(math.sqrt(pair_var))
    assert row["job_sd"] == pytest.approx(math.sqrt(job_var))
    assert (row["jobs"], row["null_jobs"], row["rounds"]) == (3, 2, 6)
    assert set(fitted["load"]) == {"quiet", "all"}


def test_vectorized_decision_agrees_with_the_verdict_code():
    rng = np.random.default_rng(7)
    criteria = Criteria()
    thresholds = np.array([0.03, 0.10, 0.25, 0.05])
    for _ in range(60):
        d = rng.normal(
            rng.normal(0, 0.05, (1, 4, 1)), rng.uniform(0.002, 0.08, (1, 4, 1)), (1, 4, 8)
        )
        alpha = criteria.alpha / 2
        slower, conclusive = components.decide(d, thresholds, alpha)
        estimates = [
            stats.process_log_ratio(np.ones(8), np.exp(d[0, r]), range(8)) for r in range(4)
        ]
        p_holm = stats.holm([e.p_value() for e in estimates])
        for r, est in enumerate(estimates):
            verdict = _decide(
                _Pending("cpu", est, None, ""), p_holm[r], thresholds[r], alpha, 4, criteria
            ).verdict
            assert slower[0, r] == (verdict == "slower")
            assert conclusive[0, r] == (verdict in ("slower", "faster", "no change"))


def test_prediction_follows_the_noise_and_the_threshold():
    fitted = pd.DataFrame(
        {
            "case_id": ["quiet-row", "noisy-row"],
            "backend": ["dense"] * 2,
            "phase": ["forward", "grad_step"],
            "load": ["quiet"] * 2,
            "jobs": [10, 10],
            "null_jobs": [5, 5],
            "rounds": [80, 80],
            "pair_sd": [0.01, 0.30],
            "job_sd": [0.0, 0.0],
        }
    )
    predicted = components.predict(fitted, Criteria(threshold_pct=5.0), 8, jobs=2000)
    null = predicted[predicted["slowdown"] == 0.0].iloc[0]
    assert null["regression"] < 0.02
    at = predicted.set_index(["changed_row", "slowdown"])
    assert at.loc[("quiet-row", 0.2), "regression"] > 0.99  # 20 % on 1 % noise: always caught
    assert at.loc[("noisy-row", 0.2), "regression"] < 0.5  # on 30 % noise: mostly missed
    suggested = components.suggest_thresholds(fitted, Criteria(), 8).set_index("phase")
    assert suggested.loc["forward", "threshold_pct"] < suggested.loc["grad_step", "threshold_pct"]
    t_crit = stats.LogRatio(0, 1, 7, 8, 8, "").critical(0.05 / 2 / 2)
    by_hand = math.expm1((2.5758293 + t_crit) * 0.01 / math.sqrt(8))
    assert suggested.loc["forward", "threshold_pct"] == math.ceil(by_hand * 100)


def test_rates_count_jobs_per_cell_with_exact_bounds():
    rows = []
    for load, outcomes in {"quiet": [CLEAN, CLEAN, UNDECIDED], "busy": [REGRESSION]}.items():
        for outcome in outcomes:
            rows.append({"kind": "none", "slowdown": 0.0, "load": load, "outcome": outcome})
    found = {(r.condition, r.metric): r for r in noise_study.job_rates(pd.DataFrame(rows))}
    pooled = found[("all", "deciding")]
    assert (pooled.jobs, pooled.flagged, pooled.inconclusive, pooled.clean) == (4, 1, 1, 2)
    assert pooled.low == pytest.approx(1 - 0.975**0.25) and pooled.high == pytest.approx(
        0.80588, abs=1e-5
    )
    assert found[("busy", "deciding")].rate == 1.0 and pooled.counts_as == "false alarms"


def test_targets_need_59_clean_jobs_to_be_established():
    assert noise_page.target_verdict(0, 59, 1 / 20, "at most").startswith("**met**")
    assert noise_page.target_verdict(0, 20, 1 / 20, "at most").startswith("**not established**")
    assert noise_page.target_verdict(5, 20, 1 / 20, "at most").startswith("**missed**")
    assert noise_page.target_verdict(59, 59, 19 / 20, "at least").startswith("**met**")
    assert noise_page.target_verdict(12, 20, 19 / 20, "at least").startswith("**missed**")


def test_injected_effects_come_from_quiet_jobs_only():
    rows = pd.DataFrame(
        {
            "key": ["a", "b", "c", "d"],
            "kind": ["step"] * 4,
            "slowdown": [0.4] * 4,
            "load": ["quiet", "busy", "quiet", "memory"],
            "case_id": ["x"] * 4,
            "metric": ["cpu"] * 4,
            "ratio": [1.38, 2.0, 1.42, 0.9],
            "other_ratio": [1.5, 1.0, 1.3, 1.0],
        }
    )
    (effect,) = noise_study.injected_effects(rows).itertuples()
    assert (effect.quiet_jobs, effect.median_ratio) == (2, pytest.approx(1.40))
    assert "1.400 (cpu)" in noise_page.injected_table(noise_study.injected_effects(rows))


def test_the_journal_resumes_and_names_a_damaged_line(tmp_path):
    config = noise_study.StudyConfig(jobs=1, kinds=("trace",), slowdowns=(0.0, 0.1))
    folder = _open(None, config, tmp_path)
    assert _open(folder.path, config, tmp_path).path == folder.path
    with pytest.raises(SnnbenchError, match=r"planned with other settings \(jobs\)"):
        _open(
            folder.path,
            noise_study.StudyConfig(jobs=2, kinds=("trace",), slowdowns=(0.0, 0.1)),
            tmp_path,
        )
    line = json.dumps(entry(("none", 0.0, "quiet", 0), CLEAN, pair("x", [0.0, 0.01])))
    (folder.path / JOURNAL).write_text(line + "\n{not json\n")
    with pytest.raises(SnnbenchError, match=r"jobs.jsonl, line 2: damaged journal line"):
        read_journal(folder.path)


@pytest.mark.parametrize("load", ["busy", "memory"])
def test_background_load_starts_and_stops_its_processes(load):
    with background_load(2, load, avoid_core=0) as pids:
        assert len(pids) == 2
        time.sleep(0.2)
        for pid in pids:
            os.kill(pid, 0)  # alive
            if load == "memory" and len(os.sched_getaffinity(0)) > 1:
                assert 0 not in os.sched_getaffinity(pid)  # kept off the benchmark's core
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with background_load(2, "quiet") as none:
        assert none == []


def test_each_metric_alone_is_rated_from_its_own_outcome_column():
    jobs = pd.DataFrame(
        [
            {
                "kind": "none",
                "slowdown": 0.0,
                "load": "quiet",
                "outcome": REGRESSION,
                "outcome_cpu": CLEAN,
                "outcome_wall": REGRESSION,
            }
        ]
        * 3
    )
    found = {(r.condition, r.metric): r for r in noise_study.job_rates(jobs)}
    assert found[("all", "cpu")].flagged == 0 and found[("all", "wall")].flagged == 3
    wall = noise_page.rates_table(list(found.values()), "wall").splitlines()[2]
    assert [c.strip() for c in wall.split("|")[1:6]] == ["none", "none (A vs A)", "all", "3", "3/3"]


def test_a_journal_gives_every_table_and_the_summary(tmp_path):
    from snnbench.regress import ab
    from snnbench.studies.noise_study.study import _write

    config = noise_study.StudyConfig(
        jobs=2, kinds=("trace",), slowdowns=(0.0, 0.2), loads=("quiet",)
    )
    folder = _open(None, config, tmp_path)
    rng = np.random.default_rng(3)
    lines = []
    for replicate in range(2):
        for kind, size, outcome in (("none", 0.0, CLEAN), ("trace", 0.2, REGRESSION)):
            values = rng.normal(math.log1p(size), 0.01, 8)
            item = entry((kind, size, "quiet", replicate), outcome, pair("x", values))
            item["job"].update(outcome_cpu=outcome, outcome_wall=outcome)
            item["rows"] = [
                {
                    "case_id": "x",
                    "phase": "forward",
                    "metric": "cpu",
                    "ratio": float(np.exp(values.mean())),
                    "other_ratio": 1.0,
                }
            ]
            lines.append(json.dumps(item))
    (folder.path / JOURNAL).write_text("\n".join(lines) + "\n")
    study = _write(folder, config, ab.AbOptions(), 0.0, read_journal(folder.path))
    assert len(study.jobs) == 4
    for name in (
        "jobs.csv",
        "pairs.csv",
        "components.csv",
        "predicted.csv",
        "thresholds.csv",
        "predicted_cells.csv",
        "summary.md",
    ):
        assert (folder.path / name).exists(), name
    cells = pd.read_csv(folder.path / "predicted_cells.csv").set_index("kind")
    assert cells.loc["none", "regression"] < 0.05 < 0.95 < cells.loc["trace", "regression"]
    summary = (folder.path / "summary.md").read_text()
    assert "4 of 4 planned" in summary and "## Prediction against the jobs" in summary


def test_thresholds_from_a_noise_study_feed_the_verdict_flags(tmp_path):
    import argparse

    from snnbench.cli.regression_commands import add_verdict_policy, policy_from

    parser = argparse.ArgumentParser()
    add_verdict_policy(parser)
    pd.DataFrame({"phase": ["forward", "grad_compile"], "threshold_pct": [4.0, 30.0]}).to_csv(
        tmp_path / "thresholds.csv", index=False
    )
    args = parser.parse_args(["--thresholds-from", str(tmp_path), "--threshold-phase", "forward=6"])
    policy = policy_from(args)
    assert policy.threshold_for("grad_compile") == pytest.approx(0.30)
    assert policy.threshold_for("forward") == pytest.approx(0.06)  # the flag wins
    assert policy.threshold_for("forward_compile") == pytest.approx(0.25)  # the default stays
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "thresholds.csv").write_text("phase,threshold_pct\nwarp,3\n")
    with pytest.raises(SnnbenchError, match=r"`--thresholds-from` must be .*bad/thresholds.csv"):
        policy_from(parser.parse_args(["--thresholds-from", str(tmp_path / "bad")]))
    with pytest.raises(SnnbenchError, match="`--thresholds-from`.*No such file"):
        policy_from(parser.parse_args(["--thresholds-from", str(tmp_path / "none.csv")]))
