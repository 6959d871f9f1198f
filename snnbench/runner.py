"""Runs the benchmark matrix: one pytest-benchmark process per (device, precision).

x64 is process-global in JAX, and a device is best chosen before JAX starts, so
each (device, precision) group runs in its own ``pytest bench/`` process. The
parent only plans, watches the journal for progress, and writes the tables.
If a child dies (out of memory, a crash), the case it was running is recorded
as failed with the reason, and a new child carries on with the rest.
Ctrl-C stops the run; every row already measured stays on disk.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from snnbench import machine, storage
from snnbench.errors import SnnbenchError
from snnbench.harness import Matrix
from snnbench.records import PHASES, SCHEMA_VERSION, CaseSpec, Measurement
from snnbench.units import format_seconds

_POLL_S = 0.5


@dataclass(frozen=True)
class RunOptions:
    """Where and how to run the matrix."""

    out_root: Path
    bench_dir: Path
    policy: str = "quick"
    progress: bool = True
    pytest_args: tuple[str, ...] = ()
    #: Interpreter of another environment (``snnbench ab``); PYTHONPATH is then
    #: dropped so that environment imports its own packages. Empty: this one.
    python: str = ""


def default_bench_dir() -> Path:
    """The ``bench/`` folder of this snnbench checkout."""
    return Path(__file__).resolve().parent.parent / "bench"


def probe_platforms() -> set[str]:
    """Platforms with devices, asked of a short-lived child so this process never
    initialises (and pre-allocates) an accelerator that the benchmark needs."""
    code = "import json; from snnbench.harness import available_platforms as a; print(json.dumps(sorted(a())))"
    env = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false")
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    if done.returncode != 0:
        raise RuntimeError(f"could not list JAX devices: {done.stderr.strip().splitlines()[-1:]}")
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def run_matrix(matrix: Matrix, options: RunOptions, platforms: set[str] | None = None) -> Path:
    """Run every case of ``matrix``; returns the new run folder."""
    bench_dir = Path(options.bench_dir)
    if not (bench_dir / "bench_matrix.py").exists():
        raise SnnbenchError(f"`--bench-dir` must hold bench_matrix.py; got {str(bench_dir)!r}")
    storage.check_writable(options.out_root)
    platforms = probe_platforms() if platforms is None else platforms
    cases = matrix.cases()
    run_dir = storage.new_run_dir(options.out_root, machine.machine_id(), _stamp())
    run_id = f"{run_dir.parent.name}/{run_dir.name}"
    info = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "command": sys.argv,
        "matrix": _matrix_dict(matrix),
        "policy": options.policy,
        "started_utc": machine.utc_now(),
        "n_cases": len(cases),
        "metadata": machine.metadata(),
        "status": "running",
    }
    storage.atomic_write_text(run_dir / storage.RUN_INFO, json.dumps(info, indent=2, default=str))
    journal = run_dir / storage.JOURNAL
    bar = _progress(len(cases), options.progress)
    status = "complete"
    try:
        for group, group_cases in _groups(cases).items():
            platform, precision = group
            if platform not in platforms:
                for case in group_cases:
                    _append_parent_row(
                        journal,
                        Measurement(
                            case,
                            status="skipped",
                            reason=f"no {platform} device: JAX found none on this machine",
                        ),
                        run_id,
                    )
                    bar.update()
                continue
            _run_group(group_cases, run_dir, run_id, options, journal, bar)
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        bar.close()
        rows = storage.journal_rows(journal)
        storage.write_table(run_dir, rows)
        info.update(status=status, finished_utc=machine.utc_now(), n_rows=len(rows))
        storage.atomic_write_text(
            run_dir / storage.RUN_INFO, json.dumps(info, indent=2, default=str)
        )
    if status == "interrupted":
        raise KeyboardInterrupt
    return run_dir


def _stamp() -> str:
    return machine.utc_now().replace(":", "").replace("-", "")


def _matrix_dict(matrix: Matrix) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in matrix.__dict__.items()}


def _groups(cases: list[CaseSpec]) -> dict[tuple[str, str], list[CaseSpec]]:
    groups: dict[tuple[str, str], list[CaseSpec]] = {}
    for case in cases:
        groups.setdefault((case.platform, case.precision), []).append(case)
    return groups


def _append_parent_row(journal: Path, measurement: Measurement, run_id: str) -> None:
    meta = machine.metadata()
    meta["run_id"] = run_id
    row = measurement.to_row(meta)
    row.update(device_kind="", device_count=0, utc=machine.utc_now())
    storage.append_jsonl(journal, {"event": "done", "row": row})


def _run_group(cases, run_dir, run_id, options, journal, bar) -> None:
    remaining = list(cases)
    part = 0
    while remaining:
        part += 1
        platform, precision = remaining[0].platform, remaining[0].precision
        tag = f"{platform}-{precision}" + (f"-part{part}" if part > 1 else "")
        cases_file = run_dir / f"cases-{tag}.json"
        storage.atomic_write_text(cases_file, json.dumps([c.to_dict() for c in remaining]))
        command = [
            options.python or sys.executable,
            "-m",
            "pytest",
            str(options.bench_dir / "bench_matrix.py"),
            "-o",
            "addopts=",
            "-o",
            "python_files=bench_*.py",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--snnbench-cases={cases_file}",
            f"--snnbench-journal={journal}",
            f"--snnbench-run-id={run_id}",
            f"--snnbench-policy={options.policy}",
            f"--benchmark-json={run_dir / f'pytest-benchmark-{tag}.json'}",
            "--benchmark-columns=min,median,iqr,rounds,iterations",
            *options.pytest_args,
        ]
        env = dict(os.environ)
        if options.python:
            env.pop("PYTHONPATH", None)
        if platform == "cpu":
            env["JAX_PLATFORMS"] = "cpu"
        log = open(run_dir / f"pytest-{tag}.log", "w")
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            returncode = _watch(child, journal, remaining, bar)
        except KeyboardInterrupt:
            child.send_signal(signal.SIGINT)
            _wait(child)
            _record_crash(journal, remaining, run_id, "interrupted (Ctrl-C)")
            raise
        finally:
            log.close()
        remaining = _unfinished(journal, remaining)
        if remaining:
            reason = _exit_reason(returncode)
            crashed = _record_crash(journal, remaining, run_id, reason)
            bar.update(1 if crashed else 0)
            remaining = _unfinished(journal, remaining)
            if not crashed:  # the child died before starting any case: do not loop forever
                for case in remaining:
                    _append_parent_row(
                        journal, Measurement(case, status="failed", reason=reason), run_id
                    )
                    bar.update()
                return


def _watch(child: subprocess.Popen, journal: Path, cases: list[CaseSpec], bar) -> int:
    wanted = {c.case_id for c in cases}
    seen = _done_ids(journal) & wanted
    while True:
        returncode = child.poll()
        now = _done_ids(journal) & wanted
        bar.update(len(now - seen))
        seen = now
        if returncode is not None:
            return returncode
        time.sleep(_POLL_S)


def _wait(child: subprocess.Popen) -> None:
    try:
        child.wait(timeout=30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def _done_ids(journal: Path) -> set[str]:
    return {row["case_id"] for row in storage.journal_rows(journal)}


def _unfinished(journal: Path, cases: list[CaseSpec]) -> list[CaseSpec]:
    done = _done_ids(journal)
    return [c for c in cases if c.case_id not in done]


def _record_crash(journal: Path, remaining: list[CaseSpec], run_id: str, reason: str) -> bool:
    """Mark the case that was running when the child died as failed; True if there was one."""
    started = [e["case_id"] for e in storage.read_jsonl(journal) if e.get("event") == "start"]
    by_id = {c.case_id: c for c in remaining}
    culprit = next((by_id[c] for c in reversed(started) if c in by_id), None)
    if culprit is None:
        return False
    _append_parent_row(journal, Measurement(culprit, status="failed", reason=reason), run_id)
    return True


def _exit_reason(returncode: int) -> str:
    if returncode < 0:
        name = signal.Signals(-returncode).name
        hint = " (killed: out of memory?)" if name == "SIGKILL" else ""
        return f"benchmark process died with {name}{hint}"
    return f"benchmark process exited with code {returncode} before finishing"


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(
        total=total, desc="benchmark matrix", unit="case", disable=not enabled, dynamic_ncols=True
    )


def summary_table(frame) -> str:
    """Markdown summary: median per phase by backend, device, precision, batch size and dt."""
    import pandas as pd

    if frame.empty:
        return "(no rows)"
    shown = frame.copy()
    shown["value"] = [_format_cell(r) for r in shown.itertuples()]
    index = ["backend", "platform", "precision", "batch_size", "dt_ms"]
    table = shown.pivot_table(index=index, columns="phase", values="value", aggfunc="first")
    order = [p for p in _PHASE_ORDER if p in table.columns]
    table = table[order].fillna("")
    ratio = shown[shown["phase"] == "grad_step"].set_index(index).get("jaxley_over_dense")
    if ratio is not None and ratio.notna().any():  # only when both backends ran it
        table["jaxley/dense (grad_step)"] = ratio.reindex(table.index).map(
            lambda r: f"{r:.1f}x" if pd.notna(r) else ""
        )
    return table.reset_index().to_markdown(index=False)


# The harness floor first, then the phases in the order they run.
_PHASE_ORDER = ("overhead", *(p for p in PHASES if p != "overhead"))


def _format_cell(row) -> str:
    if row.status != "ok":
        return row.status
    flag = "~" if bool(row.noisy) else ""
    return flag + format_seconds(row.median_s)


def quality_summary(frame) -> str:
    """How trustworthy the run's steady-state numbers are: CV, noisy rows, harness floor."""
    ok = frame[frame["status"] == "ok"]
    steady = ok[ok["phase"].isin(["forward", "grad_step"])]
    if steady.empty:
        return "No steady-state rows."
    cv = steady["cv"].astype(float)
    noisy = int(steady["noisy"].astype(bool).sum())
    lines = [
        f"Steady-state rows (forward, grad_step): {len(steady)}; coefficient of variation "
        f"median {cv.median():.1%}, 90th percentile {cv.quantile(0.9):.1%}, max {cv.max():.1%}; "
        f"{noisy} with IQR/median > 10 %."
    ]
    floor = ok[ok["phase"] == "overhead"]
    if not floor.empty:
        lines.append(
            "Harness overhead (an empty jitted function through the same path): "
            + ", ".join(f"{format_seconds(r.median_s)} ({r.precision})" for r in floor.itertuples())
            + "."
        )
    return " ".join(lines)


ProgressFactory = Callable[[int, bool], object]
