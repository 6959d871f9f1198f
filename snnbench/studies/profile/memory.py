"""Run-time memory of one configuration, each measured in a fresh process.

A process's peak resident set (``VmHWM``) and a device's ``peak_bytes_in_use``
are high-water marks: they never go down. So every (backend, phase, batch
size) runs in a fresh worker process (:mod:`snnbench.measure.worker`, the
request :func:`probe`). The child builds the task on the host, places its
arguments on the device, compiles the function, runs it a few times, and
answers the process's figures as before, and the
peak of the timed program alone beside XLA's buffer sizes
(:mod:`.program_memory`, ``program_peak_bytes`` and ``memory_agrees``).

:func:`fit_growth` fits bytes against batch size and extrapolates the batch
size at which the machine's memory would run out (a linear extrapolation, not
a measurement).
"""

from __future__ import annotations

import resource
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snnbench.measure import procgroup
from snnbench.measure.records import CaseSpec
from snnbench.measure.worker import WorkerDied, WorkerError, call_once
from snnbench.studies.profile import program_memory as pm

_RUNS = 5
MEMORY_COLUMNS = (
    "rss_after_build_bytes", "peak_rss_after_compile_bytes", "peak_rss_bytes", "device_peak_bytes",
    "device_bytes_limit", "xla_argument_bytes", "xla_output_bytes", "xla_temp_bytes",
    "xla_buffer_bytes", "program_peak_bytes", "program_peak_source", "host_run_peak_bytes",
    "device_run_peak_bytes", "device_run_peak_kind", "xla_run_bytes", "program_over_xla",
    "memory_margin_bytes", "memory_agrees", "matmul_precision", "effective_matmul_precision",
    "memory_note",
)  # fmt: skip


def peak_rss_bytes() -> int:
    """This process's peak resident set: VmHWM, else ``ru_maxrss`` (KiB on Linux, bytes on macOS)."""
    hwm = pm.status_bytes("VmHWM")
    if hwm is not None:
        return hwm
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024


def current_rss_bytes() -> int | None:
    return pm.status_bytes("VmRSS")


def machine_memory_bytes() -> int | None:
    """Physical memory of this machine (MemTotal), or None if unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def measure_here(spec: CaseSpec) -> dict[str, object]:
    """Build, compile and run ``spec`` in *this* process; its memory figures (call in a fresh one).

    Order matters (see :mod:`.program_memory`): data and build on the host, the
    arguments placed on the device, compile, one warm-up run (the first run
    allocates once), then the measured runs, each against a settled baseline.
    """
    import jax

    from snnbench.measure.harness import config_for, matmul_columns, prepare_process
    from snnbench.measure.phases import target
    from snnbench.measure.xla_analysis import analyze_compiled
    from snnbench.task.model import make_task

    prepare_process(spec.precision)
    device = jax.devices(spec.platform)[0]
    with jax.default_device(device):
        task = make_task(config_for(spec), spec.backend, device=device)
        fn, args = target(task, spec.phase.function)
        out: dict[str, object] = {"rss_after_build_bytes": current_rss_bytes()}
        compiled = jax.jit(fn).trace(*args).lower().compile()
        out["peak_rss_after_compile_bytes"] = peak_rss_bytes()
        before = pm.memory_stats(device)

        def run():
            return jax.block_until_ready(compiled(*args))

        run()  # warm-up: the first run after compile allocates once
        out["peak_rss_bytes"] = peak_rss_bytes()  # the process's mark, before any reset
        host = pm.host_run_peaks(run, _RUNS)
        after = pm.memory_stats(device)
        analysis = analyze_compiled(compiled)
    out["device_peak_bytes"] = after.get("peak_bytes_in_use")
    out["device_bytes_limit"] = after.get("bytes_limit")
    for key in ("xla_argument_bytes", "xla_output_bytes", "xla_temp_bytes"):
        out[key] = analysis[key]
    parts = [analysis[k] for k in ("xla_argument_bytes", "xla_output_bytes", "xla_temp_bytes")]
    out["xla_buffer_bytes"] = sum(parts) if all(p is not None for p in parts) else None
    out.update(_program_figures(spec.platform, host, before, after, analysis))
    out.update(matmul_columns(spec))
    notes = [analysis["xla_analysis_note"]] if analysis["xla_analysis_note"] else []
    if not after:
        notes.append(f"{spec.platform} device reports no memory_stats(); process RSS only")
    if host is None:
        notes.append("no /proc/self/clear_refs here: the host's run peak is unavailable")
    out["memory_note"] = "; ".join(notes)
    return out


def _program_figures(
    platform: str, host: list[int] | None, before: dict, after: dict, analysis: dict
) -> dict[str, object]:
    """The program-alone columns: the run peak on its device, and XLA's figure beside it."""
    host_peak = pm.median_or_none(host)
    device = pm.device_run_peak(before, after)
    if platform == "cpu":
        measured, kind = host_peak, "exact"
        source = f"host: median over {_RUNS} runs of VmHWM - settled VmRSS"
    else:
        measured, kind = device.bytes, device.kind
        source = f"device: memory_stats() peak after - in use before ({device.kind})"
    output, temp = analysis["xla_output_bytes"], analysis["xla_temp_bytes"]
    xla_run = output + temp if output is not None and temp is not None else None
    agreed = pm.agreement(measured, kind, xla_run, platform)
    return {
        "program_peak_bytes": measured,
        "program_peak_source": source if measured is not None else "unavailable",
        "host_run_peak_bytes": host_peak,
        "device_run_peak_bytes": device.bytes,
        "device_run_peak_kind": device.kind,
        "xla_run_bytes": xla_run,
        "program_over_xla": agreed.ratio,
        "memory_margin_bytes": agreed.margin_bytes,
        "memory_agrees": agreed.agrees,
    }


@dataclass(frozen=True)
class ChildResult:
    """What a memory child reported, or why it reported nothing."""

    status: str
    reason: str
    figures: dict[str, object]


def measure_in_child(spec: CaseSpec, timeout_s: float = 1800.0) -> ChildResult:
    """Run :func:`measure_here` for ``spec`` in a fresh worker process."""
    env = procgroup.child_env(spec.platform, extra=pm.CHILD_ENV)
    try:
        figures = call_once(probe, spec.precision, env, timeout_s, case=spec.to_dict())
    except (WorkerDied, WorkerError) as error:
        return ChildResult("failed", f"memory child: {error}", {})
    return ChildResult("ok", "", figures)


def probe(case: dict) -> dict[str, object]:
    """:func:`measure_here` of a case given as its fields (a worker request)."""
    return measure_here(CaseSpec(**case))


@dataclass(frozen=True)
class Growth:
    """A least-squares line ``bytes = intercept + slope * batch_size`` and where it meets a limit."""

    n_points: int
    bytes_per_sample: float
    intercept_bytes: float
    r2: float | None
    batch_at_limit: float | None  # extrapolated; None if memory does not grow or no limit


def fit_growth(
    batch_sizes: list[int], values: list[float], limit_bytes: float | None
) -> Growth | None:
    """Fit bytes vs batch size; None with fewer than two distinct batch sizes."""
    x = np.asarray(batch_sizes, dtype=float)
    y = np.asarray(values, dtype=float)
    if len(set(x.tolist())) < 2:
        return None
    slope, intercept = np.polyfit(x, y, 1)
    residual = float(np.sum((y - (intercept + slope * x)) ** 2))
    spread = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - residual / spread if spread > 0 else None
    at_limit = None
    if limit_bytes is not None and slope > 0 and limit_bytes > intercept:
        at_limit = float((limit_bytes - intercept) / slope)
    return Growth(len(x), float(slope), float(intercept), r2, at_limit)
