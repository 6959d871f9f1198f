"""The benchmark matrix as pytest tests: build, trace+lower, compile, forward, gradient step.

Each test is one (configuration, phase) case, collected with snnbench's pytest
plugin (:mod:`snnbench.measure.pytest_plugin`): :func:`snnbench.measure.harness.measure_case`
does the timing, and pytest-benchmark executes the timed rounds and writes its own JSON.
"""

import pytest

from snnbench.measure import harness


def test_case(case, benchmark, tasks, sampling, rounds_runner, record, mark_started):
    mark_started(case)
    benchmark.group = f"{case.phase} {case.precision} {case.platform}"
    measurement = harness.measure_case(case, sampling, rounds_runner, tasks, with_yardstick=True)
    record(measurement)
    if measurement.status == "skipped":
        pytest.skip(measurement.reason)
    if measurement.status == "failed":
        pytest.fail(measurement.reason, pytrace=False)
