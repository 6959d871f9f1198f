"""The yardstick: a fixed workload measured next to every case, to see the machine move.

Two runs made at different times differ for reasons that are not the code: other
jobs on the machine, its clock, its thermal state. A workload that never
changes, measured right next to each case, shows that: if its wall time moved
between two runs, so did the machine, and a difference between the runs'
timings cannot be pinned on the code (:func:`snnbench.regress.drift.yardstick_drift`).

Two workloads, independent of the code under test:

- plain single-threaded numpy (``sin`` and a sum over 2**18 doubles, about 3 ms a
  call on a 2-core EPYC), whose *wall* time is the alarm where wall time decides.
  Measured on a shared 2-core VM its wall time rose 1.7-2.8x under two busy
  processes while its CPU time stayed within 4 %;
- a small jitted XLA program that streams 32 MiB (beyond the caches) through a
  fused elementwise pass and a reduction, whose *process CPU* time is the alarm
  where CPU time decides: time-slicing does not move it, but memory-bandwidth and
  cache pressure from other jobs do, as they move the benchmark's CPU time.

Neither is a correction factor (short calls are preempted in bursts, not in
proportion), so a yardstick refuses a verdict, never rescales one.
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

#: Calls per measurement; the median is kept (one preemption does not move it).
CALLS = 5
_SIZE = 1 << 18
_XLA_SIZE = 1 << 23  # float32: 32 MiB


def _work(x: np.ndarray) -> float:
    return float(np.sin(x).sum())


@functools.cache
def _xla_program():
    """The XLA yardstick, compiled once per process, and its input (on the host CPU)."""
    cpu = jax.devices("cpu")[0]
    x = jax.device_put(np.linspace(0.0, 1.0, _XLA_SIZE, dtype=np.float32), cpu)
    # The input is committed to the host CPU, so the program runs there on any machine.
    program = jax.jit(lambda v: jnp.sum(v * 1.0001 + 0.5))
    jax.block_until_ready(program(x))
    return program, x


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
    program, v = _xla_program()
    xla_walls, xla_cpus = [], []
    for _ in range(calls):
        wall, cpu = time.perf_counter(), time.process_time()
        jax.block_until_ready(program(v))
        xla_walls.append(time.perf_counter() - wall)
        xla_cpus.append(time.process_time() - cpu)
    return {
        "yardstick_wall_s": float(np.median(walls)),
        "yardstick_cpu_s": float(np.median(cpus)),
        "yardstick_xla_wall_s": float(np.median(xla_walls)),
        "yardstick_xla_cpu_s": float(np.median(xla_cpus)),
    }
