"""Every synaptic weight made trainable in one step, without jaxley's per-edge stack.

jaxley 0.13/0.14's ``make_trainable`` groups the selected edges by their
``controlled_by_param`` and calls ``jnp.stack`` on one index array per group:
for ``select(edges="all")`` that is one eager XLA program with one operand per
edge, compiled on the spot. Its compile time grows faster than the edge count
(34 s at 6 528 edges, 467 s at 26 112 on a 2-core VM), which makes every
network beyond a few thousand synapses impractical to build.

When every edge is its own group (no parameter sharing), the result is known in
closed form: the indices are the edges' own index labels, one per row, and the
values are the current weights. :func:`make_all_edges_trainable` builds exactly
those arrays with numpy and appends them where ``make_trainable`` would, so the
network is the same, bit for bit (``tests/test_trainable.py`` holds it against
jaxley's own result). Shared parameters fall back to jaxley's own code path.
:func:`check_trainable_seam` fails loudly if the jaxley internals this relies on move.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace

import jax
import numpy as np
import pandas as pd
from jaxley.modules.base import View

from snnbench.task.spiking import SUPPORTED_JAXLEY, jaxley_version

#: What ``Module.make_trainable`` takes on the jaxley releases this mirrors.
_MAKE_TRAINABLE_PARAMETERS = ("self", "key", "init_val", "verbose")
#: The module attributes ``make_trainable`` appends to (and this appends to).
_BASE_ATTRIBUTES = {
    "trainable_params": list,
    "indices_set_by_trainables": list,
    "num_trainable_params": int,
}
_GROUP = "controlled_by_param"
#: The ``controlled_by_param`` key jaxley's ``select`` sets on the view it returns.
_SELECTION = "filter"


def check_trainable_seam(net) -> None:
    """Raise if ``net`` (a built jaxley module) lacks what this module relies on.

    Raises:
        RuntimeError: naming the installed jaxley version and what moved.
    """
    problems = []
    found = tuple(inspect.signature(type(net).make_trainable).parameters)
    if found != _MAKE_TRAINABLE_PARAMETERS:
        problems.append(f"`make_trainable` takes {found}, expected {_MAKE_TRAINABLE_PARAMETERS}")
    base = getattr(net, "base", None)
    for name, kind in _BASE_ATTRIBUTES.items():
        if not isinstance(getattr(base, name, None), kind):
            problems.append(f"`base.{name}` is not a {kind.__name__}")
    if _GROUP not in getattr(net, "edges", {}):
        problems.append(f"the edges table has no `{_GROUP}` column")
    grouping = getattr(View, "_set_controlled_by_param", None)
    found = tuple(inspect.signature(grouping).parameters) if grouping else None
    if found != ("self", "key"):
        problems.append(f"`View._set_controlled_by_param` takes {found}, expected ('self', 'key')")
    if problems:
        raise RuntimeError(
            f"jaxley {jaxley_version()} moved the internals snnbench's fast make_trainable "
            f"mirrors ({'; '.join(problems)}); it is tested on jaxley "
            f"{', '.join(SUPPORTED_JAXLEY)}."
        )


def make_all_edges_trainable(net, key: str) -> None:
    """``net.select(edges="all").make_trainable(key)``, without the per-edge eager stack.

    Args:
        net: a built jaxley network whose edges carry ``key``.
        key: the synapse parameter to train, e.g. ``"SpikeSynapse_gS"``.
    """
    check_trainable_seam(net)
    # The network's own table holds every edge, as `select(edges="all")` would; no view
    # is built (each costs one-off XLA compilations in a fresh process).
    edges = net.edges
    has_key = ~edges[key].isna().to_numpy()
    groups = _groups_of_a_selection(len(edges))[has_key]
    if len(np.unique(groups)) != len(groups):  # shared parameters: jaxley's own path
        net.select(edges="all").make_trainable(key, verbose=False)
        return
    # jaxley orders the parameters by group id (a pandas groupby), one row per group.
    order = np.argsort(groups, kind="stable")
    indices = edges.index.to_numpy()[has_key][order][:, None]
    values = edges[key].to_numpy()[has_key][order]
    base = net.base
    # In the dtypes jax would give them, converted on the host and put on the device as
    # they are: `jnp.asarray` would compile a conversion.
    base.trainable_params.append({key: _on_device(values)})
    base.indices_set_by_trainables.append(_on_device(indices))
    base.num_trainable_params += len(values)


def _groups_of_a_selection(n_edges: int) -> np.ndarray:
    """The ``controlled_by_param`` groups ``select(edges=...)`` gives ``n_edges`` edges.

    jaxley's own method runs on a stand-in with empty tables: a real view would cost
    compilations, and this still follows jaxley if its grouping of a selection changes.
    """
    stand_in = SimpleNamespace(
        nodes=pd.DataFrame(index=range(0)), edges=pd.DataFrame(index=range(n_edges))
    )
    View._set_controlled_by_param(stand_in, _SELECTION)
    return stand_in.edges[_GROUP].to_numpy()


def _on_device(values: np.ndarray) -> jax.Array:
    return jax.device_put(values.astype(jax.dtypes.canonicalize_dtype(values.dtype)))
