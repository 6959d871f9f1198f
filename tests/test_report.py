"""The report: figures and page from checked-in fixture results, determinism, missing inputs."""

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.image import imread

from snnbench import cli
from snnbench.errors import SnnbenchError
from snnbench.measure import storage
from snnbench.measure.records import CaseSpec, Measurement
from snnbench.render import plots, report

FIXTURES = Path(__file__).parent / "fixtures" / "report" / "results"
MACHINE_A = "fixture-a-0000aaaa"
EXPECTED_FIGURES = {
    "fig_time_vs_batch.png",
    "fig_compile_breakdown.png",
    "fig_overhead_ratio.png",
    "fig_compare_machine_id.png",
    "fig_compare_jaxley_version.png",
    f"fig_pareto_{MACHINE_A}.png",
    f"fig_memory_{MACHINE_A}.png",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The report written from a copy of the fixture tree (built once for the module)."""
    root = tmp_path_factory.mktemp("results")
    shutil.copytree(FIXTURES, root, dirs_exist_ok=True)
    written = report.write_report(root, root)
    return root, written


def _copy_runs(tmp_path: Path, *patterns: str) -> Path:
    root = tmp_path / "results"
    for pattern in patterns:
        for source in FIXTURES.glob(pattern):
            shutil.copytree(source, root / source.relative_to(FIXTURES))
    return root


def test_every_figure_is_written_and_linked(built):
    root, written = built
    assert {p.name for p in written.images} == EXPECTED_FIGURES
    page = (root / "REPORT.md").read_text()
    linked = set(re.findall(r"\]\(report/([^)]+)\)", page))
    assert linked == EXPECTED_FIGURES
    assert written.notes == ()


@pytest.mark.parametrize("name", sorted(EXPECTED_FIGURES))
def test_each_figure_is_a_real_picture(built, name):
    path = built[0] / "report" / name
    assert path.stat().st_size > 10_000
    pixels = imread(path)
    assert pixels.ndim == 3 and min(pixels.shape[:2]) > 300
    assert pixels.shape[1] <= 1000  # readable on a normal screen without scrolling
    assert float(pixels[..., :3].var()) > 1e-3  # not a blank canvas


@pytest.mark.slow
def test_regenerating_gives_identical_files(built, tmp_path):
    root, _ = built
    before = {p.name: p.read_bytes() for p in [root / "REPORT.md", *(root / "report").iterdir()]}
    report.write_report(root, root)
    after = {p.name: p.read_bytes() for p in [root / "REPORT.md", *(root / "report").iterdir()]}
    assert after == before


def test_page_names_machines_versions_and_exact_commands(built):
    page = (built[0] / "REPORT.md").read_text()
    assert "snnbench bench --batch-sizes 1,16,64 --dt-ms 0.001 --device gpu" in page
    assert "snnbench tradeoffs --dt-ms 0.001,0.002,0.005,0.01" in page
    assert "| fixture-b-0000bbbb | Synthetic CPU (fixture) | 8 " in page
    assert "NVIDIA H200" in page and "0.13.0" in page and "0.14.0" in page
    assert re.search(r"5 run folders under `[^`]+` \(3 benchmark, 1 profile, 1 tradeoffs\)", page)
    assert "generated" not in page.lower()  # no time of generation: the page is reproducible


def test_tables_hold_hand_computed_values(built):
    page = (built[0] / "REPORT.md").read_text()
    # fixture cost model: dense float64 forward on machine A, jaxley 0.14 = 1e-4 s + 2e-6 s x batch
    row = "| fixture-a-0000aaaa | cpu | 0.14.0 | dense | float64 | forward | 102 us | 132 us | 228 us |"
    assert row in re.sub(r" +\|", " |", page)
    # the fixture makes jaxley exactly 4x dense everywhere
    overhead = page.split("## jaxley overhead over the dense twin")[1].split("\n## ")[0]
    ratios = re.findall(r"(\d+\.\d\d)x", overhead)
    assert ratios and set(ratios) == {"4.00"}
    assert "| skipped | no gpu device: JAX found none | 1 " in re.sub(r" +\|", " |", page)


def test_no_results_says_what_to_run_first(tmp_path, capsys):
    with pytest.raises(SnnbenchError, match=r"run `nox -s bench` \(or `snnbench bench`\) first"):
        report.load_inputs(tmp_path)
    assert cli.main(["report", "--results", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nox -s bench" in err


def test_missing_optional_inputs_are_named_in_the_page(tmp_path):
    root = _copy_runs(tmp_path, f"{MACHINE_A}/20260102T000000Z")
    written = report.write_report(root, root)
    page = written.page.read_text()
    assert "No trade-off results: run the trade-off study (`snnbench tradeoffs`) first." in page
    assert "No profiling results: run the profiler (`snnbench profile`) first." in page
    names = {p.name for p in written.images}
    assert "fig_compare_machine_id.png" not in names and "fig_time_vs_batch.png" in names


def test_differently_shaped_inputs_become_notes_not_crashes(tmp_path):
    root = _copy_runs(tmp_path, f"{MACHINE_A}/20260102T000000Z")
    odd = root / MACHINE_A / "20260109T000000Z-tradeoffs"
    odd.mkdir(parents=True)
    (odd / "tradeoffs.csv").write_text("schema_version,dt_ms,something\n1,0.001,1\n")
    empty = root / MACHINE_A / "20260109T000000Z-profile"
    empty.mkdir()
    (empty / "memory.csv").write_text("")
    written = report.write_report(root, root)
    page = written.page.read_text()
    assert "_No figure: the trade-off table (tradeoffs.csv) must have columns" in page
    assert f"`{MACHINE_A}/20260109T000000Z-profile/memory.csv` could not be read" in page
    assert written.notes and "trade-off table" in written.notes[0]


def test_a_foreign_schema_version_is_refused_in_one_line(tmp_path, capsys):
    root = _copy_runs(tmp_path, f"{MACHINE_A}/20260102T000000Z")
    table = root / MACHINE_A / "20260102T000000Z" / "benchmark.csv"
    frame = pd.read_csv(table)
    frame["schema_version"] = 99
    frame.to_csv(table, index=False)
    assert cli.main(["report", "--results", str(root), "--out", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "schema version [99]" in err and "rerun the command" in err
    assert not (root / "REPORT.md").exists()


def test_stale_figures_are_removed_and_other_files_kept(tmp_path):
    root = _copy_runs(tmp_path, f"{MACHINE_A}/20260102T000000Z")
    (root / "report").mkdir()
    (root / "report" / "fig_gone.png").write_bytes(b"old")
    (root / "report" / "notes.txt").write_text("mine")
    report.write_report(root, root)
    assert not (root / "report" / "fig_gone.png").exists()
    assert (root / "report" / "notes.txt").read_text() == "mine"


def _row(run_id: str, utc: str, median_s: float) -> dict:
    spec = CaseSpec("dense", "forward", 16, "float64", "cpu", 1e-3)
    meta = {"machine_id": "m", "jaxley_version": "0.14.0", "run_id": run_id, "utc": utc}
    return Measurement(spec, samples_s=(median_s,)).to_row(meta)


def test_latest_rows_keep_the_newest_run_per_configuration():
    frame = storage.rows_to_frame(
        [_row("m/2", "2026-01-02T00:00:00Z", 2.0), _row("m/1", "2026-01-01T00:00:00Z", 1.0)]
    )
    latest = report.latest_rows(frame)
    assert list(latest["run_id"]) == ["m/2"] and list(latest["median_s"]) == [2.0]


def test_format_command_shows_the_program_as_typed():
    assert report.format_command(["/x/snnbench/__main__.py", "bench", "--out", "a b"]) == (
        "python -m snnbench bench --out 'a b'"
    )
    assert report.format_command(["/venv/bin/snnbench", "report"]) == "snnbench report"
    assert report.format_command("snnbench tradeoffs --quick") == "snnbench tradeoffs --quick"
    assert report.format_command(None) == "(not recorded)"


def test_run_folders_without_run_json_still_listed(tmp_path):
    root = _copy_runs(tmp_path, f"{MACHINE_A}/20260102T000000Z")
    (root / MACHINE_A / "20260102T000000Z" / "run.json").unlink()
    runs = report.load_inputs(root).runs
    assert [(r.run_id, r.kind, r.command) for r in runs] == [
        (f"{MACHINE_A}/20260102T000000Z", "benchmark", "(not recorded)")
    ]


def test_plots_refuse_inputs_they_cannot_draw():
    frame = storage.rows_to_frame([_row("m/1", "2026-01-01T00:00:00Z", 1.0)])
    with pytest.raises(SnnbenchError, match="jaxley rows with a dense twin in the same run"):
        plots.fig_overhead_ratio(frame)
    with pytest.raises(SnnbenchError, match="one value only"):
        plots.fig_compare(frame, "machine_id", phase="forward")
    with pytest.raises(SnnbenchError, match="no ok grad_step rows to plot"):
        plots.fig_compare(frame, "machine_id")
    with pytest.raises(SnnbenchError, match="no \\*_bytes column that varies"):
        plots.fig_memory(pd.DataFrame({"batch_size": [1], "peak": [2]}))


def test_a_study_table_without_a_schema_version_is_refused(tmp_path):
    root = _copy_runs(tmp_path, f"{MACHINE_A}/20260102T000000Z")
    odd = root / MACHINE_A / "20260109T000000Z-tradeoffs"
    odd.mkdir(parents=True)
    (odd / "tradeoffs.csv").write_text("dt_ms,something\n0.001,1\n")
    with pytest.raises(SnnbenchError, match="schema version none"):
        report.write_report(root, root)


def test_run_json_fixture_commands_are_lists():
    """The fixtures record commands the way runner.py does (argv lists)."""
    for path in sorted(FIXTURES.rglob("run.json")):
        assert isinstance(json.loads(path.read_text())["command"], list)


def test_a_table_without_machine_columns_still_reports(tmp_path):
    run = tmp_path / "results" / "old" / "run1"
    run.mkdir(parents=True)
    rows = [_row("old/run1", "2026-01-01T00:00:00Z", 1e-3)]
    for row in rows:
        del row["machine_id"], row["jaxley_version"]
    storage.write_table(run, rows)
    page = report.write_report(tmp_path / "results", tmp_path).page.read_text()
    assert "| unknown " in page and "1 ms" in page


def test_without_out_every_report_gets_a_new_folder(tmp_path, capsys):
    root = _copy_runs(tmp_path, f"{MACHINE_A}/20260102T000000Z")
    assert cli.main(["report", "--results", str(root)]) == 0
    assert cli.main(["report", "--results", str(root)]) == 0
    pages = sorted((root / "reports").rglob("REPORT.md"))
    assert len(pages) == 2 and pages[0].read_text() == pages[1].read_text()
    assert not (root / "REPORT.md").exists()  # nothing earlier is touched
    assert str(pages[1]) in capsys.readouterr().out


def test_the_overhead_table_shows_the_figures_dt_only():
    rows = []
    for dt, jaxley_s in ((1e-3, 4.0), (1e-3, 4.0), (5e-3, 9.0)):  # dt 1e-3 measured most
        for backend, median in (("dense", 1.0), ("jaxley", jaxley_s)):
            spec = CaseSpec(backend, "forward", 64, "float64", "cpu", dt)
            meta = {"machine_id": "m", "jaxley_version": "0.14.0", "run_id": f"m/{dt}"}
            rows.append(Measurement(spec, samples_s=(median,)).to_row(meta))
    bench = report._labelled(storage.rows_to_frame(rows))
    table = report._ratio_table(bench)
    assert "4.00x" in table and "9.00x" not in table


SCALING_RUN = (
    Path(__file__).resolve().parent.parent / "results" / "vm-da3d1dc8" / "20261128T163746Z"
)


def test_device_count_series_get_their_figures_table_and_missing_shards(tmp_path):
    """The committed scaling run, plus the rows of one shard of a two-shard campaign."""
    root = tmp_path / "results"
    shutil.copytree(SCALING_RUN, root / "vm-da3d1dc8" / SCALING_RUN.name)
    shard = storage.RunFolder.create(root, kind="shard1of2", stamp="20260101T000000Z")
    spec = CaseSpec("dense", "forward", 4, "float64", "cpu", 1e-3)
    row = Measurement(spec, samples_s=(0.001, 0.002)).to_row({"machine_id": "m"})
    storage.write_table(shard.path, [row], {"shard": "1/2", "campaign": "cabc"})
    written = report.write_report(root, tmp_path / "out")
    names = {p.name for p in written.images}
    assert {"fig_scaling_efficiency.png", "fig_scaling_time_vs_batch.png"} <= names
    for name in ("fig_scaling_efficiency.png", "fig_scaling_time_vs_batch.png"):
        pixels = imread(tmp_path / "out" / "report" / name)
        assert pixels.shape[1] <= 1000 and pixels.shape[0] > 300  # readable at 1000 px
        assert float(pixels[..., :3].var()) > 1e-3
    page = (tmp_path / "out" / "REPORT.md").read_text()
    assert "## Scaling across devices: efficiency" in page
    assert "grad_step | jit" in page and "(1.00)" in page
    assert "Collectives XLA inserted per gradient step (jit): 202" in page
    assert "campaign cabc: shard 2/2 missing" in page
    # the series stay out of the single-device figures and tables
    time_table = page.split("## Time per call vs batch size")[1].split("##")[0]
    assert "b=8 " not in time_table and "b=4" in time_table


def test_pareto_labels_of_one_dt_side_by_side_are_drawn_once():
    assert plots._near_a_label([(100.0, 1e-3, 5e-4)], 120.0, 1.1e-3, 5e-4)
    assert not plots._near_a_label([(100.0, 1e-3, 5e-4)], 120.0, 1.1e-3, 1e-3)  # other dt
    assert not plots._near_a_label([(100.0, 1e-3, 5e-4)], 300.0, 1.1e-3, 5e-4)  # far in x
    figure = plots.Figure()
    ax = figure.subplots()
    frame = pd.DataFrame(
        {
            "backend": ["dense"] * 3,
            "precision": ["float32", "float64", "float64"],
            "dt_ms": [5e-4, 5e-4, 1e-3],
            "cost_s": [0.25, 0.27, 0.12],
            "err": [2.6e-3, 2.7e-3, 6e-3],
            "front": [True, True, True],
        }
    )
    plots._pareto_panel(ax, frame, "cost_s", "err", "front", "error")
    assert sorted(t.get_text() for t in ax.texts) == ["0.0005", "0.001"]


def _size_rows() -> pd.DataFrame:
    """A run over three network sizes, both backends, forward/grad_step/grad_compile."""
    rows = []
    for backend, per_edge in (("jaxley", 1e-5), ("dense", 1e-7)):
        for n_hidden in (4, 16, 64):
            for phase in ("forward", "grad_step", "grad_compile"):
                spec = CaseSpec(
                    backend, phase, 16, "float32", "cpu", 1e-3, 0.2, n_input=100, n_hidden=n_hidden
                )
                seconds = per_edge * spec.n_edges * (3 if phase == "grad_step" else 1)
                extra = {"xla_temp_bytes": 4096 * spec.n_edges} if "compile" in phase else {}
                measured = Measurement(spec, samples_s=(seconds,) * 5, extra=extra)
                rows.append(measured.to_row({"machine_id": "m", "run_id": "m/r", "utc": "x"}))
    return storage.rows_to_frame(rows)


def test_cost_vs_network_size_figure_and_section(tmp_path):
    frame = _size_rows()
    figure = plots.fig_cost_vs_size(frame)
    path = plots.save_png(figure, tmp_path / "size.png")
    pixels = imread(path)
    assert pixels.shape[1] <= 1000 and float(pixels[..., :3].var()) > 1e-3  # fits 1000 px
    page = report.build_report(report.ReportInputs(bench=frame, runs=()))
    section = next(s for s in page.sections if s.title == "Cost vs network size")
    assert section.figure == "fig_cost_vs_size.png"
    assert "6528 syn." in section.table and "408 syn." in section.table
    one_size = frame[frame["n_hidden"] == 4]
    with pytest.raises(SnnbenchError, match="fewer than two network sizes"):
        plots.fig_cost_vs_size(one_size)
    titles = [s.title for s in report.build_report(report.ReportInputs(one_size, ())).sections]
    assert "Cost vs network size" not in titles


def test_sides_of_ab_jobs_are_not_listed_as_runs(tmp_path):
    root = _copy_runs(tmp_path, f"{MACHINE_A}/20260102T000000Z")
    job = root / "ab" / MACHINE_A / "20260105T000000Z"
    for side in ("A", "B"):
        shutil.copytree(root / MACHINE_A / "20260102T000000Z", job / side / MACHINE_A / "r")
    (job / storage.AB_JOB_INFO).write_text("{}")
    runs = report.load_inputs(root).runs
    assert [r.run_id for r in runs] == [f"{MACHINE_A}/20260102T000000Z"]
