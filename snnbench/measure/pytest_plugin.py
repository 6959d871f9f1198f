"""snnbench's pytest plugin: the matrix's cases as pytest-benchmark tests.

``snnbench bench`` (and ``nox -s bench``) runs :mod:`snnbench.measure.bench_cases`
with this plugin once per precision and device, each in its own process,
passing the cases to run in a JSON file. It ships inside the package, so an
installed snnbench (a wheel) benches without a checkout. In a checkout,
``bench/`` loads it from its ``conftest.py``; run it directly for a quick look:
``pytest bench -o addopts= --snnbench-precision float32``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from snnbench.measure import harness, machine, storage, timing
from snnbench.measure.matrix import Matrix
from snnbench.measure.records import CaseSpec
from snnbench.precision import PRECISIONS


def pytest_addoption(parser):
    group = parser.getgroup("snnbench")
    group.addoption("--snnbench-cases", help="JSON file listing the cases to run")
    group.addoption("--snnbench-journal", help="append one JSON row per finished case here")
    group.addoption("--snnbench-run-id", default="adhoc", help="run id written into each row")
    group.addoption("--snnbench-policy", default="quick", choices=tuple(timing.SAMPLINGS))
    group.addoption(
        "--snnbench-precision",
        default=os.environ.get("SNNBENCH_PRECISION", "float64"),
        choices=PRECISIONS,
        help="precision of this process when no cases file is given",
    )


def _cases(config) -> list[CaseSpec]:
    path = config.getoption("--snnbench-cases")
    if path:
        return [CaseSpec(**c) for c in json.loads(Path(path).read_text())]
    precision = config.getoption("--snnbench-precision")
    matrix = Matrix(
        precisions=(precision,), platforms=("cpu",), batch_sizes=(1, 16), dts_ms=(1e-3,)
    )
    return matrix.cases()


def pytest_generate_tests(metafunc):
    if "case" in metafunc.fixturenames:
        cases = _cases(metafunc.config)
        metafunc.parametrize("case", cases, ids=[c.case_id for c in cases])


def pytest_configure(config):
    cases = _cases(config)
    precisions = {c.precision for c in cases}
    if len(precisions) > 1:
        raise pytest.UsageError(
            f"one precision per process (x64 is process-global); got {precisions}"
        )
    harness.prepare_process(precisions.pop() if precisions else "float64")


@pytest.fixture(scope="session")
def tasks() -> harness.TaskCache:
    return harness.TaskCache()


@pytest.fixture(scope="session")
def sampling(pytestconfig) -> timing.Sampling:
    return timing.SAMPLINGS[pytestconfig.getoption("--snnbench-policy")]


@pytest.fixture(scope="session")
def run_metadata(pytestconfig) -> dict:
    meta = machine.metadata()
    meta["run_id"] = pytestconfig.getoption("--snnbench-run-id")
    return meta


@pytest.fixture
def rounds_runner(benchmark) -> timing.Rounds:
    """Rounds executed by pytest-benchmark's ``pedantic``; samples read back from it."""

    def run(target, rounds, iterations=1, setup=None):
        wrapped_setup = (lambda: (setup(), {})) if setup is not None else None
        benchmark.pedantic(target, setup=wrapped_setup, rounds=rounds, iterations=iterations)
        return list(benchmark.stats.stats.data)

    return run


@pytest.fixture
def record(pytestconfig, run_metadata, benchmark):
    """Append a measurement's row to the journal and to pytest-benchmark's extra_info."""
    journal = pytestconfig.getoption("--snnbench-journal")

    def write(measurement):
        row = harness.result_row(measurement, run_metadata)
        if journal:
            storage.append_jsonl(Path(journal), {"event": "done", "row": row})
        benchmark.extra_info.update(
            {k: row[k] for k in ("case_id", "status", "reason", "first_s", "iterations")}
        )
        return row

    return write


@pytest.fixture
def mark_started(pytestconfig):
    """Note in the journal that a case started, so a crash can be pinned on it."""
    journal = pytestconfig.getoption("--snnbench-journal")

    def write(case: CaseSpec):
        if journal:
            storage.append_jsonl(Path(journal), {"event": "start", "case_id": case.case_id})

    return write
