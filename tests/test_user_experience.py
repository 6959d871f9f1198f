"""What a user sees: validation before work, failed runs marked, runs kept apart, widths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from snnbench import cli
from snnbench.measure import machine, storage
from snnbench.render import report
from snnbench.studies.tradeoffs import grid as G
from snnbench.studies.tradeoffs import reference_check, study


def _synthetic_outputs(grid: G.TradeoffGrid) -> dict:
    """Reference-check outputs whose values shrink with dt (first order)."""
    outputs = {}
    for surrogate in grid.surrogates:
        for dt in grid.chain_dts_ms:
            n = round(grid.t_max_ms / dt) + 1
            outputs[G.point_id(G.CHECK_BACKEND, "float64", dt, surrogate)] = {
                "v": np.full((1, 1, n), -70.0 + dt),
                "loss": 1.0 + dt,
                "grad": np.ones(3) * (1.0 + dt),
                "input_rows": np.arange(10),
                "hidden_rows": np.arange(4),
            }
    return outputs


def test_no_refinements_labels_every_check_unchecked_instead_of_failing():
    grid = G.TradeoffGrid(dts_ms=(5e-4, 1e-3, 2e-3), refinements=0, t_max_ms=0.01)
    verdicts = reference_check.run_checks(grid, _synthetic_outputs(grid))
    assert verdicts and not any(v.converged for v in verdicts.values())
    fine = verdicts["voltage_fine", reference_check.ANY_SURROGATE]
    assert fine.reason.startswith("cannot tell")
    table = reference_check.convergence_frame(grid, _synthetic_outputs(grid), verdicts)
    assert not table["converged"].any() and len(table) == len(verdicts)


def test_a_failed_study_marks_its_run_folder_failed_with_the_reason(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("worker died: out of memory")

    monkeypatch.setattr(study, "run_workers", broken)
    grid = G.TradeoffGrid(dts_ms=(1e-3, 2e-3), precisions=("float64",), t_max_ms=0.02)
    with pytest.raises(RuntimeError):
        study.run_tradeoffs(grid, G.Budget(), tmp_path, say=lambda _: None)
    (folder,) = storage.find_run_dirs(tmp_path, "tradeoffs") or list(tmp_path.glob("*/*"))
    info = json.loads((folder / "run.json").read_text())
    assert info["status"] == "failed"
    assert info["reason"] == "RuntimeError: worker died: out of memory"


def test_a_run_inside_another_run_is_not_a_run_of_the_tree(tmp_path):
    outer = storage.RunFolder.create(tmp_path, kind="tradeoffs")
    storage.start_info(outer, ["snnbench", "tradeoffs"])
    inner = storage.RunFolder.create(outer.path / study.TIMING)
    (inner.path / storage.JOURNAL).write_text("")
    plain = storage.RunFolder.create(tmp_path)
    (plain.path / storage.JOURNAL).write_text("")
    assert storage.find_run_dirs(tmp_path) == [plain.path]
    assert storage.find_run_dirs(inner.path) == [inner.path]  # still readable on its own


# ---------------------------------------------------------------- the report's inputs

REPORT_FIXTURES = Path(__file__).parent / "fixtures" / "report" / "results"
MACHINE_A = "fixture-a-0000aaaa"


def _tree(tmp_path: Path, *runs: str) -> Path:
    root = tmp_path / "results"
    for run in runs:
        shutil.copytree(REPORT_FIXTURES / run, root / run)
    return root


def test_a_report_of_one_machine_goes_to_the_trees_reports_folder(tmp_path, capsys):
    root = _tree(tmp_path, f"{MACHINE_A}/20260102T000000Z")
    assert cli.main(["report", "--results", str(root / MACHINE_A)]) == 0
    (page,) = root.rglob("REPORT.md")
    assert page.relative_to(root).parts[:2] == ("reports", machine.machine_id())
    assert not (root / MACHINE_A / "reports").exists()


def test_a_studys_timing_run_is_not_a_benchmark_run_of_the_report(tmp_path):
    bench = f"{MACHINE_A}/20260102T000000Z"
    root = _tree(tmp_path, bench, f"{MACHINE_A}/20260101T000000Z")
    study_dir = root / MACHINE_A / "20260104T000000Z-tradeoffs"
    shutil.copytree(REPORT_FIXTURES / MACHINE_A / "20260104T000000Z-tradeoffs", study_dir)
    info = json.loads((study_dir / "run.json").read_text()) | {"bench_run_id": bench}
    (study_dir / "run.json").write_text(json.dumps(info))
    inputs = report.load_inputs(root)
    assert bench not in {r.run_id for r in inputs.runs}
    assert bench not in set(inputs.bench["run_id"])
    assert f"{MACHINE_A}/20260101T000000Z" in set(inputs.bench["run_id"])


def test_a_table_stitched_from_several_runs_names_each_run():
    rows = pd.DataFrame(
        {
            "backend": ["dense"] * 3 + ["jaxley"],
            "batch_size": [1, 16, 64, 1],
            "value": ["1 ms", "2 ms", "3 ms", "4 ms"],
            "run_id": ["m/runA", "m/runB", "m/runA", "m/runA"],
        }
    )
    table = report._pivot(rows, ["backend"], "batch_size", "value", lambda c: f"b={c}")
    assert table.loc["dense", "runs"] == "runA: b=1,b=64; runB: b=16"
    assert table.loc["jaxley", "runs"] == "runA"
    assert list(table.columns) == ["b=1", "b=16", "b=64", "runs"]


def test_user_runs_and_committed_runs_live_in_different_trees():
    parser = cli.build_parser()
    for command in ("bench", "tradeoffs", "profile"):
        assert parser.parse_args([command]).out == storage.USER_RUNS
    assert parser.parse_args(["report"]).results == storage.USER_RUNS
    ignored = (Path(__file__).parent.parent / ".gitignore").read_text().splitlines()
    assert f"/{storage.USER_RUNS}/" in ignored


# ---------------------------------------------------------------- terminal width


def _widest(text: str) -> int:
    return max((len(line) for line in text.replace("\r", "\n").splitlines()), default=0)


@pytest.fixture
def columns_100(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")


def _wide_bench_frame() -> pd.DataFrame:
    """Every fixture benchmark row, plus a run with many batch sizes and long labels."""
    frames = [storage.load_results(d) for d in storage.find_run_dirs(REPORT_FIXTURES)]
    frame = pd.concat(frames, ignore_index=True)
    wide = frame[frame["batch_size"] == frame["batch_size"].min()]
    many = [
        wide.assign(batch_size=b, n_hidden=h, n_input=1000)
        for b in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
        for h in (4, 4096)
    ]
    return storage.add_derived(pd.concat([frame, *many], ignore_index=True))


def test_bench_prints_within_100_columns(columns_100, capsys, tmp_path):
    from snnbench.cli.bench_commands import print_summary

    frame = _wide_bench_frame()
    frame.loc[frame.index[:3], "noisy"] = True
    print_summary(frame, Path("runs/machine-0000aaaa/20260101T000000Z"), 12.0)
    out = capsys.readouterr().out
    assert _widest(out) <= 100
    assert "--pin-cpu" in out and "snnbench ab" in out  # noisy rows come with advice
    assert "summary.md" in out


def test_bench_caption_speaks_only_of_columns_present():
    from snnbench.render import bench_summary

    frame = pd.DataFrame({"phase": ["forward", "grad_step"], "jaxley_over_dense": [None, None]})
    text = bench_summary.caption(frame)
    assert "compile" not in text and "jaxley/dense" not in text
    assert len(text) <= 200


def _tradeoff_frame() -> pd.DataFrame:
    run = REPORT_FIXTURES / MACHINE_A / "20260104T000000Z-tradeoffs"
    frame = storage.read_table(run, "tradeoffs")
    frame["voltage_rmse_mv_reference_converged"] = False
    frame["accuracy_drop"] = 0.01
    frame["grad_step_s_reference_converged"] = True
    frame["bench_run_id"] = "timing/m/20260104T000001Z"
    frame["chosen"] = frame["point_id"] == frame["point_id"].iloc[0]
    return frame


def test_tradeoffs_prints_within_100_columns_and_explains_its_marks(columns_100, capsys, tmp_path):
    from snnbench.cli.study_commands import print_tradeoffs
    from snnbench.studies.tradeoffs.study import TradeoffResult

    frame = _tradeoff_frame()
    budget = G.Budget()
    result = TradeoffResult(Path("runs/m/s-tradeoffs"), frame, frame.iloc[0], budget)
    print_tradeoffs(result, budget, 300.0)
    out = capsys.readouterr().out
    assert _widest(out) <= 100
    assert "† the reference has not converged" in out
    assert "‡ no refinement checks" in out
    assert "Its timing run: runs/m/s-tradeoffs/timing/m/20260104T000001Z" in out


def test_profile_prints_within_100_columns(columns_100, capsys):
    from snnbench.cli.study_commands import print_profile
    from snnbench.studies.profile.study import read_profile

    run_dir = REPORT_FIXTURES / MACHINE_A / "20260105T000000Z-profile"
    print_profile(read_profile(run_dir), run_dir, 30.0)
    out = capsys.readouterr().out
    assert _widest(out) <= 100
    assert "Memory by batch size" in out and "summary.md" in out


def test_report_prints_within_100_columns(columns_100, capsys, tmp_path, monkeypatch):
    _tree(tmp_path, f"{MACHINE_A}/20260102T000000Z")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["report", "--results", "results"]) == 0
    captured = capsys.readouterr()
    assert _widest(captured.out + captured.err) <= 100


HISTORY = Path(__file__).parent / "fixtures" / "results" / "history"


def test_compare_prints_within_100_columns_and_names_the_full_table(
    columns_100, capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    old, new = str(HISTORY / "jaxley-0.13.0"), str(HISTORY / "jaxley-0.14.0")
    assert cli.main(["compare", old, new]) == 1
    out = capsys.readouterr().out
    assert _widest(out) <= 100
    (page,) = Path("runs").rglob("comparison.md")
    assert f"Every column in full: {page}" in " ".join(out.split())
    assert "p (Holm)" in page.read_text() and "p (Holm)" not in out  # the full table is there
    assert cli.main(["compare", "--by", "jaxley_version", str(HISTORY)]) == 1
    out = capsys.readouterr().out
    assert _widest(out) <= 100 and "1.30x SLOWER" in out and "Every column in full" in out


def test_ab_and_bisect_text_fit_100_columns(columns_100, tmp_path):
    from snnbench.regress import bisect, compare
    from snnbench.render import bisect_text, compare_text

    labels = ("A (jaxley==0.13.0 + snnbench@main, " * 2 + ")", "B (jaxley==0.14.0)")
    comparison = compare.compare_frames(
        storage.load_results(HISTORY / "jaxley-0.13.0"),
        storage.load_results(HISTORY / "jaxley-0.14.0"),
        labels=labels,
    )
    text = compare_text.render_text(comparison, full_table=str(tmp_path / "comparison.md"))
    assert _widest(text) <= 100 and "SLOWER" in text
    long_case = "jaxley-grad_step-b1024-float64-cpu-dt0.00025-i1000-h4096"
    effect = bisect.RowEffect(long_case, "grad_step", "slower", 3.0, 2.9, 3.1)
    step = bisect.Step(
        1, "package", "jax 0.4.31 -> 0.10.2", "A", "B", bisect.Judgement("slower", (effect,), 4)
    )
    result = bisect.BisectResult(
        "package",
        bisect.FOUND,
        ("jax 0.4.31 -> 0.10.2",),
        (step,),
        ("a group that needs the groups moved before it was tried alone, " * 3,),
        tmp_path,
    )
    text = bisect_text.render_text(result)
    assert _widest(text) <= 100 and long_case in text


def test_noise_study_rates_fit_100_columns(columns_100):
    from snnbench.render import noise_page
    from snnbench.studies.noise_study.rates import Rate

    rates = [
        Rate(k, s, c, "deciding", 20, f, 1, 20 - f - 1, 0.01, 0.3)
        for k, s, f in (("none", 0.0, 0), ("compile", 0.05, 15), ("trace", 0.2, 19))
        for c in ("all", "quiet", "busy", "memory")
    ]
    text = noise_page.terminal_rates(rates)
    assert _widest(text) <= 100 and "exit 1 = regression found" in text


def test_a_table_too_wide_is_split_into_blocks_that_repeat_its_keys(columns_100):
    from snnbench.render import terminal

    frame = pd.DataFrame(
        {"key": ["a", "b"], **{f"column_{i:02d}": ["x" * 12] * 2 for i in range(12)}}
    )
    text = terminal.table(frame, keys=1)
    blocks = text.split("\n\n")
    assert len(blocks) > 1 and all(b.splitlines()[0].split()[0] == "key" for b in blocks)
    assert _widest(text) <= 100


def test_the_width_is_100_without_columns(monkeypatch):
    from snnbench.render import terminal

    monkeypatch.delenv("COLUMNS", raising=False)
    assert terminal.width() == 100
    monkeypatch.setenv("COLUMNS", "250")
    assert terminal.width() == 100
    monkeypatch.setenv("COLUMNS", "72")
    assert terminal.width() == 72


def test_the_progress_bar_keeps_its_width_and_count_on_long_case_names(
    columns_100, capsys, tmp_path
):
    from snnbench.measure import runner

    journal = tmp_path / storage.JOURNAL
    tail = storage.JournalTail(journal)  # the runner polls it before each advance
    progress = runner._Progress(3, True, tail)
    name = "jaxley-grad_step-b1024-float64-cpu-dt0.00025-n_hidden4096-n_input1000-" * 2
    storage.append_jsonl(journal, {"event": "start", "case_id": name})
    tail.poll()
    progress.advance(0)
    storage.append_jsonl(journal, {"event": "done", "row": {"case_id": name}})
    tail.poll()
    progress.advance(1)
    progress.close()
    err = capsys.readouterr().err
    frames = [f for f in err.replace("\r", "\n").splitlines() if f.strip()]
    assert frames and _widest(err) <= 100
    assert all("|" + " " * 0 in f for f in frames)
    assert "1/3" in frames[-1] and name[:20] not in frames[-1]  # a finished case is not shown


# ---------------------------------------------------------------- small things


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == "snnbench 0.2.0"


def test_top_level_help_does_not_import_jax():
    import subprocess
    import sys

    code = (
        "import sys; from snnbench import cli; cli.build_parser('').format_help(); "
        "print('jax' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("command", ["bench", "compare", "report", "tradeoffs"])
def test_a_commands_help_does_not_import_jax(command):
    import subprocess
    import sys

    code = (
        "import sys; from snnbench import cli\n"
        f"try: cli.main([{command!r}, '--help'])\n"
        "except SystemExit: pass\n"
        "print('jax' in sys.modules, file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "--out" in out.stdout and out.stderr.strip() == "False"


def test_the_help_values_written_out_are_the_librarys():
    from snnbench.cli import bench_commands

    assert bench_commands.HELP_VALUES == bench_commands.help_values()


def test_each_commands_listed_help_is_its_own():
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    listed = {a.dest: a.help for a in sub._choices_actions}
    assert listed == {name: help_text for name, (_, _, help_text) in cli.COMMANDS.items()}


def test_every_command_has_a_description():
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    for name in ("profile", "bench", "report", "train"):
        assert sub.choices[name].description, name


def test_bench_checks_its_options_before_probing_devices(monkeypatch, capsys, tmp_path):
    from snnbench.measure import runner

    def probe():
        raise AssertionError("probed before the options were checked")

    monkeypatch.setattr(runner, "probe_platforms", probe)
    assert cli.main(["bench", "--backend", "jaxly", "--out", str(tmp_path)]) == 2
    assert "`--backend`" in capsys.readouterr().err


def test_tradeoffs_refinements_zero_is_accepted_at_parse_time(tmp_path):
    from snnbench.cli.study_commands import _grid_and_budget

    args = cli.build_parser().parse_args(
        ["tradeoffs", "--dt-ms", "0.0005,0.001,0.002", "--refinements", "0"]
    )
    grid, _ = _grid_and_budget(args)
    assert grid.refinements == 0 and grid.refinement_dts_ms == ()


def test_cli_errors_name_flags_not_library_arguments(capsys, tmp_path):
    assert cli.main(["report", "--results", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "`--results`" in err and "results_dir" not in err


def test_tradeoffs_dt_errors_name_the_flags_not_library_arguments(capsys, tmp_path):
    out = str(tmp_path)
    assert cli.main(["tradeoffs", "--dt-ms", "0.0007,0.001", "--out", out]) == 2
    err = capsys.readouterr().err
    assert "`--dt-ms`" in err and "--t-max-ms=0.2" in err and "t_max_ms" not in err
    assert cli.main(["tradeoffs", "--t-max-ms", "0.00001", "--out", out]) == 2
    assert "t_max_ms" not in capsys.readouterr().err
    assert cli.main(["bench", "--dt-ms", "0.0007", "--out", out]) == 2
    assert "--t-max-ms" not in capsys.readouterr().err  # bench has no such flag to point to


@pytest.mark.parametrize(
    "argv, hint",
    [
        (["tradeoff"], "did you mean 'tradeoffs'?"),
        (["xyz"], "(see `snnbench --help`)"),
        (["compare", "a", "b", "--metric", "gpu"], "(choose from auto, cpu, wall)"),
    ],
)
def test_an_invalid_choice_fits_100_columns_and_lists_the_choices(columns_100, capsys, argv, hint):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert _widest(err) <= 100 and hint in err and err.count("\n") == 1
    assert err.startswith("snnbench: error: ") and repr(argv[-1]) in err


def test_the_precision_error_names_both_ways_out():
    from snnbench.errors import SnnbenchError
    from snnbench.precision import current_precision, require_precision

    here = current_precision()
    other = "float32" if here == "float64" else "float64"
    with pytest.raises(SnnbenchError) as error:
        require_precision(other, "make_task(config)")
    message = str(error.value)
    assert f"snnbench.set_precision({other!r})" in message
    assert f"TaskConfig(precision={here!r})" in message


# ---------------------------------------------------------------- figures


def _pareto_input() -> pd.DataFrame:
    rows = []
    for precision, speed in (("float64", 1.0), ("float32", 0.6)):
        for dt, error in ((2.5e-4, 0.0), (1e-3, 6e-3), (2e-3, 0.5)):
            error = error if precision == "float64" else error + 4e-5
            rows.append(
                {
                    "backend": "dense",
                    "precision": precision,
                    "dt_ms": dt,
                    "grad_step_s": speed * 0.05e-3 / dt,
                    "voltage_rmse_mv": error,
                    "grad_rel_error": error,
                    "pareto_voltage": True,
                    "pareto_grad": True,
                    "voltage_rmse_mv_reference_converged": False,
                    "batch_size": 256,
                }
            )
    return pd.DataFrame(rows)


def test_the_pareto_figure_reads_without_a_manual():
    from matplotlib.collections import PathCollection

    from snnbench.render import plots

    figure = plots.fig_tradeoffs(_pareto_input())
    figure.canvas.draw()
    ax = figure.axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert ticks and all("10^" not in t and "times" not in t and "$" not in t for t in ticks)
    points = [c for c in ax.collections if isinstance(c, PathCollection)]
    ys = [y for c in points for _, y in c.get_offsets()]
    assert min(ys) > 1e-5  # the reference (error 0) is not drawn at an invented floor
    assert any(abs(line.get_xdata()[0] - 0.05e-3 / 2.5e-4 * 1e3) < 1e-9 for line in ax.lines)
    colours = {tuple(c.get_facecolor()[0][:3]) for c in points}
    shapes = {c.get_paths()[0].vertices.shape for c in points}
    assert len(colours) == 2 and len(shapes) == 2  # float32 and float64 differ twice over
    (legend,) = figure.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert "float32" in labels and "float64" in labels
    assert any("Pareto front" in t for t in labels) and any("not converged" in t for t in labels)


def test_the_old_pareto_figure_is_gone():
    from snnbench.render import plots

    assert not hasattr(plots, "pareto_figure")


def test_memory_panels_are_titled_in_plain_words():
    from snnbench.render import plots

    memory = pd.DataFrame(
        {
            "backend": ["dense", "dense", "jaxley", "jaxley"],
            "phase": ["forward"] * 4,
            "batch_size": [1, 16, 1, 16],
            "peak_rss_bytes": [1e8, 2e8, 3e8, 4e8],
            "program_peak_bytes": [1e6, 2e6, 3e6, 5e6],
            "xla_temp_bytes": [1e5, 2e5, 3e5, 6e5],
        }
    )
    titles = [ax.get_title() for ax in plots.fig_memory(memory).axes if ax.get_visible()]
    assert titles == [plots.MEMORY_TITLES[c] for c in memory.columns[3:]]
    assert not any("_" in t or "xla buffer" in t or "program peak" in t for t in titles)


def test_a_failed_profile_marks_its_run_folder_failed(tmp_path, monkeypatch):
    from snnbench.studies.profile import study as profile

    def broken(*args, **kwargs):
        raise RuntimeError("the child died")

    monkeypatch.setattr(profile, "_profile_into", broken)
    with pytest.raises(RuntimeError):
        profile.run_profile(profile.ProfileOptions(out_root=tmp_path, progress=False))
    (info_path,) = tmp_path.glob("*/*-profile/run.json")
    info = json.loads(info_path.read_text())
    assert info["status"] == "failed" and info["reason"] == "RuntimeError: the child died"


def test_the_profile_page_names_the_commit_any_table_recorded():
    from snnbench.render import profile_page

    empty = pd.DataFrame()
    tables = profile_page.Tables(
        profile=pd.DataFrame({"git_commit": ["unknown"]}),
        memory=pd.DataFrame({"git_commit": ["0123456789abcdef"]}),
        memory_fit=empty,
        top_ops=empty,
        snn=empty,
    )
    assert profile_page.snnbench_version(tables).endswith("at 0123456789")
    none = profile_page.Tables(empty, empty, empty, empty, empty)
    assert "unknown" not in profile_page.snnbench_version(none)


def test_build_profile_prints_within_100_columns(columns_100, capsys, monkeypatch):
    from snnbench.studies.profile import build

    calls = [
        "jaxley.modules.base.SpikingNetwork._init_solver_jaxley_exp_euler_solve",
        "jaxley.modules.base.View.__init__",
    ]
    frame = pd.DataFrame(
        {
            "call": calls,
            "n_compiles": [2, 32],
            "trace_s": [0.001, 0.01],
            "lower_s": [0.01, 0.1],
            "compile_s": [0.03, 0.6],
        }
    )
    frame["staging_s"] = frame[["trace_s", "lower_s", "compile_s"]].sum(axis=1)
    monkeypatch.setattr(build, "profile_build", lambda *a, **k: build.BuildProfile(2.5, frame))
    assert cli.main(["build-profile"]) == 0
    out = capsys.readouterr().out
    assert _widest(out) <= 100 and "SpikingNetwork._init_solver_jaxley_exp_euler_solve" in out
