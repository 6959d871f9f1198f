"""Background load for the noise study: busy processes that compete for the cores.

A CI runner shares its cores with other jobs; a loaded noise-study job recreates
that with ``processes`` pure-Python busy loops (not pinned, so the scheduler puts
them wherever the benchmark is), started before the job and stopped after it,
whatever happens in between.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

_BUSY = "while True:\n    pass\n"


def load_average() -> tuple[float, float, float]:
    """The machine's 1, 5 and 15 minute load averages (NaN where unknown)."""
    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


@contextlib.contextmanager
def background_load(processes: int) -> Iterator[list[int]]:
    """Run ``processes`` busy loops for the duration of the block; yields their pids."""
    children = [
        subprocess.Popen([sys.executable, "-c", _BUSY], stdin=subprocess.DEVNULL)
        for _ in range(processes)
    ]
    try:
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
