"""A test-only compiled slowdown: extra work inside the jitted time step, results unchanged.

The noise study (``snnbench noise-study``) needs a *real* regression to detect:
slower compiled code, not a wait around it. ``TaskConfig(slowdown=0.2)`` adds
about 20 % of compiled work to every time step of both backends, forward and
backward, and changes no output, loss or gradient by a single bit.

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

import jax
import jax.numpy as jnp

from snnbench.errors import SnnbenchError

#: The environment variable that sets the knob where the benchmark builds its tasks.
ENV_VAR = "SNNBENCH_SLOWDOWN"

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
    """The slowdown fraction ``SNNBENCH_SLOWDOWN`` asks for (0 when unset).

    Raises:
        SnnbenchError: if the variable holds anything but a number >= 0.
    """
    text = os.environ.get(ENV_VAR, "").strip()
    if not text:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise SnnbenchError(f"`{ENV_VAR}` must be a fraction >= 0 (0.2 is +20 %); got {text!r}")
    return value


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
