"""Synthetic run folders for the history tests, written with storage's own writers.

Every time here is made up (a formula with seeded noise), not a measurement; the
machine ids say so.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from snnbench.measure import storage
from snnbench.measure.records import SCHEMA_VERSION, CaseSpec, Measurement

MACHINE = "fixture-h-0000cccc"
OTHER_MACHINE = "fixture-o-0000dddd"
JAX_OLD = "0.4.31"
JAX_NEW = "0.10.2"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
#: The configurations every synthetic run measures: (backend, phase, batch, precision).
CASES = (
    ("jaxley", "forward", 16, "float32"),
    ("jaxley", "grad_step", 16, "float32"),
    ("dense", "forward", 16, "float32"),
    ("dense", "forward", 64, "float64"),
)


def spec(backend: str, phase: str, batch: int, precision: str) -> CaseSpec:
    return CaseSpec(backend, phase, batch, precision, "cpu", 0.025)


def _metadata(machine: str, jax: str, commit: str, run_id: str) -> dict[str, object]:
    return {
        "snnbench_version": "0.2.0",
        "jax_version": jax,
        "jaxlib_version": jax,
        "jaxley_version": "0.14.0",
        "optax_version": "0.2.4",
        "numpy_version": "2.1.0",
        "pandas_version": "2.2.3",
        "python_version": "3.11.9",
        "machine_id": machine,
        "hostname": machine.rsplit("-", 1)[0],
        "os": "Linux 6.1.0",
        "cpu_model": "Synthetic CPU (fixture)",
        "cpu_count": 2,
        "git_commit": commit,
        "git_dirty": False,
        "xla_flags": "",
        "omp_num_threads": "",
        "mkl_num_threads": "",
        "openblas_num_threads": "",
        "run_id": run_id,
    }


def write_run(
    root: Path,
    day: int,
    medians_s: dict[tuple, float],
    *,
    jax: str = JAX_OLD,
    commit: str = COMMIT,
    machine: str = MACHINE,
    status: str = "complete",
    noise: float = 0.01,
    seed: int = 0,
    yardstick_s: float = 0.002,
) -> Path:
    """One run folder of ``medians_s`` (case -> seconds), 5 samples each with ``noise``,
    the yardstick next to each case taking ``yardstick_s``."""
    stamp = f"202601{day:02d}T000000Z"
    utc = f"2026-01-{day:02d}T00:00:00Z"
    run_id = f"{machine}/{stamp}"
    meta = _metadata(machine, jax, commit, run_id)
    rng = np.random.default_rng(seed)
    rows = []
    for case, median in medians_s.items():
        samples = tuple(float(s) for s in median * np.exp(rng.normal(0.0, noise, 5)))
        row = Measurement(spec(*case), samples_s=samples, first_s=median * 50).to_row(meta)
        row.update(device_kind="cpu", device_count=1, utc=utc, yardstick_wall_s=yardstick_s)
        rows.append(row)
    folder = root / machine / stamp
    folder.mkdir(parents=True)
    storage.write_table(folder, rows)
    info = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "command": ["snnbench", "bench"],
        "started_utc": utc,
        "status": status,
        "metadata": {k: v for k, v in meta.items() if k != "run_id"},
    }
    storage.atomic_write_text(folder / storage.RUN_INFO, json.dumps(info, indent=2) + "\n")
    return folder


def base_medians() -> dict[tuple, float]:
    """Each case's time per call before any change (made up)."""
    return {case: 1e-3 * (i + 1) for i, case in enumerate(CASES)}


def step_tree(root: Path, runs: int = 8, step_at: int = 4, factor: float = 3.0) -> Path:
    """Runs where jax moves at ``step_at`` and jaxley's forward gets ``factor`` slower."""
    for i in range(runs):
        medians = base_medians()
        after = i >= step_at
        if after:
            medians[CASES[0]] *= factor
        run_noise = np.random.default_rng(100 + i).normal(0.0, 0.02)  # run-to-run drift
        medians = {k: v * float(np.exp(run_noise)) for k, v in medians.items()}
        write_run(root, i + 1, medians, jax=JAX_NEW if after else JAX_OLD, seed=i)
    return root


def noise_tree(root: Path, runs: int, seed: int, noise: float = 0.05) -> Path:
    """Runs where nothing changes: each run's time drifts by ``noise`` (log scale)."""
    rng = np.random.default_rng(seed)
    for i in range(runs):
        medians = {k: v * float(np.exp(rng.normal(0.0, noise))) for k, v in base_medians().items()}
        write_run(root, i + 1, medians, seed=seed * 100 + i)
    return root


def damage_run(root: Path, day: int = 28) -> Path:
    """A run folder whose table is not CSV (a disk that filled up mid-write, say)."""
    folder = write_run(root, day, base_medians())
    (folder / storage.TABLE).write_bytes(b"\x00\xff not a table \x00")
    return folder
