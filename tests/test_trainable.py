"""The fast make_trainable builds jaxley's own arrays, bit for bit, and fails loudly if
jaxley's internals move; the task built on the host runs the same on another device."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from snnbench import TaskConfig, make_task
from snnbench.task import jaxley_net, trainable
from snnbench.task.data import make_data

WEIGHT = jaxley_net.WEIGHT


def _build(config, fast: bool, monkeypatch):
    if not fast:  # jaxley's own code path, as the tutorial calls it
        monkeypatch.setattr(
            jaxley_net,
            "make_all_edges_trainable",
            lambda net, key: net.select(edges="all").make_trainable(key, verbose=False),
        )
    network = jaxley_net.build_network(config, make_data(config).weights)
    monkeypatch.undo()
    return network


#: Each precision and each size once: every pairing would double the cost, not the cover.
@pytest.mark.parametrize(("n_hidden", "precision"), [(4, "float64"), (7, "float32")])
def test_fast_make_trainable_equals_jaxleys_own(precision, n_hidden, monkeypatch):
    import snnbench

    snnbench.set_precision(precision)
    config = TaskConfig(batch_size=2, t_max_ms=0.02, n_hidden=n_hidden, precision=precision)
    fast, own = _build(config, True, monkeypatch), _build(config, False, monkeypatch)
    a, b = fast.net.base, own.net.base
    assert a.num_trainable_params == b.num_trainable_params == config.n_edges
    for x, y in zip(a.indices_set_by_trainables, b.indices_set_by_trainables, strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape == (config.n_edges, 1)
        assert np.array_equal(x, y)
    for x, y in zip(a.trainable_params, b.trainable_params, strict=True):
        assert x.keys() == y.keys() == {WEIGHT}
        assert x[WEIGHT].dtype == y[WEIGHT].dtype and np.array_equal(x[WEIGHT], y[WEIGHT])
    inputs = make_data(config).inputs
    outs = [
        np.asarray(jaxley_net.make_forward(n, config)(jaxley_net.initial_params(n), inputs))
        for n in (fast, own)
    ]
    assert np.array_equal(*outs)  # the same network, bit for bit


def test_shared_parameters_fall_back_to_jaxleys_path(monkeypatch):
    config = TaskConfig(batch_size=2, t_max_ms=0.02)
    network = jaxley_net.build_network(config, make_data(config).weights)
    net = network.net
    called = []

    def own_path(self, key, init_val=None, verbose=True):
        called.append(key)

    view_class = type(net.select(edges="all"))
    select_edges = view_class._set_controlled_by_param

    def shared(self, key):  # as if jaxley grouped every edge into one shared parameter
        select_edges(self, key)
        self.edges["controlled_by_param"] = 0

    monkeypatch.setattr(view_class, "make_trainable", own_path)
    monkeypatch.setattr(view_class, "_set_controlled_by_param", shared)
    trainable.make_all_edges_trainable(net, WEIGHT)
    assert called == [WEIGHT]


def test_a_moved_jaxley_internal_fails_loudly(monkeypatch):
    config = TaskConfig(batch_size=2, t_max_ms=0.02)
    net = jaxley_net.build_network(config, make_data(config).weights).net
    trainable.check_trainable_seam(net)  # as installed: fine
    monkeypatch.setattr(net.base, "indices_set_by_trainables", None)
    with pytest.raises(RuntimeError, match=r"jaxley .* moved .*base.indices_set_by_trainables"):
        trainable.check_trainable_seam(net)


_TWO_DEVICES = textwrap.dedent(
    """
    import os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    os.environ["JAX_PLATFORMS"] = "cpu"
    import jax, numpy as np
    import snnbench
    snnbench.set_precision("float32")
    config = snnbench.TaskConfig(batch_size=3, t_max_ms=0.02, precision="float32")
    target = jax.devices()[1]
    for backend in ("jaxley", "dense"):
        here = snnbench.make_task(config, backend)
        there = snnbench.make_task(config, backend, device=target)
        p, q = here.init_params(), there.init_params()
        assert q[0]["SpikeSynapse_gS"].devices() == {target}, backend
        assert there.inputs.devices() == {target} and there.inputs._committed
        a = here.step(p, here.init_opt_state(p))
        b = there.step(q, there.init_opt_state(q))
        assert all(leaf.devices() == {target} for leaf in jax.tree.leaves(b)), backend
        same = [np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))]
        assert all(same), (backend, same)
    print("ok")
    """
)


def test_a_task_built_on_the_host_runs_bit_identically_on_another_device():
    """Two virtual CPU devices in a child process stand in for host and accelerator."""
    done = subprocess.run(
        [sys.executable, "-c", _TWO_DEVICES], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_make_task_on_the_default_device_is_unchanged():
    config = TaskConfig(batch_size=2, t_max_ms=0.02)
    task = make_task(config, "dense")
    # ``_committed``: the public ``committed`` is newer than the oldest supported jax
    assert not task.inputs._committed  # placed nowhere in particular, as before
