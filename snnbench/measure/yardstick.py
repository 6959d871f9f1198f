"""The yardstick: a fixed workload measured next to every case, to see the machine move.

Two runs made at different times differ for reasons that are not the code: other
jobs on the machine, its clock, its thermal state. A workload that never
changes, measured right next to each case, shows that: if its wall time moved
between two runs, so did the machine, and a difference between the runs'
timings cannot be pinned on the code (:func:`snnbench.regress.drift.yardstick_drift`).

It is plain single-threaded numpy (``sin`` and a sum over 2**18 doubles, about
3 ms a call on a 2-core EPYC), independent of JAX and of the code under test.
Measured on a shared 2-core VM its wall time rose 1.7-2.8x under two busy
processes while its CPU time stayed within 4 %: it is a good alarm for wall
time, but no correction factor (short calls are preempted in bursts, not in
proportion), so it is used to refuse a verdict, never to rescale one.
"""

from __future__ import annotations

import time

import numpy as np

#: Calls per measurement; the median is kept (one preemption does not move it).
CALLS = 5
_SIZE = 1 << 18


def _work(x: np.ndarray) -> float:
    return float(np.sin(x).sum())


def measure(calls: int = CALLS) -> dict[str, float]:
    """Median wall and process-CPU seconds of one yardstick call, as row columns."""
    x = np.linspace(0.0, 1.0, _SIZE)
    _work(x)  # first touch of the pages, not timed
    walls, cpus = [], []
    for _ in range(calls):
        wall, cpu = time.perf_counter(), time.process_time()
        _work(x)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {
        "yardstick_wall_s": float(np.median(walls)),
        "yardstick_cpu_s": float(np.median(cpus)),
    }
