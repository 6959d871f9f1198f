"""The phases snnbench times: one vocabulary for the benchmark, the profiler and memory.

A phase is a *function* of the task (the forward pass, the gradient step) at a
*stage* (trace, lower, trace+lower, compile, run), or one of two phases of no
function (``build``, ``build_warm``, ``overhead``). :func:`target` is the one place that says
which Python function and arguments each function means.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

import jax

from snnbench.errors import expect
from snnbench.task import parallel
from snnbench.task.model import Task


class _Named(str, Enum):
    """A string enum that prints as its value (``f"{Phase.FORWARD}"`` is ``"forward"``)."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class Function(_Named):
    """A function of the task that snnbench stages and runs."""

    FORWARD = "forward"
    GRAD_STEP = "grad_step"


class Stage(_Named):
    """What a phase times."""

    BUILD = "build"
    TRACE = "trace"
    LOWER = "lower"
    TRACE_LOWER = "trace_lower"
    COMPILE = "compile"
    RUN = "run"


class Phase(_Named):
    """One timed phase; the value is what result tables store in their ``phase`` column."""

    BUILD = "build"
    BUILD_WARM = "build_warm"
    FORWARD_TRACE = "forward_trace"
    FORWARD_LOWER = "forward_lower"
    FORWARD_TRACE_LOWER = "forward_trace_lower"
    FORWARD_COMPILE = "forward_compile"
    FORWARD = "forward"
    GRAD_TRACE = "grad_trace"
    GRAD_LOWER = "grad_lower"
    GRAD_TRACE_LOWER = "grad_trace_lower"
    GRAD_COMPILE = "grad_compile"
    GRAD_STEP = "grad_step"
    OVERHEAD = "overhead"

    @property
    def function(self) -> Function | None:
        """The task function this phase stages or runs (None for build and overhead)."""
        return _FUNCTION_AND_STAGE[self][0]

    @property
    def stage(self) -> Stage:
        return _FUNCTION_AND_STAGE[self][1]

    @property
    def is_steady(self) -> bool:
        """Times one call of a compiled function in steady state."""
        return self.stage is Stage.RUN

    @property
    def is_staging(self) -> bool:
        """Times JAX's staging (tracing, lowering or XLA compilation) on a fresh function."""
        return self.stage in (Stage.TRACE, Stage.LOWER, Stage.TRACE_LOWER, Stage.COMPILE)

    @classmethod
    def of(cls, function: Function | str, stage: Stage | str) -> Phase:
        """The phase of ``function`` at ``stage``."""
        key = (Function(function), Stage(stage))
        for phase, pair in _FUNCTION_AND_STAGE.items():
            if pair == key:
                return phase
        raise ValueError(f"no phase times {key[0]} at stage {key[1]}")

    @classmethod
    def parse(cls, value: object, name: str = "phase") -> Phase:
        """``value`` as a phase, or a one-line error naming ``name``."""
        expect(value in _BY_VALUE, name, f"one of {', '.join(p.value for p in cls)}", str(value))
        return _BY_VALUE[value]


_F, _S = Function, Stage
_FUNCTION_AND_STAGE: dict[Phase, tuple[Function | None, Stage]] = {
    Phase.BUILD: (None, _S.BUILD),
    Phase.BUILD_WARM: (None, _S.BUILD),
    Phase.FORWARD_TRACE: (_F.FORWARD, _S.TRACE),
    Phase.FORWARD_LOWER: (_F.FORWARD, _S.LOWER),
    Phase.FORWARD_TRACE_LOWER: (_F.FORWARD, _S.TRACE_LOWER),
    Phase.FORWARD_COMPILE: (_F.FORWARD, _S.COMPILE),
    Phase.FORWARD: (_F.FORWARD, _S.RUN),
    Phase.GRAD_TRACE: (_F.GRAD_STEP, _S.TRACE),
    Phase.GRAD_LOWER: (_F.GRAD_STEP, _S.LOWER),
    Phase.GRAD_TRACE_LOWER: (_F.GRAD_STEP, _S.TRACE_LOWER),
    Phase.GRAD_COMPILE: (_F.GRAD_STEP, _S.COMPILE),
    Phase.GRAD_STEP: (_F.GRAD_STEP, _S.RUN),
    Phase.OVERHEAD: (None, _S.RUN),
}
_BY_VALUE = {p.value: p for p in Phase}

#: The benchmark matrix's phases, in the order a configuration runs them.
MATRIX_PHASES = (
    Phase.BUILD,
    Phase.BUILD_WARM,
    Phase.FORWARD_TRACE_LOWER,
    Phase.FORWARD_COMPILE,
    Phase.FORWARD,
    Phase.GRAD_TRACE_LOWER,
    Phase.GRAD_COMPILE,
    Phase.GRAD_STEP,
    Phase.OVERHEAD,
)
#: Short names a user may give for several matrix phases at once.
PHASE_GROUPS = {
    "trace_lower": (Phase.FORWARD_TRACE_LOWER, Phase.GRAD_TRACE_LOWER),
    "compile": (Phase.FORWARD_COMPILE, Phase.GRAD_COMPILE),
}
#: Every phase in display order: the harness floor first, then as a configuration runs.
DISPLAY_ORDER = (
    Phase.OVERHEAD,
    Phase.BUILD,
    Phase.BUILD_WARM,
    Phase.FORWARD_TRACE,
    Phase.FORWARD_LOWER,
    Phase.FORWARD_TRACE_LOWER,
    Phase.FORWARD_COMPILE,
    Phase.FORWARD,
    Phase.GRAD_TRACE,
    Phase.GRAD_LOWER,
    Phase.GRAD_TRACE_LOWER,
    Phase.GRAD_COMPILE,
    Phase.GRAD_STEP,
)


def expand_phases(names: tuple[str, ...] | list[str]) -> tuple[Phase, ...]:
    """Matrix phases by name, group names (``trace_lower``, ``compile``) expanded, in matrix order."""
    allowed = [p.value for p in MATRIX_PHASES] + list(PHASE_GROUPS)
    wanted: set[Phase] = set()
    for name in names:
        expect(name in allowed, "phases", f"phases from {', '.join(allowed)}", name)
        wanted.update(PHASE_GROUPS.get(name, (_BY_VALUE.get(name),)))
    return tuple(p for p in MATRIX_PHASES if p in wanted)


def target(
    task: Task,
    function: Function | str,
    jitted: bool = False,
    mesh: jax.sharding.Mesh | None = None,
    formulation: str = "grouped",
) -> tuple[Callable, tuple]:
    """The Python function ``function`` means on ``task``, and its arguments.

    ``jitted=False`` gives the function before ``jax.jit`` (to trace, lower and
    compile it afresh); ``jitted=True`` the task's own jitted function (steady state).
    With a ``mesh``, the data-parallel program instead (:mod:`snnbench.task.parallel`):
    arguments placed on the mesh, the gradient step in ``formulation``; its jitted
    form is a new ``jax.jit`` each time, so its first call always compiles.
    """
    if mesh is not None:
        return _sharded_target(task, Function(function), jitted, mesh, formulation)
    params = task.init_params()
    if Function(function) is Function.FORWARD:
        return (task.forward if jitted else task.raw_forward), (params, task.inputs)
    args = (params, task.init_opt_state(params), task.inputs, task.targets)
    return (task.jit_step if jitted else task.raw_step), args


def _sharded_target(
    task: Task, function: Function, jitted: bool, mesh: jax.sharding.Mesh, formulation: str
) -> tuple[Callable, tuple]:
    params, opt_state, inputs, targets = parallel.placed_step_args(task, mesh)
    if function is Function.FORWARD:
        fn, args = parallel.forward_function(task, mesh), (params, inputs)
    else:
        fn = parallel.step_function(task, mesh, formulation)
        args = (params, opt_state, inputs, targets)
    return (jax.jit(fn) if jitted else fn), args
