"""The one owner of JAX's process-global precision (the ``jax_enable_x64`` flag).

JAX computes in float64 only while ``jax_enable_x64`` is set, and that flag is
global to the process. So in snnbench exactly one module touches it:

- entry points (the CLI's commands, child processes, the pytest plugin, a
  user's script) call :func:`set_precision` once;
- library code only checks, with :func:`require_precision`, and says what to
  do when the process computes in another precision;
- :func:`draws_in_64_bit` is the one sanctioned temporary switch: the task's
  random draws are always made in 64-bit mode, as the tutorial makes them.

A test holds that no other module mentions the flag.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import jax

from snnbench.errors import SnnbenchError, expect
from snnbench.jax_config import temporarily

PRECISIONS = ("float32", "float64")
_FLAG = "jax_enable_x64"


def set_precision(precision: str) -> None:
    """Make this process compute in ``precision`` ("float32" or "float64").

    Call it once, at the start, before building a task: arrays made in one
    precision are not converted when the flag changes, and every
    :class:`snnbench.Task` refuses to run in a precision it was not made for.
    """
    expect(precision in PRECISIONS, "precision", f"one of {PRECISIONS}", precision)
    jax.config.update(_FLAG, precision == "float64")


def current_precision() -> str:
    """The precision JAX computes in by default right now."""
    return "float64" if jax.config.read(_FLAG) else "float32"


def require_precision(precision: str, what: str) -> None:
    """Raise unless this process computes in ``precision``; ``what`` names the caller.

    Raises:
        SnnbenchError: naming the call to make first.
    """
    found = current_precision()
    if found != precision:
        raise SnnbenchError(
            f"{what} needs precision={precision!r} but this process computes in {found!r}; "
            f"call snnbench.set_precision({precision!r}) first, or ask for this process's "
            f"precision with TaskConfig(precision={found!r}) (JAX's x64 flag is "
            "process-global, so use one precision per process).",
            argument="precision",
        )


@contextmanager
def draws_in_64_bit() -> Iterator[None]:
    """Compute in 64-bit inside the block (for random draws), then restore the precision."""
    with temporarily(_FLAG, True):
        yield
