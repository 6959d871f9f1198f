"""Checks that only a GPU can answer; each is skipped elsewhere, saying so.

``scripts/gpu_check.sh`` runs these on a lent GPU (with the rest of the
backend-dependent tests); on a CPU-only machine they are skipped with the reason
below, never silently passed. None of them has run on a GPU yet (no GPU was lent
to the session that wrote them).
"""

import jax
import numpy as np
import pytest

import snnbench
from snnbench import TaskConfig, make_task
from snnbench.measure.records import CaseSpec
from snnbench.studies.profile import memory

try:
    GPU = jax.devices("gpu")[0]
except RuntimeError:
    GPU = None

pytestmark = [
    pytest.mark.skipif(GPU is None, reason="needs a GPU: JAX sees none here"),
    pytest.mark.precision("float32"),
]
CONFIG = TaskConfig(batch_size=16, precision="float32")


def test_dense_matmuls_reach_the_gpu_program_at_the_declared_precision():
    """The precision survives XLA's GPU compilation (cuBLAS calls carry it in their config)."""
    snnbench.set_precision("float32")
    texts = {}
    for setting in ("highest", "default"):
        task = make_task(CONFIG.replace(matmul_precision=setting), "dense", device=GPU)
        params = task.init_params()
        args = (params, task.init_opt_state(params), task.inputs, task.targets)
        texts[setting] = jax.jit(task.raw_step).lower(*args).compile().as_text().lower()
    assert "highest" in texts["highest"]
    assert "highest" not in texts["default"]


def test_host_build_placed_on_the_gpu_equals_a_build_on_the_gpu():
    snnbench.set_precision("float32")
    placed = make_task(CONFIG, "jaxley", device=GPU)
    with jax.default_device(GPU):
        native = make_task(CONFIG, "jaxley")
    outs = [np.asarray(t.forward(t.init_params(), t.inputs)) for t in (placed, native)]
    assert np.array_equal(*outs)
    assert placed.inputs.devices() == {GPU}


def test_gpu_memory_child_measures_the_program_alone():
    spec = CaseSpec("jaxley", "grad_step", 64, "float32", "gpu", 1e-3)
    result = memory.measure_in_child(spec)
    assert result.status == "ok", result.reason
    figures = result.figures
    assert figures["device_run_peak_kind"] in ("exact", "upper_bound")
    assert figures["program_peak_bytes"] > 0
    assert figures["memory_agrees"] is not False, figures


def test_gpu_trace_attributes_kernels_inside_loop_bodies(tmp_path):
    from snnbench.measure.phases import Function, target
    from snnbench.measure.xla_analysis import parse_hlo
    from snnbench.studies.profile import attribution, trace_ops

    snnbench.set_precision("float32")
    task = make_task(CONFIG, "jaxley", device=GPU)
    fn, args = target(task, Function.GRAD_STEP)
    compiled = jax.jit(fn).trace(*args).lower().compile()
    jax.block_until_ready(compiled(*args))
    path = trace_ops.capture(lambda: compiled(*args), 3, tmp_path, "grad_step")
    text = compiled.as_text()
    found = trace_ops.top_ops(
        trace_ops.load_trace(path), parse_hlo(text), 10, entry=attribution.entry_computation(text)
    )
    assert found.source.startswith("device")
    assert not found.table.empty and found.table["in_loop"].any()
    assert 0.3 < found.coverage.coverage < 1.5, found.coverage
