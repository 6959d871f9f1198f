"""Rendering quantities for people: seconds in readable units."""


def format_seconds(seconds: float) -> str:
    """Human units: 12.3 us, 4.56 ms, 1.23 s (ASCII, so tables align in any terminal)."""
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"
