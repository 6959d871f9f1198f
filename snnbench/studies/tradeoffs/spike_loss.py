"""Why a coarse step loses input spikes: the threshold margin, the integrator, the grid check.

Pure NumPy, input neurons only: their spikes depend on the input current alone,
not on the weights, so every count here is exact and cheap. The firing rule is
the task's (``Fire``): at the start of each step a neuron at or above threshold
spikes and resets; then the membrane ``C dv/dt = -gL (v - eL) + I`` is integrated
over the step with that step's current. Three ways to count:

* ``implicit_euler`` on the step-averaged input, threshold checked on the grid:
  what the dense twin and jaxley do (tested equal);
* ``exact`` integration of the same step-averaged input, checked on the grid;
* ``event_driven_count``: the continuous-time model, exact integration with a
  reset at the crossing time, on the input as drawn. This is the count every
  step size should approach.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from snnbench.errors import expect
from snnbench.studies.tradeoffs.resample import resample_currents, step_ratio
from snnbench.task.config import (
    COMPARTMENT_LENGTH_UM,
    COMPARTMENT_RADIUS_UM,
    MEMBRANE_CAPACITANCE_UF_PER_CM2,
    TaskConfig,
)

METHODS = ("implicit_euler", "exact")


@dataclass(frozen=True)
class InputNeuron:
    """One input neuron in the task's units (ms, mV, nA).

    Attributes:
        rate_per_ms: ``gL / C``, the inverse membrane time constant.
        mv_per_ms_per_na: ``dv/dt`` per nA of input current.
        rest_mv: leak reversal; threshold_mv, reset_mv, v_init_mv as in the task.
    """

    rate_per_ms: float
    mv_per_ms_per_na: float
    rest_mv: float
    threshold_mv: float
    reset_mv: float
    v_init_mv: float

    @classmethod
    def from_config(cls, config: TaskConfig) -> InputNeuron:
        area_um2 = 2 * math.pi * COMPARTMENT_RADIUS_UM * COMPARTMENT_LENGTH_UM
        cm = MEMBRANE_CAPACITANCE_UF_PER_CM2
        return cls(
            rate_per_ms=1000.0 * config.leak_conductance_s_per_cm2 / cm,
            mv_per_ms_per_na=1e5 / area_um2 / cm,
            rest_mv=config.leak_reversal_mv,
            threshold_mv=config.threshold_mv,
            reset_mv=config.reset_mv,
            v_init_mv=config.v_init_mv,
        )

    def target_mv(self, current_na: np.ndarray | float) -> np.ndarray | float:
        """The voltage a constant current drives the membrane towards."""
        return self.rest_mv + np.asarray(current_na) * self.mv_per_ms_per_na / self.rate_per_ms

    def step(self, v: np.ndarray, current_na: np.ndarray, dt_ms: float, method: str) -> np.ndarray:
        """The membrane after one step of constant current (no threshold check)."""
        if method == "implicit_euler":
            drive = self.rate_per_ms * self.rest_mv + current_na * self.mv_per_ms_per_na
            return (v + dt_ms * drive) / (1.0 + dt_ms * self.rate_per_ms)
        decay = math.exp(-self.rate_per_ms * dt_ms)
        target = self.target_mv(current_na)
        return target + (v - target) * decay


@dataclass(frozen=True)
class PulseMargin:
    """How far one rectangular pulse from rest gets past threshold, in continuous time.

    Attributes:
        peak_mv: the voltage at the pulse's end (its maximum).
        above_threshold_us: how long the voltage stays at or above threshold (us).
        smallest_firing_na: the smallest amplitude that reaches threshold at all.
    """

    peak_mv: float
    above_threshold_us: float
    smallest_firing_na: float


def pulse_margin(neuron: InputNeuron, amplitude_na: float, pulse_ms: float) -> PulseMargin:
    """The continuous-time threshold margin of one pulse of ``amplitude_na`` for ``pulse_ms``."""
    rate = neuron.rate_per_ms
    charge = 1.0 - math.exp(-rate * pulse_ms)
    start = neuron.v_init_mv
    peak = start + (neuron.target_mv(amplitude_na) - start) * charge
    # Rising: from crossing to the pulse's end; falling: decay towards rest after it.
    above_ms = 0.0
    if peak >= neuron.threshold_mv:
        target = neuron.target_mv(amplitude_na)
        rise = math.log((target - start) / (target - neuron.threshold_mv)) / rate
        fall = math.log((peak - neuron.rest_mv) / (neuron.threshold_mv - neuron.rest_mv)) / rate
        above_ms = (pulse_ms - rise) + fall
    smallest = (
        ((neuron.threshold_mv - start) / charge + start - neuron.rest_mv)
        * rate
        / neuron.mv_per_ms_per_na
    )
    return PulseMargin(float(peak), 1e3 * above_ms, float(smallest))


def voltage_after(
    neuron: InputNeuron, currents_na: list[float], dt_ms: float, method: str
) -> float:
    """The voltage from rest after steps of the given currents: what the next check sees."""
    expect(method in METHODS, "method", f"one of {', '.join(METHODS)}", method)
    v = np.asarray(neuron.v_init_mv, dtype=np.float64)
    for current in currents_na:
        v = neuron.step(v, np.asarray(current, dtype=np.float64), dt_ms, method)
    return float(v)


def grid_check_count(
    neuron: InputNeuron,
    currents_na: np.ndarray,
    dt_ms: float,
    n_steps: int,
    method: str = "implicit_euler",
    check_every: int = 1,
) -> int:
    """Spikes of neurons driven by ``currents_na`` (one value per step), checked on a grid.

    Args:
        neuron: the input neuron.
        currents_na: ``(..., n_input_steps)`` current per step; steps past the end get 0.
        dt_ms: the integration step.
        n_steps: steps to take (jaxley's ``int(t_max // dt + 1)``).
        method: ``implicit_euler`` (the task's) or ``exact``.
        check_every: check the threshold only before every ``check_every``-th step.
    """
    expect(method in METHODS, "method", f"one of {', '.join(METHODS)}", method)
    currents = np.zeros((*currents_na.shape[:-1], n_steps))
    used = min(n_steps, currents_na.shape[-1])
    currents[..., :used] = currents_na[..., :used]
    v = np.full(currents.shape[:-1], float(neuron.v_init_mv))
    count = 0
    for k in range(n_steps):
        if k % check_every == 0:
            fired = v >= neuron.threshold_mv
            count += int(fired.sum())
            v = np.where(fired, neuron.reset_mv, v)
        v = neuron.step(v, currents[..., k], dt_ms, method)
    return count


def event_driven_count(neuron: InputNeuron, currents_na: np.ndarray, bin_ms: float) -> int:
    """Spikes of the continuous-time model: exact integration, reset at the crossing time.

    ``currents_na`` is piecewise constant on bins of ``bin_ms``. Within a bin the
    voltage relaxes towards the bin's target; when that lies above threshold the
    crossing time is ``ln((target - v) / (target - vth)) / rate``, the neuron resets
    there and keeps integrating the rest of the bin (it may fire again).
    """
    rate, vth = neuron.rate_per_ms, neuron.threshold_mv
    v = np.full(currents_na.shape[:-1], float(neuron.v_init_mv))
    count = 0
    for k in range(currents_na.shape[-1]):
        target = neuron.target_mv(currents_na[..., k])
        left = np.full(v.shape, bin_ms)
        active = np.ones(v.shape, dtype=bool)
        while active.any():
            with np.errstate(divide="ignore", invalid="ignore"):
                crossing = np.where(
                    target > vth, np.log((target - v) / (target - vth)) / rate, np.inf
                )
            crossing = np.where(v >= vth, 0.0, crossing)
            fires = active & (crossing <= left)
            count += int(fires.sum())
            settles = active & ~fires
            v = np.where(settles, target + (v - target) * np.exp(-rate * left), v)
            left = np.where(fires, left - crossing, left)
            v = np.where(fires, neuron.reset_mv, v)
            active = fires
    return count


def currents_from_spikes(spikes: np.ndarray, kernel_na: tuple[float, ...]) -> np.ndarray:
    """Each spike train convolved with the kernel, ``"same"`` mode (as ``task.data``)."""
    flat = np.asarray(spikes, dtype=np.float64).reshape(-1, spikes.shape[-1])
    kernel = np.asarray(kernel_na, dtype=np.float64)
    out = np.stack([np.convolve(kernel, train, "same") for train in flat])
    return out.reshape(spikes.shape)


def input_spike_counts(
    neuron: InputNeuron,
    source_currents_na: np.ndarray,
    source_dt_ms: float,
    dt_ms: float,
    t_max_ms: float,
) -> dict[str, int]:
    """Input spikes at ``dt_ms`` for scenario (a), counted three ways, and the continuous truth.

    Returns:
        ``continuous_time`` (event-driven, the input as drawn),
        ``implicit_euler`` (step-averaged input, grid check: the task),
        ``exact_averaged`` (exact integration of the step-averaged input, grid check),
        ``exact_unaveraged`` (exact integration of the input as drawn, checked only
        every ``dt_ms``; for ``dt_ms`` finer than the source it equals ``exact_averaged``).
    """
    n_steps = int(t_max_ms // dt_ms + 1)
    averaged = resample_currents(source_currents_na, source_dt_ms, dt_ms)
    out = {
        "continuous_time": event_driven_count(neuron, source_currents_na, source_dt_ms),
        "implicit_euler": grid_check_count(neuron, averaged, dt_ms, n_steps),
        "exact_averaged": grid_check_count(neuron, averaged, dt_ms, n_steps, "exact"),
    }
    ratio = step_ratio(dt_ms, source_dt_ms)
    if ratio is None or ratio == 1:
        out["exact_unaveraged"] = out["exact_averaged"]
    else:
        out["exact_unaveraged"] = grid_check_count(
            neuron, source_currents_na, source_dt_ms, n_steps * ratio, "exact", check_every=ratio
        )
    return out


def kernel_sensitivity(
    config: TaskConfig,
    spikes: np.ndarray,
    source_dt_ms: float,
    dts_ms: tuple[float, ...],
    amplitudes_na: tuple[float, ...],
) -> list[dict[str, float]]:
    """Scenario (a) input-spike counts for each kernel amplitude and dt (one row each).

    The kernel keeps the task's shape (``config.kernel_na``, e.g. two bins) with every
    entry set to the amplitude; ``spikes`` are the drawn trains on ``source_dt_ms`` bins.
    """
    neuron = InputNeuron.from_config(config)
    rows = []
    for amplitude in amplitudes_na:
        kernel = tuple(float(amplitude) for _ in config.kernel_na)
        currents = currents_from_spikes(spikes, kernel)
        margin = pulse_margin(neuron, amplitude, len(kernel) * source_dt_ms)
        for dt in dts_ms:
            counts = input_spike_counts(neuron, currents, source_dt_ms, dt, config.t_max_ms)
            rows.append(
                {
                    "kernel_na": float(amplitude),
                    "dt_ms": dt,
                    "drawn": int(np.sum(spikes)),
                    "pulse_peak_mv": margin.peak_mv,
                    "pulse_above_threshold_us": margin.above_threshold_us,
                    "smallest_firing_na": margin.smallest_firing_na,
                    **counts,
                }
            )
    return rows
