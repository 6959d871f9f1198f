"""Verdicts on fixture tables and synthetic sides; the compare CLI's exit codes and golden text."""

import ast
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from snnbench.cli import main
from snnbench.errors import SnnbenchError
from snnbench.measure import storage
from snnbench.regress import compare
from snnbench.regress.sides import Repeat, Side
from snnbench.regress.verdict import Criteria, estimate, judge_rows
from snnbench.render import compare_text as compare_render

FIXTURES = Path(__file__).parent / "fixtures" / "results"
OLD = FIXTURES / "history" / "jaxley-0.13.0"
NEW = FIXTURES / "history" / "jaxley-0.14.0"
COMPILE_25 = Criteria(phase_threshold_pct=(("forward_compile", 25.0), ("grad_compile", 25.0)))


def paired(values, job="job", pinned="1") -> Side:
    """One run per round, one sample each, CPU time equal to wall time."""
    runs = tuple(Repeat((v,), (v,), pinned, 0.003, (job, i)) for i, v in enumerate(values))
    return Side(runs, len(runs))


def ratios(logs) -> tuple[list[float], list[float]]:
    return [1.0] * len(logs), [math.exp(d) for d in logs]


def judge(*pairs, policy=None):
    rows = [("forward", "cpu", paired(a), paired(b)) for a, b in pairs]
    return judge_rows(rows, policy or Criteria())


def in_processes(values, rounds_per_process) -> Side:
    """Interleaved rounds, ``rounds_per_process`` of them per worker process."""
    runs = tuple(
        Repeat((v,), (v,), "1", (), ("job", i), ("job", i // rounds_per_process))
        for i, v in enumerate(values)
    )
    return Side(runs, len(runs))


def test_rounds_from_one_process_pair_cannot_be_judged():
    # The rounds of one pair share its speed offset; their spread is not the spread
    # between processes, so four tight rounds must not decide.
    a, b = [1.0, 1.0, 1.0, 1.0], [1.30, 1.31, 1.30, 1.31]
    one_pair = estimate(in_processes(a, 4), in_processes(b, 4), "cpu")
    assert (one_pair.testable, one_pair.design, one_pair.n_baseline) == (False, "process pairs", 1)
    [row] = judge_rows([("forward", "cpu", in_processes(a, 4), in_processes(b, 4))], Criteria())
    assert row.verdict == compare.INCONCLUSIVE
    assert "too few process pairs" in row.detail
    two_pairs = estimate(in_processes(a, 2), in_processes(b, 2), "cpu")
    assert (two_pairs.df, two_pairs.n_baseline) == (1.0, 2)
    # Without processes recorded, the rounds themselves are the units.
    assert estimate(paired(a), paired(b), "cpu").design == "paired rounds"


def test_no_change_only_when_the_interval_lies_inside_the_threshold():
    (tight,) = judge(ratios([0.01, -0.01, 0.02, 0.0]))
    assert tight.verdict == compare.NO_CHANGE
    assert 1 / 1.1 <= tight.ratio_low and tight.ratio_high <= 1.1
    (wide,) = judge(ratios([0.15, -0.12, 0.1, -0.1]))  # same mean change, spread too wide
    assert wide.verdict == compare.INCONCLUSIVE
    assert wide.ratio_high > 1.1 and "could catch +" in wide.detail
    assert wide.detectable_pct > 10


def test_slower_needs_significance_and_a_change_beyond_the_threshold():
    (slow,) = judge(ratios([0.2, 0.21, 0.19, 0.2]))
    assert slow.verdict == compare.SLOWER and slow.metric == "cpu"
    (small,) = judge(ratios([0.05, 0.051, 0.049, 0.05]))  # significant, +5 %: ruled in below 10 %
    assert small.verdict == compare.NO_CHANGE
    (edge,) = judge(ratios([0.06, 0.10, 0.05, 0.11]))  # significant, but 10 % not ruled out
    assert edge.verdict == compare.INCONCLUSIVE
    (fast,) = judge(ratios([-0.2, -0.21, -0.19, -0.2]))
    assert fast.verdict == compare.FASTER


def test_false_alarms_are_controlled_across_the_rows_of_a_job():
    # raw p = 0.047 (t = 3.27 on 3 df): slower alone, but not among two such rows (Holm: 0.094)
    row = ratios([0.05, 0.35, 0.2, 0.2])
    (alone,) = judge(row)
    assert alone.p_value == pytest.approx(alone.p_holm) and alone.p_value < 0.05
    assert alone.verdict == compare.SLOWER
    both = judge(row, row)
    assert [v.p_holm for v in both] == pytest.approx([2 * alone.p_value] * 2)
    assert {v.verdict for v in both} == {compare.INCONCLUSIVE}


def test_a_later_look_spends_less_alpha():
    row = ratios([0.05, 0.35, 0.2, 0.2])
    (first,) = judge(row, policy=Criteria(look=0))
    (later,) = judge(row, policy=Criteria(look=1))  # alpha 0.025
    assert (first.verdict, later.verdict) == (compare.SLOWER, compare.INCONCLUSIVE)


def test_auto_metric_takes_cpu_time_only_when_both_sides_were_pinned():
    a, b = ratios([0.2, 0.21, 0.19, 0.2])
    (pinned,) = judge_rows([("forward", "cpu", paired(a), paired(b))])
    (unpinned,) = judge_rows([("forward", "cpu", paired(a), paired(b, pinned=""))])
    (gpu,) = judge_rows([("forward", "gpu", paired(a), paired(b))])
    assert (pinned.metric, unpinned.metric, gpu.metric) == ("cpu", "wall", "wall")
    old = Side((Repeat((1.0,), (), "1"), Repeat((1.1,), (), "1")), 2)
    (missing,) = judge_rows([("forward", "cpu", old, old)], Criteria(metric="cpu"))
    assert missing.verdict == compare.NOT_COMPARABLE and "--metric wall" in missing.detail


def test_separate_runs_on_a_moved_machine_are_inconclusive():
    def runs(scale, yardstick):
        sticks = (("xla_cpu", yardstick),)
        return Side(
            tuple(Repeat((scale * s,), (scale * s,), "1", sticks) for s in (1.0, 1.01, 0.99)), 3
        )

    (moved,) = judge_rows([("forward", "cpu", runs(1.0, 0.003), runs(1.5, 0.0045))])
    assert moved.verdict == compare.INCONCLUSIVE and moved.design == "runs"
    assert "machine drift: the yardstick took 1.50x as long" in moved.detail
    (still,) = judge_rows([("forward", "cpu", runs(1.0, 0.003), runs(1.5, 0.003))])
    assert still.verdict == compare.SLOWER
    unknown = Side(tuple(Repeat((s,), (s,), "1") for s in (1.0, 1.01, 0.99)), 3)
    (old,) = judge_rows([("forward", "cpu", unknown, runs(1.5, 0.003))])
    assert old.verdict == compare.INCONCLUSIVE and "no yardstick in the baseline" in old.detail


def fixture_comparison() -> compare.Comparison:
    return compare.compare_frames(
        storage.load_results(OLD),
        storage.load_results(NEW),
        COMPILE_25,
        labels=("jaxley 0.13.0", "jaxley 0.14.0"),
    )


def test_fixture_verdicts():
    result = fixture_comparison()
    by_id = {r.spec.case_id: r for r in result.rows}
    verdict = {case: r.verdict.verdict for case, r in by_id.items()}
    assert verdict["dense-forward-b16-float32-cpu-dt0.001"] == compare.SLOWER
    assert verdict["jaxley-forward-b16-float32-cpu-dt0.001"] == compare.FASTER
    assert verdict["dense-grad_step-b16-float32-cpu-dt0.001"] == compare.NO_CHANGE
    assert verdict["dense-grad_compile-b16-float32-cpu-dt0.001"] == compare.INCONCLUSIVE
    failed = by_id["jaxley-grad_step-b16-float32-cpu-dt0.001"]
    assert failed.verdict.verdict == compare.NOT_COMPARABLE and failed.lost
    assert "candidate failed: out of memory" in failed.verdict.detail
    gpu = by_id["dense-forward-b16-float32-gpu-dt0.001"]
    assert gpu.verdict.verdict == compare.NOT_COMPARABLE and not gpu.lost
    assert [s.case_id for s in result.only_baseline] == ["dense-forward-b64-float32-cpu-dt0.001"]
    assert result.outcome() == compare.REGRESSION
    assert result.context.notes() == ("differs besides the code: jaxley_version 0.13.0 → 0.14.0",)
    exact = {(e.spec.phase, e.metric): (e.baseline, e.candidate) for e in result.exact}
    assert exact == {
        ("forward", "xla_flops"): (1000.0, 1000.0),
        ("grad_step", "xla_flops"): (4000.0, 5000.0),
    }


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Every ``compare`` writes its folder under ``runs/`` of the working folder."""
    monkeypatch.chdir(tmp_path)


def test_markdown_and_text_match_golden_text(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    result = fixture_comparison()
    assert compare_render.render_markdown(result) == (FIXTURES / "golden_compare.md").read_text()
    assert compare_render.render_text(result) == (FIXTURES / "golden_compare.txt").read_text()


def _write(frame: pd.DataFrame, path: Path) -> str:
    frame.to_csv(path, index=False)
    return str(path)


def test_cli_exit_codes(tmp_path, capsys):
    md, csv = tmp_path / "c.md", tmp_path / "c.csv"
    assert main(["compare", str(OLD), str(NEW), "--markdown", str(md), "--csv", str(csv)]) == 1
    assert "1 slower, 1 faster, 1 inconclusive, 1 no change" in capsys.readouterr().out
    assert md.read_text().startswith("### snnbench comparison: ❌ regression")
    table = pd.read_csv(csv)
    assert sorted(table["kind"].value_counts().items()) == [
        ("exact", 2),
        ("missing", 1),
        ("timing", 6),
    ]
    assert (table["verdict"] == "slower").sum() == 1 and table["lost"].sum() == 1
    # keep only what the candidate measured fine: the inconclusive row decides the exit code
    old, new = pd.read_csv(OLD / "benchmark.csv"), pd.read_csv(NEW / "benchmark.csv")
    keep = ["dense-grad_step-b16-float32-cpu-dt0.001", "dense-grad_compile-b16-float32-cpu-dt0.001"]
    base = _write(old[old["case_id"].isin(keep)], tmp_path / "old.csv")
    cand = _write(new[new["case_id"].isin(keep)], tmp_path / "new.csv")
    assert main(["compare", base, cand]) == 3
    assert main(["compare", base, cand, "--on-inconclusive", "pass"]) == 0
    clean = _write(new[new["case_id"] == keep[0]], tmp_path / "clean.csv")
    assert main(["compare", _write(old[old["case_id"] == keep[0]], tmp_path / "o.csv"), clean]) == 0
    assert main(["compare", base, cand, "--on-inconclusive", "pass", "--fail-on-exact"]) == 1


def test_a_candidate_that_loses_a_row_fails_even_if_all_else_is_fine(tmp_path):
    old = pd.read_csv(OLD / "benchmark.csv")
    same = old[old["case_id"] == "dense-grad_step-b16-float32-cpu-dt0.001"]
    base = _write(pd.concat([same, same.assign(batch_size=64, case_id="x")]), tmp_path / "a.csv")
    assert main(["compare", base, _write(same, tmp_path / "b.csv")]) == 1


def test_different_machines_are_refused_unless_allowed(tmp_path, capsys):
    new = pd.read_csv(NEW / "benchmark.csv").assign(machine_id="elsewhere-11111111")
    other = _write(new, tmp_path / "other.csv")
    assert main(["compare", str(OLD), other]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "another machine" in err and "--allow-machine-change" in err
    assert main(["compare", str(OLD), other, "--allow-machine-change"]) == 1
    assert "different machines (compared anyway, as asked)" in capsys.readouterr().out
    pinned = _write(pd.read_csv(NEW / "benchmark.csv").assign(pinned_cpu=0), tmp_path / "p.csv")
    assert main(["compare", str(OLD), pinned]) == 2
    assert "other measuring conditions" in capsys.readouterr().err


def test_a_side_that_mixes_versions_is_refused():
    old, new = storage.read_table(OLD, "benchmark"), storage.read_table(NEW, "benchmark")
    with pytest.raises(SnnbenchError, match="mixes runs with jaxley_version 0.13.0, 0.14.0"):
        compare.compare_frames(pd.concat([old, new]), new)


def test_cli_by_jaxley_version(capsys):
    assert main(["compare", "--by", "jaxley_version", str(FIXTURES / "history")]) == 1
    out = capsys.readouterr().out
    assert "0.13.0 → 0.14.0" in out
    assert re.search(r"dense-forward-b16-float32-cpu-dt0.001 +905 us +1.18 ms +1.30x SLOWER", out)


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["compare", str(FIXTURES / "old_schema"), str(NEW)],
            "`BASELINE`: .* schema version \\[0\\]",
        ),
        (["compare", "no/such/run", str(NEW)], "`BASELINE`: .* does not exist"),
        (["compare", str(OLD)], "needs BASELINE and CANDIDATE"),
        (["compare", "--by", "jaxley_version", str(OLD)], "at least two values"),
        (["compare", "--by", "nope", str(OLD), str(NEW)], "`--by` must name a column"),
        (["compare", str(OLD), str(NEW), "--metric", "gpu"], "invalid choice 'gpu'"),
    ],
)
def test_cli_bad_input_exits_2(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert re.search(message, err)


def test_no_overlap_and_schema_mismatch(tmp_path, capsys):
    frame = pd.read_csv(NEW / "benchmark.csv")
    frame["batch_size"] = 999
    frame.to_csv(tmp_path / "other.csv", index=False)
    assert main(["compare", str(OLD), str(tmp_path / "other.csv")]) == 2
    assert "share no configuration" in capsys.readouterr().err
    frame.drop(columns=["samples_json"]).to_csv(tmp_path / "bare.csv", index=False)
    assert main(["compare", str(OLD), str(tmp_path / "bare.csv")]) == 2
    assert "lacks columns samples_json" in capsys.readouterr().err


def test_policy_is_checked_and_thresholds_per_phase():
    policy = Criteria(threshold_pct=10, phase_threshold_pct=(("grad_compile", 25),))
    assert policy.threshold_for("grad_compile") == 0.25
    assert policy.threshold_for("forward") == 0.10
    with pytest.raises(SnnbenchError, match="`phase_threshold_pct` must be one of"):
        Criteria(phase_threshold_pct=(("nonsense", 5),))
    with pytest.raises(SnnbenchError, match="`threshold_pct` must be a percentage"):
        Criteria(threshold_pct=-1)
    with pytest.raises(SnnbenchError, match="`metric` must be one of"):
        Criteria(metric="gpu")


def test_version_order():
    assert sorted(["0.14.0", "0.9.1", "0.13.0"], key=compare.version_key) == [
        "0.9.1",
        "0.13.0",
        "0.14.0",
    ]


def test_history_session_matches_supported_jaxley():
    from snnbench.task.spiking import SUPPORTED_JAXLEY

    tree = ast.parse((Path(__file__).parent.parent / "noxfile.py").read_text())
    value = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "HISTORY_JAXLEY"
    )
    assert tuple(ast.literal_eval(value)) == SUPPORTED_JAXLEY


def test_a_run_whose_yardstick_did_not_hold_still_is_inconclusive():
    def side(yardstick):
        times = (1.0, 1.01, 0.99, 1.02)
        return Side((Repeat(times, times, "1", (("xla_cpu", yardstick),)),), 1)

    rows = [("forward", "cpu", side(0.003), side(y)) for y in (0.003, 0.003, 0.0033, 0.006)]
    steady = judge_rows(rows[:2], Criteria(), {"xla_cpu": ((0.003, 0.003), (0.003, 0.003))})
    assert {v.verdict for v in steady} == {compare.NO_CHANGE}
    moved = judge_rows(rows, Criteria(), {"xla_cpu": ((0.003,) * 4, (0.003, 0.003, 0.0033, 0.006))})
    assert (
        moved[0].verdict == compare.INCONCLUSIVE
    )  # this row's yardstick agreed; the run's did not
    assert (
        "the yardstick took (over the whole run)" in moved[0].detail or "varied" in moved[0].detail
    )


COMMITTED = Path(__file__).resolve().parent.parent / "results" / "vm-da3d1dc8"


def test_same_code_quiet_then_loaded_gives_no_slower_row(capsys):
    """Two committed runs of one commit: the second under two extra busy processes."""
    quiet, loaded = COMMITTED / "20261128T172202Z", COMMITTED / "20261128T172312Z"
    result = compare.compare_frames(storage.load_results(quiet), storage.load_results(loaded))
    assert result.counts()[compare.SLOWER] == 0 and result.counts()[compare.FASTER] == 0
    assert all("machine drift" in r.verdict.detail for r in result.rows)


def test_a_wall_only_slowdown_is_never_no_change():
    cpu = [1.0, 1.01, 0.99, 1.0, 1.005, 0.995, 1.0, 1.0]
    base = Side(
        tuple(
            Repeat((w,), (c,), "0", None, ("j", i))
            for i, (w, c) in enumerate(zip(cpu, cpu, strict=True))
        ),
        8,
    )
    cand = Side(
        tuple(
            Repeat((1.3 * w,), (c,), "0", None, ("j", i))
            for i, (w, c) in enumerate(zip(cpu, cpu, strict=True))
        ),
        8,
    )
    (row,) = judge_rows([("forward", "cpu", base, cand)])
    assert row.metric == "cpu" and row.verdict == compare.INCONCLUSIVE
    assert "slower (wall)" in row.detail


def test_a_row_nobody_could_judge_is_never_clean():
    from snnbench.cli.regression_commands import exit_code

    failed = Side((), 1, "failed: worker died", ok=False)
    verdicts = judge_rows([("forward", "cpu", failed, failed)])
    assert verdicts[0].verdict == compare.NOT_COMPARABLE
    spec = compare.CaseSpec("dense", "forward", 16, "float32", "cpu", 1e-3, 20.0)
    row = compare.RowComparison(spec, failed, failed, 0.1, verdicts[0])
    comparison = compare.Comparison("a", "b", Criteria(), (row,))
    assert comparison.outcome() == compare.INCOMPARABLE
    assert exit_code([comparison], False, "pass") == 3


# ---------------------------------------------------------------- a candidate that lacks rows

GRAD_16 = "dense-grad_step-b16-float32-cpu-dt0.001"
FORWARD_64 = "dense-forward-b64-float32-cpu-dt0.001"


def _candidate_matrix(batch_sizes=(16, 64)):
    from snnbench.measure.matrix import Matrix

    return Matrix(
        backends=("dense",),
        batch_sizes=batch_sizes,
        precisions=("float32",),
        platforms=("cpu",),
        dts_ms=(1e-3,),
        phases=("forward", "grad_step"),
        t_max_ms=float(pd.read_csv(OLD / "benchmark.csv")["t_max_ms"].iloc[0]),
    )


def _run_folder(root: Path, name: str, frame: pd.DataFrame, matrix=None, status="complete"):
    """A run folder as ``snnbench bench`` leaves it: its table and its ``run.json``."""
    import json

    folder = root / "machine" / name
    folder.mkdir(parents=True)
    frame.to_csv(folder / storage.TABLE, index=False)
    info = {"run_id": f"machine/{name}", "status": status, "n_rows": len(frame), "n_cases": 4}
    if matrix is not None:
        info["matrix"] = matrix.to_dict()
    (folder / storage.RUN_INFO).write_text(json.dumps(info))
    return str(folder)


def _baseline(tmp_path) -> str:
    old = pd.read_csv(OLD / "benchmark.csv")
    return _run_folder(tmp_path, "base", old[old["case_id"].isin([GRAD_16, FORWARD_64])])


def _new(case_id: str) -> pd.DataFrame:
    """The candidate's row of ``case_id`` (the baseline's, as the candidate's release, where
    the candidate's fixture lacks it)."""
    new = pd.read_csv(NEW / "benchmark.csv")
    if case_id in set(new["case_id"]):
        return new[new["case_id"] == case_id]
    old = pd.read_csv(OLD / "benchmark.csv")
    return old[old["case_id"] == case_id].assign(jaxley_version=new["jaxley_version"].iloc[0])


def _said(out: str) -> str:
    """``out`` with its line breaks and indents as single spaces (the text is wrapped)."""
    return " ".join(out.split())


def test_a_row_not_in_the_candidates_matrix_is_not_comparable_naming_the_axis(tmp_path, capsys):
    small = _run_folder(tmp_path, "small", _new(GRAD_16), _candidate_matrix(batch_sizes=(16,)))
    assert main(["compare", _baseline(tmp_path), small, "--on-inconclusive", "pass"]) == 3
    out = _said(capsys.readouterr().out)
    assert "Outcome: not comparable" in out and "regression" not in out
    assert "batch_size 64 not in the candidate's matrix (not comparable)" in out
    assert "1 row not in the candidate's matrix" in out


def test_an_interrupted_candidate_is_incomplete_never_clean_nor_a_regression(tmp_path, capsys):
    from snnbench.measure.runner import INTERRUPTED_REASON

    stopped = _new(FORWARD_64).assign(status="failed", reason=INTERRUPTED_REASON)
    frame = pd.concat([_new(GRAD_16), stopped])
    cut = _run_folder(tmp_path, "cut", frame, _candidate_matrix(), status="interrupted")
    assert main(["compare", _baseline(tmp_path), cut, "--on-inconclusive", "pass"]) == 3
    out = _said(capsys.readouterr().out)
    assert "Outcome: incomplete" in out and "lost" not in out
    assert "Outcome: regression" not in out and "no regression" not in out
    assert "never measured: interrupted (Ctrl-C) while measuring it (incomplete)" in out
    (page,) = Path("runs").rglob("comparison.md")
    assert page.read_text().startswith("### snnbench comparison: ⏸️ incomplete")


def test_a_candidate_run_that_stopped_before_a_case_of_its_matrix_is_incomplete(tmp_path, capsys):
    died = _run_folder(tmp_path, "died", _new(GRAD_16), _candidate_matrix(), status="running")
    assert main(["compare", _baseline(tmp_path), died]) == 3
    out = _said(capsys.readouterr().out)
    assert "Outcome: incomplete" in out and "machine/died: running, 1 of 4 rows" in out
    csv = pd.read_csv(next(Path("runs").rglob("comparison.csv")))
    assert csv[csv["kind"] == "missing"]["verdict"].tolist() == [compare.UNFINISHED]


def test_a_case_the_candidate_measured_and_failed_is_a_regression(tmp_path, capsys):
    failed = _new(FORWARD_64).assign(status="failed", reason="out of memory (XlaRuntimeError)")
    frame = pd.concat([_new(GRAD_16), failed])
    lost = _run_folder(tmp_path, "lost", frame, _candidate_matrix())
    assert main(["compare", _baseline(tmp_path), lost]) == 1
    out = _said(capsys.readouterr().out)
    assert "Outcome: regression" in out and "the candidate lost 1 row" in out
    assert "failed or skipped in the candidate only (counts as a regression)" in out


def test_shared_only_judges_the_rows_both_runs_have_and_says_so(tmp_path, capsys):
    small = _run_folder(tmp_path, "small", _new(GRAD_16), _candidate_matrix(batch_sizes=(16,)))
    assert main(["compare", _baseline(tmp_path), small, "--shared-only"]) == 0
    out = _said(capsys.readouterr().out)
    assert "Compared only the rows both runs share (--shared-only): 1 row" in out
    assert "Outcome: no regression" in out
    (page,) = Path("runs").rglob("comparison.md")
    assert "--shared-only" in page.read_text()


def test_a_missing_shard_of_the_candidates_campaign_is_incomplete():
    matrix = _candidate_matrix()
    cases = [compare.spec_of(c.to_dict()) for c in matrix.cases()]
    plan = compare.RunPlan.from_infos(
        [{"status": "complete", "matrix": matrix.to_dict(), "shard": "2/2"}]
    )
    assert plan.cases is not None and set(plan.cases) < set(cases)
    first = next(c for c in cases if c not in plan.cases)
    assert plan.why_missing(first, interrupted=False).why == compare.UNFINISHED
    assert "shard" in plan.why_missing(first, interrupted=False).detail
    none = compare.RunPlan.from_infos([{"status": "complete"}])
    assert none.why_missing(first, interrupted=False).why == compare.UNKNOWN


def test_an_interrupted_candidate_that_kept_every_baseline_row_still_says_so(tmp_path, capsys):
    old = pd.read_csv(OLD / "benchmark.csv")
    base = _run_folder(tmp_path, "base", old[old["case_id"] == GRAD_16])
    cut = _run_folder(tmp_path, "cut", _new(GRAD_16), _candidate_matrix(), status="interrupted")
    assert main(["compare", base, cut]) == 0  # what the baseline has, the candidate measured
    out = _said(capsys.readouterr().out)
    assert "note: " + cut + ": run machine/cut: interrupted, 1 of 4 rows (did not complete)" in out


def test_the_yardstick_watches_the_deciding_metric():
    """Time-slicing moves the wall yardstick only: where CPU time decides that is no drift;
    memory pressure moves the XLA program's CPU time, which is."""

    def runs(scale, wall, xla_cpu, pinned="1"):
        sticks = (("wall", wall), ("cpu", 0.002), ("xla_cpu", xla_cpu))
        times = [scale * s for s in (1.0, 1.01, 0.99)]
        return Side(tuple(Repeat((t,), (t,), pinned, sticks) for t in times), 3)

    base = runs(1.0, 0.002, 0.003)
    (sliced,) = judge_rows([("forward", "cpu", base, runs(1.5, 0.006, 0.003))])
    assert sliced.metric == "cpu" and sliced.verdict == compare.SLOWER
    (pressed,) = judge_rows([("forward", "cpu", base, runs(1.5, 0.002, 0.0045))])
    assert pressed.verdict == compare.INCONCLUSIVE and "1.50x as long" in pressed.detail
    unpinned = runs(1.0, 0.002, 0.003, pinned="")
    (by_wall,) = judge_rows([("forward", "cpu", unpinned, runs(1.5, 0.006, 0.003, pinned=""))])
    assert by_wall.metric == "wall" and by_wall.verdict == compare.INCONCLUSIVE
