"""JAX's process-global configuration flags, set for a block and restored after it."""

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
