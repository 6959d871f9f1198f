"""Build a real performance history: one benchmark run per environment point.

Each point is an environment (a jax release, a jaxley release, or a snnbench
commit) made fresh with uv (or venv + pip), with snnbench installed editable from
a git worktree of the point's commit, so every run records the commit it ran.
Every run lands in ``--out`` (default ``results/history``) as an ordinary run
folder; ``snnbench history`` builds the series and the dashboard from that tree.

The campaign is resumable: ``<out>/campaign.jsonl`` journals each finished
point (its run folder, or the reason it failed), and a point already journalled
is not run again. Run it alone on the machine, or declare the load it ran under
(each journal line records the load average before and after).

    python scripts/history_campaign.py --list
    python scripts/history_campaign.py [--points jax-0.4.31,jax-0.10.2] [--out results/history]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: What the last jax release before XLA's CPU thunk runtime resolves with here
#: (the same pins as noxfile.JAX_ENDS).
OLD_JAX_PINS = ("optax==0.2.3", "chex==0.1.86", "numpy<2.1", "scipy<1.15")
JAXLEY = "jaxley==0.14.0"
#: Each run measures this part of the quick matrix (both backends, batch 16, float32).
BENCH_ARGS = (
    "--backend",
    "jaxley,dense",
    "--batch-sizes",
    "16",
    "--precision",
    "float32",
    "--device",
    "cpu",
    "--phases",
    "forward,grad_step,trace_lower,compile",
    # One core, CPU time: what the work costs, not what a busy machine lets it have.
    "--pin-cpu",
    "auto",
    "--no-progress",
)
#: The HH canary's runs: the network where XLA's CPU runtime changes show at full size.
CANARY_ARGS = (
    "--backend",
    "jaxley_hh",
    "--batch-sizes",
    "1,16",
    "--dt-ms",
    "0.001",
    *BENCH_ARGS[4:],
)
#: The first commit with the canary (its points run there unless --commit says later).
CANARY_COMMIT = "c2f3581"


@dataclass(frozen=True)
class Point:
    """One environment of the history: a name, what it installs, which commit of snnbench."""

    name: str
    requirements: tuple[str, ...]
    commit: str = ""  # "" -> the campaign's --commit
    bench_args: tuple[str, ...] = BENCH_ARGS


def _jax_point(version: str, canary: bool = False) -> Point:
    pins = OLD_JAX_PINS if version.startswith("0.4.") else ()
    requirements = (f"jax=={version}", f"jaxlib=={version}", JAXLEY, *pins)
    if canary:
        return Point(f"canary-jax-{version}", requirements, CANARY_COMMIT, CANARY_ARGS)
    return Point(f"jax-{version}", requirements)


JAX_RELEASES = ("0.4.31", "0.4.35", "0.4.38", "0.5.3", "0.6.2", "0.7.2", "0.8.3", "0.9.2", "0.10.2")
POINTS = (
    *(_jax_point(v) for v in JAX_RELEASES),
    Point("jaxley-0.13.0", ("jaxley==0.13.0",)),
    Point("jaxley-0.14.0", ("jaxley==0.14.0",)),
    Point("snnbench-500f436", ("jaxley==0.14.0",), "500f436"),
    Point("snnbench-b3ca805", ("jaxley==0.14.0",), "b3ca805"),
    *(_jax_point(v, canary=True) for v in JAX_RELEASES),
)


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, **kwargs)


def _load() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def _checkout(commit: str, envs: Path) -> Path:
    """A git worktree of ``commit`` (editable installs of it know their commit)."""
    sha = _run(["git", "-C", str(REPO), "rev-parse", commit], check=True).stdout.strip()
    tree = envs / "src" / sha[:12]
    if not tree.exists():
        _run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), sha], check=True)
    return tree


def _environment(point: Point, envs: Path) -> Path:
    """The point's interpreter, in a fresh virtualenv made once per point and commit."""
    tree = _checkout(point.commit, envs)
    folder = envs / f"{point.name}-{tree.name}"
    python = folder / "bin" / "python"
    if (folder / ".ready").exists():
        return python
    shutil.rmtree(folder, ignore_errors=True)
    uv = shutil.which("uv")
    if uv:
        _run([uv, "venv", "-q", "--python", sys.executable, str(folder)], check=True)
        install = [uv, "pip", "install", "-q", "--python", str(python)]
    else:
        _run([sys.executable, "-m", "venv", str(folder)], check=True)
        install = [str(python), "-m", "pip", "install", "-q"]
    done = _run([*install, "-e", str(tree), *point.requirements])
    if done.returncode != 0:
        raise RuntimeError(f"install failed: {done.stderr.strip().splitlines()[-1:]}")
    (folder / ".ready").write_text(json.dumps(point.requirements))
    return python


def _journal(out: Path) -> dict[str, dict]:
    path = out / "campaign.jsonl"
    if not path.exists():
        return {}
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {entry["point"]: entry for entry in lines}


def _new_run(out: Path, before: set[Path]) -> str:
    after = {p for p in out.glob("*/*") if (p / "run.json").exists()}
    made = sorted(after - before)
    return str(made[-1].relative_to(out)) if made else ""


def _label(point: Point, run: int) -> str:
    """The journal's name of a point's ``run``-th measurement (the first is the bare name)."""
    return point.name if run == 1 else f"{point.name}#{run}"


def measure(point: Point, out: Path, envs: Path, run: int = 1) -> dict:
    """Benchmark one point; its journal entry (run folder or failure reason)."""
    entry = {"point": _label(point, run), "requirements": list(point.requirements)}
    entry["commit"] = point.commit
    entry["load_before"] = _load()
    started = time.time()
    try:
        python = _environment(point, envs)
    except (RuntimeError, subprocess.CalledProcessError) as error:
        return {**entry, "status": "failed", "reason": str(error)[-300:]}
    before = {p for p in out.glob("*/*") if (p / "run.json").exists()}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = [str(python), "-m", "snnbench", "bench", "--out", str(out), *point.bench_args]
    done = _run(command, env=env, cwd=str(out.parent))
    entry.update(
        load_after=_load(),
        wall_s=round(time.time() - started, 1),
        run=_new_run(out, before),
        status="complete" if done.returncode == 0 else "failed",
    )
    if done.returncode != 0:
        entry["reason"] = " | ".join(done.stderr.strip().splitlines()[-3:])[-300:]
    return entry


def _visit(point: Point, run: int, done: dict, wanted: list[str], args, out: Path, envs: Path):
    label = _label(point, run)
    state = done.get(label, {}).get("status", "to do")
    if args.list:
        print(f"{label:22} {state:9} {' '.join(point.requirements)} @ {point.commit}")
        return
    if point.name not in wanted or state == "complete":
        return
    if args.prepare:
        print(f"{point.name}: {_environment(point, envs)}", flush=True)
        return
    print(f"{label}: measuring ...", flush=True)
    entry = measure(point, out, envs, run)
    with (out / "campaign.jsonl").open("a") as journal:
        journal.write(json.dumps(entry) + "\n")
    print(f"{label}: {entry['status']} {entry.get('run', '')} {entry.get('reason', '')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "results" / "history"))
    parser.add_argument("--envs", default=str(REPO / ".snnbench-envs" / "history"))
    parser.add_argument("--points", help="comma-separated point names (default: all not done)")
    parser.add_argument(
        "--commit", default="HEAD", help="snnbench commit of the release points (default HEAD)"
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="measurements per point, made in passes over all points (a change point needs "
        "two runs on each side; default 1)",
    )
    parser.add_argument("--list", action="store_true", help="list the points and their state")
    parser.add_argument(
        "--prepare", action="store_true", help="only build the environments (no measuring)"
    )
    args = parser.parse_args(argv)
    out, envs = Path(args.out).resolve(), Path(args.envs).resolve()
    out.mkdir(parents=True, exist_ok=True)
    envs.mkdir(parents=True, exist_ok=True)
    done = _journal(out)
    wanted = args.points.split(",") if args.points else [p.name for p in POINTS]
    unknown = sorted(set(wanted) - {p.name for p in POINTS})
    if unknown:
        parser.error(f"--points: expected names from --list; got {', '.join(unknown)}")
    for run in range(1, args.runs + 1):
        for point in POINTS:
            point = replace(point, commit=point.commit or args.commit)
            _visit(point, run, done, wanted, args, out, envs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
