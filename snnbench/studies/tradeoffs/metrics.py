"""Fidelity of each point of the study against its reference (NumPy only)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from snnbench.studies.tradeoffs import fidelity
from snnbench.studies.tradeoffs.grid import TradeoffGrid, point_id
from snnbench.studies.tradeoffs.resample import sample_indices


def _times(pid_outputs: dict, dt_ms: float, times_ms: np.ndarray) -> np.ndarray:
    return pid_outputs["v"][..., sample_indices(dt_ms, times_ms)]


def _spike_times(out: dict, layer: str, dt_ms: float) -> np.ndarray | None:
    if f"{layer}_rows" not in out:
        return None
    n_trains = int(out[f"{layer}_trains"])
    n_bins = int(out[f"{layer}_bins"].max()) + 1 if out[f"{layer}_bins"].size else 1
    dense = np.zeros((n_trains, n_bins), dtype=bool)
    dense[out[f"{layer}_rows"], out[f"{layer}_bins"]] = True
    return fidelity.spike_times_ms(dense, dt_ms)


def point_metrics(grid: TradeoffGrid, out: dict, ref: dict, dt_ms: float) -> dict[str, float]:
    """Fidelity of one point's raw outputs against the reference's."""
    row: dict[str, float] = {}
    t_max = grid.t_max_ms
    common = np.arange(0, round(t_max / grid.common_step_ms) + 1) * grid.common_step_ms
    own = np.arange(0, round(t_max / dt_ms) + 1) * dt_ms
    ref_dt = grid.reference_dt_ms
    for suffix, times in (("", common), ("_own_grid", own)):
        v, v_ref = _times(out, dt_ms, times), _times(ref, ref_dt, times)
        row[f"voltage_rmse{suffix}_mv"] = fidelity.rmse(v, v_ref)
        row[f"voltage_max_abs{suffix}_mv"] = fidelity.max_abs_error(v, v_ref)
    for layer in ("input", "hidden"):
        times, ref_times = _spike_times(out, layer, dt_ms), _spike_times(ref, layer, ref_dt)
        if times is None or ref_times is None:
            continue
        per_train, relative = fidelity.count_differences(times, ref_times)
        row[f"{layer}_spikes"] = int(np.sum(~np.isnan(times)))
        row[f"{layer}_count_abs_diff"] = per_train
        row[f"{layer}_count_rel_diff"] = relative
        row[f"{layer}_coincidence"] = fidelity.coincidence_fraction(
            times, ref_times, grid.window_ms
        )
        row[f"{layer}_van_rossum"] = float(
            np.mean(fidelity.van_rossum_distance(times, ref_times, grid.van_rossum_tau_ms))
        )
    row["loss"] = float(out["loss"])
    row["loss_abs_diff"] = abs(float(out["loss"]) - float(ref["loss"]))
    row["grad_cosine"] = fidelity.cosine_similarity(out["grad"], ref["grad"])
    row["grad_rel_error"] = fidelity.relative_norm_error(out["grad"], ref["grad"])
    row["grad_norm"] = float(np.linalg.norm(out["grad"]))
    if "train_losses" in out:
        row.update(
            train_loss=float(out["train_loss"]),
            train_accuracy=float(out["train_accuracy"]),
            train_loss_on_reference=float(out.get("ref_loss", np.nan)),
            train_accuracy_on_reference=float(out.get("ref_accuracy", np.nan)),
            train_wall_s=float(out["train_wall_s"]),
        )
    return row


def fidelity_frame(grid: TradeoffGrid, outputs: dict) -> pd.DataFrame:
    """One row per point with every fidelity metric against its reference.

    Each (backend, surrogate) has its own reference: float64 at the finest dt.
    """
    rows = []
    for backend in grid.backends:
        for surrogate in grid.surrogates:
            ref_id = grid.reference_id(backend, surrogate)
            ref = outputs[ref_id]
            for precision in grid.precisions:
                for dt in grid.dts_ms:
                    pid = point_id(backend, precision, dt, surrogate)
                    row = {
                        "point_id": pid,
                        "scenario": "resampled",
                        "backend": backend,
                        "precision": precision,
                        "dt_ms": dt,
                        "surrogate": surrogate,
                        "is_reference": pid == ref_id,
                        "reference_id": ref_id,
                    }
                    row.update(point_metrics(grid, outputs[pid], ref, dt))
                    rows.append(row)
    frame = pd.DataFrame(rows)
    if "train_accuracy_on_reference" in frame:
        keys = ["backend", "surrogate"]
        ref_acc = frame[frame["is_reference"]].set_index(keys)["train_accuracy_on_reference"]
        own = pd.MultiIndex.from_frame(frame[keys])
        frame["accuracy_drop"] = (
            ref_acc.reindex(own).to_numpy() - frame["train_accuracy_on_reference"].to_numpy()
        )
    else:
        frame["accuracy_drop"] = np.nan
    return frame
