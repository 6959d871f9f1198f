"""Self-convergence on cases whose answer is known: smooth ODEs, quantities with no limit."""

import math

import numpy as np
import pytest

from snnbench import SnnbenchError
from snnbench.studies.tradeoffs.convergence import cosine_interval, norm, self_convergence

T_END = 2.0
#: Five halvings from 0.1; the reported reference is the middle one (two refinements below).
DTS = [0.1 / 2**k for k in range(5)]
REF = DTS[2]


def exact(t: float) -> float:
    """Solution of v' = -v + sin t, v(0) = 0."""
    return 0.5 * (math.sin(t) - math.cos(t) + math.exp(-t))


def implicit_euler(h: float) -> float:
    v = 0.0
    for k in range(round(T_END / h)):
        v = (v + h * math.sin((k + 1) * h)) / (1 + h)
    return v


def crank_nicolson(h: float) -> float:
    v = 0.0
    for k in range(round(T_END / h)):
        source = 0.5 * h * (math.sin(k * h) + math.sin((k + 1) * h))
        v = (v * (1 - 0.5 * h) + source) / (1 + 0.5 * h)
    return v


def test_implicit_euler_is_first_order_and_its_error_estimate_is_right():
    values = [implicit_euler(h) for h in DTS]
    result = self_convergence(DTS, values, reference_dt=REF, rtol=1e-2)
    assert result.converged, result.reason
    assert result.order == pytest.approx(1.0, abs=0.05)
    true_error = abs(values[2] - exact(T_END))
    assert result.reference_error == pytest.approx(true_error, rel=0.1)
    # The extrapolated value is far closer to the truth than the finest value.
    assert abs(float(result.extrapolated) - exact(T_END)) < 0.05 * abs(values[-1] - exact(T_END))


def test_crank_nicolson_is_second_order():
    result = self_convergence(DTS, [crank_nicolson(h) for h in DTS], reference_dt=REF, rtol=1e-4)
    assert result.converged, result.reason
    assert result.order == pytest.approx(2.0, abs=0.05)


def test_a_converging_quantity_with_too_coarse_a_reference_is_not_converged():
    result = self_convergence(DTS, [implicit_euler(h) for h in DTS], reference_dt=REF, rtol=1e-4)
    assert not result.converged and result.order == pytest.approx(1.0, abs=0.05)
    assert result.reference_error > result.tolerance


@pytest.mark.parametrize(
    ("values", "order", "word"),
    [
        ([1.0 / h for h in DTS], -1.0, "grow"),  # the per-step surrogate's kind of growth
        ([(-1.0) ** k for k in range(5)], 0.0, "shrink only"),  # oscillates
        ([h**0.2 for h in DTS], 0.2, "shrink only"),  # converges, but too slowly to trust
    ],
)
def test_quantities_without_a_usable_limit_are_not_converged(values, order, word):
    result = self_convergence(DTS, values, reference_dt=REF)
    assert not result.converged
    assert result.order == pytest.approx(order)
    assert math.isinf(result.reference_error) and word in result.reason


def test_counts_that_stopped_changing_converge_exactly_and_a_late_change_does_not():
    steady = self_convergence(DTS, [25440, 25562, 25562, 25562, 25562], reference_dt=REF)
    assert steady.converged and steady.reference_error == 0.0
    late = self_convergence(DTS, [10, 12, 12, 12, 13], reference_dt=REF)
    assert not late.converged and "appeared after a zero one" in late.reason


def test_a_noise_floor_accepts_counts_that_flip_by_a_few():
    counts = [4828, 4882, 4917, 4931, 4941]  # hidden spikes, dt 1e-3 ... 0.0625e-3
    assert not self_convergence(DTS, counts, reference_dt=REF).converged
    lenient = self_convergence(DTS, counts, reference_dt=REF, noise_floor=25)
    assert lenient.converged, lenient.reason
    assert lenient.reference_error == 24 + 25  # distance to the finest, plus the floor
    coarse = self_convergence(DTS, counts, reference_dt=DTS[0], noise_floor=25)
    assert not coarse.converged and coarse.reference_error == 113 + 25


def test_two_refinements_below_the_reference_are_required():
    result = self_convergence(DTS, [implicit_euler(h) for h in DTS], reference_dt=DTS[3])
    assert not result.converged and result.reason.startswith("cannot tell: 1 refinement")


def test_a_first_order_vector_converges_and_reports_cosines_and_norm_ratios():
    rng = np.random.default_rng(0)
    g0, g1 = rng.normal(size=50), 0.2 * rng.normal(size=50)
    result = self_convergence(DTS, [g0 + h * g1 for h in DTS], reference_dt=REF)
    assert result.converged, result.reason
    np.testing.assert_allclose(result.extrapolated, g0, atol=1e-12)
    assert np.all(np.diff(1 - result.cosines) < 0)  # the direction settles
    assert abs(result.norm_ratios[-1] - 1) < abs(result.norm_ratios[0] - 1)


def test_a_vector_whose_norm_grows_like_one_over_dt_fails_though_its_cosine_is_one():
    g0 = np.arange(1.0, 6.0)
    result = self_convergence(DTS, [g0 / h for h in DTS], reference_dt=REF)
    assert not result.converged
    np.testing.assert_allclose(result.cosines, 1.0)
    np.testing.assert_allclose(result.norm_ratios, 0.5)


def test_a_vector_that_keeps_turning_is_not_converged():
    values = [np.array([math.cos(k), math.sin(k)]) for k in range(5)]
    assert not self_convergence(DTS, values, reference_dt=REF).converged


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dts": [1.0, 0.5, 0.2], "values": [1.0, 2.0, 3.0]}, "`dts` must shrink by one common"),
        ({"dts": [1.0], "values": [1.0]}, "`dts` must be two or more steps"),
        ({"dts": [1.0, 0.5], "values": [1.0]}, "`values` must be one value per step"),
        ({"dts": [1.0, 0.5], "values": [1.0, [1.0, 2.0]]}, "`values` must be arrays of one"),
        ({"dts": [1.0, 0.5], "values": [1.0, 2.0], "reference_dt": 0.3}, "`reference_dt`"),
        ({"dts": [1.0, 0.5], "values": [1.0, 2.0], "norm_kind": "l1"}, "`norm_kind`"),
    ],
)
def test_bad_input_is_a_one_line_error(kwargs, message):
    with pytest.raises(SnnbenchError, match=message) as info:
        self_convergence(**kwargs)
    assert "\n" not in str(info.value)


def test_norms_by_hand():
    x = np.array([3.0, -4.0])
    assert (norm(x, "l2"), norm(x, "rms"), norm(x, "max")) == (5.0, math.sqrt(12.5), 4.0)


def test_cosine_interval_by_hand():
    # A reference 1 % off the limit turns by at most asin(0.01) = 0.0100 rad.
    low, high = cosine_interval(1.0, 0.01)
    assert high == 1.0 and low == pytest.approx(math.sqrt(1 - 0.01**2))
    low, high = cosine_interval(math.cos(0.1), 0.01)
    assert (low, high) == pytest.approx((math.cos(0.1 + math.asin(0.01)), math.cos(0.1 - 0.01)))
    assert cosine_interval(0.9, math.inf) == (-1.0, 1.0)
