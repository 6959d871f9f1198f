"""JAX's process-global configuration flags, set for a block and restored after it.

Precision is owned by :mod:`snnbench.precision`, which uses this helper; other
modules may use it for flags that only change speed (e.g.
``jax_disable_most_optimizations`` while jaxley builds a network).
"""

from collections.abc import Iterator
from contextlib import contextmanager

import jax


@contextmanager
def temporarily(flag: str, value: object) -> Iterator[None]:
    """Set ``jax.config`` ``flag`` to ``value`` inside the block; restore it afterwards."""
    previous = jax.config.read(flag)
    jax.config.update(flag, value)
    try:
        yield
    finally:
        jax.config.update(flag, previous)
