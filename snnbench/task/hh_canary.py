"""The Hodgkin-Huxley canary: a small jaxley network whose cost is per-step overhead.

Not the reference task. It is the kind of network jaxley's own regression reports
time: 20 single-compartment cells with jaxley's ``HH`` channel, no synapses. Each
integration step does very little arithmetic, so the time per step is mostly the
cost of running XLA's loop body; a change in how XLA's CPU runtime executes small
programs shows here at full size. On the reference network the same change is
hidden (its steps carry more work per operation), which is why both are measured.

It shares the reference task's data, loss and optimiser: cell ``i`` is driven by
the reference input current ``i``, the first ``n_output`` cells' voltages are the
"outputs" of the max-voltage cross-entropy, and each cell's sodium conductance is
trainable, so the gradient step runs through every channel state.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jaxley as jx
from jaxley.channels import HH

from snnbench.errors import expect
from snnbench.jax_config import temporarily
from snnbench.task.config import COMPARTMENT_LENGTH_UM, COMPARTMENT_RADIUS_UM, TaskConfig
from snnbench.task.data import TaskData

#: Cells of the canary network (the size of jaxley's regression reports).
N_CELLS = 20
#: The trainable parameter, one per cell.
CONDUCTANCE = "HH_gNa"

Params = list[dict[str, jax.Array]]


def check_config(config: TaskConfig) -> None:
    """The canary drives one cell per input current and reads ``n_output`` of them."""
    expect(
        config.n_input >= N_CELLS,
        "n_input",
        f"at least {N_CELLS} inputs for the HH canary (one per cell)",
        config.n_input,
    )
    for name in ("slowdown", "trace_slowdown", "compile_slowdown"):
        expect(
            getattr(config, name) == 0.0,
            name,
            "0 for the HH canary (the test-only slowdowns are built into the reference network)",
            getattr(config, name),
        )


def canary_data(data: TaskData) -> TaskData:
    """The reference draw with only the currents of the canary's cells."""
    return TaskData(data.weights, data.spikes, data.inputs[:, :N_CELLS], data.targets)


def build_network(config: TaskConfig) -> jx.Network:
    """``N_CELLS`` HH compartments, each cell's sodium conductance trainable."""
    # The build's one-off eager ops need no XLA optimisation (as for the reference net).
    with temporarily("jax_disable_most_optimizations", True):
        comp = jx.Compartment()
        comp.set("length", COMPARTMENT_LENGTH_UM)
        comp.set("radius", COMPARTMENT_RADIUS_UM)
        comp.insert(HH())
        net = jx.Network([comp] * N_CELLS)
        net.cell("all").make_trainable(CONDUCTANCE, verbose=False)
        net.cell(range(config.n_output)).record("v", verbose=False)
    return net


def make_forward(net: jx.Network, config: TaskConfig) -> Callable:
    """``forward(params, inputs) -> voltages (batch, n_output, n_integration_steps + 1)``."""
    cells = net.cell("all")

    def simulate(params: Params, currents: jax.Array) -> jax.Array:
        stimuli = cells.data_stimulate(currents, None)
        return jx.integrate(
            net, params=params, data_stimuli=stimuli, delta_t=config.dt_ms, t_max=config.t_max_ms
        )

    return jax.vmap(simulate, in_axes=(None, 0))
