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
