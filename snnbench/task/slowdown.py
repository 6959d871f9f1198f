"""Test-only injected regressions of three kinds, results unchanged bit for bit.

The noise study (``snnbench noise-study``) needs *real* regressions to detect, of
the kinds users meet, each changing no output, loss or gradient by a single bit:

- **step** (``TaskConfig(slowdown=0.2)``): about 20 % more compiled work in every
  time step of both backends, forward and backward: slower steady state.
- **trace** (``TaskConfig(trace_slowdown=0.2)``): Python work while the forward pass
  is traced, about 20 % of trace+lower; the compiled program is unchanged.
- **compile** (``TaskConfig(compile_slowdown=0.2)``): a bigger program, about 20 %
  more XLA compile time; a branch that never runs (:func:`grow_program`), so the
  steady state does not change.

:func:`burn` is the identity on ``x`` that XLA must still compute: a chain of
dependent ``tanh`` iterations on ``x`` whose result is only *selected* where it
exceeds 2, which a ``tanh`` never does. XLA cannot prove that, so it keeps the
work, and the select copies the bits of ``x`` (NaN, -0.0 and inf included).
Simpler forms fail: ``jax.lax.optimization_barrier((x, f(x)))[0]`` lets XLA
delete ``f`` as dead code, ``x + 0.0 * f(x)`` turns -0.0 into +0.0, and
``x + (-0.0)`` is folded away. The chain runs in a rolled ``fori_loop`` so the
compiled program, and its compile time, does not grow with the iteration count.

Where the burn sits matters for bit-identity: on the dense twin it acts on the
hidden voltages carried to the next step (right after ``fire`` XLA fused the
backward pass differently, changing gradients by an ulp); on jaxley it wraps
the voltage that ``Fire`` returns. A test holds both bit-identical.
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp

from snnbench.errors import SnnbenchError

#: The environment variable that sets the knobs where the benchmark builds its tasks:
#: ``0.2`` (the step kind) or ``KIND=FRACTION`` pairs, e.g. ``trace=0.1,compile=0.05``.
ENV_VAR = "SNNBENCH_SLOWDOWN"

#: The kinds of injected regression, and the ``TaskConfig`` field of each.
KINDS = {"step": "slowdown", "trace": "trace_slowdown", "compile": "compile_slowdown"}

#: Trace kind: seconds of Python work per second the forward function took to trace,
#: per unit of slowdown, so that ``forward_trace_lower`` grows by about the fraction
#: (trace+lower also holds lowering and jit's own work, which the spin does not scale).
#: The gradient step's trace+lower grows less. Fitted like the table below.
TRACE_GAIN = {"dense": 1.3, "jaxley": 0.68}

#: Compile kind: unrolled iterations in the never-taken branch per unit of slowdown,
#: so that ``forward_compile`` grows by about the fraction; the gradient step's compile
#: and both trace+lower phases grow too (a bigger program is lowered as well). Fitted
#: on a 2-core AMD EPYC VM, batch 16, float32, pinned to one core.
COMPILE_ITERATIONS = {"dense": 104.0, "jaxley": 350.0}

#: ``(F, cf, B, cb)`` per backend: a slowdown ``k`` runs ``round(F * (k - cf))`` chain
#: iterations per time step in the forward pass and ``round(B * (k - cb))`` in the
#: backward pass (at least 1 each). ``F`` / ``B`` iterations cost about one step of the
#: forward pass / of the rest of the gradient step; ``cf`` / ``cb`` are the fixed cost of
#: having the loop at all. Fitted on a 2-core AMD EPYC VM, batch 16, float32, dt 1 us,
#: in a process pinned to one core (the mode verdicts use). Other rows get other
#: effects (fewer steps, jaxley's non-linear gradient cost), which is why the noise
#: study measures the effect it injected instead of trusting the nominal value.
PER_STEP_ITERATIONS = {
    "dense": (112.0, 0.027, 210.0, 0.062),
    "jaxley": (58.0, 0.029, 390.0, 0.067),
}


def _chain(x: jax.Array, n: int) -> jax.Array:
    """``n`` dependent tanh iterations; every result lies in (-1, 1) for ``n >= 1``."""

    def body(_, y):
        return jnp.tanh(0.9 * y + 0.3)

    return jax.lax.fori_loop(0, n, body, x * 0.01)


def _keep(y: jax.Array, x: jax.Array) -> jax.Array:
    # |tanh| <= 1 < 2: the select always returns x, but XLA cannot know it.
    return jnp.where(y > 2.0, y, x)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def burn(x: jax.Array, n_fwd: int, n_bwd: int) -> jax.Array:
    """``x`` unchanged, after ``n_fwd`` (forward) / ``n_bwd`` (backward) iterations of work."""
    if n_fwd <= 0:
        return x
    return _keep(_chain(x, n_fwd), x)


def _burn_fwd(x, n_fwd, n_bwd):
    return burn(x, n_fwd, n_bwd), None


def _burn_bwd(n_fwd, n_bwd, _, g):
    # The backward pass burns on the cotangent and returns it exactly.
    if n_bwd <= 0:
        return (g,)
    return (_keep(_chain(g, n_bwd), g),)


burn.defvjp(_burn_fwd, _burn_bwd)


def iterations(backend: str, fraction: float) -> tuple[int, int]:
    """``(n_fwd, n_bwd)`` chain iterations per time step for a slowdown ``fraction``."""
    if fraction <= 0:
        return (0, 0)
    f, cf, b, cb = PER_STEP_ITERATIONS[backend]
    return (max(1, round(f * (fraction - cf))), max(1, round(b * (fraction - cb))))


def fraction_from_env() -> float:
    """The step slowdown fraction ``SNNBENCH_SLOWDOWN`` asks for (0 when unset)."""
    return fractions_from_env()["slowdown"]


def fractions_from_env() -> dict[str, float]:
    """Every kind's fraction ``SNNBENCH_SLOWDOWN`` asks for, by ``TaskConfig`` field.

    Raises:
        SnnbenchError: if the variable is not a number >= 0 or ``KIND=FRACTION`` pairs.
    """
    text = os.environ.get(ENV_VAR, "").strip()
    out = dict.fromkeys(KINDS.values(), 0.0)
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind, _, number = item.rpartition("=")
        value = _fraction(number)
        if kind.strip() not in ("", *KINDS) or not (math.isfinite(value) and value >= 0):
            raise SnnbenchError(
                f"`{ENV_VAR}` must be a fraction >= 0 (0.2 is +20 %) or KIND=FRACTION pairs "
                f"with KIND in {', '.join(KINDS)}; got {text!r}"
            )
        out[KINDS[kind.strip() or "step"]] = value
    return out


def as_env_value(kind: str, fraction: float) -> str:
    """What ``SNNBENCH_SLOWDOWN`` holds for one kind's ``fraction``."""
    return f"{kind}={fraction!r}"


def _fraction(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _spin(cpu_s: float) -> None:
    # Busy work in this process's CPU time, as a slow Python trace would be.
    end = time.process_time() + cpu_s
    while time.process_time() < end:
        pass


def _grown(y: jax.Array, n: int) -> jax.Array:
    def body(_, z):
        return jnp.tanh(0.9 * z + 0.3)

    return jax.lax.fori_loop(0, n, body, y, unroll=n)


def grow_program(out: jax.Array, guard: jax.Array, n: int) -> jax.Array:
    """``out``, through a branch of ``n`` unrolled iterations taken only if ``guard`` > 3e38.

    Inputs are finite currents far below that, so the branch never runs; XLA still
    compiles it, and the forward pass's and the gradient's programs both grow.
    """
    return jax.lax.cond(jnp.max(guard) > 3e38, lambda y: _grown(y, n), lambda y: y, out)


def slowed_forward(forward: Callable, backend: str, trace: float, compile: float) -> Callable:
    """``forward`` with the trace and compile kinds of slowdown (``forward`` if both are 0)."""
    if trace <= 0 and compile <= 0:
        return forward
    n_grow = max(1, round(COMPILE_ITERATIONS[backend] * compile)) if compile > 0 else 0
    gain = TRACE_GAIN[backend] * trace

    def slowed(params, inputs):
        start = time.process_time()
        out = forward(params, inputs)
        if gain > 0 and isinstance(out, jax.core.Tracer):
            _spin(gain * (time.process_time() - start))
        return grow_program(out, inputs, n_grow) if n_grow else out

    return slowed


def slowed_fire_class(fire_cls: type, n_fwd: int, n_bwd: int) -> type:
    """A subclass of ``Fire`` (jaxley's or snnbench's) whose voltage update also burns.

    Instantiate it with ``name="Fire"`` so parameter and state names do not change.
    """
    if n_fwd <= 0 and n_bwd <= 0:
        return fire_cls

    class SlowedFire(fire_cls):
        def update_states(self, states, dt, v, params):
            out = dict(super().update_states(states, dt, v, params))
            key = "v" if "v" in out else next(iter(out))
            out[key] = burn(out[key], n_fwd, n_bwd)
            return out

    return SlowedFire
