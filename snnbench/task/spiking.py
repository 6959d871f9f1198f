"""Surrogate-gradient ``Fire`` and ``SpikeSynapse`` for jaxley releases that lack them.

The reference task needs two pieces that exist only on jaxley's unreleased 1.0.0
branch: a ``Fire`` channel whose reset passes a surrogate gradient, and a
``SpikeSynapse`` driven by the pre-synaptic ``Fire_spikes`` state of the same step.
On jaxley 0.13/0.14 a synapse's ``update_states`` sees only its own states and the
(already reset) voltages, so :class:`SpikingNetwork` adapts that one seam: before
jaxley updates synapse states it copies each edge's pre-synaptic ``Fire_spikes``
into a synapse state. Everything else is jaxley's own code path.

Once an installed jaxley ships both pieces, :func:`spiking_classes` returns
jaxley's own classes and the plain ``jaxley.Network``.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version as _dist_version

import jax
import jax.numpy as jnp
import jaxley as jx
import jaxley.synapses
from jaxley.channels import Channel
from jaxley.synapses import Synapse

from snnbench.errors import SnnbenchError, expect
from snnbench.task.config import SURROGATE_REFERENCE_DT_MS, SURROGATES

#: jaxley releases whose synapse-update seam this adaptation is tested against.
SUPPORTED_JAXLEY = ("0.13.0", "0.14.0")

#: Width of the fast-sigmoid surrogate, as on jaxley's 1.0.0 branch.
SURROGATE_GRAD_SCALE = 10.0

#: Parameters of ``jaxley.Network._step_synapse_state`` the adaptation relies on.
_SEAM_PARAMETERS = ("self", "states", "syn_channels", "params", "delta_t", "edges")


def jaxley_version() -> str:
    """The installed jaxley distribution's version string."""
    return _dist_version("jaxley")


def jaxley_has_native_spikes() -> bool:
    """Whether the installed jaxley ships ``SpikeSynapse`` (and a surrogate ``Fire``)."""
    return hasattr(jaxley.synapses, "SpikeSynapse")


def surrogate_amplitude(
    surrogate: str, dt_ms: float, reference_dt_ms: float = SURROGATE_REFERENCE_DT_MS
) -> float:
    """Factor on the surrogate derivative for the scaling ``surrogate`` at step ``dt_ms``.

    ``per_step`` (the tutorial's): 1 at every dt. ``per_time``: ``dt_ms /
    reference_dt_ms``. A spike check happens once per step, so the per-step
    derivative, summed over a stretch of time, grows like 1 / dt as dt shrinks and
    the gradient has no dt -> 0 limit; the per-time one sums to the same amount
    per unit time at every dt and equals the tutorial's at ``reference_dt_ms``.

    Raises:
        SnnbenchError: on an unknown ``surrogate``.
    """
    expect(surrogate in SURROGATES, "surrogate", f"one of {', '.join(SURROGATES)}", surrogate)
    return 1.0 if surrogate == "per_step" else dt_ms / reference_dt_ms


def heaviside(
    x: jax.Array, grad_scale: float = SURROGATE_GRAD_SCALE, amplitude: float = 1.0
) -> jax.Array:
    """Step function ``x >= 0`` with a fast-sigmoid surrogate derivative.

    Forward: ``jnp.heaviside(x, 1.0)``. Backward:
    ``amplitude * g / (grad_scale * |x| + 1) ** 2``, so a spike that barely
    happened (or barely did not) still passes gradient. ``amplitude`` (see
    :func:`surrogate_amplitude`) changes the backward pass only.
    """

    @jax.custom_gradient
    def _step(x):
        def backward(g):
            surrogate = g / (grad_scale * jnp.abs(x) + 1.0) ** 2
            # Amplitude 1 leaves the graph as it was, so per-step results stay bit-identical.
            return (surrogate if amplitude == 1.0 else amplitude * surrogate,)

        return jnp.heaviside(x, 1.0), backward

    return _step(x)


class Fire(Channel):
    """Threshold-and-reset mechanism with a surrogate gradient (jaxley 1.0.0 semantics).

    Parameters ``Fire_vth`` and ``Fire_vreset`` (mV); state ``Fire_spikes`` (0 or 1,
    stored as a float so the surrogate gradient survives jaxley's state scatter).
    It carries no current. ``surrogate`` is the surrogate derivative's dt scaling
    (:func:`surrogate_amplitude`); jaxley hands ``update_states`` the step.
    """

    def __init__(self, name: str | None = None, surrogate: str = "per_step"):
        surrogate_amplitude(surrogate, SURROGATE_REFERENCE_DT_MS)  # validates it
        self.surrogate = surrogate
        self.current_is_in_mA_per_cm2 = True
        super().__init__(name)
        self.channel_params = {f"{self.name}_vth": -50.0, f"{self.name}_vreset": -70.0}
        self.channel_states = {f"{self.name}_spikes": 0.0}
        self.current_name = f"{self.name}_fire"

    def update_states(self, states, dt, v, params):
        vth = params[f"{self._name}_vth"]
        vreset = params[f"{self._name}_vreset"]
        # jaxley passes dt as a Python float, so the amplitude is a constant here.
        spike = heaviside(v - vth, amplitude=surrogate_amplitude(self.surrogate, dt))
        v_new = v * (1.0 - spike) + vreset * spike
        return {"v": v_new, f"{self.name}_spikes": spike}

    def compute_current(self, states, v, params):
        return jnp.zeros_like(v)

    def init_state(self, states, v, params, delta_t):
        return {}


class SpikeSynapse(Synapse):
    """Synapse driven by the pre-synaptic ``Fire_spikes`` (jaxley 1.0.0 semantics).

    ``s <- spike + (1 - spike) * (s - s_decay * s * dt)``; current ``gS * s`` (nA),
    independent of the post-synaptic voltage. Parameters ``SpikeSynapse_gS`` (uS)
    and ``SpikeSynapse_s_decay``; state ``SpikeSynapse_s``. The extra state
    ``SpikeSynapse_pre_spike`` is the pre-synaptic spike that
    :class:`SpikingNetwork` delivers each step (recordable, like any state).
    """

    def __init__(self, name: str | None = None):
        super().__init__(name)
        prefix = self._name
        self.synapse_params = {f"{prefix}_gS": 1e-4, f"{prefix}_s_decay": 10.0}
        self.synapse_states = {f"{prefix}_s": 0.0, f"{prefix}_pre_spike": 0.0}
        self.pre_spike_source = "Fire_spikes"

    def update_states(self, states, delta_t, pre_voltage, post_voltage, params):
        prefix = self._name
        s = states[f"{prefix}_s"]
        spike = states[f"{prefix}_pre_spike"]
        decayed = s - params[f"{prefix}_s_decay"] * s * delta_t
        return {f"{prefix}_s": spike * 1.0 + (1.0 - spike) * decayed}

    def compute_current(self, states, pre_voltage, post_voltage, params):
        return params[f"{self._name}_gS"] * states[f"{self._name}_s"]


class SpikingNetwork(jx.Network):
    """``jaxley.Network`` that hands each ``SpikeSynapse`` its pre-synaptic spikes.

    The one adaptation: copy ``Fire_spikes`` of every edge's pre-synaptic compartment
    (as ``Fire`` set it earlier in the same step) into the synapse's ``pre_spike``
    state, then let jaxley update synapse states as usual.
    """

    def _step_synapse_state(self, states, syn_channels, params, delta_t, edges):
        for synapse in syn_channels:
            source = getattr(synapse, "pre_spike_source", None)
            if source is None:
                continue
            pre_inds = edges.loc[edges["type"] == synapse._name, "pre_index"]
            states[f"{synapse._name}_pre_spike"] = states[source][pre_inds.to_numpy()]
        return super()._step_synapse_state(states, syn_channels, params, delta_t, edges)


def check_jaxley_seam() -> None:
    """Raise if jaxley's synapse-update seam differs from what the adaptation expects.

    Raises:
        RuntimeError: naming the installed jaxley version and what moved.
    """
    if jaxley_has_native_spikes():
        return
    seam = getattr(jx.Network, "_step_synapse_state", None)
    found = tuple(inspect.signature(seam).parameters) if seam else None
    if found != _SEAM_PARAMETERS:
        raise RuntimeError(
            f"jaxley {jaxley_version()} changed `Network._step_synapse_state` "
            f"(expected parameters {_SEAM_PARAMETERS}, found {found}); snnbench's "
            f"spiking adaptation is tested on jaxley {', '.join(SUPPORTED_JAXLEY)}."
        )


def make_fire(fire_cls: type, surrogate: str, base: type | None = None) -> Channel:
    """A ``Fire`` channel of ``fire_cls`` with the surrogate scaling ``surrogate``.

    ``base`` is the ``Fire`` class ``fire_cls`` derives from when it is a wrapper
    (the test-only slowdown's subclass); the surrogate option is checked on it.

    Raises:
        SnnbenchError: ``per_time`` with jaxley's own ``Fire``, which has no such option.
    """
    # "Fire" by name, so a subclass (the test-only slowdown's) keeps jaxley's names.
    if surrogate == "per_step":
        return fire_cls(name="Fire")
    if (base or fire_cls) is not Fire:
        raise SnnbenchError(
            f"`surrogate` {surrogate!r} needs snnbench's own Fire channel, but jaxley "
            f"{jaxley_version()} ships its own (per-step surrogate only); use "
            "surrogate='per_step' or the dense backend."
        )
    return fire_cls(name="Fire", surrogate=surrogate)


def spiking_classes() -> tuple[type, type, type]:
    """``(Network, Fire, SpikeSynapse)`` to build the task with on this jaxley."""
    if jaxley_has_native_spikes():
        from jaxley.channels import Fire as NativeFire

        return jx.Network, NativeFire, jaxley.synapses.SpikeSynapse
    check_jaxley_seam()
    return SpikingNetwork, Fire, SpikeSynapse


__all__ = [
    "SUPPORTED_JAXLEY",
    "Fire",
    "SpikeSynapse",
    "SpikingNetwork",
    "check_jaxley_seam",
    "heaviside",
    "jaxley_has_native_spikes",
    "jaxley_version",
    "make_fire",
    "spiking_classes",
    "surrogate_amplitude",
]
