"""The peak memory of the timed program alone, on the host and on an accelerator.

A process's high-water mark holds everything it ever did: the Python runtime,
the XLA compiler, the input draw. What a user sizing a batch wants is what *one
call of the compiled program* adds on top of what is already resident. So the
memory child (:mod:`.memory`) draws the data and builds on the host, places the
arguments on the device, compiles, warms up once, and only then measures each run
against a baseline:

- **host** (Linux): per run, wait for the resident set to settle (XLA:CPU frees a
  run's buffers on its own threads shortly after ``block_until_ready`` returns),
  reset ``VmHWM`` to it by writing ``5`` to ``/proc/self/clear_refs``, run, and
  read ``VmHWM - baseline``. The median of the runs. The child runs with
  ``MALLOC_MMAP_THRESHOLD_`` fixed (:data:`CHILD_ENV`): glibc's dynamic threshold
  would otherwise keep freed buffers in the heap and hide every run after the first.
- **device** (``memory_stats()``): ``peak_bytes_in_use`` never goes down, so it is
  read before the first run (after compile and ``device_put``) and after the last;
  the run's peak is ``peak after - bytes_in_use before``. It is *exact* if the
  runs raised the mark, else only an *upper bound* (compile-time scratch such as
  autotuning set it higher), and the row says which.

The figure is set beside XLA's own ``output + temp`` bytes (the arguments are
resident before the run) and flagged when they differ by more than the margin.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Environment of a memory child (see the module docstring).
CHILD_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072", "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
MIB = 2**20
#: How far a measured run peak may lie from XLA's output + temp bytes: (share, bytes).
#: CPU: measured worst 5.1 % at 2.5 MiB and 0.49 MiB absolute over 24 configurations.
#: Accelerators: a first guess (allocator rounding, library workspaces), not yet measured.
MARGINS = {"cpu": (0.05, 1 * MIB), "gpu": (0.10, 16 * MIB), "tpu": (0.10, 16 * MIB)}


def status_bytes(field: str) -> int | None:
    """A ``kB`` field of /proc/self/status (VmRSS, VmHWM) in bytes, or None off Linux."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def settled_rss_bytes(timeout_s: float = 1.0, quiet_s: float = 0.03) -> int | None:
    """VmRSS once two readings ``quiet_s`` apart agree (or after ``timeout_s``)."""
    deadline = time.perf_counter() + timeout_s
    last = status_bytes("VmRSS")
    while time.perf_counter() < deadline:
        time.sleep(quiet_s)
        now = status_bytes("VmRSS")
        if now == last:
            return now
        last = now
    return last


def reset_high_water_mark() -> bool:
    """Reset VmHWM to the current resident set (Linux >= 4.0); False where impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def host_run_peaks(run: Callable[[], Any], runs: int) -> list[int] | None:
    """``VmHWM - settled VmRSS`` of each of ``runs`` calls of ``run``; None off Linux."""
    peaks = []
    for _ in range(runs):
        gc.collect()
        baseline = settled_rss_bytes()
        if baseline is None or not reset_high_water_mark():
            return None
        result = run()
        peak = status_bytes("VmHWM")
        del result
        if peak is None:
            return None
        peaks.append(peak - baseline)
    return peaks


@dataclass(frozen=True)
class DeviceRunPeak:
    """A run's peak on an accelerator from ``memory_stats()`` read before and after."""

    bytes: int | None
    kind: str  # "exact", "upper_bound" or "unavailable"


def device_run_peak(before: dict, after: dict) -> DeviceRunPeak:
    """The run's peak from ``memory_stats()`` read before the first and after the last run."""
    if "bytes_in_use" not in before or "peak_bytes_in_use" not in after:
        return DeviceRunPeak(None, "unavailable")
    raised = after["peak_bytes_in_use"] > before.get("peak_bytes_in_use", 0)
    return DeviceRunPeak(
        after["peak_bytes_in_use"] - before["bytes_in_use"], "exact" if raised else "upper_bound"
    )


def memory_stats(device: Any) -> dict:
    """``device.memory_stats()``, or ``{}`` where the backend has none (the CPU)."""
    try:
        return dict(device.memory_stats() or {})
    except Exception:  # noqa: BLE001 - a backend may not implement it
        return {}


@dataclass(frozen=True)
class Agreement:
    """A measured run peak set beside XLA's ``output + temp`` bytes."""

    xla_run_bytes: int | None
    margin_bytes: float | None
    ratio: float | None
    agrees: bool | None  # None: nothing to compare, or an upper bound only
    note: str


def agreement(measured: int | None, kind: str, xla_run: int | None, platform: str) -> Agreement:
    """Whether ``measured`` (a run peak of ``kind``) agrees with XLA's ``xla_run`` bytes."""
    share, floor = MARGINS.get(platform, MARGINS["gpu"])
    margin = max(share * xla_run, floor) if xla_run is not None else None
    if measured is None or xla_run is None:
        return Agreement(xla_run, margin, None, None, "nothing to compare")
    ratio = measured / xla_run if xla_run > 0 else None
    limit = f"max({share:.0%}, {floor / MIB:g} MiB)"
    if kind == "upper_bound":
        fits = measured + margin >= xla_run
        note = f"device figure is an upper bound (the runs did not raise the mark); {limit}"
        return Agreement(xla_run, margin, ratio, None if fits else False, note)
    agrees = abs(measured - xla_run) <= margin
    return Agreement(xla_run, margin, ratio, agrees, f"agrees within {limit}: {agrees}")


def median_or_none(values: list[int] | None) -> int | None:
    return int(statistics.median(values)) if values else None
