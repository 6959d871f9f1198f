"""One input current waveform, seen by every time step as its step average.

The tutorial draws input spikes on its dt = 1e-3 ms grid and convolves them with
the kernel [508, 508] nA, so each spike is a 508 nA pulse lasting two bins. Read
that array as a physical, piecewise-constant current ``I(t)`` on ``[0, t_max)``
(bin ``j`` holds on ``[j * dt_src, (j + 1) * dt_src)``, which is the interval jaxley
applies step ``j``'s stimulus over). A simulation with step ``dt`` then gets, per
step, the mean of ``I`` over that step: the charge per step is preserved, a
coarse step sees the same spikes with the same charge, and at ``dt == dt_src`` the
array comes back unchanged, bit for bit.

Only steps that are whole multiples or whole divisors of the source step are
supported; both keep the averaging exact (no interpolation).
"""

from __future__ import annotations

import math

import numpy as np

from snnbench.errors import SnnbenchError

#: The tutorial's grid: input spikes are drawn, and the kernel applied, at this step.
SOURCE_DT_MS = 1e-3


def step_ratio(coarse_ms: float, fine_ms: float) -> int | None:
    """``coarse / fine`` if it is a whole number (to 1e-9), else ``None``."""
    ratio = coarse_ms / fine_ms
    whole = round(ratio)
    return whole if whole >= 1 and abs(ratio - whole) <= 1e-9 * max(1.0, ratio) else None


def resample_currents(currents_na: np.ndarray, source_dt_ms: float, dt_ms: float) -> np.ndarray:
    """Step-averaged currents for step ``dt_ms`` from currents on ``source_dt_ms`` bins.

    Args:
        currents_na: ``(..., n_source_bins)`` piecewise-constant current (nA).
        source_dt_ms: width of one source bin (ms).
        dt_ms: the simulation step (ms); a whole multiple or divisor of ``source_dt_ms``.

    Returns:
        ``(..., n_source_bins * source_dt_ms / dt_ms)`` currents (nA) whose sum times
        ``dt_ms`` equals the source charge.

    Raises:
        SnnbenchError: if the steps are not whole multiples of each other, or the
            source duration is not a whole number of ``dt_ms`` steps.
    """
    currents_na = np.asarray(currents_na)
    n_source = currents_na.shape[-1]
    coarser = step_ratio(dt_ms, source_dt_ms)
    finer = step_ratio(source_dt_ms, dt_ms)
    if coarser is None and finer is None:
        raise SnnbenchError(
            f"`dt_ms` must be a whole multiple or divisor of the input grid's {source_dt_ms:g} ms "
            f"so that step averages are exact; got {dt_ms:g}"
        )
    if finer is not None:
        return np.repeat(currents_na, finer, axis=-1)
    if n_source % coarser:
        raise SnnbenchError(
            f"`dt_ms` must divide the input duration {n_source * source_dt_ms:g} ms "
            f"({n_source} bins of {source_dt_ms:g} ms) into whole steps; got {dt_ms:g}"
        )
    blocks = currents_na.reshape(*currents_na.shape[:-1], n_source // coarser, coarser)
    return blocks.mean(axis=-1)


def charge_pc(currents_na: np.ndarray, dt_ms: float) -> np.ndarray:
    """Charge per train in pC (nA x ms), summed over the last axis."""
    return np.asarray(currents_na).sum(axis=-1) * dt_ms


def common_step_ms(dts_ms: tuple[float, ...], reference_dt_ms: float) -> float:
    """The finest step whose every multiple is a sample time of every grid in ``dts_ms``.

    Each dt must be a whole multiple of ``reference_dt_ms``; the answer is the least
    common multiple of the dts, in units of the reference step.
    """
    multiples = []
    for dt in dts_ms:
        ratio = step_ratio(dt, reference_dt_ms)
        if ratio is None:
            raise SnnbenchError(
                f"`dt_ms` values must be whole multiples of the reference step "
                f"{reference_dt_ms:g} ms so they can be compared at its sample times; got {dt:g}"
            )
        multiples.append(ratio)
    return math.lcm(*multiples) * reference_dt_ms


def sample_indices(dt_ms: float, times_ms: np.ndarray) -> np.ndarray:
    """Indices into a trace sampled every ``dt_ms`` (index 0 at t = 0) at ``times_ms``."""
    indices = np.rint(np.asarray(times_ms) / dt_ms).astype(int)
    if not np.allclose(indices * dt_ms, times_ms, rtol=0, atol=1e-9 * dt_ms + 1e-15):
        raise SnnbenchError(f"`times_ms` must lie on the {dt_ms:g} ms grid; got {times_ms!r}")
    return indices


def rebin_spikes(spikes: np.ndarray, source_dt_ms: float, dt_ms: float) -> np.ndarray:
    """Spike counts per ``dt_ms`` bin: each spike lands in the bin holding its time.

    Coarser bins add up the spikes they contain; finer bins put each spike in the
    first sub-bin (the spike's time is the start of its source bin).
    """
    spikes = np.asarray(spikes)
    finer = step_ratio(source_dt_ms, dt_ms)
    if finer is not None:
        out = np.zeros((*spikes.shape[:-1], spikes.shape[-1] * finer), dtype=spikes.dtype)
        out[..., ::finer] = spikes
        return out
    return resample_currents(spikes, source_dt_ms, dt_ms) * step_ratio(dt_ms, source_dt_ms)
