"""A process of a ``jax.distributed`` job: joining, agreeing with process 0, measuring.

``snnbench bench --processes N`` runs a job of N ranks on this machine: each
rank is a worker started in one process group, told to ``join`` (coordinator on
127.0.0.1), then given each case in turn as a ``measure`` request that takes
process 0's calibration (:func:`agree_with_process_0`), so every rank makes the
same calls and so takes part in the same collectives
(:class:`snnbench.measure.worker.LocalJob`).
``snnbench bench --distributed`` is one process of a job a cluster's launcher
started (SLURM, Open MPI, a Kubernetes Indexed Job; see docs/scaling.md):
``jax.distributed.initialize()`` reads the job from the environment
(:func:`join_from_environment`, :func:`run_as_job_member`).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

#: Test hook: ``kill:RANK``, ``exit:RANK`` or ``hang:RANK`` makes that process fail
#: right after joining the job, so the supervisor's handling can be checked.
FAULT_VARIABLE = "SNNBENCH_WORKER_FAULT"


def join_as_rank(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    local_device_ids: Sequence[int] | None = None,
    init_timeout_s: int = 300,
    heartbeat_timeout_s: int = 100,
) -> int:
    """``jax.distributed.initialize``: explicitly for a local job (``coordinator``
    given), else from a launcher's environment; returns this process's rank."""
    import jax

    options: dict[str, object] = {
        "initialization_timeout": init_timeout_s,
        "heartbeat_timeout_seconds": heartbeat_timeout_s,
    }
    if coordinator:
        options.update(
            coordinator_address=coordinator, num_processes=num_processes, process_id=process_id
        )
    if local_device_ids is not None:
        options["local_device_ids"] = list(local_device_ids)
    jax.distributed.initialize(**options)
    _inject_fault()
    return jax.process_index()


def _inject_fault() -> None:
    import jax

    kind, _, rank = os.environ.get(FAULT_VARIABLE, "").partition(":")
    if not kind or int(rank) != jax.process_index():
        return
    print(f"{FAULT_VARIABLE}: {kind} in process {rank}", file=sys.stderr, flush=True)
    if kind == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif kind == "hang":
        time.sleep(10**6)
    elif kind == "exit":
        sys.exit(3)


def agree_with_process_0(value: float) -> float:
    """Process 0's ``value`` in every process of the job (a collective: all must call it)."""
    import numpy as np
    from jax.experimental import multihost_utils

    return float(multihost_utils.broadcast_one_to_all(np.float64(value)))


def measure_cases(cases: Sequence, journal: Path, metadata: dict, sampling: str = "quick") -> None:
    """Measure ``cases`` in this process of the job; process 0 appends the rows to ``journal``.

    A case of one process (the 1-device baseline of a series in a job started
    by a cluster's launcher) runs in process 0 alone; the others go on to the
    next case, whose first collective waits for process 0.
    """
    import jax

    from snnbench.measure import harness, storage, timing
    from snnbench.precision import current_precision

    rules = timing.SAMPLINGS[sampling]
    leader = jax.process_index() == 0
    tasks = harness.TaskCache()
    for case in cases:
        alone = case.processes == 1 and jax.process_count() > 1
        if alone and not leader:
            continue
        if case.precision != current_precision():  # x64 is process-global: switch, rebuild
            harness.prepare_process(case.precision)
            tasks = harness.TaskCache()
        if leader:
            storage.append_jsonl(journal, {"event": "start", "case_id": case.case_id})
        agree = None if alone else agree_with_process_0
        measurement = harness.measure_case(case, rules, timing.perf_counter_rounds, tasks, agree)
        if leader:
            row = harness.result_row(measurement, metadata)
            storage.append_jsonl(journal, {"event": "done", "row": row})


def run_as_job_member(matrix, options) -> Path | None:
    """``snnbench bench --distributed``: this process is one of a job a launcher started.

    Call :func:`join_from_environment` first. Every process measures the same
    cases; process 0 writes the run folder and returns it (the others return
    None). The device counts must be 1 (process 0's first device) and the
    job's whole device count.

    Raises:
        SnnbenchError: if a device count is neither.
    """
    import jax

    from snnbench.errors import expect
    from snnbench.measure import machine, storage

    total = jax.device_count()
    for n in matrix.device_counts:
        expect(
            n in (1, total),
            "device_counts",
            f"1 or the job's {total} devices (a distributed job spans all of them)",
            n,
        )
    cases = matrix.cases()
    leader = jax.process_index() == 0
    folder = storage.RunFolder.create(options.out_root, kind="distributed") if leader else None
    info = {}
    if folder is not None:
        info = storage.start_info(
            folder,
            options.command,
            matrix=matrix.to_dict(),
            sampling=options.sampling,
            n_cases=len(cases),
            processes=jax.process_count(),
            devices=total,
            metadata=machine.metadata(),
            load_average_start=machine.load_average(),
        )
    journal = folder / storage.JOURNAL if folder is not None else Path(os.devnull)
    metadata = {**machine.metadata(), "run_id": folder.run_id if folder else ""}
    measure_cases(cases, journal, metadata, options.sampling)
    if folder is None:
        return None
    rows = storage.journal_rows(journal)
    storage.write_table(folder.path, rows)
    info.update(status="complete", finished_utc=machine.utc_now(), n_rows=len(rows))
    folder.write_info(info)
    return folder.path


def join_from_environment(init_timeout_s: int = 300) -> tuple[int, int]:
    """``jax.distributed.initialize()`` from the launcher's environment: (processes, devices)."""
    import jax

    join_as_rank(init_timeout_s=init_timeout_s)
    return jax.process_count(), jax.device_count()
