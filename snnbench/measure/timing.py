"""How snnbench times JAX work: block on every output, keep compile apart from steady state.

Steady-state phases: one first call (trace + compile + run, reported as
``first_s``), warm-up calls that are not counted, then a calibration that picks
``iterations`` calls per round so that each round lasts at least
``min_round_s``, then ``rounds`` timed rounds. Staging phases (trace+lower,
compile) need a fresh jitted function per round, so a ``setup`` builds it,
untimed, before each round.

The loop that executes rounds is pluggable (:class:`Rounds`): snnbench's own
:func:`perf_counter_rounds`, or pytest-benchmark's ``pedantic`` in ``bench/``,
so there is exactly one timing path whichever tool drives it.

Next to the wall time each round drives, :class:`CpuClock` records the
process's CPU time over the same round (``time.process_time``, every thread of
the process: XLA runs the work on its own threads, so the calling thread's CPU
time would be near zero). It reads the clock at the first call's start and the
last call's end of each round, by counting calls, so it works whichever loop
runs the rounds; the two reads add a few microseconds to a round of >= 20 ms.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import jax


@dataclass(frozen=True)
class Sampling:
    """How long and how often to time.

    Attributes:
        min_round_s: calibrate ``iterations`` so one round takes at least this long.
        min_rounds / max_rounds: bounds on timed rounds for steady phases.
        target_s: aim for about this much timed work per steady case.
        warmup_calls: untimed calls after the first call.
        staging_rounds: rounds for trace+lower and compile phases.
    """

    min_round_s: float = 0.02
    min_rounds: int = 5
    max_rounds: int = 30
    target_s: float = 1.5
    warmup_calls: int = 1
    staging_rounds: int = 3

    def rounds_for(self, per_round_s: float) -> int:
        wanted = math.ceil(self.target_s / max(per_round_s, 1e-9))
        return max(self.min_rounds, min(self.max_rounds, wanted))


QUICK_SAMPLING = Sampling()
FULL_SAMPLING = Sampling(
    min_round_s=0.05, min_rounds=10, max_rounds=100, target_s=5.0, staging_rounds=5
)
#: One A/B round of one case. Precision comes from many rounds (each a unit of
#: replication), so a round is short; but a round's median should not hinge on one
#: preempted call, so steady phases still take 10-40 samples (about 0.8 s), which
#: on a loaded 2-core VM cost far less than the one compilation a compile phase takes.
AB_SAMPLING = Sampling(
    min_round_s=0.02, min_rounds=10, max_rounds=40, target_s=0.8, staging_rounds=1
)
SAMPLINGS = {"quick": QUICK_SAMPLING, "full": FULL_SAMPLING, "ab": AB_SAMPLING}


class Rounds(Protocol):
    """Runs ``rounds`` timed rounds of ``iterations`` calls; returns per-call seconds."""

    def __call__(
        self,
        target: Callable[..., Any],
        rounds: int,
        iterations: int = 1,
        setup: Callable[[], tuple] | None = None,
    ) -> list[float]: ...


def blocking(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` that returns only once every array in its output tree is computed."""

    def call(*args: Any) -> Any:
        return jax.block_until_ready(fn(*args))

    return call


def perf_counter_rounds(
    target: Callable[..., Any],
    rounds: int,
    iterations: int = 1,
    setup: Callable[[], tuple] | None = None,
) -> list[float]:
    """snnbench's own round loop (same semantics as pytest-benchmark's ``pedantic``)."""
    if setup is not None and iterations != 1:
        raise ValueError("a setup function needs iterations == 1")
    samples = []
    for _ in range(rounds):
        args = setup() if setup is not None else ()
        start = time.perf_counter()
        for _ in range(iterations):
            target(*args)
        samples.append((time.perf_counter() - start) / iterations)
    return samples


@dataclass(frozen=True)
class Timed:
    """Raw timings of one case, and noise-free figures read off what it staged.

    Attributes:
        samples_s: per-call seconds, one per round.
        iterations: calls per round.
        first_s: the first call (steady phases: trace + compile + run).
        extra: column -> value, e.g. the jaxpr's size or XLA's analyses.
    """

    samples_s: tuple[float, ...]
    iterations: int
    first_s: float | None
    extra: dict[str, object] = field(default_factory=dict)
    cpu_samples_s: tuple[float, ...] = ()


class CpuClock:
    """Per-call process CPU seconds of each round, read at round boundaries.

    Wrap the round's target with :meth:`wrap`; after the rounds,
    :meth:`samples` holds one value per round (per call, like the wall samples).
    """

    def __init__(self, iterations: int):
        self._iterations = iterations
        self._calls = 0
        self._start = 0.0
        self._samples: list[float] = []

    def wrap(self, target: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            first = self._calls % self._iterations == 0
            self._calls += 1
            if first:
                self._start = time.process_time()
            out = target(*args)
            if self._calls % self._iterations == 0:
                self._samples.append((time.process_time() - self._start) / self._iterations)
            return out

        return call

    def samples(self, rounds: int) -> tuple[float, ...]:
        """The rounds' CPU samples; none if the loop did not run exactly ``rounds`` rounds."""
        return tuple(self._samples) if len(self._samples) == rounds else ()


def time_once(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """Seconds for one blocking call of ``fn(*args)``, and its result."""
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return time.perf_counter() - start, out


def time_steady(
    fn: Callable[..., Any],
    args: tuple,
    sampling: Sampling = QUICK_SAMPLING,
    rounds_runner: Rounds = perf_counter_rounds,
    agree: Callable[[float], float] | None = None,
) -> Timed:
    """Time ``fn(*args)`` in steady state (first call and warm-up excluded).

    ``agree`` maps this process's probe time to the one every process of a
    ``jax.distributed`` job uses (process 0's), so that all of them run the same
    number of calls: each call takes part in collectives, and a process that
    stopped early would leave the others waiting forever.
    """
    first_s, _ = time_once(fn, *args)
    target = blocking(fn)
    for _ in range(sampling.warmup_calls):
        target(*args)
    probe_s, _ = time_once(fn, *args)
    if agree is not None:
        probe_s = agree(probe_s)
    iterations = max(1, math.ceil(sampling.min_round_s / max(probe_s, 1e-9)))
    rounds = sampling.rounds_for(probe_s * iterations)
    clock = CpuClock(iterations)
    samples = rounds_runner(clock.wrap(lambda: target(*args)), rounds, iterations)
    return Timed(tuple(samples), iterations, first_s, cpu_samples_s=clock.samples(len(samples)))


def time_repeated(
    target: Callable[..., Any],
    setup: Callable[[], tuple],
    rounds: int,
    rounds_runner: Rounds = perf_counter_rounds,
    extra: Callable[[], dict[str, object]] | None = None,
) -> Timed:
    """Time ``target(*setup())`` for ``rounds`` rounds, fresh untimed setup each round.

    For work that cannot repeat on the same object (tracing a new function,
    compiling a new lowering, building a network). The first round is also
    reported as ``first_s``: it carries one-time costs of the process. ``extra``,
    called after the rounds, reads noise-free figures off the last round's result.
    """
    clock = CpuClock(1)
    samples = rounds_runner(clock.wrap(target), rounds, 1, setup)
    figures = extra() if extra is not None else {}
    first_s = samples[0] if samples else None
    return Timed(tuple(samples), 1, first_s, figures, clock.samples(len(samples)))


def fresh_jit(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A new jitted wrapper of ``fn``: jit caches by function identity, so this retraces."""
    return jax.jit(lambda *args: fn(*args))


def trace_lower(fn: Callable[..., Any], args: tuple) -> Any:
    """Trace and lower ``fn`` for ``args`` (to StableHLO) without compiling."""
    return fresh_jit(fn).trace(*args).lower()
