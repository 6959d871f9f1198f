"""Does a compiled program fit in the memory its device has free? Checked before it runs.

The network-size axis reaches programs whose buffers exceed the machine: jaxley's
gradient step keeps about 4 KiB per sample and synapse in float32 for its backward
pass. Running such a case would get the process killed (on a shared machine,
perhaps someone else's too). XLA states a compiled program's buffers exactly
(``memory_analysis``: on CPU the measured peak of a run agrees with
``output + temp`` bytes to within 5 %, see ``snnbench profile``), so a case whose
buffers do not fit in what is free is skipped with the figures as its reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Keep this share of the free memory for everything else (the runtime, fragmentation).
HEADROOM = 0.9


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"  # measure does not import render (layers); one unit is enough


class DoesNotFit(Exception):
    """A case's program needs more memory than its device has free (the message says how much)."""


def free_memory_bytes(device: Any) -> tuple[int | None, str]:
    """Bytes free for a new program on ``device``, and where the figure comes from.

    CPU: ``MemAvailable`` of /proc/meminfo. Accelerators: ``bytes_limit`` minus
    ``bytes_in_use`` of ``device.memory_stats()``. ``(None, why)`` where unknown.
    """
    if device.platform == "cpu":
        try:
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "MemAvailable"
        except OSError:
            pass
        return None, "no /proc/meminfo"
    try:
        stats = device.memory_stats() or {}
    except Exception:  # noqa: BLE001 - a backend may not implement it
        stats = {}
    if "bytes_limit" not in stats:
        return None, f"{device.platform} reports no memory_stats()"
    return stats["bytes_limit"] - stats.get(
        "bytes_in_use", 0
    ), "memory_stats() bytes_limit - in use"


def program_bytes(compiled: Any) -> int | None:
    """Output + temporary bytes of a compiled program (its arguments are already resident)."""
    try:
        analysis = compiled.memory_analysis()
        return int(analysis.output_size_in_bytes + analysis.temp_size_in_bytes)
    except Exception:  # noqa: BLE001 - no analysis: nothing to check against
        return None


def check_fits(compiled: Any, device: Any) -> None:
    """Raise :class:`DoesNotFit` if ``compiled``'s buffers exceed ``HEADROOM`` of what is free.

    Nothing is raised when either figure is unknown: the case then runs as before.
    """
    need = program_bytes(compiled)
    free, source = free_memory_bytes(device)
    if need is None or free is None or need <= HEADROOM * free:
        return
    raise DoesNotFit(
        f"does not fit: XLA's memory analysis gives {_gib(need)} of output and "
        f"temporary buffers, more than {HEADROOM:.0%} of the {_gib(free)} free "
        f"on {device.platform} ({source})"
    )
