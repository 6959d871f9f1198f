"""Every test runs in float64, the tutorial's precision, unless it is marked otherwise.

Precision is process-global in JAX (:mod:`snnbench.precision`). A test module
that runs in float32 says ``pytestmark = pytest.mark.precision("float32")`` (and
sets it for its module-scoped fixtures); a test may also switch inside its body.
The teardown here puts the process back, so no test depends on the order tests run in.
"""

import pytest

from snnbench.precision import set_precision

#: Modules whose tests start processes, run whole commands (the matrix, a job, a study)
#: or build many networks:
#: marked ``slow``, so ``nox -s quick`` (``-m "not slow"``) leaves them out. Slow single
#: tests elsewhere carry the marker themselves.
SLOW_MODULES = {
    "test_trainable",
    "test_task_float32",
    "test_slowdown",
    "test_size_axis",
    "test_shards",
    "test_build_profile",
    "test_ab",
    "test_distributed",
    "test_dashboard_browser",
    "test_docs",
    "test_gpu_check",
    "test_hh_canary",
    "test_noise_study",
    "test_packaging",
    "test_profile",
    "test_program_memory",
    "test_runner",
    "test_scaling",
    "test_tradeoffs",
    "test_workflow",
}


def pytest_configure(config):
    config.addinivalue_line("markers", "precision(name): run the test in this precision")
    set_precision("float64")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _precision(request):
    marker = request.node.get_closest_marker("precision")
    set_precision(marker.args[0] if marker else "float64")
    yield
    set_precision("float64")


def pytest_report_header(config):
    """Say which JAX backend the tests run on: some check backend-specific things."""
    import jax

    devices = ", ".join(sorted({f"{d.platform}:{d.device_kind}" for d in jax.devices()}))
    return f"jax {jax.__version__}, default backend {jax.default_backend()} ({devices})"
