"""How much one case's time moves from one fresh worker process to the next.

    python scripts/process_noise.py                       # 8 processes per variant
    python scripts/process_noise.py -n 12 --cases dense-grad_step
    python scripts/process_noise.py --variants default,one-thread,hashseed

Starts fresh measuring workers (the ones ``snnbench ab`` uses), pinned to one
core, the variants alternating process by process, and has each measure the
same cases with the A/B sampling. Per variant and case it prints the spread
between processes of each summary of the per-call CPU times (the median, the
minimum and the 10th percentile; the spread is the standard deviation of their
logarithm, in percent: what a process pair adds to an A/B round) beside the
typical spread of the calls inside one process. The variants change only the
worker's environment:

- ``default``: as ``snnbench ab`` starts it;
- ``one-thread``: XLA's CPU client with one intra-op thread and no Eigen thread pool;
- ``hashseed``: ``PYTHONHASHSEED=0``, the same string hashes (and set orders) in every process.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import sys
import tempfile
from pathlib import Path

from snnbench.measure import procgroup
from snnbench.measure.records import CaseSpec
from snnbench.measure.worker import Worker

VARIANTS = {
    "default": {},
    "one-thread": {
        "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    },
    "hashseed": {"PYTHONHASHSEED": "0"},
}
CASES = ("dense-forward", "dense-grad_step", "jaxley-forward", "dense-forward_compile")


def _spec(name: str) -> CaseSpec:
    backend, phase = name.split("-", 1)
    return CaseSpec(backend, phase, 16, "float32", "cpu", 1e-3)


#: The summaries of one process's per-call times that a gate could compare.
SUMMARIES = {
    "median": statistics.median,
    "min": min,
    "q10": lambda samples: statistics.quantiles(samples, n=10, method="inclusive")[0],
}


def _one_process(variant: str, cases: list[str], pin_cpu: int, log: Path) -> dict[str, dict]:
    env = procgroup.child_env("cpu", extra=VARIANTS[variant])
    out = {}
    with Worker(sys.executable, "float32", env, pin_cpu, log) as worker:
        for name in cases:
            spec = _spec(name)
            row = worker.measure(dataclasses.asdict(spec), {})
            samples = json.loads(row.get("cpu_samples_json") or "[]") or [row["cpu_median_s"]]
            out[name] = {key: summary(samples) for key, summary in SUMMARIES.items()}
            out[name]["cv"] = (
                statistics.stdev(samples) / statistics.mean(samples)
                if len(samples) > 1
                else math.nan
            )
    return out


def _spread_pct(values: list[float]) -> float:
    logs = [math.log(v) for v in values]
    return statistics.stdev(logs) * 100 if len(logs) > 1 else math.nan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--processes", type=int, default=8, help="processes per variant")
    parser.add_argument("--variants", default="default,one-thread", help="comma list")
    parser.add_argument("--cases", default=",".join(CASES), help="comma list of BACKEND-PHASE")
    parser.add_argument("--cpu", type=int, default=1, help="the core to pin to")
    args = parser.parse_args(argv)
    variants, cases = args.variants.split(","), args.cases.split(",")
    found: dict[str, dict[str, list]] = {v: {c: [] for c in cases} for v in variants}
    print(
        f"load average before: {os.getloadavg()[0]:.2f}; medians of {', '.join(cases)}", flush=True
    )
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.processes):
            for variant in variants if i % 2 == 0 else variants[::-1]:
                got = _one_process(variant, cases, args.cpu, Path(tmp) / "worker.log")
                for name, value in got.items():
                    found[variant][name].append(value)
                medians = " ".join(f"{v['median'] * 1e3:.3f}" for v in got.values())
                print(f"process {i + 1} {variant}: {medians} ms", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}\n")
    between = "".join(f" {key + ' %':>9}" for key in SUMMARIES)
    print(f"{'variant':11} {'case':22} {'median ms':>9}{between} {'within %':>9}")
    for variant in variants:
        for name in cases:
            values = found[variant][name]
            spreads = "".join(f" {_spread_pct([v[key] for v in values]):9.1f}" for key in SUMMARIES)
            within = statistics.median(v["cv"] for v in values) * 100
            median_ms = statistics.median(v["median"] for v in values) * 1e3
            print(f"{variant:11} {name:22} {median_ms:9.3f}{spreads} {within:9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
