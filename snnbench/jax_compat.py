"""What differs between the jax releases snnbench supports, in one place.

snnbench runs on every jax from :data:`OLDEST_JAX` (the last release before
XLA's CPU thunk runtime, so that slowdown can be reproduced side by side) to
the newest. Features a release lacks are named here, once, so that a case that
needs one is skipped with the reason instead of failing on import.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext

import jax
import numpy as np
from jax.sharding import Mesh

#: The oldest jax snnbench declares (pyproject.toml) and CI tests.
OLDEST_JAX = "0.4.31"

try:  # axis types (sharding in types) arrived after the oldest release
    from jax.sharding import AxisType
except ImportError:  # pragma: no cover - only on old jax
    AxisType = None


def same_random_bits() -> AbstractContextManager:
    """Random draws as every supported jax makes them: the partitionable threefry.

    jax 0.5 made it the default; older releases draw other numbers from the same
    key, so the task's data (and its golden values) would depend on the release.
    """
    switch = getattr(jax, "threefry_partitionable", None)
    return switch(True) if switch is not None else nullcontext()


def make_mesh(
    shape: tuple[int, ...], names: tuple[str, ...], devices: Sequence[jax.Device]
) -> Mesh:
    """A mesh whose axes are all ``Auto`` (sharding propagated by the compiler).

    jax 0.10's ``make_mesh`` defaults to ``Explicit`` axes, under which the task's
    programs fail, so the type is given where jax has types; releases without
    them (or without ``make_mesh``) have only what ``Auto`` means.
    """
    devices = list(devices)
    if hasattr(jax, "make_mesh") and AxisType is not None:
        return jax.make_mesh(
            shape, names, axis_types=(AxisType.Auto,) * len(shape), devices=devices
        )
    return Mesh(np.asarray(devices, dtype=object).reshape(shape), names)


def missing_feature(feature: str) -> str:
    """Why ``feature`` cannot run on this jax ("" when it can).

    Known features: ``"explicit_sharding"`` (``jax.sharding.AxisType``).
    """
    if feature == "explicit_sharding" and AxisType is None:
        return f"needs jax.sharding.AxisType (newer jax than {jax.__version__})"
    return ""
