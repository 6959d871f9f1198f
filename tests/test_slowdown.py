"""The test-only compiled slowdown: bit-identical results, real compiled work, the knob's switch."""

import functools

import jax
import numpy as np
import pytest

from snnbench import TaskConfig, make_task, set_precision
from snnbench.errors import SnnbenchError
from snnbench.measure import harness
from snnbench.measure.records import CaseSpec
from snnbench.task import slowdown


def bits(tree) -> list[np.ndarray]:
    return [np.asarray(x).view(np.uint32) for x in jax.tree_util.tree_leaves(tree)]


@functools.cache
def _task_bits(backend: str, field: str = "", fraction: float = 0.0) -> list[np.ndarray]:
    """The bits of one small task's forward pass and gradient (each task built once)."""
    set_precision("float32")
    slowed = {field: fraction} if field else {}
    config = TaskConfig(batch_size=2, precision="float32", t_max_ms=0.05, **slowed)
    task = make_task(config, backend)
    params = task.init_params()
    return bits((task.forward(params, task.inputs), task.grad(params)))


@pytest.mark.parametrize("backend", ["dense", "jaxley"])
@pytest.mark.parametrize(
    ("field", "fraction"),
    [("slowdown", 0.4), ("trace_slowdown", 0.3), ("compile_slowdown", 0.3)],
)
def test_every_kind_of_slowdown_is_bit_identical(backend, field, fraction):
    slowed = _task_bits(backend, field, fraction)
    for plain, same in zip(_task_bits(backend), slowed, strict=True):
        assert np.array_equal(plain, same)


def test_burn_keeps_every_bit_and_its_work():
    set_precision("float32")
    x = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e30, -2.5], dtype=np.float32)
    assert np.array_equal(bits(slowdown.burn(x, 3, 3))[0], bits(x)[0])
    grad = jax.grad(lambda v: (slowdown.burn(v, 3, 5) * 2.0).sum())(np.ones(3, np.float32))
    assert np.array_equal(np.asarray(grad), np.full(3, 2.0, np.float32))
    plain = jax.jit(lambda v: slowdown.burn(v, 0, 0)).lower(x).compile().as_text()
    slowed = jax.jit(lambda v: slowdown.burn(v, 50, 0)).lower(x).compile().as_text()
    assert "tanh" not in plain and "tanh" in slowed and "while" in slowed  # XLA kept the loop


def test_iterations_per_fraction():
    assert slowdown.iterations("dense", 0.0) == (0, 0)
    f, cf, b, cb = slowdown.PER_STEP_ITERATIONS["dense"]
    assert slowdown.iterations("dense", 0.4) == (round(f * (0.4 - cf)), round(b * (0.4 - cb)))
    assert min(slowdown.iterations("jaxley", 0.01)) == 1  # tiny fractions still burn


def test_the_knob_is_set_through_the_environment(monkeypatch):
    spec = CaseSpec("dense", "forward", 2, "float32", "cpu", 1e-3)
    assert harness.config_for(spec).slowdown == 0.0
    monkeypatch.setenv(slowdown.ENV_VAR, "0.2")
    assert harness.config_for(spec).slowdown == 0.2
    monkeypatch.setenv(slowdown.ENV_VAR, "fast")
    with pytest.raises(SnnbenchError, match="`SNNBENCH_SLOWDOWN` must be a fraction >= 0"):
        harness.config_for(spec)
    with pytest.raises(SnnbenchError, match="`slowdown` must be a number >= 0"):
        TaskConfig(slowdown=-0.1)


def test_the_trace_kind_works_while_tracing_only(monkeypatch):
    set_precision("float32")
    spun = []
    monkeypatch.setattr(slowdown, "_spin", spun.append)
    config = TaskConfig(batch_size=2, precision="float32", t_max_ms=0.02, trace_slowdown=0.5)
    task = make_task(config, "dense")
    params = task.init_params()
    task.raw_forward(params, task.inputs)  # eager: nothing to trace, no work
    assert spun == []
    jax.jit(task.raw_forward).trace(params, task.inputs)
    assert len(spun) == 1 and spun[0] > 0


def test_the_compile_kind_grows_the_compiled_program():
    set_precision("float32")
    texts = {}
    for fraction in (0.0, 0.2):
        config = TaskConfig(
            batch_size=2, precision="float32", t_max_ms=0.02, compile_slowdown=fraction
        )
        task = make_task(config, "dense")
        lowered = jax.jit(task.raw_forward).trace(task.init_params(), task.inputs).lower()
        texts[fraction] = lowered.compile().as_text()
    n_grow = round(slowdown.COMPILE_ITERATIONS["dense"] * 0.2)
    assert texts[0.2].count(" tanh(") >= n_grow > texts[0.0].count(" tanh(")


def test_every_kind_is_set_through_the_environment(monkeypatch):
    spec = CaseSpec("dense", "forward", 2, "float32", "cpu", 1e-3)
    monkeypatch.setenv(slowdown.ENV_VAR, slowdown.as_env_value("trace", 0.1) + ",compile=0.05")
    config = harness.config_for(spec)
    assert (config.slowdown, config.trace_slowdown, config.compile_slowdown) == (0.0, 0.1, 0.05)
    monkeypatch.setenv(slowdown.ENV_VAR, "memory=0.1")
    with pytest.raises(SnnbenchError, match="KIND in step, trace, compile; got 'memory=0.1'"):
        harness.config_for(spec)
