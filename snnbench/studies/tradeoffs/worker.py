"""The JAX half of the trade-off study: one process, one precision.

x64 is process-global, so the parent (:mod:`snnbench.studies.tradeoffs.study`)
runs these functions in one worker process per precision
(:mod:`snnbench.measure.worker`, ``call`` requests): the job (a dict), the
shared inputs and weights go in, raw output arrays come back.

Stages:

* ``prepare`` (float64): draw the tutorial's data once on its 1e-3 ms grid; pick
  the weights the fidelity metrics are evaluated at (initial, or trained at the
  reference setting).
* ``evaluate``: for each (dt, backend, surrogate) point in this precision: output
  voltages, input/hidden spikes (dense backend), loss and gradient at the
  evaluation weights, and a training run from the initial weights (refinement
  points, which only check the reference, are not trained). Optionally evaluate
  trained weights (its own and other workers') on the reference simulation.
* ``redrawn`` (float64, dense): scenario (b), the tutorial re-run at each dt with
  its own draws: spikes drawn and fired, the continuous-time count of the same
  draw, loss and accuracy before and after training.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from snnbench.precision import current_precision
from snnbench.studies.tradeoffs.grid import SEP, point_id
from snnbench.studies.tradeoffs.resample import rebin_spikes, resample_currents
from snnbench.studies.tradeoffs.spike_loss import InputNeuron, event_driven_count
from snnbench.task import dense
from snnbench.task.config import TaskConfig
from snnbench.task.data import TaskData, make_data
from snnbench.task.model import (
    Task,
    accuracy_of_max_voltage,
    cross_entropy_of_max_voltage,
    make_task,
)


def point_config(
    job: dict, dt_ms: float, precision: str, surrogate: str = "per_step"
) -> TaskConfig:
    return TaskConfig(
        dt_ms=dt_ms,
        t_max_ms=job["t_max_ms"],
        batch_size=job["batch_size"],
        seed=job["seed"],
        kernel_na=tuple(job["kernel_na"]),
        precision=precision,
        surrogate=surrogate,
    )


def point_data(shared: dict, job: dict, dt_ms: float) -> TaskData:
    """The shared data as one dt sees it, in the process's precision."""
    dtype = jnp.float64 if current_precision() == "float64" else jnp.float32
    source_dt = job["source_dt_ms"]
    return TaskData(
        weights=jnp.asarray(shared["weights"], dtype),
        spikes=jnp.asarray(rebin_spikes(shared["spikes"], source_dt, dt_ms), dtype),
        inputs=jnp.asarray(resample_currents(shared["currents"], source_dt, dt_ms), dtype),
        targets=jnp.asarray(shared["targets"]),
    )


def _params(weights: np.ndarray, like: Task) -> list[dict]:
    dtype = like.inputs.dtype
    return [{dense.WEIGHT: jnp.asarray(weights, dtype)}]


def prepare(job: dict) -> dict[str, np.ndarray]:
    """Draw the data once (float64, the tutorial's grid) and choose the evaluation weights."""
    config = point_config(job, job["source_dt_ms"], "float64")
    data = make_data(config)
    arrays = {
        "weights": np.asarray(data.weights),
        "spikes": np.asarray(data.spikes),
        "currents": np.asarray(data.inputs),
        "targets": np.asarray(data.targets),
    }
    arrays["eval_weights"] = arrays["weights"]
    if job["at"] == "trained":
        ref = job["reference"]
        config = point_config(job, ref["dt_ms"], "float64", ref["surrogate"])
        task = make_task(config, ref["backend"], point_data(arrays, job, ref["dt_ms"]))
        trained = train(
            task, _simulator(config, ref["backend"], task), arrays["weights"], job["epochs"]
        )
        arrays["eval_weights"] = trained["trained"]
    return arrays


def _events(spikes: jax.Array, n_times: int) -> tuple[np.ndarray, np.ndarray]:
    """Sparse (train, bin) indices of spikes up to ``n_times`` bins."""
    array = np.asarray(spikes)[..., :n_times] > 0.5
    rows, bins = np.nonzero(array.reshape(-1, array.shape[-1]))
    return rows.astype(np.int32), bins.astype(np.int32)


def _simulator(config: TaskConfig, backend: str, task: Task) -> Callable:
    """Jitted ``(params, inputs) -> (v_out, spikes_in, spikes_hidden)``; spikes ``None`` on jaxley
    (its forward records only the output voltages)."""
    if backend == "dense":
        return jax.jit(dense.make_simulate(config))
    return jax.jit(lambda params, inputs: (task.raw_forward(params, inputs), None, None))


def _loss_and_accuracy(v: jax.Array, targets: jax.Array) -> tuple[float, float]:
    return (
        float(cross_entropy_of_max_voltage(v, targets)),
        float(accuracy_of_max_voltage(v, targets)),
    )


def train(
    task: Task, simulate: Callable, weights: np.ndarray, epochs: int
) -> dict[str, np.ndarray]:
    """Adam for ``epochs`` full-batch steps (the task's jitted step), then score the result.

    Scoring reuses the compiled simulation, so training costs one extra compile.
    """
    params = _params(weights, task)
    opt_state = task.init_opt_state(params)
    start = time.perf_counter()
    losses = []
    for _ in range(epochs):
        params, opt_state, loss = task.step(params, opt_state)
        losses.append(loss)
    jax.block_until_ready(params)
    wall_s = time.perf_counter() - start
    loss, accuracy = _loss_and_accuracy(simulate(params, task.inputs)[0], task.targets)
    return {
        "train_losses": np.asarray(losses, dtype=np.float64),
        "train_loss": np.asarray(loss),
        "train_accuracy": np.asarray(accuracy),
        "train_wall_s": np.asarray(wall_s),
        "trained": np.asarray(params[0][dense.WEIGHT], dtype=np.float64),
    }


def evaluate_point(job: dict, shared: dict, point: dict) -> dict[str, np.ndarray]:
    """Raw outputs of one (dt, backend) point in this process's precision."""
    dt, backend, precision = point["dt_ms"], point["backend"], job["precision"]
    config = point_config(job, dt, precision, point.get("surrogate", "per_step"))
    task = make_task(config, backend, point_data(shared, job, dt))
    simulate = _simulator(config, backend, task)
    params = _params(shared["eval_weights"], task)
    n_times = config.n_steps + 1  # samples at t = 0, dt, ..., t_max
    v, spikes_in, spikes_hidden = simulate(params, task.inputs)
    out: dict[str, np.ndarray] = {"v": np.asarray(v, dtype=np.float64)[..., :n_times]}
    for layer, spikes in (("input", spikes_in), ("hidden", spikes_hidden)):
        if spikes is not None:
            out[f"{layer}_rows"], out[f"{layer}_bins"] = _events(spikes, n_times)
            out[f"{layer}_trains"] = np.asarray(np.prod(spikes.shape[:-1]))

    def loss_of(p):
        return cross_entropy_of_max_voltage(task.raw_forward(p, task.inputs), task.targets)

    loss, grad = jax.jit(jax.value_and_grad(loss_of))(params)
    out["loss"] = np.asarray(loss, dtype=np.float64)
    out["grad"] = np.asarray(grad[0][dense.WEIGHT], dtype=np.float64)
    if job["epochs"] > 0 and point.get("train", True):
        out.update(train(task, simulate, shared["weights"], job["epochs"]))
    return out


def transfer(job: dict, shared: dict, trained: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Loss and accuracy of trained weights on their backend's reference simulation."""
    ref = job["reference"]
    out: dict[str, np.ndarray] = {}
    simulators: dict[str, tuple[Task, Callable]] = {}
    for pid, weights in trained.items():
        backend = pid.split("-", 1)[0]
        if backend not in simulators:
            config = point_config(job, ref["dt_ms"], "float64")
            task = make_task(config, backend, point_data(shared, job, ref["dt_ms"]))
            simulators[backend] = (task, _simulator(config, backend, task))
        task, simulate = simulators[backend]
        v = simulate(_params(weights, task), task.inputs)[0]
        loss, accuracy = _loss_and_accuracy(v, task.targets)
        out[f"{pid}{SEP}ref_loss"] = np.asarray(loss)
        out[f"{pid}{SEP}ref_accuracy"] = np.asarray(accuracy)
    return out


def evaluate(
    job: dict, shared: dict, trained_elsewhere: dict | None = None
) -> dict[str, np.ndarray]:
    """Every point of the job, then (``job["transfer"]``) the transfer evaluation of its
    own trained weights and ``trained_elsewhere`` (other precisions', by point id)."""
    arrays: dict[str, np.ndarray] = {}
    trained: dict[str, np.ndarray] = dict(trained_elsewhere or {})
    for point in job["points"]:
        surrogate = point.get("surrogate", "per_step")
        pid = point_id(point["backend"], job["precision"], point["dt_ms"], surrogate)
        print(f"tradeoffs worker: {pid}", file=sys.stderr, flush=True)
        for key, value in evaluate_point(job, shared, point).items():
            arrays[f"{pid}{SEP}{key}"] = value
        if f"{pid}{SEP}trained" in arrays:
            trained[pid] = arrays[f"{pid}{SEP}trained"]
    if job.get("transfer") and trained:
        arrays.update(transfer(job, shared, trained))
    return arrays


def redrawn_point(job: dict, dt_ms: float, surrogate: str) -> dict[str, np.ndarray]:
    """Scenario (b) at one dt: the tutorial's own draws at ``dt_ms``, on the dense twin.

    Each input spike becomes a pulse of ``len(kernel_na)`` steps, so its charge
    scales with dt: this is a different model at every dt, compared with itself
    (spikes fired vs drawn, the continuous-time count of the same current) and by
    its trained accuracy, not against a common reference.
    """
    config = point_config(job, dt_ms, "float64", surrogate)
    data = make_data(config)
    task = make_task(config, "dense", data)
    simulate = _simulator(config, "dense", task)
    params = _params(np.asarray(data.weights), task)
    v, spikes_in, spikes_hidden = simulate(params, task.inputs)
    loss, accuracy = _loss_and_accuracy(v, task.targets)
    inputs = np.asarray(data.inputs, dtype=np.float64)
    out = {
        "dt_ms": np.asarray(dt_ms),
        "surrogate": np.asarray(surrogate),
        "drawn": np.asarray(int(np.asarray(data.spikes).sum())),
        "drawn_in_last_bin": np.asarray(int(np.asarray(data.spikes)[..., -1].sum())),
        "input_spikes": np.asarray(int(np.asarray(spikes_in).sum())),
        "hidden_spikes": np.asarray(int(np.asarray(spikes_hidden).sum())),
        "continuous_time": np.asarray(
            event_driven_count(InputNeuron.from_config(config), inputs, dt_ms)
        ),
        "loss": np.asarray(loss),
        "accuracy": np.asarray(accuracy),
    }
    if job["epochs"] > 0:
        trained = train(task, simulate, np.asarray(data.weights), job["epochs"])
        out.update({k: v for k, v in trained.items() if k != "trained"})
    return out


def evaluate_redrawn(job: dict) -> dict[str, np.ndarray]:
    """Every (dt, surrogate) of scenario (b)."""
    arrays: dict[str, np.ndarray] = {}
    for dt in job["dts_ms"]:
        for surrogate in job["surrogates"]:
            pid = point_id("redrawn", "float64", dt, surrogate)
            print(f"tradeoffs worker: {pid}", file=sys.stderr, flush=True)
            for key, value in redrawn_point(job, dt, surrogate).items():
                arrays[f"{pid}{SEP}{key}"] = value
    return arrays
