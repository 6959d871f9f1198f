"""Fidelity metrics against hand-computed values."""

import math

import numpy as np
import pytest

from snnbench.studies.tradeoffs import fidelity

NAN = np.nan


def test_rmse_and_max_of_known_arrays():
    assert fidelity.rmse([1.0, 2.0, 3.0], [1.0, 2.0, 5.0]) == pytest.approx(math.sqrt(4 / 3))
    assert fidelity.max_abs_error([1.0, -2.0, 3.0], [1.0, 2.0, 2.5]) == 4.0
    assert fidelity.rmse([[1.0, 1.0]], [[1.0, 1.0]]) == 0.0


def test_cosine_of_known_vectors():
    assert fidelity.cosine_similarity([1.0, 0.0], [0.0, 1.0]) == pytest.approx(0.0)
    assert fidelity.cosine_similarity([1.0, 1.0], [1.0, 0.0]) == pytest.approx(1 / math.sqrt(2))
    assert fidelity.cosine_similarity([-2.0, 0.0], [1.0, 0.0]) == pytest.approx(-1.0)
    assert fidelity.cosine_similarity([0.1, 0.2, 0.3], [0.1, 0.2, 0.3]) == 1.0  # exactly
    assert math.isnan(fidelity.cosine_similarity([0.0, 0.0], [1.0, 0.0]))


def test_relative_norm_error():
    assert fidelity.relative_norm_error([3.0, 4.0], [0.0, 5.0]) == pytest.approx(math.sqrt(10) / 5)
    assert fidelity.relative_norm_error([1.0], [1.0]) == 0.0
    assert fidelity.relative_norm_error([0.0], [0.0]) == 0.0
    assert fidelity.relative_norm_error([1.0], [0.0]) == math.inf


def test_spike_times_from_bins():
    spikes = np.array([[0, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]])
    times = fidelity.spike_times_ms(spikes, dt_ms=0.5)
    np.testing.assert_array_equal(times, [[0.5, 1.5], [NAN, NAN], [0.0, NAN]])


def test_van_rossum_hand_cases():
    one = np.array([[1.0]])
    none = np.full((1, 1), NAN)
    assert fidelity.van_rossum_distance(one, none, tau_ms=0.1)[0] == pytest.approx(1.0)
    assert fidelity.van_rossum_distance(one, one, tau_ms=0.1)[0] == pytest.approx(0.0)
    shifted = np.array([[1.05]])
    expected = math.sqrt(2 - 2 * math.exp(-0.05 / 0.1))
    assert fidelity.van_rossum_distance(one, shifted, tau_ms=0.1)[0] == pytest.approx(expected)
    two = np.array([[0.0, 10.0]])  # far apart: two unmatched spikes -> sqrt(2)
    empty = np.zeros((1, 0))
    assert fidelity.van_rossum_distance(two, empty, tau_ms=0.1)[0] == pytest.approx(math.sqrt(2))


def test_coincidence_within_window():
    a = np.array([[0.0, 1.0]])
    b = np.array([[0.05]])
    # 0.0 and 0.05 match each other; 1.0 has no partner: (1 + 1) / 3.
    assert fidelity.coincidence_fraction(a, b, window_ms=0.1) == pytest.approx(2 / 3)
    assert fidelity.coincidence_fraction(a, b, window_ms=0.01) == 0.0
    assert fidelity.coincidence_fraction(a, a, window_ms=0.0) == 1.0
    assert fidelity.coincidence_fraction(np.zeros((2, 0)), np.zeros((2, 0)), 0.1) == 1.0
    # A gap of exactly one window (in floating point: 3 * 0.001 vs 0.0) counts.
    assert fidelity.coincidence_fraction(np.array([[3 * 0.001]]), np.array([[0.0]]), 0.003) == 1.0


def test_count_differences():
    a = np.array([[0.0, 1.0], [NAN, NAN]])
    ref = np.array([[0.0, NAN], [2.0, NAN]])
    per_train, relative = fidelity.count_differences(a, ref)
    assert per_train == pytest.approx(1.0)  # |2 - 1| and |0 - 1|
    assert relative == pytest.approx(0.0)  # 2 spikes vs 2 spikes in total
    assert math.isnan(fidelity.count_differences(a, np.full((2, 1), NAN))[1])
