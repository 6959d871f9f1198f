"""The reference network built with jaxley, and its batched forward pass.

Built without Python loops over edges or neurons: two compartment prototypes
(spiking, passive) reused for all cells, channel defaults set before insertion,
one vectorised ``.set`` for every synaptic weight. The tutorial's per-edge loop takes about 10 s; this takes a
fraction of that (the benchmark's ``build`` phase times it). Every weight is made
trainable by :func:`snnbench.task.trainable.make_all_edges_trainable`, which builds
jaxley's own arrays without its per-edge eager ``jnp.stack`` (whose compile time
would otherwise dominate any network of more than a few thousand synapses).

Where the arrays live: the build is bookkeeping (pandas tables and ~100 tiny eager
ops); :func:`snnbench.task.model.make_task` runs it on the host CPU whatever the
target device, since each eager op would otherwise be compiled for the accelerator.
The jax arrays a built network holds become constants of the traced program.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jaxley as jx
import numpy as np
from jaxley.channels import Leak

from snnbench.jax_config import temporarily
from snnbench.task.config import COMPARTMENT_LENGTH_UM, COMPARTMENT_RADIUS_UM, TaskConfig
from snnbench.task.slowdown import iterations, slowed_fire_class
from snnbench.task.spiking import make_fire, spiking_classes
from snnbench.task.trainable import make_all_edges_trainable

Params = list[dict[str, jax.Array]]
WEIGHT = "SpikeSynapse_gS"


@dataclass(frozen=True)
class JaxleyNetwork:
    """A built network plus the views the forward pass needs."""

    net: jx.Network
    input_cells: object  # a jaxley View; its class is private to jaxley


def _compartment(config: TaskConfig, leak: Leak) -> jx.Compartment:
    comp = jx.Compartment()
    comp.set("length", COMPARTMENT_LENGTH_UM)
    comp.set("radius", COMPARTMENT_RADIUS_UM)
    comp.set("v", config.v_init_mv)
    comp.insert(leak)
    return comp


def build_network(config: TaskConfig, weights: np.ndarray | jax.Array) -> JaxleyNetwork:
    """Build the input -> hidden -> output LIF network with ``weights`` (uS) on its edges."""
    network_cls, fire_cls, synapse_cls = spiking_classes()
    leak = Leak()
    leak.channel_params.update(
        {"Leak_gLeak": config.leak_conductance_s_per_cm2, "Leak_eLeak": config.leak_reversal_mv}
    )
    # The test-only slowdown burns inside Fire's voltage update; "Fire" keeps the names.
    slowed = slowed_fire_class(fire_cls, *iterations("jaxley", config.slowdown))
    fire = make_fire(slowed, config.surrogate, base=fire_cls)
    fire.channel_params.update({"Fire_vth": config.threshold_mv, "Fire_vreset": config.reset_mv})
    synapse = synapse_cls()
    synapse.synapse_params["SpikeSynapse_s_decay"] = config.synapse_decay

    n_spiking = config.n_input + config.n_hidden
    n_cells = n_spiking + config.n_output
    # Building runs ~100 one-off eager jnp ops inside jaxley, each compiled by XLA;
    # skipping XLA's optimisation passes for those tiny kernels saves ~0.5 s.
    with temporarily("jax_disable_most_optimizations", True):
        passive, spiking = _compartment(config, leak), _compartment(config, leak)
        spiking.insert(fire)
        # Two prototypes instead of a `select(...).insert(Fire())` afterwards: every
        # jaxley view costs a handful of one-off XLA compilations in a fresh process.
        net = network_cls([spiking] * n_spiking + [passive] * config.n_output)
        inputs = net.cell(range(config.n_input))
        hidden = net.cell(range(config.n_input, n_spiking))
        outputs = net.cell(range(n_spiking, n_cells))
        jx.fully_connect(inputs, hidden, synapse)
        jx.fully_connect(hidden, outputs, synapse)
        # On the network itself, not on a `select(edges="all")` view: the same rows,
        # without a view's one-off compilations.
        net.set(WEIGHT, np.asarray(weights))
        make_all_edges_trainable(net, WEIGHT)
        outputs.record("v", verbose=False)
    return JaxleyNetwork(net=net, input_cells=inputs)


def make_forward(network: JaxleyNetwork, config: TaskConfig) -> Callable:
    """``forward(params, inputs) -> output voltages``, vmapped over the batch (not jitted).

    ``inputs`` has shape ``(batch, n_input, n_steps)`` in nA; the result has shape
    ``(batch, n_output, n_integration_steps + 1)`` in mV.
    """
    net, cells = network.net, network.input_cells

    def simulate(params: Params, currents: jax.Array) -> jax.Array:
        stimuli = cells.data_stimulate(currents, None)
        return jx.integrate(
            net, params=params, data_stimuli=stimuli, delta_t=config.dt_ms, t_max=config.t_max_ms
        )

    return jax.vmap(simulate, in_axes=(None, 0))


def initial_params(network: JaxleyNetwork) -> Params:
    """jaxley's trainable-parameter pytree: ``[{"SpikeSynapse_gS": (n_edges,)}]``."""
    return network.net.get_parameters()
