"""The tutorial's data: initial weights, Poisson input spikes, input currents, labels.

Everything comes from ``jax.random`` with the tutorial's key splits in the
tutorial's order (weights layer 1, weights layer 2, input spikes, targets), so a
given seed gives exactly the tutorial's arrays. The draws are always made in
64-bit mode (as the tutorial runs) and then cast to the task's precision, so a
float32 task solves the same problem instance as the float64 one: ``jax.random``
draws different numbers in 32-bit mode.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from snnbench.jax_compat import same_random_bits
from snnbench.precision import draws_in_64_bit
from snnbench.task.config import TaskConfig


@dataclass(frozen=True)
class TaskData:
    """Arrays of one task instance.

    Attributes:
        weights: initial synaptic weights (uS), shape ``(n_edges,)``, input->hidden
            edges first in pre-major order, then hidden->output.
        spikes: input spike trains (0/1), shape ``(batch, n_input, n_steps)``.
        inputs: input currents (nA), the spikes convolved with the kernel,
            shape ``(batch, n_input, n_steps)``.
        targets: class labels (0 or 1), shape ``(batch,)``.
    """

    weights: jax.Array
    spikes: jax.Array
    inputs: jax.Array
    targets: jax.Array


def make_data(config: TaskConfig) -> TaskData:
    """Draw the task's arrays exactly as the tutorial does for ``config.seed``.

    Arrays come back in ``config.precision`` (float32: the float64 draws, rounded).
    """
    real = np.float64 if config.precision == "float64" else np.float32
    with draws_in_64_bit(), same_random_bits():
        standard, spikes, inputs, targets = _compiled_draw(config, _default_device())()
        # Scaled outside the compiled program: XLA would fuse it into one multiply-add,
        # whose rounding differs from the tutorial's two eager operations. Rounded on the
        # host, as an eager cast would round it (to nearest, ties to even), and put on
        # the device as it is (`jnp.asarray` would compile a conversion).
        weights = config.weight_mean + np.asarray(standard) * config.weight_std
        return TaskData(jax.device_put(weights.astype(real)), spikes, inputs, targets)


#: XLA options for the draw on a CPU. It runs once per process, so its compile time is
#: most of its cost, and level 1 compiles it faster than the default 3 for the same run
#: time. XLA's optimised program is the same at every level; the levels differ in the
#: LLVM passes that turn it into machine code, and level 0 gave the normal weights other
#: last bits, so level 1 is the lowest kept. tests/test_data.py holds the draw against
#: the tutorial's eager one and against jax's default compilation.
CPU_DRAW_OPTIONS = {"xla_backend_optimization_level": 1}


def _default_device() -> jax.Device:
    """The device an argument-less jitted program runs on here and now."""
    chosen = jax.config.jax_default_device
    if chosen is None:
        return jax.devices()[0]
    return jax.devices(chosen)[0] if isinstance(chosen, str) else chosen


@functools.lru_cache(maxsize=32)
def _compiled_draw(config: TaskConfig, device: jax.Device) -> jax.stages.Compiled:
    """The draw for ``config``, compiled once per process for ``device``. Called in
    64-bit mode with the partitionable threefry, as the draw is always made."""
    with jax.default_device(device):
        lowered = _draw.lower(config)
    return lowered.compile(CPU_DRAW_OPTIONS if device.platform == "cpu" else None)


@functools.partial(jax.jit, static_argnums=0)
def _draw(config: TaskConfig) -> tuple[jax.Array, ...]:
    """The draws as one compiled program: op by op, each eager op would compile on its own
    (most of a fresh process's first ``make_task``); the bits are the same. The spikes,
    currents and labels leave it in ``config.precision``: the casts are the ones an eager
    ``astype`` would compile, here without a compilation each."""
    key = jax.random.key(config.seed)
    key, subkey = jax.random.split(key)
    w_in = _normal(subkey, config, config.n_input * config.n_hidden)
    key, subkey = jax.random.split(key)
    w_out = _normal(subkey, config, config.n_hidden * config.n_output)
    key, subkey = jax.random.split(key)
    shape = (config.batch_size, config.n_input, config.n_steps)
    uniform = jax.random.uniform(subkey, shape)
    spikes = jnp.where(uniform < config.input_rate_hz * config.dt_ms, 1.0, 0.0)
    key, subkey = jax.random.split(key)
    targets = jnp.where(jax.random.uniform(subkey, (config.batch_size,)) < 0.5, 1, 0)
    standard = jnp.concatenate([w_in, w_out])
    currents = spikes_to_currents(spikes, config.kernel_na)
    if config.precision == "float64":
        return standard, spikes, currents, targets
    real, integer = jnp.float32, jnp.int32
    return standard, spikes.astype(real), currents.astype(real), targets.astype(integer)


def spikes_to_currents(spikes: jax.Array, kernel_na: tuple[float, ...]) -> jax.Array:
    """Convolve each spike train with the kernel (``"same"`` mode, as the tutorial)."""
    kernel = jnp.asarray(kernel_na, dtype=spikes.dtype)
    per_train = lambda train: jnp.convolve(kernel, train, "same")  # noqa: E731
    flat = spikes.reshape(-1, spikes.shape[-1])
    return jax.vmap(per_train)(flat).reshape(spikes.shape)


def _normal(key: jax.Array, config: TaskConfig, n: int) -> jax.Array:
    return jax.random.normal(key, (n,))  # standard normal: make_data scales it
