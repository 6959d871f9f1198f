"""The in-process measurements of ``snnbench profile`` for one backend and function.

Trace, lower and compile are timed as three stages with ``timing.time_repeated``
(a fresh jitted wrapper or a fresh lowering before each untimed round, as the
harness does); compile and steady state go through ``harness.measure_case``,
so their rows carry the same columns (XLA analyses included) as ``snnbench bench``.
Phases are :class:`snnbench.measure.phases.Phase` values: ``forward_trace``,
``forward_lower``, ``forward_compile``, ``forward`` (and the same for ``grad``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jax

from snnbench.measure import harness
from snnbench.measure.failures import describe_error
from snnbench.measure.jaxpr_stats import count_eqns, count_flops
from snnbench.measure.phases import Function, Phase, Stage, target
from snnbench.measure.records import SCHEMA_VERSION, CaseSpec, Measurement
from snnbench.measure.timing import Sampling, fresh_jit, time_repeated
from snnbench.measure.xla_analysis import parse_hlo, stablehlo_op_count
from snnbench.studies.profile import attribution, snn_metrics, trace_ops


def spec_columns(spec: CaseSpec, status: str = "ok", reason: str = "") -> dict[str, object]:
    """The leading columns every profile table shares with ``benchmark.csv``."""
    row: dict[str, object] = {"schema_version": SCHEMA_VERSION, "case_id": spec.case_id}
    row.update(spec.to_dict(), n_steps=spec.n_steps, status=status, reason=reason)
    return row


@dataclass(frozen=True)
class FunctionProfile:
    """Rows of one function: trace, lower, compile, steady (in that order)."""

    rows: tuple[Measurement, ...]
    jaxpr_flops: int | None


def measure_function(
    options, backend: str, function: Function | str, sampling: Sampling, tasks: harness.TaskCache
) -> FunctionProfile:
    """Trace, lower, compile and steady-state rows of ``function`` on ``backend``."""
    function = Function(function)
    steady_spec = options.spec(backend, Phase.of(function, Stage.RUN))
    fn, args = target(tasks.get(steady_spec), function)
    trace_row, flops = _stage(
        options.spec(backend, Phase.of(function, Stage.TRACE)),
        lambda: _time_trace(fn, args, sampling),
    )
    lower_row, _ = _stage(
        options.spec(backend, Phase.of(function, Stage.LOWER)),
        lambda: _time_lower(fn, args, sampling),
    )
    compile_row = harness.measure_case(
        options.spec(backend, Phase.of(function, Stage.COMPILE)), sampling, tasks=tasks
    )
    steady_row = harness.measure_case(steady_spec, sampling, tasks=tasks)
    return FunctionProfile((trace_row, lower_row, compile_row, steady_row), flops)


def _stage(spec: CaseSpec, timer: Callable) -> tuple[Measurement, int | None]:
    try:
        timed, extra = timer()
    except Exception as error:  # noqa: BLE001 - a failed stage becomes a failed row
        return Measurement(spec, status="failed", reason=describe_error(error)), None
    kept = {"samples_s": timed.samples_s, "iterations": timed.iterations, "first_s": timed.first_s}
    return Measurement(spec, extra=extra, **kept), extra.get("jaxpr_flops")


def _time_trace(fn: Callable, args: tuple, sampling: Sampling):
    last = []  # the last round's traced program, measured after the timing

    def trace(jitted):
        last[:] = [jitted.trace(*args)]

    timed = time_repeated(trace, lambda: (fresh_jit(fn),), sampling.staging_rounds)
    jaxpr = last[0].jaxpr
    counted = count_flops(jaxpr)
    extra = {
        "jaxpr_eqns": count_eqns(jaxpr),
        "jaxpr_eqns_top_level": count_eqns(jaxpr, recursive=False),
        "jaxpr_flops": counted.flops,
        "jaxpr_while_loops": counted.while_loops,
    }
    return timed, extra


def _time_lower(fn: Callable, args: tuple, sampling: Sampling):
    last = []

    def lower(traced):
        last[:] = [traced.lower()]

    timed = time_repeated(lower, lambda: (fresh_jit(fn).trace(*args),), sampling.staging_rounds)
    return timed, {"stablehlo_ops": stablehlo_op_count(last[0].as_text())}


def trace_top_ops(
    trace_root: Path,
    options,
    backend: str,
    tasks: harness.TaskCache,
    meta: dict,
    untraced_step_s: float | None = None,
) -> list[dict]:
    """Trace a few gradient steps of ``backend``; the top operations as rows.

    ``untraced_step_s``, the steady-state median of the same step, is recorded
    beside the traced step (their ratio is the profiler's overhead); coverage is
    taken of the traced step.
    """
    spec = options.spec(backend, Phase.GRAD_STEP)
    try:
        fn, args = target(tasks.get(spec), Function.GRAD_STEP)
        compiled = jax.jit(fn).trace(*args).lower().compile()
        for _ in range(2):  # warm up: the trace should show steady state only
            jax.block_until_ready(compiled(*args))
        path = trace_ops.capture(
            lambda: compiled(*args), options.trace_steps, trace_root / backend, "grad_step"
        )
        text = compiled.as_text()
        found = trace_ops.top_ops(
            trace_ops.load_trace(path),
            parse_hlo(text),
            options.top,
            "grad_step",
            attribution.entry_computation(text),
        )
    except Exception as error:  # noqa: BLE001 - no trace is a row saying why
        return [{**spec_columns(spec, "failed", describe_error(error)), **meta}]
    if found.table.empty:
        reason = "the trace holds no events attributable to this module's HLO instructions"
        return [{**spec_columns(spec, "skipped", reason), **meta}]
    trace_file = str(path.relative_to(trace_root.parent))
    head = {**spec_columns(spec), "trace_steps": options.trace_steps}
    tail = {
        **trace_ops.coverage_columns(found, untraced_step_s),
        "source": trace_ops.SOURCE,
        "trace_file": trace_file,
        **meta,
    }
    return [{**head, **record, **tail} for record in found.table.to_dict("records")]


def snn_rows(
    options, tasks: harness.TaskCache, steady: dict, flops: dict, meta: dict
) -> list[dict]:
    """Spike rates per layer, and per backend and phase throughput and achieved FLOP/s."""
    rows = []
    any_backend = options.backends[0]
    task = tasks.get(options.spec(any_backend, Phase.FORWARD))
    for rate in snn_metrics.spike_rates(task.config, task.init_params(), task.inputs):
        spec = options.spec("dense", Phase.FORWARD)
        note = "dense twin's spike trains (same equations as jaxley), at the initial weights"
        rows.append(_metric(spec, rate.layer, "spike_rate_hz", rate.rate_hz, "Hz", note))
        rows.append(
            _metric(
                spec,
                rate.layer,
                "spikes_per_neuron_per_step",
                rate.spikes_per_neuron_per_step,
                "1/step",
                note,
            )
        )
    for (backend, phase), measurement in steady.items():
        spec = measurement.spec
        summary = measurement.summary
        median = summary.median if summary else None
        steps = spec.batch_size * spec.n_steps / median if median else None
        rows.append(
            _metric(
                spec,
                "",
                "sample_steps_per_s",
                steps,
                "1/s",
                "batch size x input steps / median call",
            )
        )
        result = snn_metrics.achieved(
            flops.get((backend, phase)),
            median,
            str(meta.get("device_kind", "")),
            spec.platform,
            spec.precision,
        )
        flop_note = "jaxpr_flops (scan bodies times their length) / median call"
        rows.append(
            _metric(
                spec,
                "",
                "jaxpr_flops",
                flops.get((backend, phase)),
                "flop",
                "loop-aware count of one call (see snnbench.jaxpr_stats)",
            )
        )
        rows.append(
            _metric(spec, "", "achieved_flop_per_s", result.flop_per_s, "flop/s", flop_note)
        )
        rows.append(
            _metric(spec, "", "peak_flop_per_s", result.peak_flop_per_s, "flop/s", result.note)
        )
        rows.append(
            _metric(spec, "", "fraction_of_peak", result.fraction_of_peak, "1", result.note)
        )
    return [{**row, **meta} for row in rows]


def _metric(spec: CaseSpec, layer: str, metric: str, value, unit: str, note: str) -> dict:
    status = "ok" if value is not None else "skipped"
    return {
        **spec_columns(spec, status, "" if value is not None else note),
        "layer": layer,
        "metric": metric,
        "value": value,
        "unit": unit,
        "note": note,
    }
