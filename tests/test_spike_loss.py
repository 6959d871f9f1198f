"""Input-spike counts and the threshold margin, against hand-computed values and the dense twin."""

import math

import jax
import numpy as np
import pytest

import snnbench
from snnbench.studies.tradeoffs import spike_loss as S
from snnbench.studies.tradeoffs.resample import resample_currents
from snnbench.task import dense
from snnbench.task.config import TaskConfig
from snnbench.task.data import make_data, spikes_to_currents

NEURON = S.InputNeuron.from_config(TaskConfig())


def test_the_tutorials_input_neuron():
    # gL / C = 10 per ms, and 1 nA is 1 uA/cm^2 on the 1e5 um^2 compartment.
    assert NEURON.rate_per_ms == pytest.approx(10.0)
    assert NEURON.mv_per_ms_per_na == pytest.approx(1.0)
    assert (NEURON.threshold_mv, NEURON.reset_mv, NEURON.rest_mv) == (1.0, 0.0, 0.0)


def test_the_tutorials_pulse_barely_crosses_threshold():
    margin = S.pulse_margin(NEURON, 508.0, 2e-3)
    # v = (I / gL)(1 - exp(-t / tau)) at t = 2 us, tau = 0.1 ms.
    assert margin.peak_mv == pytest.approx(50.8 * (1 - math.exp(-0.02)), rel=1e-12)
    assert margin.peak_mv == pytest.approx(1.00591, abs=1e-5)
    assert margin.smallest_firing_na == pytest.approx(10 / (1 - math.exp(-0.02)), rel=1e-12)
    rise_ms = math.log(50.8 / 49.8) / 10
    fall_ms = math.log(margin.peak_mv) / 10
    assert margin.above_threshold_us == pytest.approx(1e3 * (2e-3 - rise_ms + fall_ms))
    assert S.pulse_margin(NEURON, 500.0, 2e-3).above_threshold_us == 0.0


@pytest.mark.parametrize(
    ("currents", "dt_ms", "method", "expected"),
    [
        ([508, 508], 1e-3, "implicit_euler", 1.00096),  # the tutorial: just above
        ([508], 2e-3, "implicit_euler", 0.99608),  # the same charge in one coarse step
        ([254, 254], 2e-3, "implicit_euler", 0.98631),  # a pulse straddling two steps
        ([508], 2e-3, "exact", 1.00591),  # exact integration: the continuous peak
        ([254, 254], 2e-3, "exact", 0.99595),
    ],
)
def test_voltage_at_the_next_check(currents, dt_ms, method, expected):
    assert S.voltage_after(NEURON, currents, dt_ms, method) == pytest.approx(expected, abs=5e-6)


def test_event_driven_count_by_hand():
    one_pulse = np.zeros((1, 10))
    one_pulse[0, 3:5] = 508.0
    assert S.event_driven_count(NEURON, one_pulse, 1e-3) == 1
    assert S.event_driven_count(NEURON, one_pulse * 505 / 508, 1e-3) == 0
    # 1000 nA drives towards 100 mV: one spike every ln(100 / 99) / 10 ms from reset.
    steady = np.full((2, 100), 1000.0)
    period_ms = math.log(100 / 99) / 10
    assert S.event_driven_count(NEURON, steady, 1e-3) == 2 * math.floor(0.1 / period_ms)


def test_currents_from_spikes_is_the_tasks_convolution():
    spikes = np.asarray(make_data(TaskConfig(batch_size=2)).spikes)
    expected = np.asarray(spikes_to_currents(jax.numpy.asarray(spikes), (508.0, 508.0)))
    np.testing.assert_array_equal(S.currents_from_spikes(spikes, (508.0, 508.0)), expected)


@pytest.mark.parametrize("dt_ms", [0.5e-3, 2e-3])
def test_implicit_euler_grid_count_is_the_dense_twins(dt_ms):
    snnbench.set_precision("float64")
    data = make_data(TaskConfig(batch_size=4))
    config = TaskConfig(batch_size=4, dt_ms=dt_ms)
    currents = resample_currents(np.asarray(data.inputs), 1e-3, dt_ms)
    _, spikes_in, _ = jax.jit(dense.make_simulate(config))(
        [{dense.WEIGHT: data.weights}], jax.numpy.asarray(currents)
    )
    counts = S.input_spike_counts(NEURON, np.asarray(data.inputs), 1e-3, dt_ms, 0.2)
    assert counts["implicit_euler"] == int(np.asarray(spikes_in).sum()) > 0


def test_kernel_sensitivity_rows():
    spikes = np.asarray(make_data(TaskConfig(batch_size=2)).spikes)
    rows = S.kernel_sensitivity(TaskConfig(batch_size=2), spikes, 1e-3, (1e-3, 2e-3), (508, 540))
    assert [(r["kernel_na"], r["dt_ms"]) for r in rows] == [
        (508, 1e-3),
        (508, 2e-3),
        (540, 1e-3),
        (540, 2e-3),
    ]
    by = {(r["kernel_na"], r["dt_ms"]): r for r in rows}
    # A larger pulse loses no more spikes; every count is at most the continuous one here.
    assert by[540, 2e-3]["implicit_euler"] >= by[508, 2e-3]["implicit_euler"]
    assert all(r["implicit_euler"] <= r["continuous_time"] for r in rows)
    assert by[508, 1e-3]["drawn"] == int(spikes.sum())
