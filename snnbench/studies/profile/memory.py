"""Run-time memory of one configuration, each measured in a fresh process.

A process's peak resident set (``VmHWM``) and a device's ``peak_bytes_in_use``
are high-water marks: they never go down. So every (backend, phase, batch
size) runs in its own child process, and
the peak belongs to that configuration alone
(``python -m snnbench.studies.profile.memory SPEC``). The child builds the task,
compiles the function, runs it a few times, and prints one JSON line.

:func:`fit_growth` fits bytes against batch size and extrapolates the batch
size at which the machine's memory would run out (a linear extrapolation, not
a measurement).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snnbench.measure.failures import describe_exit
from snnbench.measure.records import CaseSpec

_RUNS = 3
MEMORY_COLUMNS = (
    "rss_after_build_bytes",
    "peak_rss_after_compile_bytes",
    "peak_rss_bytes",
    "device_peak_bytes",
    "device_bytes_limit",
    "xla_argument_bytes",
    "xla_output_bytes",
    "xla_temp_bytes",
    "xla_buffer_bytes",
    "memory_note",
)


def _proc_status_bytes(field: str) -> int | None:
    """A ``kB`` field of /proc/self/status in bytes, or None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def peak_rss_bytes() -> int:
    """This process's peak resident set: VmHWM, else ``ru_maxrss`` (KiB on Linux, bytes on macOS)."""
    hwm = _proc_status_bytes("VmHWM")
    if hwm is not None:
        return hwm
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024


def current_rss_bytes() -> int | None:
    return _proc_status_bytes("VmRSS")


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
    """Build, compile and run ``spec`` in *this* process; its memory figures (call in a fresh one)."""
    import jax

    from snnbench.measure.harness import config_for, prepare_process
    from snnbench.measure.phases import target
    from snnbench.measure.xla_analysis import analyze_compiled
    from snnbench.task.model import make_task

    prepare_process(spec.precision)
    device = jax.devices(spec.platform)[0]
    with jax.default_device(device):
        task = make_task(config_for(spec), spec.backend)
        fn, args = target(task, spec.phase.function)
        out: dict[str, object] = {"rss_after_build_bytes": current_rss_bytes()}
        compiled = jax.jit(fn).trace(*args).lower().compile()
        out["peak_rss_after_compile_bytes"] = peak_rss_bytes()
        for _ in range(_RUNS):
            jax.block_until_ready(compiled(*args))
        out["peak_rss_bytes"] = peak_rss_bytes()
        stats = device.memory_stats() or {}
        out["device_peak_bytes"] = stats.get("peak_bytes_in_use")
        out["device_bytes_limit"] = stats.get("bytes_limit")
        analysis = analyze_compiled(compiled)
    for key in ("xla_argument_bytes", "xla_output_bytes", "xla_temp_bytes"):
        out[key] = analysis[key]
    parts = [analysis[k] for k in ("xla_argument_bytes", "xla_output_bytes", "xla_temp_bytes")]
    out["xla_buffer_bytes"] = sum(parts) if all(p is not None for p in parts) else None
    notes = [analysis["xla_analysis_note"]] if analysis["xla_analysis_note"] else []
    if not stats:
        notes.append(f"{spec.platform} device reports no memory_stats(); process RSS only")
    out["memory_note"] = "; ".join(notes)
    return out


@dataclass(frozen=True)
class ChildResult:
    """What a memory child reported, or why it reported nothing."""

    status: str
    reason: str
    figures: dict[str, object]


def measure_in_child(spec: CaseSpec, timeout_s: float = 1800.0) -> ChildResult:
    """Run :func:`measure_here` for ``spec`` in a fresh Python process."""
    env = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false")
    if spec.platform == "cpu":
        env["JAX_PLATFORMS"] = "cpu"
    command = [sys.executable, "-m", "snnbench.studies.profile.memory", json.dumps(spec.to_dict())]
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return ChildResult("failed", f"memory child timed out after {timeout_s:.0f} s", {})
    if done.returncode != 0:
        return ChildResult(
            "failed", describe_exit(done.returncode, "memory child", done.stderr), {}
        )
    try:
        return ChildResult("ok", "", json.loads(done.stdout.strip().splitlines()[-1]))
    except (json.JSONDecodeError, IndexError):
        return ChildResult("failed", "memory child printed no result line", {})


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


def _main(argv: list[str]) -> int:
    spec = CaseSpec(**json.loads(argv[0]))
    print(json.dumps(measure_here(spec)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
