"""Runs the benchmark matrix: one pytest-benchmark process per (device, precision, count).

x64 is process-global in JAX, and a device is best chosen before JAX starts, so
each (device, precision) group runs in its own ``pytest`` process, which
measures its cases with snnbench's pytest plugin
(:mod:`snnbench.measure.pytest_plugin`). A device-count series adds the count
to the group: a CPU exposes as many devices as
``--xla_force_host_platform_device_count`` says when JAX starts, so the runner
sets that flag in each child's environment (never in its own). A group of
several processes runs as one ``jax.distributed`` job on this machine, its
ranks workers in one process group (:mod:`snnbench.measure.distributed`), with
a per-case timeout.

The parent only plans, watches the journal for progress, and writes the table.
If a child dies (out of memory, a crash), the case it was running is recorded
as failed with the reason, and a new child carries on with the rest. Ctrl-C
stops the run; every row already measured stays on disk. With a shard
(:mod:`snnbench.measure.shards`) the run measures only that shard's cases.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from snnbench.errors import SnnbenchError, expect
from snnbench.measure import machine, procgroup, shards, storage
from snnbench.measure.failures import describe_exit
from snnbench.measure.matrix import Matrix
from snnbench.measure.records import PLATFORMS, CaseSpec, Measurement
from snnbench.measure.worker import LocalJob, WorkerDied, WorkerError, call_once

_POLL_S = 0.5
PLUGIN = "snnbench.measure.pytest_plugin"
CASES_MODULE = "snnbench.measure.bench_cases"


@dataclass(frozen=True)
class BenchTarget:
    """What each child process collects with pytest.

    Attributes:
        args: pytest arguments that select the benchmark module(s) and plugin.
        description: how run.json names it.
    """

    args: tuple[str, ...]
    description: str

    @classmethod
    def installed(cls) -> BenchTarget:
        """The benchmark module installed with snnbench (works from a wheel)."""
        return cls(("-p", PLUGIN, "--pyargs", CASES_MODULE), f"module {CASES_MODULE}")

    @classmethod
    def folder(cls, path: Path) -> BenchTarget:
        """The ``bench_*.py`` modules of a folder, run with snnbench's plugin.

        Raises:
            SnnbenchError: if the folder holds no ``bench_*.py`` module.
        """
        path = Path(path)
        modules = sorted(str(p) for p in path.glob("bench_*.py")) if path.is_dir() else []
        if not modules:
            raise SnnbenchError(
                f"`bench_dir` must be a folder holding bench_*.py modules; got {str(path)!r}",
                argument="bench_dir",
            )
        return cls(("-p", PLUGIN, *modules), f"folder {path}")


@dataclass(frozen=True)
class RunOptions:
    """Where and how to run the matrix."""

    out_root: Path
    bench: BenchTarget = field(default_factory=BenchTarget.installed)
    sampling: str = "quick"
    progress: bool = True
    pytest_args: tuple[str, ...] = ()
    #: Interpreter of another environment (``snnbench ab``); PYTHONPATH is then
    #: dropped so that environment imports its own packages. Empty: this one.
    python: str = ""
    #: The command recorded in run.json.
    command: tuple[str, ...] = field(default_factory=lambda: tuple(sys.argv))
    #: Pin each CPU benchmark process to this core (None: let it use every core).
    pin_cpu: int | None = None
    #: Extra environment variables for the benchmark processes.
    env: tuple[tuple[str, str], ...] = ()
    #: Run only this shard of the matrix (``--shard K/N``); None: all of it.
    shard: shards.Shard | None = None
    #: A ``jax.distributed`` job that finishes no case for this long is killed
    #: and its current case recorded as failed.
    case_timeout_s: float = 900.0

    def __post_init__(self) -> None:
        expect(
            isinstance(self.case_timeout_s, (int, float)) and self.case_timeout_s > 0,
            "case_timeout_s",
            "a positive number of seconds",
            self.case_timeout_s,
        )


#: The reason recorded for the case a run was measuring when Ctrl-C stopped it.
INTERRUPTED_REASON = "interrupted (Ctrl-C)"


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; says where the run folder is and what it kept."""

    def __init__(self, run_dir: Path, kept: str):
        super().__init__(f"interrupted: {kept} kept in {run_dir}")
        self.run_dir = run_dir


def probe_platforms() -> set[str]:
    """Platforms with devices, asked of a short-lived worker so this process never
    initialises (and pre-allocates) an accelerator that the benchmark needs.

    Raises:
        RuntimeError: if the worker could not list them (its one-line reason).
    """
    env = procgroup.child_env("", extra={"XLA_PYTHON_CLIENT_PREALLOCATE": "false"})
    try:
        return set(call_once("snnbench.measure.harness:available_platforms", "float32", env, 300))
    except (WorkerDied, WorkerError) as error:
        raise RuntimeError(f"could not list JAX devices: {error}") from None


@dataclass(frozen=True)
class BenchRun:
    """A finished run of the matrix: its folder, ``run.json`` and its rows as written."""

    path: Path
    info: dict
    frame: pd.DataFrame = field(repr=False)


def run_matrix(matrix: Matrix, options: RunOptions, platforms: set[str] | None = None) -> Path:
    """Run every case of ``matrix``; returns the new run folder (see :func:`run`)."""
    return run(matrix, options, platforms).path


def run(matrix: Matrix, options: RunOptions, platforms: set[str] | None = None) -> BenchRun:
    """Run every case of ``matrix`` into a new run folder; returns it with its rows.

    Raises:
        RunInterrupted: on Ctrl-C, after the rows measured so far are written.
    """
    storage.check_writable(options.out_root)
    platforms = probe_platforms() if platforms is None else platforms
    cases = matrix.cases()
    shard_fields: dict[str, object] = {}
    kind = ""
    if options.shard is not None:
        shard_fields = shards.shard_info(cases, options.shard)
        cases = shards.split(cases, options.shard.count)[options.shard.index - 1]
        kind = f"shard{options.shard.index}of{options.shard.count}"
    folder = storage.RunFolder.create(options.out_root, kind=kind)
    metadata = machine.metadata()  # once per run: git and the versions do not change in it
    info = storage.start_info(
        folder,
        options.command,
        matrix=matrix.to_dict(),
        sampling=options.sampling,
        bench=options.bench.description,
        n_cases=len(cases),
        platforms_looked_for=list(PLATFORMS),
        platforms_found=sorted(platforms),
        pin_cpu=options.pin_cpu,
        metadata=metadata,
        load_average_start=machine.load_average(),
        **shard_fields,
    )
    row_fields = {name: shard_fields[name] for name in storage.RUN_FIELDS if name in shard_fields}
    job = _Job(folder, options, {**metadata, "run_id": folder.run_id}, len(cases))
    status = "complete"
    try:
        for (platform, *_), group_cases in _groups(cases).items():
            if platform in platforms:
                _in_parts(group_cases, job)
                continue
            reason = f"no {platform} device: JAX found none on this machine"
            for case in group_cases:
                job.record(Measurement(case, "skipped", reason))
                job.progress.advance(1)
    except KeyboardInterrupt:
        status = "interrupted"
    except Exception as error:
        status = "failed"
        info["reason"] = f"{type(error).__name__}: {error}".splitlines()[0]
        raise
    finally:
        job.progress.close()
        rows = job.journal.poll().rows
        frame = storage.write_table(folder.path, rows, row_fields)
        info.update(
            status=status,
            finished_utc=machine.utc_now(),
            n_rows=len(rows),
            load_average_end=machine.load_average(),
        )
        folder.write_info(info)
    if status == "interrupted":
        raise RunInterrupted(folder.path, f"{len(rows)} of {len(cases)} rows")
    return BenchRun(folder.path, info, frame)


class _Job:
    """What every part of one run shares: its folder, options, journal and progress bar."""

    def __init__(self, folder: storage.RunFolder, options: RunOptions, metadata: dict, n: int):
        self.folder, self.options, self.metadata = folder, options, metadata
        self.journal = storage.JournalTail(folder / storage.JOURNAL)
        self.progress = _Progress(n, options.progress, self.journal)

    def record(self, measurement: Measurement) -> None:
        """A row the parent writes itself (a skipped case, a crashed one)."""
        row = measurement.to_row({**self.metadata, "load_avg_1m": machine.load_1m()})
        row.update(device_kind="", device_count=0, utc=machine.utc_now())
        storage.append_jsonl(self.journal.path, {"event": "done", "row": row})

    def unfinished(self, cases: list[CaseSpec]) -> list[CaseSpec]:
        done = self.journal.poll().done_ids
        return [c for c in cases if c.case_id not in done]


def _groups(cases: list[CaseSpec]) -> dict[tuple[str, str, int, int], list[CaseSpec]]:
    groups: dict[tuple[str, str, int, int], list[CaseSpec]] = {}
    for case in cases:
        groups.setdefault(case.group_key, []).append(case)
    return groups


def _tag(case: CaseSpec, part: int) -> str:
    """``cpu-float64`` for one device (the names runs always had), else with the count."""
    tag = f"{case.platform}-{case.precision}"
    if case.devices > 1:
        tag += f"-d{case.devices}"
    if case.processes > 1:
        tag += f"-p{case.processes}"
    return tag + (f"-part{part}" if part > 1 else "")


def child_env(case: CaseSpec, python: str = "") -> dict[str, str]:
    """The environment of the process (or each job process) that runs ``case``'s group."""
    return procgroup.child_env(case.platform, case.devices // case.processes, python)


def _child_command(options: RunOptions, tag: str, folder: storage.RunFolder, cases_file: Path):
    return [
        options.python or sys.executable, "-m", "pytest", *options.bench.args,
        "-o", "addopts=", "-o", "python_files=bench_*.py", "-p", "no:cacheprovider", "-q",
        f"--snnbench-cases={cases_file}",
        f"--snnbench-journal={folder / storage.JOURNAL}",
        f"--snnbench-run-id={folder.run_id}",
        f"--snnbench-policy={options.sampling}",
        f"--benchmark-json={folder / f'pytest-benchmark-{tag}.json'}",
        "--benchmark-columns=min,median,iqr,rounds,iterations",
        *options.pytest_args,
    ]  # fmt: skip


def _in_parts(cases: list[CaseSpec], job: _Job) -> None:
    """Run a group's ``cases`` part after part: each part (a pytest child, or a job of
    processes) gets the cases still to run and returns why it ended; a part that dies
    fails the case it was on, and the next part carries on with the rest."""
    run_part = _run_ranks if cases[0].processes > 1 else _run_child
    remaining, part = list(cases), 0
    while remaining:
        part += 1
        reason = run_part(remaining, _tag(remaining[0], part), job)
        remaining = _after_child(job, remaining, reason)


def _run_child(remaining: list[CaseSpec], tag: str, job: _Job) -> str:
    folder, options = job.folder, job.options
    cases_file = folder / f"cases-{tag}.json"
    storage.atomic_write_text(cases_file, json.dumps([c.to_dict() for c in remaining]))
    env = {**child_env(remaining[0], options.python), **dict(options.env)}
    command = _child_command(options, tag, folder, cases_file)
    with open(folder / f"pytest-{tag}.log", "w") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        pinned = options.pin_cpu if remaining[0].platform == "cpu" else None
        machine.pin(child.pid, pinned)
        try:
            returncode = _watch(child, job, remaining)
        except KeyboardInterrupt:
            child.send_signal(signal.SIGINT)
            _wait(child)
            _record_crash(job, remaining, INTERRUPTED_REASON)
            raise
    return describe_exit(returncode, "benchmark process")


def _after_child(job: _Job, cases: list[CaseSpec], reason: str) -> list[CaseSpec]:
    """After a child (or job) ended: the cases still to run, the culprit recorded as failed.

    The case that was running when it died fails with ``reason``; a new child
    carries on with the rest. If it died before starting any case, every
    remaining case fails with the reason instead (so a broken child cannot loop).
    """
    remaining = job.unfinished(cases)
    if not remaining:
        return []
    crashed = _record_crash(job, remaining, reason)
    job.progress.advance(1 if crashed else 0)
    remaining = job.unfinished(remaining)
    if crashed:
        return remaining
    for case in remaining:
        job.record(Measurement(case, "failed", reason))
        job.progress.advance(1)
    return []


def _run_ranks(remaining: list[CaseSpec], tag: str, job: _Job) -> str:
    """Run the cases as one local ``jax.distributed`` job, case by case; the parent writes
    the journal. A process that dies, or a case that does not finish within
    ``options.case_timeout_s``, ends the job (its group killed at once) with the reason."""
    options, folder, first = job.options, job.folder, remaining[0]
    logs = [folder / f"worker-{tag}-{rank}.log" for rank in range(first.processes)]
    env = {**child_env(first, options.python), **dict(options.env)}
    fields = {"run_id": folder.run_id}
    try:
        with LocalJob.start(first, options.python, env, logs, options.case_timeout_s) as ranks:
            for case in remaining:
                storage.append_jsonl(job.journal.path, {"event": "start", "case_id": case.case_id})
                row = ranks.measure(case, options.sampling, fields)
                storage.append_jsonl(job.journal.path, {"event": "done", "row": row})
                job.progress.advance(1)
            ranks.close()
    except WorkerDied as died:
        return str(died)
    except KeyboardInterrupt:
        _record_crash(job, remaining, INTERRUPTED_REASON)
        raise
    return ""


def _watch(child: subprocess.Popen, job: _Job, cases: list[CaseSpec]) -> int:
    wanted = {c.case_id for c in cases}
    seen = job.journal.poll().done_ids & wanted
    while True:
        returncode = child.poll()
        now = job.journal.poll().done_ids & wanted
        job.progress.advance(len(now - seen))
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


def _record_crash(job: _Job, remaining: list[CaseSpec], reason: str) -> bool:
    """Mark the case that was running when the child died as failed; True if there was one."""
    started = job.journal.poll().started
    by_id = {c.case_id: c for c in remaining}
    culprit = next((by_id[c] for c in reversed(started) if c in by_id), None)
    if culprit is None:
        return False
    job.record(Measurement(culprit, status="failed", reason=reason))
    return True


class _Progress:
    """A progress bar over the matrix's cases that names the case being measured.

    The count is the journal's finished cases, so it only ever steps by what
    finished; the bar keeps a fixed width, and a long case name is cut to the
    line (``$COLUMNS``, at most 100 columns).
    """

    def __init__(self, total: int, enabled: bool, journal: storage.JournalTail):
        import shutil

        from tqdm.auto import tqdm

        self._journal = journal
        self._total = total
        self._done = 0
        self._width = min(shutil.get_terminal_size((100, 24)).columns, 100)
        self._bar = tqdm(
            total=total,
            desc="matrix",
            unit="case",
            disable=not enabled,
            ncols=self._width,
            mininterval=0,
            bar_format="{desc} {n_fmt}/{total_fmt} |{bar:20}| {elapsed}<{remaining}{postfix}",
        )

    def advance(self, n: int) -> None:
        self._done = min(self._total, self._done + n)
        running = [c for c in self._journal.started if c not in self._journal.done_ids]
        room = self._width - 50 - 2 * len(str(self._total))
        name = running[-1] if running else ""
        self._bar.set_postfix_str(
            name if len(name) <= room else name[: max(room - 1, 0)] + "…", refresh=False
        )
        self._bar.update(self._done - self._bar.n)

    def close(self) -> None:
        self._bar.close()
