"""Inputs seen by every dt: step averages of one current waveform."""

import numpy as np
import pytest

from snnbench import SnnbenchError, TaskConfig
from snnbench.studies.tradeoffs.resample import (
    charge_pc,
    common_step_ms,
    rebin_spikes,
    resample_currents,
    sample_indices,
    step_ratio,
)
from snnbench.task.data import make_data

DTS = (0.25e-3, 0.5e-3, 1e-3, 2e-3, 5e-3)


def test_a_spike_pulse_seen_at_coarser_and_finer_steps():
    pulse = np.zeros(10)
    pulse[[3, 4]] = 508.0  # one input spike: 508 nA for 2 x 1e-3 ms
    np.testing.assert_array_equal(resample_currents(pulse, 1e-3, 2e-3), [0, 254, 254, 0, 0])
    np.testing.assert_allclose(resample_currents(pulse, 1e-3, 5e-3), [203.2, 0.0])
    fine = resample_currents(pulse, 1e-3, 0.5e-3)
    np.testing.assert_array_equal(fine[6:10], [508.0] * 4)
    assert fine.sum() == 4 * 508.0 and fine.shape == (20,)


@pytest.mark.parametrize("dt_ms", DTS)
def test_resampling_preserves_charge(dt_ms):
    currents = np.random.default_rng(0).uniform(0, 1016, size=(3, 5, 200))
    resampled = resample_currents(currents, 1e-3, dt_ms)
    assert resampled.shape == (3, 5, round(0.2 / dt_ms))
    np.testing.assert_allclose(charge_pc(resampled, dt_ms), charge_pc(currents, 1e-3), rtol=1e-12)


def test_the_tutorials_grid_gets_the_tutorials_inputs_exactly():
    data = make_data(TaskConfig(batch_size=8))
    currents = np.asarray(data.inputs)
    np.testing.assert_array_equal(resample_currents(currents, 1e-3, 1e-3), currents)
    # And the spikes keep their number on every grid.
    spikes = np.asarray(data.spikes)
    for dt in DTS:
        assert rebin_spikes(spikes, 1e-3, dt).sum() == spikes.sum()


def test_steps_that_are_not_whole_multiples_are_refused():
    with pytest.raises(SnnbenchError, match="`dt_ms` must be a whole multiple or divisor"):
        resample_currents(np.zeros(200), 1e-3, 1.5e-3)
    with pytest.raises(SnnbenchError, match="divide the input duration"):
        resample_currents(np.zeros(7), 1e-3, 2e-3)


def test_common_grid_and_sample_indices():
    assert step_ratio(5e-3, 0.25e-3) == 20
    assert step_ratio(5e-3, 2e-3) is None
    # 2e-3 and 5e-3 share only multiples of 10e-3 ms.
    assert common_step_ms(DTS, 0.25e-3) == pytest.approx(10e-3)
    assert common_step_ms((1e-3, 2e-3), 1e-3) == pytest.approx(2e-3)
    np.testing.assert_array_equal(sample_indices(0.25e-3, np.array([0.0, 0.01, 0.2])), [0, 40, 800])
    with pytest.raises(SnnbenchError, match="whole multiples of the reference step"):
        common_step_ms((2e-3, 5e-3), 2e-3)
    with pytest.raises(SnnbenchError, match="`times_ms` must lie on"):
        sample_indices(2e-3, np.array([0.005]))
