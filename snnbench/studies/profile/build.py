"""Where the jaxley network build spends its time: JAX staging attributed to jaxley calls.

Building a jaxley network runs many small eager ``jax.numpy`` operations inside
jaxley; in a fresh process each distinct one is traced, lowered and compiled by
XLA once. This listens to JAX's own compile-duration events and charges each to
the innermost jaxley function on the stack, so the README's claim "what
dominates the build" can be re-measured with ``snnbench build-profile``.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from dataclasses import dataclass

import jax.monitoring
import pandas as pd

from snnbench.precision import require_precision
from snnbench.task import jaxley_net
from snnbench.task.config import COMPARTMENT_LENGTH_UM, COMPARTMENT_RADIUS_UM, TaskConfig
from snnbench.task.data import make_data
from snnbench.task.spiking import spiking_classes

_STAGES = {
    "/jax/core/compile/jaxpr_trace_duration": "trace_s",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower_s",
    "/jax/core/compile/backend_compile_duration": "compile_s",
}


@dataclass(frozen=True)
class BuildProfile:
    """One build: wall time, and JAX staging time per jaxley call site."""

    wall_s: float
    by_call: pd.DataFrame  # columns: call, n_compiles, trace_s, lower_s, compile_s, staging_s

    @property
    def staging_s(self) -> float:
        return float(self.by_call["staging_s"].sum()) if not self.by_call.empty else 0.0


def _call_site() -> str:
    """``jaxley.<module>.<Class>.<function>`` of the innermost jaxley frame on the stack."""
    frame = sys._getframe(1)
    while frame is not None:
        path = frame.f_code.co_filename.replace("\\", "/")
        if "/jaxley/" in path:
            module = path.split("/jaxley/")[-1].removesuffix(".py").replace("/", ".")
            owner = frame.f_locals.get("self")
            owner_name = f"{type(owner).__name__}." if owner is not None else ""
            return f"jaxley.{module}.{owner_name}{frame.f_code.co_name}"
        frame = frame.f_back
    return "(outside jaxley)"


def profile_build(config: TaskConfig | None = None, tutorial_way: bool = False) -> BuildProfile:
    """Build the task's jaxley network once and attribute JAX staging time to jaxley calls.

    ``tutorial_way`` builds it as the tutorial's code does instead (for comparison).
    The process must compute in ``config.precision`` (see :func:`snnbench.set_precision`).
    """
    config = config or TaskConfig()
    require_precision(config.precision, "profile_build(config)")
    weights = make_data(config).weights
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def listen(event: str, duration_s: float, **_: object) -> None:
        if event in _STAGES:
            site = totals[_call_site()]
            site[_STAGES[event]] += duration_s
            site["n_compiles"] += event.endswith("backend_compile_duration")

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        start = time.perf_counter()
        build = build_tutorial_way if tutorial_way else jaxley_net.build_network
        network = build(config, weights)
        jax.block_until_ready(jaxley_net.initial_params(network))
        wall_s = time.perf_counter() - start
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    rows = [{"call": call, **stages} for call, stages in totals.items()]
    frame = pd.DataFrame(rows, columns=["call", "n_compiles", "trace_s", "lower_s", "compile_s"])
    frame = frame.fillna(0.0)
    frame["n_compiles"] = frame["n_compiles"].astype(int)
    frame["staging_s"] = frame[["trace_s", "lower_s", "compile_s"]].sum(axis=1)
    return BuildProfile(wall_s, frame.sort_values("staging_s", ascending=False, ignore_index=True))


def build_tutorial_way(config: TaskConfig, weights):
    """The network built as the tutorial's code does: a compartment object per neuron,
    ``.set`` per parameter on selections, and one ``.set`` per edge in a Python loop."""
    import jaxley as jx
    import numpy as np
    from jaxley.channels import Leak

    network_cls, fire_cls, synapse_cls = spiking_classes()
    n_spiking = config.n_input + config.n_hidden
    n_cells = n_spiking + config.n_output
    net = network_cls([jx.Compartment() for _ in range(n_cells)])
    net.select(nodes="all").insert(Leak())
    net.select(nodes=range(n_spiking)).insert(fire_cls())
    for key, value in (
        ("Leak_gLeak", config.leak_conductance_s_per_cm2),
        ("Leak_eLeak", config.leak_reversal_mv),
    ):
        net.select(nodes="all").set(key, value)
    for key, value in (("Fire_vth", config.threshold_mv), ("Fire_vreset", config.reset_mv)):
        net.select(nodes=range(n_spiking)).set(key, value)
    net.select(nodes="all").set("length", COMPARTMENT_LENGTH_UM)
    net.select(nodes="all").set("radius", COMPARTMENT_RADIUS_UM)
    net.select(nodes="all").set("v", config.v_init_mv)
    inputs = net.cell(range(config.n_input))
    jx.fully_connect(inputs, net.cell(range(config.n_input, n_spiking)), synapse_cls())
    jx.fully_connect(
        net.cell(range(config.n_input, n_spiking)),
        net.cell(range(n_spiking, n_cells)),
        synapse_cls(),
    )
    weights = np.asarray(weights)
    for edge in range(config.n_edges):
        net.select(edges=edge).set(jaxley_net.WEIGHT, weights[edge])
    net.select(edges="all").make_trainable(jaxley_net.WEIGHT, verbose=False)
    net.cell(range(n_spiking, n_cells)).record("v", verbose=False)
    return jaxley_net.JaxleyNetwork(net=net, input_cells=inputs)
