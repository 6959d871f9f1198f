"""A process stages each task function once: the steady phase reuses what the staging phases built."""

import jax
import pytest

from snnbench import set_precision
from snnbench.measure import harness, timing
from snnbench.measure.records import CaseSpec

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


@pytest.fixture
def compiles():
    seen = []

    def listen(event, duration_s, **_):
        if event == COMPILE_EVENT:
            seen.append(duration_s)

    jax.monitoring.register_event_duration_secs_listener(listen)
    yield seen
    jax.monitoring.unregister_event_duration_listener(listen)


def measure(tasks, phase):
    spec = CaseSpec("dense", phase, 2, "float32", "cpu", 1e-3, t_max_ms=0.02)
    measurement = harness.measure_case(spec, timing.AB_SAMPLING, tasks=tasks)
    assert measurement.status == "ok", measurement.reason
    return measurement


def test_one_xla_compile_per_function_and_process(compiles):
    set_precision("float32")
    tasks = harness.TaskCache()
    for phase in ("forward_trace_lower", "forward_compile"):
        measure(tasks, phase)
    after_compile_phase = len(compiles)
    assert after_compile_phase >= 1  # the compile phase compiled for real
    measure(tasks, "forward")
    assert len(compiles) == after_compile_phase  # the steady phase reused its executable
    measure(tasks, "forward_compile")
    assert len(compiles) > after_compile_phase  # a second compile phase compiles afresh


def test_a_steady_phase_first_leaves_the_staging_phases_fresh(compiles):
    set_precision("float32")
    tasks = harness.TaskCache()
    measure(tasks, "forward")
    before = len(compiles)
    compiled = measure(tasks, "forward_compile")
    assert len(compiles) > before and compiled.samples_s[0] > 0
