"""Has a quantity converged at the reference step? Self-convergence under step refinement.

Pure NumPy. Given a quantity ``Q`` computed at steps ``h, h / r, h / r**2, ...``
(``r = 2`` for halving), the successive differences ``d_k = ||Q_k - Q_{k+1}||``
of a method of order ``p`` shrink like ``r**-p``. Their ratio gives the observed
order; Richardson extrapolation then estimates the limit ``Q(0)`` and so the
error of the value the study reports as its reference. A quantity whose
differences do not shrink (a surrogate gradient that grows as dt falls, a
maximum that a single spike moves) has no such estimate, and is reported as not
converged instead of with a precise-looking number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from snnbench.errors import SnnbenchError, expect

NORMS = ("l2", "rms", "max")


def norm(x: np.ndarray, kind: str) -> float:
    """``l2``, ``rms`` or ``max`` norm of ``x`` (flattened); 0 for an empty array."""
    expect(kind in NORMS, "norm", f"one of {', '.join(NORMS)}", kind)
    x = np.ravel(np.asarray(x, dtype=np.float64))
    if x.size == 0:
        return 0.0
    if kind == "l2":
        return float(np.linalg.norm(x))
    if kind == "rms":
        return float(np.sqrt(np.mean(x**2)))
    return float(np.max(np.abs(x)))


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.ravel(a), np.ravel(b)
    scale = np.linalg.norm(a) * np.linalg.norm(b)
    return float(np.clip(a @ b / scale, -1.0, 1.0)) if scale else math.nan


@dataclass(frozen=True)
class Convergence:
    """Verdict of :func:`self_convergence` and its evidence.

    Attributes:
        converged: whether the reference passed every check.
        reason: one sentence saying why (or why not).
        dts: the steps, coarse to fine.
        differences: ``||Q(dts[k]) - Q(dts[k + 1])||`` in the chosen norm.
        orders: observed orders ``log_r(d_k / d_{k+1})`` of successive differences.
        order: the observed order of the three finest values (NaN if undefined).
        reference_dt: the step whose value is reported as the reference.
        reference_error: estimated ``||Q(reference_dt) - Q(0)||``; inf when the
            differences do not shrink fast enough to estimate it.
        tolerance: what ``reference_error`` had to stay within.
        extrapolated: the estimate of ``Q(0)`` (NaN where there is none).
        cosines: for vectors, cosine between successive values (coarse, fine).
        norm_ratios: for vectors, ``||Q_k|| / ||Q_{k+1}||``.
    """

    converged: bool
    reason: str
    dts: np.ndarray
    differences: np.ndarray
    orders: np.ndarray
    order: float
    reference_dt: float
    reference_error: float
    tolerance: float
    extrapolated: np.ndarray = field(repr=False)
    cosines: np.ndarray | None = None
    norm_ratios: np.ndarray | None = None


def _coarse_to_fine(
    dts: Sequence[float], values: Sequence
) -> tuple[np.ndarray, list[np.ndarray], float]:
    """Steps sorted coarse to fine, their values, and the one refinement ratio."""
    steps = np.asarray(dts, dtype=np.float64)
    expect(steps.ndim == 1 and steps.size >= 2, "dts", "two or more steps", list(dts))
    expect(len(values) == steps.size, "values", f"one value per step ({steps.size})", len(values))
    order = np.argsort(-steps)
    steps = steps[order]
    vals = [np.asarray(values[i], dtype=np.float64) for i in order]
    expect(
        all(v.shape == vals[0].shape for v in vals),
        "values",
        "arrays of one shape",
        [v.shape for v in vals],
    )
    ratios = steps[:-1] / steps[1:]
    ratio = float(ratios[0])
    if ratio <= 1 or not np.allclose(ratios, ratio, rtol=1e-9, atol=0):
        raise SnnbenchError(
            f"`dts` must shrink by one common ratio > 1 (e.g. halving); got ratios "
            f"{', '.join(f'{r:g}' for r in ratios)}"
        )
    return steps, vals, ratio


def cannot_tell(dts: Sequence[float], reference_dt: float) -> Convergence:
    """The verdict on a quantity measured at fewer than two steps: not converged, unchecked."""
    empty = np.array([])
    return Convergence(
        converged=False,
        reason=f"cannot tell: {len(dts)} step(s) on this quantity's sample grid, 3 needed",
        dts=np.asarray(dts, dtype=np.float64),
        differences=empty,
        orders=empty,
        order=math.nan,
        reference_dt=float(reference_dt),
        reference_error=math.inf,
        tolerance=math.nan,
        extrapolated=np.array(np.nan),
    )


def self_convergence(
    dts: Sequence[float],
    values: Sequence,
    *,
    reference_dt: float | None = None,
    rtol: float = 1e-2,
    atol: float = 0.0,
    norm_kind: str = "l2",
    min_order: float = 0.5,
    min_refinements: int = 2,
    noise_floor: float = 0.0,
) -> Convergence:
    """Whether ``values`` (``Q`` at ``dts``) has converged at ``reference_dt``.

    Rules, in order:

    1. Fewer than ``min_refinements`` steps finer than the reference: not
       converged ("cannot tell").
    2. The two finest differences at or below ``noise_floor`` (zero by default):
       converged iff the reference's distance to the finest value plus the floor
       is within the tolerance (an integer count that stopped changing).
    3. The finest difference above the floor after one at it: not converged.
    4. Observed order of the three finest values below ``min_order`` (differences
       that grow, stall or oscillate): not converged, error inf.
    5. Richardson: ``Q(0) ~ Q_f + (Q_f - Q_m) / (r**p - 1)`` from the two finest
       values; converged iff ``||Q(reference_dt) - Q(0)||`` is within the tolerance.

    Args:
        dts: the steps, in any order; sorted, they must shrink by one ratio ``r > 1``.
        values: ``Q`` at each step: scalars, or arrays of one shape.
        reference_dt: the step reported as the reference (default: the finest).
        rtol, atol: the tolerance, ``atol + rtol * ||Q(0)||`` in the chosen norm.
        norm_kind: ``l2``, ``rms`` or ``max``; for scalars all three are ``abs``.
        min_order: the smallest observed order accepted as convergence (0.5: lenient
            with a first-order method before its asymptotic range).
        min_refinements: steps required below the reference.
        noise_floor: differences at or below it count as zero: the resolution of a
            quantity that moves in whole units, such as a spike count.

    Raises:
        SnnbenchError: on fewer than two values, values of different shapes, steps
            without one common ratio, or a ``reference_dt`` that is not one of them.
    """
    expect(norm_kind in NORMS, "norm_kind", f"one of {', '.join(NORMS)}", norm_kind)
    steps, vals, ratio = _coarse_to_fine(dts, values)
    reference_dt = float(steps[-1] if reference_dt is None else reference_dt)
    matches = np.nonzero(np.isclose(steps, reference_dt, rtol=1e-9, atol=0))[0]
    expect(matches.size == 1, "reference_dt", "one of the steps", reference_dt)
    ref = int(matches[0])

    diffs = np.array([norm(a - b, norm_kind) for a, b in zip(vals[:-1], vals[1:], strict=True)])
    with np.errstate(divide="ignore", invalid="ignore"):
        orders = np.log(diffs[:-1] / diffs[1:]) / math.log(ratio)
    cosines = norm_ratios = None
    if vals[0].size > 1:
        pairs = list(zip(vals[:-1], vals[1:], strict=True))
        cosines = np.array([_cosine(a, b) for a, b in pairs])
        with np.errstate(divide="ignore", invalid="ignore"):
            norm_ratios = np.array([np.linalg.norm(a) / np.linalg.norm(b) for a, b in pairs])
    order = float(orders[-1]) if orders.size else math.nan
    no_limit = np.full(vals[0].shape, np.nan)

    def verdict(ok: bool, reason: str, error: float, tolerance: float, limit) -> Convergence:
        return Convergence(
            converged=bool(ok),
            reason=reason,
            dts=steps,
            differences=diffs,
            orders=orders,
            order=order,
            reference_dt=reference_dt,
            reference_error=float(error),
            tolerance=float(tolerance),
            extrapolated=limit,
            cosines=cosines,
            norm_ratios=norm_ratios,
        )

    finer = len(steps) - 1 - ref
    if finer < max(min_refinements, 2):
        return verdict(
            False,
            f"cannot tell: {finer} refinement(s) below the reference, "
            f"{max(min_refinements, 2)} needed",
            math.inf,
            math.nan,
            no_limit,
        )
    d_mid, d_fine = diffs[-2], diffs[-1]
    if d_mid <= noise_floor and d_fine <= noise_floor:
        limit = vals[-1]
        tolerance = atol + rtol * norm(limit, norm_kind)
        error = norm(vals[ref] - limit, norm_kind) + noise_floor
        ok = error <= tolerance
        what = "identical" if noise_floor == 0 else f"within the noise floor {noise_floor:.3g}"
        return verdict(
            ok,
            f"{'converged' if ok else 'not converged'}: the three finest values are {what}; "
            f"reference error {error:.3g} {'<=' if ok else '>'} tolerance {tolerance:.3g}",
            error,
            tolerance,
            limit,
        )
    if d_mid <= noise_floor:
        return verdict(
            False,
            f"not converged: the finest difference {d_fine:.3g} appeared after a zero one",
            math.inf,
            math.nan,
            no_limit,
        )
    if not order >= min_order:  # also catches NaN
        trend = "grow" if d_fine > d_mid else f"shrink only by a factor {d_mid / d_fine:.3g}"
        return verdict(
            False,
            f"not converged: successive differences {d_mid:.3g} -> {d_fine:.3g} {trend} "
            f"(observed order {order:.2f} < {min_order:g})",
            math.inf,
            math.nan,
            no_limit,
        )
    limit = vals[-1] + (vals[-1] - vals[-2]) / (ratio**order - 1.0)
    error = norm(vals[ref] - limit, norm_kind)
    tolerance = atol + rtol * norm(limit, norm_kind)
    ok = error <= tolerance
    return verdict(
        ok,
        f"{'converged' if ok else 'not converged'}: observed order {order:.2f}, estimated "
        f"reference error {error:.3g} {'<=' if ok else '>'} tolerance {tolerance:.3g}",
        error,
        tolerance,
        limit,
    )


def cosine_interval(cosine: float, relative_error: float) -> tuple[float, float]:
    """Range of ``cos(g, g0)`` given ``cos(g, g_ref)`` and ``||g_ref - g0|| <= e ||g0||``.

    The angle between ``g_ref`` and ``g0`` is at most ``asin(e)`` (``e < 1``), and
    angles obey the triangle inequality, so ``angle(g, g0)`` lies within that of
    ``angle(g, g_ref)``. ``(-1, 1)`` when ``e >= 1`` or is not finite.
    """
    if not (math.isfinite(relative_error) and relative_error < 1 and math.isfinite(cosine)):
        return (-1.0, 1.0)
    angle = math.acos(min(1.0, max(-1.0, cosine)))
    slack = math.asin(relative_error)
    return (math.cos(min(math.pi, angle + slack)), math.cos(max(0.0, angle - slack)))
