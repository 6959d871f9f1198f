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

from snnbench.config import TaskConfig

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


def profile_build(config: TaskConfig | None = None) -> BuildProfile:
    """Build the task's jaxley network once and attribute JAX staging time to jaxley calls."""
    from snnbench import jaxley_net
    from snnbench.data import make_data
    from snnbench.task import use_precision

    config = config or TaskConfig()
    use_precision(config.precision)
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
        network = jaxley_net.build_network(config, weights)
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
