"""How one case of the matrix is measured.

Every case goes through :func:`measure_case`, whichever driver runs it (the
pytest-benchmark plugin, the trade-off study, the profiler, the noise study).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from snnbench.measure import collectives, machine, scaling, yardstick
from snnbench.measure.failures import describe_error
from snnbench.measure.fits import DoesNotFit, check_fits
from snnbench.measure.jaxpr_stats import count_eqns
from snnbench.measure.phases import Phase, Stage, target
from snnbench.measure.records import PLATFORMS, CaseSpec, Measurement
from snnbench.measure.timing import (
    QUICK_SAMPLING,
    Rounds,
    Sampling,
    Timed,
    fresh_jit,
    perf_counter_rounds,
    time_repeated,
    time_steady,
    trace_lower,
)
from snnbench.measure.xla_analysis import analyze_compiled, stablehlo_op_count
from snnbench.precision import current_precision, set_precision
from snnbench.task import parallel, slowdown
from snnbench.task.config import TaskConfig
from snnbench.task.data import make_data
from snnbench.task.model import BACKENDS, Task, effective_matmul_precision, make_task


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
    """An entry point's settings for honest numbers: precision, no persistent compile cache."""
    set_precision(precision)
    jax.config.update("jax_enable_compilation_cache", False)


def run_smallest(backends: list[str]) -> dict[str, object]:
    """Build and run the smallest task of each backend once; this process's metadata.

    An A/B side's preflight calls it in the side's own worker, so a side that
    cannot run is named before any round.
    """
    config = TaskConfig(batch_size=2, t_max_ms=0.02, precision=current_precision())
    for backend in backends:
        task = make_task(config, backend)
        jax.block_until_ready(task.forward(task.init_params(), task.inputs))
    return machine.metadata()


def config_for(spec: CaseSpec) -> TaskConfig:
    """The task configuration a case measures.

    The test-only compiled slowdown (:mod:`snnbench.task.slowdown`) is read from
    ``SNNBENCH_SLOWDOWN`` (every kind), so that the noise study can slow one side of an A/B run
    through that side's environment alone.
    """
    shared = ("batch_size", "precision", "dt_ms", "t_max_ms", "n_input", "n_hidden")
    return TaskConfig(
        **{name: getattr(spec, name) for name in shared}, **slowdown.fractions_from_env()
    )


def device_of(spec: CaseSpec) -> jax.Device:
    """The device a case runs on: the first of its platform in this process."""
    return jax.local_devices(backend=spec.platform)[0]


#: The stages of one function in the order jit's caches fill.
_STAGE_ORDER = (Stage.TRACE_LOWER, Stage.COMPILE, Stage.RUN)


class TaskCache:
    """Keeps the last few built tasks so a configuration's phases share one build."""

    def __init__(self, size: int = 2):
        self._tasks: OrderedDict[tuple, Task] = OrderedDict()
        self._size = size
        self._staged: set[tuple] = set()

    def first_staging(self, spec: CaseSpec, stage: Stage) -> bool:
        """Whether this process has not yet staged ``spec``'s task function at ``stage``.

        The first time, a staging phase times the task's own jitted function instead of
        a fresh wrapper: the same work, and jit's caches then hold its trace, lowering
        and executable, so the steady phase after it does not stage it all again.
        """
        case = (spec.backend, spec.sharded, config_for(spec), spec.phase.function)
        first = not spec.sharded and (*case, stage) not in self._staged
        # A later stage leaves the earlier ones in jit's caches: none of them is first now.
        for earlier in _STAGE_ORDER[: _STAGE_ORDER.index(stage) + 1]:
            self._staged.add((*case, earlier))
        return first

    def get(self, spec: CaseSpec) -> Task:
        key = (spec.backend, spec.sharded, config_for(spec))
        if key not in self._tasks:
            while len(self._tasks) >= self._size:
                self._tasks.popitem(last=False)
            # Built on the host, placed on the case's device (make_task's `device`); a
            # sharded case places its arguments on its mesh itself (phases.target).
            device = None if spec.sharded else device_of(spec)
            self._tasks[key] = make_task(config_for(spec), spec.backend, device=device)
        self._tasks.move_to_end(key)
        return self._tasks[key]


@dataclass(frozen=True)
class CaseContext:
    """What every phase timer needs besides the case itself.

    ``agree`` makes every process of a ``jax.distributed`` job settle on one
    calibration (see :func:`snnbench.measure.timing.time_steady`); None alone.
    """

    sampling: Sampling
    rounds_runner: Rounds
    tasks: TaskCache
    agree: Callable[[float], float] | None = None

    def target(self, spec: CaseSpec, jitted: bool = False) -> tuple[Callable, tuple]:
        """The case's function and arguments: on a mesh of ``spec.devices`` if it is sharded."""
        task = self.tasks.get(spec)
        if not spec.sharded:
            return target(task, spec.phase.function, jitted)
        mesh = parallel.batch_mesh(spec.devices, jax.devices(spec.platform))
        return target(task, spec.phase.function, jitted, mesh, spec.data_parallel or "grouped")


def measure_case(
    spec: CaseSpec,
    sampling: Sampling = QUICK_SAMPLING,
    rounds_runner: Rounds = perf_counter_rounds,
    tasks: TaskCache | None = None,
    agree: Callable[[float], float] | None = None,
    with_yardstick: bool = False,
) -> Measurement:
    """Measure one case; a case that cannot run here is returned as skipped or failed.

    A sharded case whose result differs from the 1-device result by more than
    the precision's tolerance is ``failed``, its samples kept: a fast wrong
    program is no result. ``with_yardstick`` also measures the fixed yardstick
    workload right after the case (:mod:`snnbench.measure.yardstick`), so a
    comparison of separate runs can tell a machine that slowed down from code that did.
    """
    problem = _cannot_run(spec)
    if problem is not None:
        return problem
    context = CaseContext(sampling, rounds_runner, tasks or TaskCache(), agree)
    matmul = matmul_columns(spec)
    try:
        with jax.default_device(device_of(spec)):
            timed = _timer(spec.phase)(spec, context)
    except DoesNotFit as reason:
        return Measurement(spec, status="skipped", reason=str(reason), extra=matmul)
    except Exception as error:  # noqa: BLE001 - any failure becomes a failed row
        return Measurement(spec, status="failed", reason=describe_error(error), extra=matmul)
    columns = {
        "compilation_cache": "off" if spec.phase.is_staging else "",
        # A row measured with a test-only injected regression says so.
        **slowdown.fractions_from_env(),
        **matmul,
    }
    if with_yardstick:
        columns.update(yardstick.measure())
    status, reason = "ok", ""
    if timed.extra.get("check_ok") is False:
        status = "failed"
        reason = (
            f"sharded result differs from the 1-device result: max relative difference "
            f"{timed.extra['check_max_rel_diff']:.3g} > {timed.extra['check_rtol']:g}"
        )
    return Measurement(
        spec,
        status=status,
        reason=reason,
        samples_s=timed.samples_s,
        iterations=timed.iterations,
        first_s=timed.first_s,
        extra={**columns, **timed.extra},
        cpu_samples_s=timed.cpu_samples_s,
    )


def result_row(measurement: Measurement, metadata: dict[str, object]) -> dict[str, object]:
    """The row of a measurement just taken: ``metadata``, the devices it ran on, and the
    load and time now (every driver calls this right after :func:`measure_case`)."""
    row = measurement.to_row({**metadata, "load_avg_1m": machine.load_1m()})
    row.update(machine.device_info(measurement.spec.platform), utc=machine.utc_now())
    return row


def _cannot_run(spec: CaseSpec) -> Measurement | None:
    """A skipped or failed measurement if this process cannot run ``spec``, else None."""
    if spec.platform not in available_platforms():
        why = f"no {spec.platform} device: jax.devices({spec.platform!r}) found none"
        return Measurement(spec, "skipped", why)
    if spec.precision != current_precision():
        why = f"process runs {current_precision()}, case needs {spec.precision}"
        return Measurement(spec, "failed", why)
    seen = len(jax.devices(spec.platform))
    if spec.devices > seen:
        how = " (the runner sets a CPU's count per process)" if spec.platform == "cpu" else ""
        why = f"needs {spec.devices} {spec.platform} devices, JAX sees {seen}{how}"
        return Measurement(spec, "skipped", why)
    if spec.processes not in (1, jax.process_count()):
        why = f"case needs {spec.processes} processes, this job has {jax.process_count()}"
        return Measurement(spec, "failed", why)
    return None


def matmul_columns(spec: CaseSpec) -> dict[str, object]:
    """The declared and the effective matmul precision of a case on its device."""
    config = config_for(spec)
    device = device_of(spec)
    effective = (
        "none"
        if spec.backend not in BACKENDS
        else effective_matmul_precision(
            config,
            spec.backend,
            spec.platform,
            getattr(device, "compute_capability", None),
            os.environ.get("NVIDIA_TF32_OVERRIDE", ""),
        )
    )
    return {"matmul_precision": config.matmul_precision, "effective_matmul_precision": effective}


def _time_build(spec: CaseSpec, context: CaseContext) -> Timed:
    from snnbench.task import jaxley_net

    config = config_for(spec)
    host, device = jax.devices("cpu")[0], device_of(spec)
    with jax.default_device(host):
        weights = make_data(config).weights

    def build():
        # What make_task does: bookkeeping on the host, the weights placed on the device.
        with jax.default_device(host):
            network = jaxley_net.build_network(config, weights)
        return jax.block_until_ready(jax.device_put(jaxley_net.initial_params(network), device))

    if spec.phase is Phase.BUILD_WARM:
        build()  # the process has built this network once: what a second build costs
    return time_repeated(build, tuple, context.sampling.staging_rounds, context.rounds_runner)


def _time_trace_lower(spec: CaseSpec, context: CaseContext) -> Timed:
    fn, args = context.target(spec)
    last = []  # the last round's traced and lowered program, measured after the timing
    own = _own_jitted(spec, context, Stage.TRACE_LOWER)

    def trace_and_lower(jitted):
        traced = jitted.trace(*args)
        last[:] = [traced, traced.lower()]

    def sizes() -> dict[str, object]:
        return {
            "jaxpr_eqns": count_eqns(last[0].jaxpr),
            "stablehlo_ops": stablehlo_op_count(last[1].as_text()),
        }

    return time_repeated(
        trace_and_lower,
        lambda: (own.pop() if own else fresh_jit(fn),),
        context.sampling.staging_rounds,
        context.rounds_runner,
        sizes,
    )


def _time_compile(spec: CaseSpec, context: CaseContext) -> Timed:
    fn, args = context.target(spec)
    last = []  # the last round's executable: XLA's analyses of it go into the row
    own = _own_jitted(spec, context, Stage.COMPILE)

    def compile_(lowered):
        last[:] = [lowered.compile()]

    def figures() -> dict[str, object]:
        out = analyze_compiled(last[0])
        if spec.sharded:
            out.update(_layout(spec), **collectives.row_columns(last[0].as_text()))
        return out

    return time_repeated(
        compile_,
        lambda: (own.pop().trace(*args).lower() if own else trace_lower(fn, args),),
        context.sampling.staging_rounds,
        context.rounds_runner,
        figures,
    )


def _own_jitted(spec: CaseSpec, context: CaseContext, stage: Stage) -> list[Callable]:
    """``[the task's jitted function]`` the first time this process stages it, else ``[]``."""
    if not context.tasks.first_staging(spec, stage):
        return []
    return [context.target(spec, jitted=True)[0]]


def _time_run(spec: CaseSpec, context: CaseContext) -> Timed:
    fn, args = context.target(spec, jitted=True)
    context.tasks.first_staging(spec, Stage.RUN)
    first_extra = 0.0
    if not spec.sharded:
        # Compile ahead of the first call and check XLA's memory figures against what
        # the device has free, so a configuration too large for it is skipped with a
        # reason instead of taking the machine down. The jitted function reuses this
        # compilation, so the first call's trace + compile time is this plus the call.
        start = time.perf_counter()
        check_fits(fn.trace(*args).lower().compile(), device_of(spec))
        first_extra = time.perf_counter() - start
    timed = time_steady(fn, args, context.sampling, context.rounds_runner, context.agree)
    if not spec.sharded:
        first = None if timed.first_s is None else first_extra + timed.first_s
        return dataclasses.replace(timed, first_s=first)
    # After the timing, untimed: the executable is cached, so this compiles nothing.
    hlo = fn.lower(*args).compile().as_text()
    device = jax.local_devices(backend=spec.platform)[0]
    check = scaling.check_against_one_device(spec, context.tasks.get(spec), fn, args, device)
    extra = {**_layout(spec), **collectives.row_columns(hlo), **check}
    return dataclasses.replace(timed, extra={**timed.extra, **extra})


def _layout(spec: CaseSpec) -> dict[str, object]:
    return scaling.layout_columns(
        spec, parallel.batch_mesh(spec.devices, jax.devices(spec.platform))
    )


def _time_overhead(spec: CaseSpec, context: CaseContext) -> Timed:
    identity = jax.jit(lambda x: x)
    return time_steady(identity, (jnp.zeros(()),), context.sampling, context.rounds_runner)


def _timer(phase: Phase) -> Callable[[CaseSpec, CaseContext], Timed]:
    """The timer of a matrix phase (profile-only stages are timed by the profiler)."""
    if phase is Phase.OVERHEAD:
        return _time_overhead
    timers = {
        Stage.BUILD: _time_build,
        Stage.TRACE_LOWER: _time_trace_lower,
        Stage.COMPILE: _time_compile,
        Stage.RUN: _time_run,
    }
    if phase.stage not in timers:
        raise ValueError(f"{phase} is not a phase the harness times (the profiler times it)")
    return timers[phase.stage]
