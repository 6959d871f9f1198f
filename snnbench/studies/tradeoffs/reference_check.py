"""Has the study's reference converged? One self-convergence check per quantity the table uses.

The reference (float64 at the finest dt of the grid) is refined further by
halving; :func:`~snnbench.studies.tradeoffs.convergence.self_convergence` then
judges each quantity a metric is computed from, on the dense twin. Forward
quantities (voltages, loss, spike counts) do not depend on the surrogate; the
gradient is checked per surrogate. A metric whose quantity has not converged is
labelled as such in the table, the page and the figure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from snnbench.studies.tradeoffs.convergence import (
    Convergence,
    cannot_tell,
    cosine_interval,
    self_convergence,
)
from snnbench.studies.tradeoffs.grid import CHECK_BACKEND, TradeoffGrid, point_id
from snnbench.studies.tradeoffs.resample import sample_indices, step_ratio

#: Marks a forward quantity's row in the convergence table: the same for every surrogate.
ANY_SURROGATE = "any"


@dataclass(frozen=True)
class Check:
    """One quantity whose convergence is checked, and the tolerance on its reference's error.

    Attributes:
        quantity: its name in the convergence table.
        description: what it is, in words, for the page.
        norm_kind: the norm of differences (``rms``, ``max``, ``l2``).
        rtol, atol: tolerance on the reference's estimated error (see
            :func:`self_convergence`).
        noise_floor_rel: differences up to this fraction of the finest value count as zero.
        per_surrogate: whether the quantity depends on the surrogate (the gradient).
        metrics: the table columns computed from it.
    """

    quantity: str
    description: str
    norm_kind: str
    rtol: float
    atol: float
    noise_floor_rel: float
    per_surrogate: bool
    metrics: tuple[str, ...]


def _spike_metrics(layer: str) -> tuple[str, ...]:
    names = ("spikes", "count_abs_diff", "count_rel_diff", "coincidence", "van_rossum")
    return tuple(f"{layer}_{name}" for name in names)


#: The checks, with tolerances: a tenth of the default voltage budget (0.01 mV) for the
#: RMS voltage, 0.01 mV for its maximum, 1e-4 for the loss (the size of the study's
#: loss differences), 1 % for the gradient and for spike counts (hidden counts move
#: by single spikes between refinements: up to 0.5 % of them counts as no change).
CHECKS = (
    Check("voltage_common", "output voltages at the common sample times (RMS)",
          "rms", 0.0, 1e-3, 0.0, False, ("voltage_rmse_mv",)),
    Check("voltage_common_max", "output voltages at the common sample times (max-abs)",
          "max", 0.0, 1e-2, 0.0, False, ("voltage_max_abs_mv",)),
    Check("voltage_fine", "output voltages at every reference sample time (RMS)",
          "rms", 0.0, 1e-3, 0.0, False, ("voltage_rmse_own_grid_mv",)),
    Check("voltage_fine_max", "output voltages at every reference sample time (max-abs)",
          "max", 0.0, 1e-2, 0.0, False, ("voltage_max_abs_own_grid_mv",)),
    Check("loss", "loss at the evaluation weights",
          "l2", 0.0, 1e-4, 0.0, False, ("loss_abs_diff",)),
    Check("gradient", "gradient of the loss, all weights (L2)",
          "l2", 1e-2, 0.0, 0.0, True, ("grad_cosine", "grad_rel_error")),
    Check("input_spikes", "input spikes, total",
          "l2", 1e-2, 0.0, 0.0, False, _spike_metrics("input")),
    Check("hidden_spikes", "hidden spikes, total",
          "l2", 1e-2, 0.0, 5e-3, False, _spike_metrics("hidden")),
)  # fmt: skip


def _times(grid: TradeoffGrid, step_ms: float) -> np.ndarray:
    return np.arange(0, round(grid.t_max_ms / step_ms) + 1) * step_ms


def _on_grid(dt_ms: float, step_ms: float) -> bool:
    return step_ratio(step_ms, dt_ms) is not None


def _extractors(grid: TradeoffGrid) -> dict[str, tuple[float, Callable[[dict, float], object]]]:
    """Per quantity: the sample step a dt must divide, and how to read it from outputs."""
    common, fine = grid.common_step_ms, grid.reference_dt_ms

    def voltages(step: float):
        return lambda out, dt: out["v"][..., sample_indices(dt, _times(grid, step))]

    return {
        "voltage_common": (common, voltages(common)),
        "voltage_common_max": (common, voltages(common)),
        "voltage_fine": (fine, voltages(fine)),
        "voltage_fine_max": (fine, voltages(fine)),
        "loss": (0.0, lambda out, dt: float(out["loss"])),
        "gradient": (0.0, lambda out, dt: out["grad"]),
        "input_spikes": (0.0, lambda out, dt: float(len(out["input_rows"]))),
        "hidden_spikes": (0.0, lambda out, dt: float(len(out["hidden_rows"]))),
    }


def check_points(grid: TradeoffGrid) -> list[dict]:
    """The float64 points the checks need beyond the grid's own (untrained, untimed)."""
    have = set(grid.dts_ms) if CHECK_BACKEND in grid.backends else set()
    return [
        {"dt_ms": dt, "backend": CHECK_BACKEND, "surrogate": s, "train": False}
        for s in grid.surrogates
        for dt in grid.chain_dts_ms
        if dt not in have
    ]


def run_checks(grid: TradeoffGrid, outputs: dict) -> dict[tuple[str, str], Convergence]:
    """Every check's verdict, keyed by ``(quantity, surrogate or ANY_SURROGATE)``."""
    extract = _extractors(grid)
    verdicts = {}
    for check in CHECKS:
        step, read = extract[check.quantity]
        dts = [dt for dt in grid.chain_dts_ms if step == 0.0 or _on_grid(dt, step)]
        for surrogate in grid.surrogates if check.per_surrogate else grid.surrogates[:1]:
            values = [
                read(outputs[point_id(CHECK_BACKEND, "float64", dt, surrogate)], dt) for dt in dts
            ]
            floor = check.noise_floor_rel * float(np.max(np.abs(values[-1])))
            key = surrogate if check.per_surrogate else ANY_SURROGATE
            if len(dts) < 2:  # e.g. --refinements 0: nothing finer than the reference
                verdicts[check.quantity, key] = cannot_tell(dts, grid.reference_dt_ms)
                continue
            verdicts[check.quantity, key] = self_convergence(
                dts,
                values,
                reference_dt=grid.reference_dt_ms,
                rtol=check.rtol,
                atol=check.atol,
                norm_kind=check.norm_kind,
                noise_floor=floor,
            )
    return verdicts


def _joined(values) -> str:
    return "" if values is None else ";".join(f"{v:.6g}" for v in values)


def convergence_frame(
    grid: TradeoffGrid, outputs: dict, verdicts: dict[tuple[str, str], Convergence]
) -> pd.DataFrame:
    """The convergence table: one row per (quantity, surrogate) with its evidence."""
    rows = []
    by_name = {check.quantity: check for check in CHECKS}
    for (quantity, surrogate), verdict in verdicts.items():
        check = by_name[quantity]
        row = {
            "backend": CHECK_BACKEND,
            "surrogate": surrogate,
            "quantity": quantity,
            "description": check.description,
            "metrics": ",".join(check.metrics),
            "norm": check.norm_kind,
            "rtol": check.rtol,
            "atol": check.atol,
            "dts_ms": _joined(verdict.dts),
            "differences": _joined(verdict.differences),
            "orders": _joined(verdict.orders),
            "observed_order": verdict.order,
            "reference_dt_ms": verdict.reference_dt,
            "reference_error": verdict.reference_error,
            "tolerance": verdict.tolerance,
            "converged": verdict.converged,
            "reason": verdict.reason,
            "cosines": _joined(verdict.cosines),
            "norm_ratios": _joined(verdict.norm_ratios),
        }
        if quantity == "gradient":
            row.update(_gradient_evidence(grid, outputs, surrogate, verdict))
        rows.append(row)
    return pd.DataFrame(rows)


def _gradient_evidence(
    grid: TradeoffGrid, outputs: dict, surrogate: str, verdict: Convergence
) -> dict[str, float]:
    """How the reference gradient compares with the extrapolated limit, and its norms."""
    g_ref = outputs[point_id(CHECK_BACKEND, "float64", grid.reference_dt_ms, surrogate)]["grad"]
    limit = np.ravel(verdict.extrapolated)
    out = {"reference_norm": float(np.linalg.norm(g_ref))}
    if np.all(np.isfinite(limit)) and np.linalg.norm(limit) > 0:
        scale = np.linalg.norm(g_ref) * np.linalg.norm(limit)
        out["reference_vs_limit_cosine"] = float(np.clip(g_ref @ limit / scale, -1, 1))
        out["reference_vs_limit_norm_ratio"] = float(np.linalg.norm(g_ref) / np.linalg.norm(limit))
    out["reference_relative_error"] = relative_error(verdict)
    return out


#: Metrics whose reference error, in their own units, bounds their own error.
_ERROR_IN_OWN_UNITS = (
    "voltage_rmse_mv", "voltage_max_abs_mv", "voltage_rmse_own_grid_mv",
    "voltage_max_abs_own_grid_mv", "loss_abs_diff", "input_spikes", "hidden_spikes",
)  # fmt: skip


def relative_error(verdict: Convergence) -> float:
    """The reference's estimated error relative to the limit's norm (inf without a limit)."""
    scale = float(np.linalg.norm(np.ravel(verdict.extrapolated)))
    return verdict.reference_error / scale if math.isfinite(scale) and scale > 0 else math.inf


def label_metrics(
    frame: pd.DataFrame, verdicts: dict[tuple[str, str], Convergence]
) -> pd.DataFrame:
    """Add ``<metric>_reference_converged`` to each row, and what the reference's error bounds.

    ``<metric>_reference_error`` is the reference's estimated distance from the
    dt -> 0 limit in the metric's own units (mV, loss, spikes): by the triangle
    inequality the metric against the limit lies within that of the metric against
    the reference. For the gradient, ``grad_rel_error_reference_error`` is the
    reference's relative error, and ``grad_cosine_vs_limit_low/high`` bound the
    cosine with the limit (inf / -1..1 where there is no limit).
    """
    frame = frame.copy()
    for check in CHECKS:
        keys = [
            (check.quantity, s if check.per_surrogate else ANY_SURROGATE)
            for s in frame["surrogate"]
        ]
        for metric in check.metrics:
            if metric not in frame:
                continue
            frame[f"{metric}_reference_converged"] = [verdicts[k].converged for k in keys]
            if metric in _ERROR_IN_OWN_UNITS:
                frame[f"{metric}_reference_error"] = [verdicts[k].reference_error for k in keys]
        if check.quantity == "gradient" and "grad_cosine" in frame:
            errors = [relative_error(verdicts[k]) for k in keys]
            frame["grad_rel_error_reference_error"] = errors
            bounds = [
                cosine_interval(c, e) for c, e in zip(frame["grad_cosine"], errors, strict=True)
            ]
            frame["grad_cosine_vs_limit_low"] = [b[0] for b in bounds]
            frame["grad_cosine_vs_limit_high"] = [b[1] for b in bounds]
    return frame
