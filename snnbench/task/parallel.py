"""The reference task spread over several devices: data parallelism with JAX's own sharding.

A 1-D mesh names one axis, ``"batch"``. Inputs and targets are split along it
(``PartitionSpec("batch")``); parameters and the optimiser state are replicated
(``PartitionSpec()``); XLA's SPMD partitioner inserts whatever collectives the
program needs. Nothing here sends data by hand.

Two formulations of the gradient step, both plain ``jax.jit`` with sharding
annotations:

- ``"jit"``: the task's step unchanged. On XLA's CPU compiler the gradient's
  all-reduce then sits *inside* the backward time loop (one per time step).
- ``"grouped"``: the same loss written as the mean of per-device group means,
  with one parameter copy per device. Each device's gradient accumulates
  locally through the time loop and the transpose of the broadcast (a sum over
  the copies) is the one cross-device reduction: one all-reduce per step.

Every function works in one process or in a ``jax.distributed`` job: arrays are
placed with :func:`jax.make_array_from_callback`, so each process supplies the
shards its own devices hold, from the same seeded global batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from snnbench.errors import SnnbenchError, expect
from snnbench.jax_compat import make_mesh
from snnbench.task.model import Task

BATCH_AXIS = "batch"
#: How the gradient step is written for several devices (see the module docstring).
FORMULATIONS = ("grouped", "jit")
#: What the rows record as the sharding of each kind of argument.
INPUT_SPEC = P(BATCH_AXIS)
PARAM_SPEC = P()


def batch_mesh(n_devices: int, devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D ``("batch",)`` mesh over the first ``n_devices`` of ``devices`` (default: all).

    The axis type is ``Auto`` (sharding propagated by the compiler): jax 0.10's
    ``make_mesh`` defaults to ``Explicit`` sharding-in-types, under which both
    backends' programs fail to differentiate or to integrate
    (:func:`snnbench.jax_compat.make_mesh`).

    Raises:
        SnnbenchError: if fewer than ``n_devices`` devices are available.
    """
    devices = list(jax.devices() if devices is None else devices)
    expect(
        isinstance(n_devices, int) and 0 < n_devices <= len(devices),
        "devices",
        f"a device count from 1 to the {len(devices)} JAX sees",
        n_devices,
    )
    return make_mesh((n_devices,), (BATCH_AXIS,), devices[:n_devices])


def data_sharding(mesh: Mesh) -> NamedSharding:
    """The batch axis split over the mesh (inputs, targets, output voltages)."""
    return NamedSharding(mesh, INPUT_SPEC)


def replicated(mesh: Mesh) -> NamedSharding:
    """A full copy on every device of the mesh (parameters, optimiser state, loss)."""
    return NamedSharding(mesh, PARAM_SPEC)


def place(tree, sharding: NamedSharding):
    """Every array of ``tree`` as a global array with ``sharding``.

    Each process fills only the shards its devices hold (from the same host
    values), so this works in one process and across a ``jax.distributed`` job.
    """

    def put(value):
        host = np.asarray(value)
        return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(put, tree)


def check_divisible(batch_size: int, mesh: Mesh) -> None:
    """Raise unless the global batch splits evenly over the mesh."""
    if batch_size % mesh.size:
        raise SnnbenchError(
            f"`batch_size` must divide evenly over {mesh.size} devices; got {batch_size}",
            argument="batch_size",
        )


def grouped_loss(task: Task, mesh: Mesh) -> Callable:
    """The task's loss as the mean of equal-size per-device group means.

    Mathematically the loss of :meth:`Task.raw_step` (every group has the same
    size, so the mean of means is the mean). The batch is viewed as
    ``(devices, batch / devices, ...)`` and the parameters are broadcast to one
    copy per device, both sharded along the first axis, so each device
    differentiates its own copy through the time loop.
    """
    n = mesh.size
    groups = data_sharding(mesh)

    def constrain(x):
        return jax.lax.with_sharding_constraint(x, groups)

    def loss(params, inputs, targets):
        x = constrain(inputs.reshape(n, -1, *inputs.shape[1:]))
        y = constrain(targets.reshape(n, -1))
        copies = jax.tree.map(lambda p: constrain(jnp.broadcast_to(p, (n, *p.shape))), params)
        return jnp.mean(jax.vmap(task._loss_of)(copies, x, y))

    return loss


def loss_function(task: Task, mesh: Mesh, formulation: str) -> Callable:
    """``loss(params, inputs, targets)`` of ``formulation`` on ``mesh``."""
    expect(formulation in FORMULATIONS, "data_parallel", f"one of {FORMULATIONS}", formulation)
    return grouped_loss(task, mesh) if formulation == "grouped" else task._loss_of


def step_function(task: Task, mesh: Mesh, formulation: str) -> Callable:
    """The gradient step (loss, gradient, Adam) of ``formulation``, outputs replicated.

    Not jitted: the output sharding is a constraint inside the function, so a
    plain ``jax.jit`` of it (fresh per staging round, or once for steady state)
    compiles the same program as ``jit(..., out_shardings=replicated)``.
    """
    loss = loss_function(task, mesh, formulation)
    copy = replicated(mesh)

    def step(params, opt_state, inputs, targets):
        value, grads = jax.value_and_grad(loss)(params, inputs, targets)
        updates, opt_state = task.optimizer.update(grads, opt_state, params)
        out = (optax.apply_updates(params, updates), opt_state, value)
        return jax.lax.with_sharding_constraint(out, copy)

    return step


def forward_function(task: Task, mesh: Mesh) -> Callable:
    """The forward pass with its output voltages left split along the batch."""
    split = data_sharding(mesh)

    def forward(params, inputs):
        return jax.lax.with_sharding_constraint(task.raw_forward(params, inputs), split)

    return forward


def placed_step_args(task: Task, mesh: Mesh) -> tuple:
    """``(params, opt_state, inputs, targets)`` on ``mesh``: parameters replicated, batch split."""
    check_divisible(task.config.batch_size, mesh)
    params = task.init_params()
    copy, split = replicated(mesh), data_sharding(mesh)
    return (
        place(params, copy),
        place(task.init_opt_state(params), copy),
        place(task.inputs, split),
        place(task.targets, split),
    )


def reference_forward(task: Task, device: jax.Device) -> jax.Array:
    """Output voltages of the unchanged task on one device."""
    with jax.default_device(device):
        return task.forward(task.init_params(), task.inputs)


def max_relative_difference(sharded, reference) -> float:
    """Largest difference between two pytrees, relative to each reference leaf's largest value.

    Only the shards this process holds are compared (in a multi-process job the
    rest live elsewhere), each against the same slice of the reference. Relative
    to the leaf's largest magnitude, not pointwise: gradient entries near zero
    would make a pointwise ratio meaningless.
    """
    worst = 0.0
    leaves = zip(jax.tree.leaves(sharded), jax.tree.leaves(reference), strict=True)
    for got, want in leaves:
        want = np.asarray(want, dtype=np.float64)
        scale = max(float(np.abs(want).max(initial=0.0)), np.finfo(np.float64).tiny)
        for shard in got.addressable_shards:
            part = np.asarray(shard.data, dtype=np.float64)
            diff = float(np.abs(part - want[shard.index]).max(initial=0.0))
            worst = max(worst, diff / scale)
    return worst
