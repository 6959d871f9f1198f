"""Pure fidelity metrics: how far a simulation, its spikes and its gradient are from a reference.

NumPy only, no JAX: the trade-off study computes every metric in the parent
process from arrays the per-precision workers wrote, always in float64.
"""

from __future__ import annotations

import numpy as np


def rmse(values: np.ndarray, reference: np.ndarray) -> float:
    """Root-mean-square difference of two same-shaped arrays."""
    diff = np.asarray(values, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    return float(np.sqrt(np.mean(diff**2))) if diff.size else 0.0


def max_abs_error(values: np.ndarray, reference: np.ndarray) -> float:
    """Largest absolute difference of two same-shaped arrays."""
    diff = np.asarray(values, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    return float(np.max(np.abs(diff))) if diff.size else 0.0


def cosine_similarity(values: np.ndarray, reference: np.ndarray) -> float:
    """Cosine of the angle between two vectors (flattened); 1.0 exactly when they are equal.

    NaN if either vector is all zeros (no direction to compare).
    """
    a = np.ravel(np.asarray(values, dtype=np.float64))
    b = np.ravel(np.asarray(reference, dtype=np.float64))
    if np.array_equal(a, b) and np.any(b):
        return 1.0
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    if norms == 0:
        return float("nan")
    return float(np.clip(np.dot(a, b) / norms, -1.0, 1.0))


def relative_norm_error(values: np.ndarray, reference: np.ndarray) -> float:
    """``||values - reference|| / ||reference||`` (flattened); inf if the reference is zero."""
    a = np.ravel(np.asarray(values, dtype=np.float64))
    b = np.ravel(np.asarray(reference, dtype=np.float64))
    error = np.linalg.norm(a - b)
    scale = np.linalg.norm(b)
    if scale == 0:
        return 0.0 if error == 0 else float("inf")
    return float(error / scale)


def spike_times_ms(spikes: np.ndarray, dt_ms: float) -> np.ndarray:
    """Spike times per train, NaN-padded: ``(n_trains, max_count)`` from ``(n_trains, n_bins)``.

    A spike in bin ``n`` happened at ``n * dt_ms`` (the step at whose start the
    neuron fired).
    """
    spikes = np.asarray(spikes) > 0.5
    counts = spikes.sum(axis=-1)
    width = int(counts.max()) if counts.size else 0
    out = np.full((spikes.shape[0], width), np.nan)
    rows, bins = np.nonzero(spikes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out[rows, np.arange(len(rows)) - starts[rows]] = bins * dt_ms
    return out


def _pair_sum(a_ms: np.ndarray, b_ms: np.ndarray, tau_ms: float) -> np.ndarray:
    """Per train: sum over spike pairs of ``exp(-|a_i - b_j| / tau)`` (NaN padding adds 0)."""
    if a_ms.shape[1] == 0 or b_ms.shape[1] == 0:
        return np.zeros(a_ms.shape[0])
    gaps = np.abs(a_ms[:, :, None] - b_ms[:, None, :])
    return np.nansum(np.exp(-gaps / tau_ms), axis=(1, 2))


def van_rossum_distance(a_ms: np.ndarray, b_ms: np.ndarray, tau_ms: float) -> np.ndarray:
    """Van Rossum distance per train between NaN-padded spike-time arrays.

    Each spike becomes ``exp(-(t - t_i) / tau)`` for ``t > t_i``; the distance is
    ``sqrt((2 / tau) * integral (f - g)^2 dt)``, so one unmatched spike gives 1 and
    two spikes at the same time give 0. Computed exactly from the spike times.
    """
    squared = _pair_sum(a_ms, a_ms, tau_ms) + _pair_sum(b_ms, b_ms, tau_ms)
    squared = squared - 2.0 * _pair_sum(a_ms, b_ms, tau_ms)
    return np.sqrt(np.maximum(squared, 0.0))


def _matched(a_ms: np.ndarray, b_ms: np.ndarray, window_ms: float) -> np.ndarray:
    """Per train: spikes of ``a`` that have a spike of ``b`` within ``window_ms``."""
    if a_ms.shape[1] == 0:
        return np.zeros(a_ms.shape[0], dtype=int)
    if b_ms.shape[1] == 0:
        return np.zeros(a_ms.shape[0], dtype=int)
    gaps = np.abs(a_ms[:, :, None] - b_ms[:, None, :])
    # A tiny slack so that a gap of exactly one window (k * dt in floating point) counts.
    close = np.any(gaps <= window_ms * (1 + 1e-9), axis=2)
    return close.sum(axis=1)


def coincidence_fraction(a_ms: np.ndarray, b_ms: np.ndarray, window_ms: float) -> float:
    """Fraction of all spikes (in both sets) that have a partner in the other within ``window_ms``.

    Pooled over trains: ``(matched_a + matched_b) / (n_a + n_b)``; 1.0 when neither
    set has any spike.
    """
    total = int(np.sum(~np.isnan(a_ms)) + np.sum(~np.isnan(b_ms)))
    if total == 0:
        return 1.0
    matched = _matched(a_ms, b_ms, window_ms).sum() + _matched(b_ms, a_ms, window_ms).sum()
    return float(matched / total)


def count_differences(a_ms: np.ndarray, reference_ms: np.ndarray) -> tuple[float, float]:
    """``(mean |count - count_ref| per train, (total - total_ref) / total_ref)``.

    The relative total is NaN when the reference has no spikes at all.
    """
    counts = np.sum(~np.isnan(a_ms), axis=1)
    reference = np.sum(~np.isnan(reference_ms), axis=1)
    per_train = float(np.mean(np.abs(counts - reference))) if counts.size else 0.0
    total_ref = reference.sum()
    relative = float((counts.sum() - total_ref) / total_ref) if total_ref else float("nan")
    return per_train, relative
