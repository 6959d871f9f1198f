"""Time the first ``make_task`` of a fresh process, in N fresh processes.

    python scripts/first_make_task.py                 # 5 processes, jaxley, float32
    python scripts/first_make_task.py -n 9 --backend dense --precision float64
    python scripts/first_make_task.py --compiles      # also list the eager compilations
    python scripts/first_make_task.py --source /tmp/old  # snnbench from another tree

Each child imports snnbench (and so jax and jaxley) before its clock starts, then
times one ``make_task(TaskConfig(precision=...), backend)`` up to
``jax.block_until_ready`` on the task's data (its initial parameters are host arrays
put on the device inside ``make_task``). The parent prints every sample (wall time,
and the child's CPU time, which other jobs on a shared machine disturb less), their
medians and the 1-minute load average before and after; the children run one after
another, so the load says how far to trust the wall times. ``--source`` runs the
children on another checkout's ``snnbench`` package (e.g. ``git archive`` of an
older commit), for a before/after in one sitting.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

#: The child: imports first, then the clock around the first make_task only.
CHILD = """
import json, sys, time
import jax
import snnbench
from snnbench.task import TaskConfig, make_task

precision, backend, compiles = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
snnbench.set_precision(precision)
events = []
if compiles:
    from snnbench.studies.profile.build import _call_site

    def listen(event, duration_s, **_):
        if event == "/jax/core/compile/backend_compile_duration":
            events.append((_call_site(), duration_s))

    jax.monitoring.register_event_duration_secs_listener(listen)
start, start_cpu = time.perf_counter(), time.process_time()
task = make_task(TaskConfig(precision=precision), backend)
jax.block_until_ready(task.data)
wall_s, cpu_s = time.perf_counter() - start, time.process_time() - start_cpu
print(json.dumps({"wall_s": wall_s, "cpu_s": cpu_s, "compiles": events}))
"""


def _load_1m() -> float:
    return os.getloadavg()[0]


def _one(precision: str, backend: str, compiles: bool, source: str | None) -> dict:
    # The child's first import path is its working directory: the tree to measure.
    env = {**os.environ, "PYTHONPATH": source} if source else None
    done = subprocess.run(
        [sys.executable, "-c", CHILD, precision, backend, "1" if compiles else "0"],
        capture_output=True,
        text=True,
        check=False,
        cwd=source,
        env=env,
    )
    if done.returncode != 0:
        sys.exit(f"a child failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--processes", type=int, default=5, help="fresh processes")
    parser.add_argument("--backend", default="jaxley", help="make_task's backend")
    parser.add_argument("--precision", default="float32", choices=("float32", "float64"))
    parser.add_argument(
        "--compiles", action="store_true", help="list XLA compilations (first process)"
    )
    parser.add_argument(
        "--source", help="a folder holding the snnbench package to measure (default: installed)"
    )
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error(f"--processes: expected a positive integer, got {args.processes}")
    if args.source and not os.path.isdir(os.path.join(args.source, "snnbench")):
        parser.error(f"--source: expected a folder with a snnbench package, got {args.source}")
    load_before = _load_1m()
    samples, cpu_samples, first = [], [], None
    for i in range(args.processes):
        result = _one(args.precision, args.backend, args.compiles and i == 0, args.source)
        first = first or result
        samples.append(result["wall_s"])
        cpu_samples.append(result["cpu_s"])
        print(
            f"process {i + 1}: first make_task {result['wall_s']:.3f} s "
            f"(CPU time {result['cpu_s']:.3f} s)",
            flush=True,
        )
    load_after = _load_1m()
    print(
        f"median {statistics.median(samples):.3f} s over {len(samples)} fresh processes "
        f"(min {min(samples):.3f}, max {max(samples):.3f}; median CPU time "
        f"{statistics.median(cpu_samples):.3f} s); {args.backend}, {args.precision}; "
        f"load average (1 min) {load_before:.2f} before, {load_after:.2f} after"
    )
    if args.compiles:
        by_site: dict[str, list[float]] = {}
        for site, seconds in first["compiles"]:
            by_site.setdefault(site, []).append(seconds)
        total = sum(sum(v) for v in by_site.values())
        n = sum(len(v) for v in by_site.values())
        print(f"\nXLA compilations in the first process: {n}, {total:.3f} s of backend compile")
        for site, values in sorted(by_site.items(), key=lambda kv: -sum(kv[1])):
            print(f"  {len(values):3d}  {sum(values):6.3f} s  {site}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
