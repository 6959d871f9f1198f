"""The reference network in plain JAX: the correctness oracle and speed-of-light twin.

Same equations as the jaxley network, integrated the way jaxley integrates an
isolated single-compartment cell, per step:

1. ``Fire`` on input and hidden cells: ``spike = H(v - vth)``, ``v <- reset`` where
   it spiked (surrogate Heaviside ``H``, its derivative scaled as
   ``config.surrogate`` says).
2. Synaptic traces: ``s <- spike + (1 - spike) * (s - s_decay * s * dt)``.
3. Implicit Euler on the membrane: ``v <- (v + dt * c / cm) / (1 + dt * g / cm)``
   with ``g = 1000 * gLeak`` and ``c = 1000 * gLeak * eLeak + (I_ext - I_syn) * 1e5 / area``
   (mA -> uA, and nA per um^2 -> uA per cm^2), ``I_syn = sum_pre gS * s``.

All synapses leaving one neuron share its spikes and ``s_decay``, so their traces
are equal: one trace per pre-synaptic neuron and a matmul with the weight matrix
replace jaxley's per-edge states and scatter.

The two matmuls carry ``config.matmul_precision`` as an explicit ``precision=``
argument. It travels in the ``dot_general`` primitive itself (the gradient's
transposed dots inherit it), so no global setting is involved: JAX's
``default_matmul_precision`` context or config flag holds only while a function
is *traced*, is part of the jit cache key, and is silently lost by a call traced
outside it. At "highest" the twin computes in full float32 on every device; at
"default" an NVIDIA GPU since Ampere runs it in TF32 (0.0147 mV off jaxley at
batch 256, measured on an H200 by the issue's author), which is no oracle.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from snnbench.task.config import (
    COMPARTMENT_LENGTH_UM,
    COMPARTMENT_RADIUS_UM,
    MEMBRANE_CAPACITANCE_UF_PER_CM2,
    TaskConfig,
)
from snnbench.task.slowdown import burn, iterations
from snnbench.task.spiking import heaviside, surrogate_amplitude

Params = list[dict[str, jax.Array]]
WEIGHT = "SpikeSynapse_gS"

_AREA_UM2 = 2 * math.pi * COMPARTMENT_RADIUS_UM * COMPARTMENT_LENGTH_UM
_NA_TO_UA_PER_CM2 = 1e5 / _AREA_UM2
_LAX_PRECISION = {"highest": jax.lax.Precision.HIGHEST, "default": jax.lax.Precision.DEFAULT}
#: NVIDIA compute capability from which float32 matmuls at DEFAULT precision use TF32.
_TF32_FROM_COMPUTE_CAPABILITY = 8.0


def effective_matmul_precision(
    config: TaskConfig,
    platform: str,
    compute_capability: str | float | None = None,
    tf32_override: str = "",
) -> str:
    """The arithmetic the dense twin's matmuls run in on ``platform``.

    Returns one of "float64", "float32", "tf32", "bf16_3x", "bf16" or "unknown".
    The CPU ignores the precision setting (DEFAULT and HIGHEST are bit-identical
    there); an NVIDIA GPU uses TF32 for float32 at DEFAULT from compute capability
    8.0 (Ampere) on, unless ``NVIDIA_TF32_OVERRIDE=0`` (``tf32_override``) forbids
    it; a TPU runs DEFAULT in one bf16 pass.

    Args:
        config: the task (its ``precision`` and ``matmul_precision``).
        platform: "cpu", "gpu" or "tpu".
        compute_capability: the GPU's, e.g. "9.0" (None where unknown).
        tf32_override: the ``NVIDIA_TF32_OVERRIDE`` environment variable ("" unset).
    """
    if config.precision == "float64":
        return "float64"
    if config.matmul_precision == "highest" or platform == "cpu":
        return "float32"
    if platform == "tpu":
        return "bf16"
    if platform != "gpu":
        return "unknown"
    if tf32_override.strip() == "0":
        return "float32"
    try:
        capability = float(compute_capability)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "unknown"
    return "tf32" if capability >= _TF32_FROM_COMPUTE_CAPABILITY else "float32"


def split_weights(params: Params, config: TaskConfig) -> tuple[jax.Array, jax.Array]:
    """Weight matrices ``(n_input, n_hidden)`` and ``(n_hidden, n_output)`` from the edge vector."""
    w = params[0][WEIGHT]
    n_in_edges = config.n_input * config.n_hidden
    w_in = w[:n_in_edges].reshape(config.n_input, config.n_hidden)
    w_out = w[n_in_edges:].reshape(config.n_hidden, config.n_output)
    return w_in, w_out


def pad_to_integration_steps(inputs: jax.Array, config: TaskConfig) -> jax.Array:
    """Zero-pad or truncate the time axis to jaxley's ``n_integration_steps``."""
    n = config.n_integration_steps
    if inputs.shape[-1] >= n:
        return inputs[..., :n]
    pad = [(0, 0)] * (inputs.ndim - 1) + [(0, n - inputs.shape[-1])]
    return jnp.pad(inputs, pad)


def make_fire(config: TaskConfig) -> Callable[[jax.Array], tuple[jax.Array, jax.Array]]:
    """``fire(v) -> (v after reset, spike)``: the ``Fire`` channel's update at ``config.dt_ms``."""
    vth, vreset = config.threshold_mv, config.reset_mv
    amplitude = surrogate_amplitude(config.surrogate, config.dt_ms)

    def fire(v: jax.Array) -> tuple[jax.Array, jax.Array]:
        spike = heaviside(v - vth, amplitude=amplitude)
        return v * (1.0 - spike) + vreset * spike, spike

    return fire


def make_simulate(config: TaskConfig, record_spikes: bool = True) -> Callable:
    """``simulate(params, inputs) -> (v_out, spikes_in, spikes_hidden)`` for a batch.

    With ``record_spikes=False`` the spike outputs are ``None`` and the scan
    carries no per-step spike buffers (the forward pass being timed needs none).

    ``inputs``: ``(batch, n_input, n_steps)`` nA. Output voltages have shape
    ``(batch, n_output, n_integration_steps + 1)`` (initial state first, as jaxley
    records); spikes are ``(batch, n_cells, n_integration_steps)``.
    """
    dt = config.dt_ms
    precision = _LAX_PRECISION[config.matmul_precision]
    cm = MEMBRANE_CAPACITANCE_UF_PER_CM2
    g_leak = 1000.0 * config.leak_conductance_s_per_cm2
    c_leak = g_leak * config.leak_reversal_mv
    denominator = 1.0 + dt * g_leak / cm
    decay = config.synapse_decay
    fire = make_fire(config)
    n_fwd, n_bwd = iterations("dense", config.slowdown)

    def trace(s, spike):
        return spike * 1.0 + (1.0 - spike) * (s - decay * s * dt)

    def membrane(v, current_ua_per_cm2):
        return (v + dt * (c_leak + current_ua_per_cm2) / cm) / denominator

    def simulate(params: Params, inputs: jax.Array):
        w_in, w_out = split_weights(params, config)
        batch = inputs.shape[0]
        dtype = inputs.dtype
        currents = jnp.moveaxis(pad_to_integration_steps(inputs, config), -1, 0)

        def step(carry, i_ext_na):
            v_in, v_hid, v_out, s_in, s_hid = carry
            v_in, spike_in = fire(v_in)
            v_hid, spike_hid = fire(v_hid)
            s_in, s_hid = trace(s_in, spike_in), trace(s_hid, spike_hid)
            v_in = membrane(v_in, i_ext_na * _NA_TO_UA_PER_CM2)
            i_hid = jnp.matmul(s_in, w_in, precision=precision)
            i_out = jnp.matmul(s_hid, w_out, precision=precision)
            v_hid = membrane(v_hid, -i_hid * _NA_TO_UA_PER_CM2)
            v_out = membrane(v_out, -i_out * _NA_TO_UA_PER_CM2)
            if n_fwd or n_bwd:  # the test-only slowdown, on the carried v_hid (bit-identical)
                v_hid = burn(v_hid, n_fwd, n_bwd)
            recorded = (v_out, spike_in, spike_hid) if record_spikes else (v_out,)
            return (v_in, v_hid, v_out, s_in, s_hid), recorded

        def zeros(n):
            return jnp.full((batch, n), 0.0, dtype)

        v0 = zeros(config.n_output) + config.v_init_mv
        init = (
            zeros(config.n_input) + config.v_init_mv,
            zeros(config.n_hidden) + config.v_init_mv,
            v0,
            zeros(config.n_input),
            zeros(config.n_hidden),
        )
        _, recorded = jax.lax.scan(step, init, currents)
        v_out = jnp.concatenate([v0[None], recorded[0]], axis=0)
        spikes = [jnp.moveaxis(s, 0, -1) for s in recorded[1:]] or [None, None]
        return (jnp.moveaxis(v_out, 0, -1), *spikes)

    return simulate


def make_forward(config: TaskConfig) -> Callable:
    """``forward(params, inputs) -> output voltages`` (mV), batched, not jitted."""
    simulate = make_simulate(config, record_spikes=False)
    return lambda params, inputs: simulate(params, inputs)[0]
