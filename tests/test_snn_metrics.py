"""Spike rates in Hz and per step, and achieved FLOP/s only against known peaks."""

import jax.numpy as jnp
import pytest

from snnbench.studies.profile import snn_metrics
from snnbench.task.config import TaskConfig
from snnbench.task.data import make_data
from snnbench.task.dense import WEIGHT


def test_rate_of_by_hand():
    spikes = jnp.zeros((2, 3, 4)).at[0, 0, :].set(1.0).at[1, 2, :2].set(1.0)  # 6 spikes
    rate = snn_metrics.rate_of("hidden", spikes, dt_ms=0.5)
    assert (rate.n_neurons, rate.n_steps, rate.spikes) == (3, 4, 6)
    assert rate.spikes_per_neuron_per_step == pytest.approx(6 / 24)
    assert rate.rate_hz == pytest.approx(0.25 / 0.5e-3)  # 500 Hz


def test_spike_rates_of_the_task():
    config = TaskConfig(batch_size=4, t_max_ms=0.01, precision="float32")
    data = make_data(config)
    rates = snn_metrics.spike_rates(config, [{WEIGHT: data.weights}], data.inputs)
    assert [r.layer for r in rates] == ["input", "hidden"]
    assert [r.n_neurons for r in rates] == [config.n_input, config.n_hidden]
    assert all(r.n_steps == config.n_integration_steps for r in rates)
    assert all(0 <= r.spikes_per_neuron_per_step <= 1 for r in rates)


def test_achieved_against_a_known_peak():
    result = snn_metrics.achieved(34e9, 0.001, "NVIDIA H200", "gpu", "float64")
    assert result.flop_per_s == pytest.approx(34e12)
    assert result.peak_flop_per_s == 34e12 and result.fraction_of_peak == pytest.approx(1.0)


def test_no_peak_is_guessed():
    cpu = snn_metrics.achieved(1e6, 0.001, "cpu", "cpu", "float64")
    assert cpu.flop_per_s == pytest.approx(1e9)
    assert cpu.peak_flop_per_s is None and cpu.fraction_of_peak is None
    assert cpu.note == "peak unknown"
    odd = snn_metrics.achieved(1e6, 0.001, "Some GPU", "gpu", "float32")
    assert odd.peak_flop_per_s is None and "Some GPU" in odd.note
    assert snn_metrics.achieved(None, 0.001, "cpu", "cpu", "float64").flop_per_s is None
