"""What a user sees: validation before work, failed runs marked, runs kept apart, widths."""

from __future__ import annotations

import json

import numpy as np
import pytest

from snnbench.measure import storage
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
