"""The GPU check of snnbench: every step a GPU session needs, in one go, within a budget.

Run through ``scripts/gpu_check.sh`` (which installs carried wheels first):

    python scripts/gpu_check.py --out OUT            # on a GPU machine
    python scripts/gpu_check.py --out OUT --dry-run  # the same steps, tiny, on the CPU

Each step runs in its own process with a time limit, in order of what matters
most; a step that would not fit in the remaining budget is skipped and says so.
Everything lands under ``OUT``: one log per step, ``steps.json`` (status and
seconds per step), the result folders under ``OUT/results``, and ``SUMMARY.md``,
which gathers the tables a reader needs (tests, GPU matrix, profile coverage and
memory, scaling, build on host vs device).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
#: Tests whose outcome depends on the backend, and the GPU-only ones.
GPU_TESTS = (
    "tests/test_gpu.py",
    "tests/test_task_float32.py",
    "tests/test_xla_analysis.py",
    "tests/test_matmul_precision.py",
    "tests/test_program_memory.py",
)


@dataclass(frozen=True)
class Step:
    """One command of the check: what it runs, how long it may take, what it needs."""

    name: str
    argv: tuple[str, ...]
    timeout_s: int
    estimate_s: int  # skipped if less than this is left of the budget
    env: dict[str, str] = field(default_factory=dict)


def _snnbench(*args: str) -> tuple[str, ...]:
    return (PY, "-m", "snnbench", *args)


def steps(out: Path, dry_run: bool) -> list[Step]:
    """The check's steps, most important first; ``dry_run``: tiny, on the CPU."""
    results = str(out / "results")
    device = "cpu" if dry_run else "gpu"
    if dry_run:
        tests = (PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_gpu.py")
        bench = ("--backend", "dense", "--batch-size", "1", "--phases", "forward,compile")
        profile = ("--backend", "dense", "--batch-size", "2", "--memory-batch-sizes", "2")
        profile += ("--phases", "grad_step", "--t-max-ms", "0.01", "--trace-steps", "2")
        sweep = ("--backend", "dense", "--n-hidden", "4,8", "--phases", "forward")
        trace = profile + ("--no-memory",)
    else:
        tests = (PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", *GPU_TESTS)
        bench = ()
        profile = ("--precision", "float32", "--memory-batch-sizes", "64,1024")
        sweep = ("--n-hidden", "4,64,256,1024", "--phases", "forward,grad_step")
        trace = ("--precision", "float32", "--backend", "jaxley", "--phases", "grad_step")
        trace += ("--no-memory",)
    common = ("--device", device, "--out", results, "--no-progress")
    profile_common = ("profile", "--device", device, "--out", results, "--no-progress")
    tests = (*tests, f"--junitxml={out / 'tests.xml'}")
    all_tests = (PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "tests")
    if dry_run:
        all_tests = (*all_tests, "-k", "gpu_plan")
    this = (PY, str(Path(__file__).resolve()))
    report = ("report", "--results", results, "--out", str(out / "report"))
    return [
        Step("environment", (*this, "--_environment"), 120, 10),
        Step("tests", tests, 240, 60),
        Step("bench", _snnbench("bench", *common, *bench), 330, 20 if dry_run else 180),
        Step("profile", _snnbench(*profile_common, *profile), 240, 30 if dry_run else 140),
        Step("size_sweep", _snnbench("bench", "--size-sweep", *common, *sweep), 180, 20),
        Step("build_on_host", (*this, "--_build", "host"), 90, 15),
        Step("build_on_device", (*this, "--_build", "device", "--device", device), 90, 15),
        Step(
            "trace_without_command_buffers",
            _snnbench(*profile_common, *trace),
            120,
            30,
            {"XLA_FLAGS": "--xla_gpu_enable_command_buffer="},
        ),
        Step("report", _snnbench(*report), 90, 10),
        # Last, and only if the budget allows: the whole suite on this machine.
        Step("all_tests", all_tests, 420, 30 if dry_run else 300),
    ]


@dataclass
class Outcome:
    """What one step did."""

    name: str
    status: str  # "ok", "failed", "timed out", "skipped"
    seconds: float
    returncode: int | None
    log: str
    note: str = ""


def run_steps(
    out: Path, dry_run: bool, budget_s: float, only: tuple[str, ...] = ()
) -> list[Outcome]:
    """Run every step (of ``only``, if given) that fits in ``budget_s``; ``steps.json`` after each."""
    out.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + budget_s
    outcomes: list[Outcome] = []
    for step in steps(out, dry_run):
        if only and step.name not in only:
            continue
        left = deadline - time.monotonic()
        log = out / f"{step.name}.log"
        if left < step.estimate_s:
            note = f"{left:.0f} s left of the budget, step needs about {step.estimate_s} s"
            outcomes.append(Outcome(step.name, "skipped", 0.0, None, log.name, note))
            continue
        outcomes.append(_run(step, log, min(step.timeout_s, left), dry_run))
        (out / "steps.json").write_text(json.dumps([asdict(o) for o in outcomes], indent=2))
        print(f"gpu_check: {step.name}: {outcomes[-1].status} in {outcomes[-1].seconds:.0f} s")
    (out / "steps.json").write_text(json.dumps([asdict(o) for o in outcomes], indent=2))
    return outcomes


def _run(step: Step, log: Path, timeout_s: float, dry_run: bool) -> Outcome:
    env = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false", **step.env)
    if dry_run:
        env["JAX_PLATFORMS"] = "cpu"
    start = time.monotonic()
    with open(log, "w") as handle:
        handle.write("$ " + " ".join(step.argv) + "\n")
        handle.flush()
        try:
            done = subprocess.run(
                step.argv, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, env=env,
                timeout=timeout_s,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return Outcome(step.name, "timed out", time.monotonic() - start, None, log.name)
    status = "ok" if done.returncode == 0 else "failed"
    return Outcome(step.name, status, time.monotonic() - start, done.returncode, log.name)


# ---------------------------------------------------------------- child steps


def environment() -> dict:
    """JAX, its devices (with compute capability and memory), and the packages."""
    import jax

    from snnbench.measure import machine

    devices = []
    for device in jax.devices():
        stats = {}
        try:
            stats = device.memory_stats() or {}
        except Exception:  # noqa: BLE001 - the CPU has none
            pass
        devices.append(
            {
                "device": str(device),
                "kind": device.device_kind,
                "compute_capability": str(getattr(device, "compute_capability", "")),
                "bytes_limit": stats.get("bytes_limit"),
            }
        )
    return {"default_backend": jax.default_backend(), "devices": devices, **machine.metadata()}


def build_timing(where: str, platform: str) -> dict:
    """A jaxley build in this fresh process: under the host CPU or under ``platform``'s
    device as the default, with the eager XLA compilations it triggers counted."""
    import jax
    import jax.monitoring

    import snnbench
    from snnbench.task import jaxley_net
    from snnbench.task.data import make_data

    snnbench.set_precision("float32")
    compiles: list[float] = []

    def listen(event: str, seconds: float, **_: object) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(seconds)

    jax.monitoring.register_event_duration_secs_listener(listen)
    config = snnbench.TaskConfig(batch_size=16, precision="float32")
    device = jax.devices("cpu")[0] if where == "host" else jax.devices(platform)[0]
    start = time.perf_counter()
    with jax.default_device(device):
        network = jaxley_net.build_network(config, make_data(config).weights)
        jax.block_until_ready(jaxley_net.initial_params(network))
    return {
        "where": where,
        "device": str(device),
        "build_s": time.perf_counter() - start,
        "eager_compiles": len(compiles),
        "compile_s": sum(compiles),
    }


# ---------------------------------------------------------------- summary


def summary(out: Path, outcomes: list[Outcome], dry_run: bool) -> str:
    """``SUMMARY.md``: the steps, then each result's key table (read back from ``out``)."""
    lines = [
        "# snnbench GPU check" + (" (dry run on the CPU)" if dry_run else ""),
        "",
        "| step | status | seconds | note |",
        "|---|---|---|---|",
    ]
    lines += [f"| {o.name} | {o.status} | {o.seconds:.0f} | {o.note} |" for o in outcomes]
    lines += ["", f"Total: {sum(o.seconds for o in outcomes):.0f} s.", ""]
    for title, text in _sections(out):
        lines += [f"## {title}", "", text, ""]
    return "\n".join(lines)


def _sections(out: Path) -> list[tuple[str, str]]:
    sections = []
    env = out / "environment.log"
    if env.exists():
        sections.append(("Environment", "```\n" + _tail(env, 40) + "\n```"))
    tests = out / "tests.log"
    if tests.exists():
        sections.append(("Tests", "```\n" + _tail(tests, 25) + "\n```"))
    sections += _result_sections(out / "results")
    builds = [out / f"build_on_{w}.log" for w in ("host", "device")]
    text = "\n".join(_tail(b, 1) for b in builds if b.exists())
    if text:
        sections.append(("Build in a fresh process", "```\n" + text + "\n```"))
    return sections


def _result_sections(results: Path) -> list[tuple[str, str]]:
    if not results.exists():
        return []
    sys.path.insert(0, str(ROOT))
    import pandas as pd

    from snnbench.measure import storage
    from snnbench.render import bench_summary, profile_page

    out = []
    for folder in storage.find_run_dirs(results, "benchmark"):
        frame = storage.load_results(folder)
        text = bench_summary.terminal_table(frame) + "\n\n" + bench_summary.quality_summary(frame)
        out.append((f"Benchmark {folder.name}", "```\n" + text + "\n```"))
    for folder in storage.find_run_dirs(results, "top_ops"):
        top = _read(storage, folder, "top_ops")
        covered = profile_page.coverage_table(top)
        if not covered.empty:
            out.append((f"Top-ops coverage {folder.name}", covered.to_markdown(index=False)))
    for folder in storage.find_run_dirs(results, "memory"):
        memory = _read(storage, folder, "memory")
        if not memory.empty:
            table = profile_page.memory_table(memory)
            out.append((f"Memory {folder.name}", pd.DataFrame(table).to_markdown(index=False)))
    return out


def _read(storage, folder: Path, kind: str):
    """A table, or an empty one where it has no rows (e.g. memory.csv of --no-memory)."""
    import pandas as pd

    from snnbench.errors import SnnbenchError

    try:
        return storage.read_table(folder, kind)
    except SnnbenchError:
        return pd.DataFrame()


def _tail(path: Path, n: int) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-n:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "gpu-check-out")
    parser.add_argument("--dry-run", action="store_true", help="tiny, on the CPU")
    parser.add_argument("--budget-s", type=float, default=570.0, help="stop starting steps after")
    parser.add_argument("--only", default="", help="comma list of step names to run")
    parser.add_argument("--_environment", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--_build", choices=("host", "device"), help=argparse.SUPPRESS)
    parser.add_argument("--device", default="gpu", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._environment:
        print(json.dumps(environment(), indent=2, default=str))
        return 0
    if args._build:
        print(json.dumps(build_timing(args._build, args.device)))
        return 0
    only = tuple(name for name in args.only.split(",") if name)
    outcomes = run_steps(args.out, args.dry_run, args.budget_s, only)
    page = summary(args.out, outcomes, args.dry_run)
    (args.out / "SUMMARY.md").write_text(page)
    print(f"gpu_check: wrote {args.out / 'SUMMARY.md'}")
    return 0 if all(o.status in ("ok", "skipped") for o in outcomes) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
