"""Sizes and flop counts of a traced program (a jaxpr), counting into sub-jaxprs.

A jaxpr nests: ``scan``, ``while``, ``cond``, ``jit`` (pjit), ``custom_vjp`` and
``remat`` equations carry sub-jaxprs. :func:`count_eqns` counts every equation
at every depth (a ``scan`` body counts once, as written, not once per step) —
the size JAX has to trace and lower. :func:`count_flops` instead counts work:
a ``scan`` body times its ``length``.

The flop model is deliberately simple and stated here so numbers can be checked
by hand: ``dot_general`` is ``2 * (output elements) * (contracted size)``;
element-wise arithmetic and comparisons one flop per output element; reductions
one flop per input element; data movement (reshape, slice, broadcast, gather,
copy, convert ...) zero. A ``while`` loop's trip count is unknown when traced:
its body is counted once and :func:`count_flops` reports that it did.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from jax.extend import core as jcore

_ELEMENTWISE = frozenset(
    "add sub mul div rem pow integer_pow neg abs sign max min exp exp2 log log1p expm1 "
    "tanh logistic sin cos tan sqrt rsqrt cbrt erf erfc erf_inv atan2 square reciprocal "
    "select_n eq ne lt le gt ge and or not xor add_any clamp nextafter floor ceil round "
    "is_finite".split()
)
_REDUCTIONS = frozenset(
    "reduce_sum reduce_max reduce_min reduce_prod argmax argmin "
    "cumsum cumprod cummax cummin cumlogsumexp".split()
)
_SCATTERS = frozenset("scatter-add scatter_add scatter_mul scatter_min scatter_max".split())


def _sub_jaxprs(eqn) -> Iterator[jcore.Jaxpr]:
    for value in eqn.params.values():
        items = value if isinstance(value, (tuple, list)) else (value,)
        for item in items:
            if isinstance(item, jcore.ClosedJaxpr):
                yield item.jaxpr
            elif isinstance(item, jcore.Jaxpr):
                yield item


def _as_jaxpr(jaxpr) -> jcore.Jaxpr:
    return jaxpr.jaxpr if isinstance(jaxpr, jcore.ClosedJaxpr) else jaxpr


def count_eqns(jaxpr, recursive: bool = True) -> int:
    """Equations of ``jaxpr`` (a Jaxpr or ClosedJaxpr), and with ``recursive`` of all sub-jaxprs."""
    jaxpr = _as_jaxpr(jaxpr)
    total = len(jaxpr.eqns)
    if recursive:
        total += sum(count_eqns(sub) for eqn in jaxpr.eqns for sub in _sub_jaxprs(eqn))
    return total


@dataclass(frozen=True)
class FlopCount:
    """Flops of one call under the module's model; ``while_loops`` bodies were counted once."""

    flops: int
    while_loops: int


def count_flops(jaxpr) -> FlopCount:
    """Flops of one call of ``jaxpr`` with ``scan`` bodies multiplied by their length."""
    flops, loops = _flops(_as_jaxpr(jaxpr))
    return FlopCount(int(flops), loops)


def _size(var) -> int:
    shape = getattr(var.aval, "shape", ())
    return math.prod(shape)


def _flops(jaxpr: jcore.Jaxpr) -> tuple[float, int]:
    total, loops = 0.0, 0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        subs = list(_sub_jaxprs(eqn))
        if subs:
            inner = [_flops(sub) for sub in subs]
            if name == "cond":  # one branch runs: count the dearest
                flops, n = max(inner)
            else:
                flops, n = sum(f for f, _ in inner), sum(n for _, n in inner)
            times = eqn.params.get("length", 1) if name == "scan" else 1
            total += flops * times
            loops += n + (name == "while")
        elif name == "dot_general":
            (lhs_contract, _), _ = eqn.params["dimension_numbers"]
            shape = eqn.invars[0].aval.shape
            contracted = math.prod(shape[d] for d in lhs_contract)
            total += 2 * _size(eqn.outvars[0]) * contracted
        elif name in _ELEMENTWISE:
            total += sum(_size(v) for v in eqn.outvars)
        elif name in _REDUCTIONS:
            total += _size(eqn.invars[0])
        elif name in _SCATTERS:
            total += _size(eqn.invars[-1])
    return total, loops
