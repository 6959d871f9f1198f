"""Quantities for people: seconds and bytes in readable units (ASCII, so tables align)."""

from __future__ import annotations

import math


def _finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):  # None, pandas NA, text
        return None
    return number if math.isfinite(number) else None


def format_seconds(seconds: object) -> str:
    """12.3 us, 4.56 ms, 1.23 s; empty for a missing or non-finite value."""
    value = _finite(seconds)
    if value is None:
        return ""
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value * 1e9:.3g} ns"


def format_bytes(count: object) -> str:
    """1.5 GiB, 377 MiB, 12 KiB, 512 B; empty for a missing value."""
    value = _finite(count)
    if value is None:
        return ""
    for scale, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.0f} B"
