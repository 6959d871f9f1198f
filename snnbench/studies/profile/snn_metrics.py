"""SNN figures a user reads next to the timings: spike rates, throughput, achieved FLOP/s.

Spike rates come from the dense twin's spike trains (``dense.make_simulate``),
which integrates the same equations as the jaxley network. Achieved FLOP/s is
set against a device's peak only where that peak is known from the vendor's
datasheet (:data:`PEAK_FLOP_PER_S`); it is never guessed, and CPUs have none.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from snnbench.task import dense
from snnbench.task.config import TaskConfig

#: Dense (non-tensor-core) peak FLOP/s by ``device_kind`` and precision, from
#: NVIDIA's datasheets (SXM parts, boost clock). Extend only from a datasheet.
PEAK_FLOP_PER_S: dict[tuple[str, str], float] = {
    ("NVIDIA H100 80GB HBM3", "float64"): 34e12,
    ("NVIDIA H100 80GB HBM3", "float32"): 67e12,
    ("NVIDIA H200", "float64"): 34e12,
    ("NVIDIA H200", "float32"): 67e12,
    ("NVIDIA A100-SXM4-80GB", "float64"): 9.7e12,
    ("NVIDIA A100-SXM4-80GB", "float32"): 19.5e12,
    ("NVIDIA A100-SXM4-40GB", "float64"): 9.7e12,
    ("NVIDIA A100-SXM4-40GB", "float32"): 19.5e12,
    ("Tesla V100-SXM2-16GB", "float64"): 7.8e12,
    ("Tesla V100-SXM2-16GB", "float32"): 15.7e12,
    ("Tesla V100-SXM2-32GB", "float64"): 7.8e12,
    ("Tesla V100-SXM2-32GB", "float32"): 15.7e12,
}


@dataclass(frozen=True)
class SpikeRate:
    """Spiking of one layer over one batch."""

    layer: str
    n_neurons: int
    n_steps: int
    spikes: int
    spikes_per_neuron_per_step: float
    rate_hz: float


def rate_of(layer: str, spikes: jax.Array, dt_ms: float) -> SpikeRate:
    """Rates of a ``(batch, neurons, steps)`` spike train of 0/1 values at step ``dt_ms``."""
    batch, neurons, steps = spikes.shape
    total = float(jnp.sum(spikes))
    per_step = total / (batch * neurons * steps)
    return SpikeRate(layer, neurons, steps, round(total), per_step, per_step / (dt_ms * 1e-3))


def spike_rates(config: TaskConfig, params: list, inputs: jax.Array) -> list[SpikeRate]:
    """Input and hidden layer spike rates of one forward pass of the dense twin."""
    _, spikes_in, spikes_hidden = jax.jit(dense.make_simulate(config))(params, inputs)
    return [
        rate_of("input", spikes_in, config.dt_ms),
        rate_of("hidden", spikes_hidden, config.dt_ms),
    ]


@dataclass(frozen=True)
class Achieved:
    """Achieved FLOP/s of one phase and how it compares with the device's peak."""

    flop_per_s: float | None
    peak_flop_per_s: float | None
    fraction_of_peak: float | None
    note: str


def achieved(
    flops: float | None, seconds: float | None, device_kind: str, platform: str, precision: str
) -> Achieved:
    """``flops / seconds`` and, where the peak of ``device_kind`` is known, the fraction of it."""
    rate = flops / seconds if flops and seconds else None
    peak = PEAK_FLOP_PER_S.get((device_kind, precision))
    if peak is None:
        note = (
            "peak unknown"
            if platform == "cpu"
            else f"peak unknown for device_kind {device_kind!r} at {precision}"
        )
        return Achieved(rate, None, None, note)
    fraction = rate / peak if rate is not None else None
    return Achieved(rate, peak, fraction, "peak from the vendor datasheet (non-tensor-core)")
