"""Background load for the noise study: the two kinds a shared CI runner puts beside a job.

- ``busy``: pure-Python busy loops, not pinned, so the scheduler time-slices them
  with the benchmark on its core. Pinned CPU time is built to ignore this.
- ``memory``: numpy processes that stream arrays far larger than the last-level
  cache, pinned *off* the benchmark's core: they never take its core's time, but
  they evict its cache lines and share the memory bus, which CPU time does see.

Each load starts before a job and stops after it, whatever happens in between.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

from snnbench.errors import expect

#: The loads a job may run under; "quiet" starts nothing.
LOADS = ("quiet", "busy", "memory")

_BUSY = "while True:\n    pass\n"
# 256 MiB a side: far beyond any last-level cache, so every pass goes to memory.
_STREAM = (
    "import numpy as np\n"
    "a = np.ones(2**25)\n"
    "b = np.empty_like(a)\n"
    "while True:\n"
    "    np.copyto(b, a)\n"
    "    np.copyto(a, b)\n"
)


def load_average() -> tuple[float, float, float]:
    """The machine's 1, 5 and 15 minute load averages (NaN where unknown)."""
    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


def _off_core(avoid: int | None) -> list[int] | None:
    """The cores a memory streamer may use: every allowed one but ``avoid``."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    others = [c for c in allowed if c != avoid]
    return others or None


@contextlib.contextmanager
def background_load(
    processes: int, load: str = "busy", avoid_core: int | None = None
) -> Iterator[list[int]]:
    """Run ``processes`` load processes of kind ``load`` for the block; yields their pids.

    ``avoid_core``: the benchmark's core, which memory streamers are kept off.
    """
    expect(load in LOADS, "load", f"one of {', '.join(LOADS)}", load)
    if load == "quiet":
        processes = 0
    code = _STREAM if load == "memory" else _BUSY
    cores = _off_core(avoid_core) if load == "memory" else None
    children = []
    try:
        for _ in range(processes):
            child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL)
            children.append(child)
            if cores:
                os.sched_setaffinity(child.pid, cores)
        yield [child.pid for child in children]
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
