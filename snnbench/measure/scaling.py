"""What a data-parallel row records besides its time, and the efficiency derived from rows.

Per row (:func:`layout_columns`, :func:`check_against_one_device`): the mesh, the
sharding of inputs and parameters, the process count, and whether the sharded
program computes what the unchanged program computes on one device.

Per table (:func:`add_scaling_efficiency`): scaling efficiency against the
1-device row of the same series, derived whenever a table is loaded or
written, never stored as a measurement.
"""

from __future__ import annotations

import json

import jax
import numpy as np
import pandas as pd

from snnbench.measure.records import CaseSpec, key_columns
from snnbench.task import parallel
from snnbench.task.model import Task

#: Largest relative difference (per leaf, against its largest value) between the
#: sharded result and the 1-device result that still counts as equal. The only
#: honest difference is the order in which the batch is summed: a few ulps of the
#: result (about 5 seen). These bounds are about 100x that, and far below a real
#: bug such as a missing 1/devices (a factor of 2 or more).
RTOL = {"float64": 1e-12, "float32": 1e-5}


def layout_columns(spec: CaseSpec, mesh: jax.sharding.Mesh) -> dict[str, object]:
    """How a sharded case was laid out: mesh shape and axis names, shardings, processes."""
    out: dict[str, object] = {
        "mesh": json.dumps({str(k): int(v) for k, v in mesh.shape.items()}),
        "input_sharding": str(parallel.INPUT_SPEC),
        "param_sharding": str(parallel.PARAM_SPEC),
        "local_devices": sum(d.process_index == jax.process_index() for d in mesh.devices.flat),
    }
    if spec.processes > 1 and spec.platform == "cpu":  # how CPUs talk across processes
        out["cpu_collectives"] = str(jax.config.jax_cpu_collectives_implementation)
    return out


def check_against_one_device(
    spec: CaseSpec, task: Task, fn, args: tuple, device: jax.Device
) -> dict[str, object]:
    """Run the sharded ``fn`` once more and compare it with the unchanged task on ``device``.

    The forward pass compares output voltages. The gradient step compares the
    loss and Adam's first moment, which after one step from zero is exactly
    ``(1 - b1) * gradient``: the gradients are compared without compiling a
    second program. (Parameters after the update are not compared: Adam's first
    step moves each weight by about ``lr * sign(gradient)``, so a gradient entry
    near zero that flips sign moves it by ``2 * lr``.)
    """
    out = jax.block_until_ready(fn(*args))
    if spec.phase.function == "forward":
        got, want = out, parallel.reference_forward(task, device)
    else:
        with jax.default_device(device):
            params = task.init_params()
            opt_state = task.init_opt_state(params)
            reference = task.jit_step(params, opt_state, task.inputs, task.targets)
        got, want = _loss_and_moment(out), _loss_and_moment(reference)
    diff = parallel.max_relative_difference(got, want)
    rtol = RTOL[spec.precision]
    return {"check_max_rel_diff": diff, "check_rtol": rtol, "check_ok": bool(diff <= rtol)}


def _loss_and_moment(step_output) -> tuple:
    _, opt_state, loss = step_output
    return loss, opt_state[0].mu


# ---------------------------------------------------------------- derived from tables

#: What must match between a row and its 1-device baseline: the case key less the
#: device and process counts and the batch (matched as the baseline's own batch).
_SERIES = key_columns(without=("batch_size", "devices", "processes"))


def add_scaling_efficiency(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``per_device_batch`` and ``scaling_efficiency`` to the rows of scaling series.

    Efficiency is ``throughput_n / (n * throughput_1)`` with throughput the
    global samples per second of the median call, against the 1-device row of
    the same run, series and formulation (the 1-device row's global batch is the
    per-device batch for weak scaling, the same global batch for strong scaling).
    Weak: ``t_1 / t_n``; strong: ``t_1 / (n * t_n)``; 1 is ideal for both.
    """
    frame = frame.drop(columns=["scaling_efficiency", "per_device_batch"], errors="ignore")
    if frame.empty or "scaling" not in frame:
        return frame
    devices = frame["devices"].astype(int)
    frame["per_device_batch"] = frame["batch_size"].astype(int) // devices
    scaled = frame["scaling"].isin(("weak", "strong"))
    keys = [*_SERIES, *(["run_id"] if "run_id" in frame else [])]
    base_batch = np.where(
        frame["scaling"] == "weak", frame["per_device_batch"], frame["batch_size"]
    ).astype(int)
    ok = frame[scaled & (frame["status"] == "ok") & (devices == 1)]
    baseline = ok.set_index([*keys, "batch_size"])["median_s"]
    baseline = baseline[~baseline.index.duplicated(keep="last")]
    wanted = pd.MultiIndex.from_frame(frame[keys].assign(batch_size=base_batch))
    t_1 = baseline.reindex(wanted).to_numpy(dtype=float)
    t_n = pd.to_numeric(frame["median_s"], errors="coerce").to_numpy(dtype=float)
    work = frame["batch_size"].to_numpy(dtype=float) / base_batch
    with np.errstate(invalid="ignore", divide="ignore"):
        efficiency = (t_1 / t_n) * work / devices.to_numpy(dtype=float)
    ran = scaled & (frame["status"] == "ok")
    frame["scaling_efficiency"] = np.where(ran, efficiency, np.nan)
    return frame
