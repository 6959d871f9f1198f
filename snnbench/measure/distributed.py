"""One process of a ``jax.distributed`` benchmark job: join, measure the cases together, report.

Every process of the job runs this with the same cases, in the same order.
Each case goes through :func:`snnbench.measure.harness.measure_case` like any
other; the steady-state calibration is agreed with process 0, so every process
makes the same calls (and so takes part in the same collectives). Process 0
alone writes the journal.

Started by :mod:`snnbench.measure.runner` for ``snnbench bench --processes N``
(all processes on this machine, coordinator on 127.0.0.1)::

    python -m snnbench.measure.distributed --cases cases.json --journal rows.jsonl \\
        --coordinator 127.0.0.1:PORT --num-processes 2 --process-id 0

or by a cluster's launcher, one per task, with ``--coordinator`` left out: then
``jax.distributed.initialize()`` reads the job from the environment (SLURM,
Open MPI, a Kubernetes Indexed Job; see docs/scaling.md).

A failing process leaves with ``os._exit``: a normal interpreter exit would run
JAX's exit-time ``jax.distributed.shutdown()``, whose barrier waits for the other
processes (up to five minutes) before the failure shows.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

#: Test hook: ``kill:RANK``, ``exit:RANK`` or ``hang:RANK`` makes that process fail
#: right after joining the job, so the supervisor's handling can be checked.
FAULT_VARIABLE = "SNNBENCH_WORKER_FAULT"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m snnbench.measure.distributed")
    parser.add_argument("--cases", required=True, help="JSON file listing the cases to run")
    parser.add_argument("--journal", required=True, help="rows.jsonl that process 0 appends to")
    parser.add_argument("--run-id", default="adhoc")
    parser.add_argument("--policy", default="quick", choices=("quick", "full"))
    parser.add_argument("--coordinator", help="host:port; omit to detect the cluster's job")
    parser.add_argument("--num-processes", type=int)
    parser.add_argument("--process-id", type=int)
    parser.add_argument("--local-device-ids", help="comma list of this process's accelerators")
    parser.add_argument("--init-timeout-s", type=int, default=300)
    parser.add_argument("--heartbeat-timeout-s", type=int, default=100)
    parser.add_argument(
        "--die-with-parent", action="store_true", help="end when the starting process dies"
    )
    return parser.parse_args(argv)


def join(args: argparse.Namespace) -> None:
    """``jax.distributed.initialize``: explicitly for a local job, else from the environment."""
    import jax

    options: dict[str, object] = {
        "initialization_timeout": args.init_timeout_s,
        "heartbeat_timeout_seconds": args.heartbeat_timeout_s,
    }
    if args.coordinator:
        options.update(
            coordinator_address=args.coordinator,
            num_processes=args.num_processes,
            process_id=args.process_id,
        )
    if args.local_device_ids:
        options["local_device_ids"] = [int(i) for i in args.local_device_ids.split(",")]
    jax.distributed.initialize(**options)


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


def serve(args: argparse.Namespace) -> None:
    """Join the job, measure every case, let process 0 write the rows, leave the job."""
    import jax

    from snnbench.measure import machine
    from snnbench.measure.records import CaseSpec

    join(args)
    _inject_fault()
    cases = [CaseSpec(**c) for c in json.loads(Path(args.cases).read_text())]
    metadata = {**machine.metadata(), "run_id": args.run_id}
    measure_cases(cases, Path(args.journal), metadata, args.policy)
    jax.distributed.shutdown()


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

    join(
        argparse.Namespace(
            coordinator=None,
            local_device_ids=None,
            init_timeout_s=init_timeout_s,
            heartbeat_timeout_s=100,
        )
    )
    return jax.process_count(), jax.device_count()


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.die_with_parent:
        from snnbench.measure.procgroup import die_with_parent

        die_with_parent()
    try:
        serve(args)
    except SystemExit as stop:
        sys.stderr.flush()
        os._exit(stop.code if isinstance(stop.code, int) else 1)
    except BaseException:  # noqa: BLE001 - any failure ends this process at once
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)


if __name__ == "__main__":
    main()
