"""The benchmark matrix and how one case of it is measured.

Every case goes through :func:`measure_case`, whichever driver runs it (the
pytest-benchmark modules in ``bench/``, the trade-off study, the profiler).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from snnbench.config import TaskConfig
from snnbench.errors import SnnbenchError, expect
from snnbench.jaxpr_stats import count_eqns
from snnbench.records import COMPILE_PHASES, PHASE_GROUPS, PHASES, CaseSpec, Measurement
from snnbench.task import BACKENDS, Task, current_precision, make_task, use_precision
from snnbench.timing import (
    QUICK_POLICY,
    Rounds,
    Timed,
    TimingPolicy,
    fresh_jit,
    perf_counter_rounds,
    time_repeated,
    time_steady,
    trace_lower,
)
from snnbench.xla_analysis import analyze_compiled, stablehlo_op_count

PLATFORMS = ("cpu", "gpu", "tpu")
OVERHEAD_BACKEND = "none"


@dataclass(frozen=True)
class Matrix:
    """Axes of the benchmark matrix.

    The batch-size axis runs at ``dts_ms[0]``; the other dt values run at
    ``dt_batch_size`` only (a cross, not a product) unless ``product`` is set.
    """

    backends: tuple[str, ...] = BACKENDS
    batch_sizes: tuple[int, ...] = (1, 16, 64, 256)
    precisions: tuple[str, ...] = ("float32", "float64")
    platforms: tuple[str, ...] = ("cpu", "gpu")
    dts_ms: tuple[float, ...] = (1e-3, 2e-3, 5e-3)
    phases: tuple[str, ...] = PHASES
    dt_batch_size: int = 64
    product: bool = False
    t_max_ms: float = 0.2

    def __post_init__(self) -> None:
        _check_axis("backend", self.backends, BACKENDS)
        _check_axis("precision", self.precisions, ("float32", "float64"))
        _check_axis("device", self.platforms, PLATFORMS)
        _check_axis("phases", self.phases, PHASES)
        expect(len(self.batch_sizes) > 0, "batch-sizes", "at least one batch size", "none")
        for b in self.batch_sizes:
            expect(isinstance(b, int) and b > 0, "batch-sizes", "positive integers", b)
        expect(len(self.dts_ms) > 0, "dt-ms", "at least one dt", "none")
        for dt in self.dts_ms:  # TaskConfig says precisely what is wrong with a dt
            try:
                TaskConfig(dt_ms=dt, t_max_ms=self.t_max_ms)
            except SnnbenchError as error:
                raise SnnbenchError(f"`--dt-ms`: {error}") from None

    def cases(self) -> list[CaseSpec]:
        """Every case, grouped so that one configuration's phases run together."""
        configs = [(b, self.dts_ms[0]) for b in self.batch_sizes]
        if self.product:
            configs = list(itertools.product(self.batch_sizes, self.dts_ms))
        else:
            configs += [(self.dt_batch_size, dt) for dt in self.dts_ms[1:]]
        out = []
        for platform, precision in itertools.product(self.platforms, self.precisions):
            if "overhead" in self.phases:
                out.append(
                    CaseSpec(
                        OVERHEAD_BACKEND,
                        "overhead",
                        1,
                        precision,
                        platform,
                        self.dts_ms[0],
                        self.t_max_ms,
                    )
                )
            for (batch, dt), backend in itertools.product(dict.fromkeys(configs), self.backends):
                for phase in self.phases:
                    if phase == "overhead" or (phase == "build" and backend != "jaxley"):
                        continue
                    out.append(
                        CaseSpec(backend, phase, batch, precision, platform, dt, self.t_max_ms)
                    )
        return out


def _check_axis(name: str, values: Sequence[str], allowed: Sequence[str]) -> None:
    expect(len(values) > 0, name, f"one or more of {', '.join(allowed)}", "none")
    for v in values:
        expect(v in allowed, name, f"one of {', '.join(allowed)}", v)


def expand_phases(names: Sequence[str]) -> tuple[str, ...]:
    """Phase names with group names (``trace_lower``, ``compile``) expanded, in matrix order."""
    wanted = set()
    for name in names:
        expect(
            name in PHASES or name in PHASE_GROUPS,
            "phases",
            f"phases from {', '.join(PHASES + tuple(PHASE_GROUPS))}",
            name,
        )
        wanted.update(PHASE_GROUPS.get(name, (name,)))
    return tuple(p for p in PHASES if p in wanted)


QUICK_MATRIX = Matrix()
FULL_MATRIX = Matrix(batch_sizes=(1, 4, 16, 64, 256, 1024), product=True)


def available_platforms() -> set[str]:
    """JAX platforms with at least one device in this process."""
    found = set()
    for name in PLATFORMS:
        try:
            if jax.devices(name):
                found.add(name)
        except RuntimeError:
            continue
    return found


def prepare_process(precision: str) -> None:
    """Per-process settings for honest numbers: precision, and no persistent compile cache."""
    use_precision(precision)
    jax.config.update("jax_enable_compilation_cache", False)


class TaskCache:
    """Keeps the last few built tasks so a configuration's phases share one build."""

    def __init__(self, size: int = 2):
        self._tasks: OrderedDict[tuple, Task] = OrderedDict()
        self._size = size

    def get(self, spec: CaseSpec) -> Task:
        key = (spec.backend, spec.config_key)
        if key not in self._tasks:
            while len(self._tasks) >= self._size:
                self._tasks.popitem(last=False)
            self._tasks[key] = make_task(config_for(spec), spec.backend)
        self._tasks.move_to_end(key)
        return self._tasks[key]


def config_for(spec: CaseSpec) -> TaskConfig:
    return TaskConfig(
        batch_size=spec.batch_size,
        precision=spec.precision,
        dt_ms=spec.dt_ms,
        t_max_ms=spec.t_max_ms,
    )


def measure_case(
    spec: CaseSpec,
    policy: TimingPolicy = QUICK_POLICY,
    rounds_runner: Rounds = perf_counter_rounds,
    tasks: TaskCache | None = None,
) -> Measurement:
    """Measure one case; a case that cannot run here is returned as skipped or failed."""
    if spec.platform not in available_platforms():
        return Measurement(
            spec,
            status="skipped",
            reason=f"no {spec.platform} device: jax.devices({spec.platform!r}) found none",
        )
    if spec.precision != current_precision():
        return Measurement(
            spec,
            status="failed",
            reason=f"process runs {current_precision()}, case needs {spec.precision}",
        )
    tasks = tasks or TaskCache()
    found: dict[str, object] = {}  # noise-free figures a timer reads off what it staged
    try:
        with jax.default_device(jax.devices(spec.platform)[0]):
            timed = _PHASE_TIMERS[spec.phase](spec, policy, rounds_runner, tasks, found)
    except Exception as error:  # noqa: BLE001 - any failure becomes a failed row
        return Measurement(spec, status="failed", reason=describe_error(error))
    extra = {"compilation_cache": "off" if spec.phase in COMPILE_PHASES else "", **found}
    return Measurement(
        spec,
        samples_s=timed.samples_s,
        iterations=timed.iterations,
        first_s=timed.first_s,
        extra=extra,
    )


def describe_error(error: BaseException) -> str:
    """One line: the error type and the first line of its message (out of memory called out)."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    kind = type(error).__name__
    if "RESOURCE_EXHAUSTED" in str(error) or isinstance(error, MemoryError):
        kind = f"out of memory ({kind})"
    return f"{kind}: {text}"[:300]


def _args(task: Task, phase: str) -> tuple[Callable, tuple]:
    params = task.init_params()
    if phase.startswith("forward"):
        return task.raw_forward, (params, task.inputs)
    return task.raw_step, (params, task.init_opt_state(params), task.inputs, task.targets)


def _time_build(spec, policy, rounds_runner, tasks, found) -> Timed:
    from snnbench import jaxley_net
    from snnbench.data import make_data

    config = config_for(spec)
    weights = make_data(config).weights

    def build():
        network = jaxley_net.build_network(config, weights)
        return jax.block_until_ready(jaxley_net.initial_params(network))

    return time_repeated(build, tuple, policy.staging_rounds, rounds_runner)


def _time_trace_lower(spec, policy, rounds_runner, tasks, found) -> Timed:
    fn, args = _args(tasks.get(spec), spec.phase)
    last = []  # the last round's traced program, to read its size (not timed separately)

    def trace_and_lower(jitted):
        traced = jitted.trace(*args)
        last[:] = [traced, traced.lower()]

    timed = time_repeated(
        trace_and_lower, lambda: (fresh_jit(fn),), policy.staging_rounds, rounds_runner
    )
    found["jaxpr_eqns"] = count_eqns(last[0].jaxpr)
    found["stablehlo_ops"] = stablehlo_op_count(last[1].as_text())
    return timed


def _time_compile(spec, policy, rounds_runner, tasks, found) -> Timed:
    fn, args = _args(tasks.get(spec), spec.phase)
    last = []  # the last round's executable: XLA's analyses of it go into the row

    def compile_(lowered):
        last[:] = [lowered.compile()]

    timed = time_repeated(
        compile_, lambda: (trace_lower(fn, args),), policy.staging_rounds, rounds_runner
    )
    found.update(analyze_compiled(last[0]))
    return timed


def _time_forward(spec, policy, rounds_runner, tasks, found) -> Timed:
    task = tasks.get(spec)
    params = task.init_params()
    return time_steady(task.forward, (params, task.inputs), policy, rounds_runner)


def _time_grad_step(spec, policy, rounds_runner, tasks, found) -> Timed:
    task = tasks.get(spec)
    params = task.init_params()
    args = (params, task.init_opt_state(params), task.inputs, task.targets)
    return time_steady(task.jit_step, args, policy, rounds_runner)


def _time_overhead(spec, policy, rounds_runner, tasks, found) -> Timed:
    identity = jax.jit(lambda x: x)
    return time_steady(identity, (jnp.zeros(()),), policy, rounds_runner)


_PHASE_TIMERS = {
    "build": _time_build,
    "forward_trace_lower": _time_trace_lower,
    "grad_trace_lower": _time_trace_lower,
    "forward_compile": _time_compile,
    "grad_compile": _time_compile,
    "forward": _time_forward,
    "grad_step": _time_grad_step,
    "overhead": _time_overhead,
}
