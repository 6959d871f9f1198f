"""Surrogate Heaviside, Fire, SpikeSynapse and the jaxley seam check.

Values are hand-computed and written in float64 but compared with a relative
tolerance of 1e-6, so these tests hold whatever JAX's process-global x64 flag is.
"""

import jax
import jax.numpy as jnp
import jaxley as jx
import pytest

from snnbench import SnnbenchError
from snnbench.task import spiking
from snnbench.task.spiking import (
    SUPPORTED_JAXLEY,
    Fire,
    SpikeSynapse,
    SpikingNetwork,
    check_jaxley_seam,
    heaviside,
    jaxley_version,
    make_fire,
    spiking_classes,
    surrogate_amplitude,
)

REL = 1e-6


@pytest.mark.parametrize(("x", "expected"), [(-1.0, 0.0), (-1e-9, 0.0), (0.0, 1.0), (1.0, 1.0)])
def test_heaviside_forward_is_one_at_and_above_zero(x, expected):
    assert float(heaviside(jnp.asarray(x))) == expected


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (0.0, 1.0),  # 1 / (10*0 + 1)^2
        (0.1, 0.25),  # 1 / (1 + 1)^2
        (-0.3, 1 / 16),  # 1 / (3 + 1)^2
        (2.0, 1 / 441),  # 1 / (20 + 1)^2
        (-0.05, 1 / 2.25),  # 1 / (0.5 + 1)^2
    ],
)
def test_heaviside_gradient_is_fast_sigmoid_surrogate(x, expected):
    assert float(jax.grad(heaviside)(x)) == pytest.approx(expected, rel=REL)


def test_heaviside_surrogate_scale_is_configurable():
    # grad_scale = 1: 1 / (|0.5| + 1)^2 = 4 / 9
    grad = jax.grad(lambda x: heaviside(x, grad_scale=1.0))(0.5)
    assert float(grad) == pytest.approx(4 / 9, rel=REL)


def test_surrogate_passes_gradient_where_a_hard_threshold_passes_none():
    xs = jnp.array([-0.2, -0.01, 0.01, 0.2])
    hard_heaviside = jax.vmap(jax.grad(lambda x: jnp.heaviside(x, 1.0)))(xs)
    hard_compare = jax.vmap(jax.grad(lambda x: jnp.where(x > 0.0, 1.0, 0.0)))(xs)
    surrogate = jax.vmap(jax.grad(heaviside))(xs)
    assert jnp.all(hard_heaviside == 0.0)
    assert jnp.all(hard_compare == 0.0)
    assert jnp.all(surrogate > 0.0)
    assert float(surrogate[1]) == pytest.approx(1 / 1.1**2, rel=REL)


FIRE_PARAMS = {"Fire_vth": 1.0, "Fire_vreset": -0.5}


@pytest.mark.parametrize(
    ("v", "v_new", "spike"),
    [(0.5, 0.5, 0.0), (0.999, 0.999, 0.0), (1.0, -0.5, 1.0), (1.7, -0.5, 1.0)],
)
def test_fire_resets_to_vreset_and_reports_a_spike_at_or_above_threshold(v, v_new, spike):
    out = Fire().update_states({}, 1e-3, jnp.asarray(v), FIRE_PARAMS)
    assert set(out) == {"v", "Fire_spikes"}
    assert float(out["v"]) == pytest.approx(v_new, rel=REL)
    assert float(out["Fire_spikes"]) == spike


def test_fire_carries_no_current_and_declares_its_parameters():
    fire = Fire()
    assert fire.channel_params == {"Fire_vth": -50.0, "Fire_vreset": -70.0}
    assert fire.channel_states == {"Fire_spikes": 0.0}
    v = jnp.array([-70.0, 0.0, 30.0])
    assert jnp.all(fire.compute_current({}, v, FIRE_PARAMS) == 0.0)


@pytest.mark.parametrize(
    ("v", "expected"),
    [
        # v_new = v (1 - H) + vreset H, so dv_new/dv = (1 - H) + (vreset - v) H'(v - vth).
        (1.05, (-0.5 - 1.05) / (10 * 0.05 + 1) ** 2),  # spiked: -1.55 / 2.25
        (0.95, 1.0 + (-0.5 - 0.95) / (10 * 0.05 + 1) ** 2),  # did not: 1 - 1.45 / 2.25
    ],
)
def test_gradient_of_reset_voltage_near_threshold_is_the_surrogates(v, expected):
    def v_new(v):
        return Fire().update_states({}, 1e-3, v, FIRE_PARAMS)["v"]

    grad = float(jax.grad(v_new)(v))
    assert grad != 0.0
    assert grad == pytest.approx(expected, rel=REL)


SYN_PARAMS = {"SpikeSynapse_gS": 3.0, "SpikeSynapse_s_decay": 10.0}


@pytest.mark.parametrize(
    ("s", "spike", "dt", "s_new"),
    [
        (0.5, 0.0, 1e-3, 0.495),  # 0.5 - 10 * 0.5 * 1e-3
        (0.2, 0.0, 1e-2, 0.18),  # 0.2 - 10 * 0.2 * 1e-2
        (0.0, 0.0, 1e-3, 0.0),
        (0.5, 1.0, 1e-3, 1.0),  # a spike sets the trace to 1
        (0.0, 1.0, 1e-3, 1.0),
    ],
)
def test_spike_synapse_trace_update(s, spike, dt, s_new):
    states = {"SpikeSynapse_s": jnp.asarray(s), "SpikeSynapse_pre_spike": jnp.asarray(spike)}
    v = jnp.asarray(0.0)
    out = SpikeSynapse().update_states(states, dt, v, v, SYN_PARAMS)
    assert set(out) == {"SpikeSynapse_s"}
    assert float(out["SpikeSynapse_s"]) == pytest.approx(s_new, rel=REL)


def test_spike_synapse_current_is_weight_times_trace_whatever_the_voltages():
    states = {"SpikeSynapse_s": jnp.array([0.5, 0.25]), "SpikeSynapse_pre_spike": jnp.zeros(2)}
    for post_v in (-70.0, 0.0, 40.0):
        current = SpikeSynapse().compute_current(states, 0.0, jnp.asarray(post_v), SYN_PARAMS)
        assert jnp.allclose(current, jnp.array([1.5, 0.75]), rtol=REL)


def test_spike_synapse_defaults():
    synapse = SpikeSynapse()
    assert synapse.synapse_params == {"SpikeSynapse_gS": 1e-4, "SpikeSynapse_s_decay": 10.0}
    assert synapse.synapse_states["SpikeSynapse_s"] == 0.0
    assert synapse.pre_spike_source == "Fire_spikes"


def test_installed_jaxley_is_supported():
    installed = jaxley_version()
    assert installed in SUPPORTED_JAXLEY, (
        f"jaxley {installed} is installed but snnbench's spiking seam is only tested on "
        f"{SUPPORTED_JAXLEY}; rerun these tests' seam checks and extend SUPPORTED_JAXLEY."
    )


def test_spiking_classes_on_jaxley_without_native_spikes():
    if spiking.jaxley_has_native_spikes():
        pytest.skip(f"jaxley {jaxley_version()} ships SpikeSynapse; snnbench uses jaxley's own")
    assert spiking_classes() == (SpikingNetwork, Fire, SpikeSynapse)
    assert issubclass(SpikingNetwork, jx.Network)


def test_seam_check_passes_on_installed_jaxley():
    check_jaxley_seam()


def test_seam_check_fails_loudly_when_jaxley_changes_the_seam(monkeypatch):
    if spiking.jaxley_has_native_spikes():
        pytest.skip(f"jaxley {jaxley_version()} ships SpikeSynapse; no seam to check")

    def moved_seam(self, states, syn_channels, params, delta_t, edges, pre_states):
        raise AssertionError("never called")

    monkeypatch.setattr(jx.Network, "_step_synapse_state", moved_seam)
    with pytest.raises(RuntimeError) as info:
        check_jaxley_seam()
    message = str(info.value)
    assert f"jaxley {jaxley_version()}" in message
    assert "_step_synapse_state" in message
    assert "pre_states" in message
    with pytest.raises(RuntimeError):
        spiking_classes()


# --- the surrogate's dt scaling --------------------------------------------------------


@pytest.mark.parametrize(
    ("surrogate", "dt_ms", "expected"),
    [
        ("per_step", 0.0625e-3, 1.0),
        ("per_step", 5e-3, 1.0),
        ("per_time", 1e-3, 1.0),  # the tutorial's dt: both scalings agree
        ("per_time", 0.25e-3, 0.25),
        ("per_time", 5e-3, 5.0),
    ],
)
def test_surrogate_amplitude_is_one_per_step_and_dt_over_the_tutorials_per_time(
    surrogate, dt_ms, expected
):
    assert surrogate_amplitude(surrogate, dt_ms) == pytest.approx(expected, rel=1e-12)


def test_unknown_surrogate_is_a_one_line_error_naming_it():
    with pytest.raises(SnnbenchError, match="`surrogate` must be one of per_step, per_time"):
        surrogate_amplitude("per_second", 1e-3)
    with pytest.raises(SnnbenchError, match="`surrogate`"):
        Fire(surrogate="per_second")


def test_heaviside_amplitude_scales_the_backward_pass_only():
    # 0.25 / (10 * 0.1 + 1)^2 = 0.0625; the forward value stays 1.
    assert float(heaviside(jnp.asarray(0.1), amplitude=0.25)) == 1.0
    grad = jax.grad(lambda x: heaviside(x, amplitude=0.25))(0.1)
    assert float(grad) == pytest.approx(0.0625, rel=REL)


@pytest.mark.parametrize(
    ("surrogate", "dt_ms", "expected"),
    [
        # v_new = v (1 - H) + vreset H at v = 0.95: dv_new/dv = 1 + a (vreset - v) / 1.5^2,
        # a = 1 per step, dt / 1e-3 per time.
        ("per_step", 0.5e-3, 1.0 - 1.45 / 2.25),
        ("per_step", 2e-3, 1.0 - 1.45 / 2.25),
        ("per_time", 0.5e-3, 1.0 - 0.5 * 1.45 / 2.25),
        ("per_time", 1e-3, 1.0 - 1.45 / 2.25),
        ("per_time", 2e-3, 1.0 - 2.0 * 1.45 / 2.25),
    ],
)
def test_fire_scales_its_surrogate_by_the_step_jaxley_passes(surrogate, dt_ms, expected):
    fire = Fire(surrogate=surrogate)

    def v_new(v):
        return fire.update_states({}, dt_ms, v, FIRE_PARAMS)["v"]

    assert float(v_new(0.95)) == pytest.approx(0.95, rel=REL)
    assert float(jax.grad(v_new)(0.95)) == pytest.approx(expected, rel=REL)


def test_per_time_with_jaxleys_native_fire_is_a_one_line_error():
    class NativeFire(Fire):  # stands in for jaxley.channels.Fire (jaxley >= 1.0)
        pass

    assert isinstance(make_fire(NativeFire, "per_step"), NativeFire)
    assert make_fire(Fire, "per_time").surrogate == "per_time"
    with pytest.raises(SnnbenchError, match="`surrogate` 'per_time' needs snnbench's own") as info:
        make_fire(NativeFire, "per_time")
    assert "\n" not in str(info.value)
