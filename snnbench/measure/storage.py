"""Result files: atomic writes, the row journal, run folders, and reading tables back.

Every command writes into a fresh :class:`RunFolder`
``<root>/<machine id>/<UTC stamp>[-kind]/`` (never reused, so nothing is ever
overwritten across runs), with ``run.json`` describing the run. Every table
is read back through :func:`read_table`, which checks its schema version, and
benchmark rows through :func:`load_results`.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from snnbench.errors import SnnbenchError
from snnbench.measure import machine
from snnbench.measure.records import SCHEMA_VERSION, key_columns
from snnbench.measure.scaling import add_scaling_efficiency
from snnbench.measure.schema import migrate

JOURNAL = "rows.jsonl"
#: Where commands write a user's runs unless told otherwise (git-ignored in a checkout);
#: ``results/`` holds the project's committed reference runs and is written only on request.
USER_RUNS = "runs"
#: What an A/B job writes at its top; its A/ and B/ sides are rounds, not runs of their own.
AB_JOB_INFO = "ab.json"
RUN_INFO = "run.json"

#: Every table snnbench writes, by kind: its file name in a run folder.
TABLES = {
    "benchmark": "benchmark.csv",
    "tradeoffs": "tradeoffs.csv",
    "tradeoffs_convergence": "convergence.csv",
    "tradeoffs_spike_loss": "spike_loss.csv",
    "tradeoffs_redrawn": "redrawn.csv",
    "profile": "profile.csv",
    "memory": "memory.csv",
    "memory_fit": "memory_fit.csv",
    "top_ops": "top_ops.csv",
    "snn_metrics": "snn_metrics.csv",
    "noise_jobs": "jobs.csv",
    "noise_rows": "job_rows.csv",
    "noise_rates": "rates.csv",
    "noise_injected": "injected.csv",
    "noise_pairs": "pairs.csv",
    "noise_components": "components.csv",
    "noise_predicted": "predicted.csv",
    "noise_thresholds": "thresholds.csv",
    "noise_cells": "predicted_cells.csv",
}
#: Kinds whose rows carry ``schema_version`` (the others are derived summaries).
VERSIONED = (
    "benchmark", "tradeoffs", "tradeoffs_convergence", "tradeoffs_spike_loss", "tradeoffs_redrawn",
    "profile", "memory", "top_ops", "snn_metrics",
)  # fmt: skip
TABLE = TABLES["benchmark"]


# ---------------------------------------------------------------- writing files


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old file or the new one, never half."""
    atomic_write_bytes(path, text.encode())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename), mode 0666 & ~umask."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def append_jsonl(path: Path, record: dict) -> None:
    """Append one JSON line and fsync it, so a crash right after keeps it."""
    with open(path, "a") as handle:
        handle.write(json.dumps(record, default=_json_default) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl(path: Path) -> list[dict]:
    """Records of a journal; a torn last line (crash mid-write) is ignored."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


class JournalTail:
    """A journal read as it grows: each :meth:`poll` parses only the lines added since the
    last one (a run's parent polls it twice a second while its children append)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._offset = 0
        self.events = 0
        self.rows: list[dict] = []
        self.done_ids: set[str] = set()
        self.started: list[str] = []

    def poll(self) -> JournalTail:
        """Read the complete lines appended since the last poll (a torn last line waits)."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return self
        complete = data[: data.rfind(b"\n") + 1]
        self._offset += len(complete)
        for line in complete.decode(errors="replace").splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            self.events += 1
            if event.get("event") == "start":
                self.started.append(event["case_id"])
            elif event.get("event") == "done" and "row" in event:
                self.rows.append(event["row"])
                self.done_ids.add(event["row"]["case_id"])
        return self


def journal_rows(path: Path) -> list[dict]:
    """The finished rows recorded in a run's journal."""
    return [e["row"] for e in read_jsonl(path) if e.get("event") == "done" and "row" in e]


def _json_default(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def to_json(data: object) -> str:
    """JSON text as snnbench writes it (indented, numpy scalars and paths as values)."""
    return json.dumps(data, indent=2, default=_json_default) + "\n"


# ---------------------------------------------------------------- run folders


def check_writable(root: Path) -> None:
    """Raise :class:`SnnbenchError` unless ``root`` is (or can become) a writable folder."""
    root = Path(root)
    probe = root
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise SnnbenchError(
            f"`out_root` must be a writable folder; got {str(root)!r}", argument="out_root"
        )


def utc_stamp() -> str:
    """The current UTC time as a folder name: ``20261128T123212Z``."""
    return machine.utc_now().replace(":", "").replace("-", "")


@dataclass(frozen=True)
class RunFolder:
    """One run's folder: ``<root>/<machine id>/<stamp>[-<kind>]``, created fresh."""

    path: Path

    @classmethod
    def create(cls, root: Path, kind: str = "", stamp: str | None = None) -> RunFolder:
        """Make a new, empty run folder under ``root`` (suffixed ``-1``, ``-2`` ... if taken).

        Raises:
            SnnbenchError: if ``root`` cannot hold a new folder.
        """
        check_writable(root)
        parent = Path(root) / machine.machine_id()
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SnnbenchError(
                f"`out_root` must be a writable folder; cannot create {parent}: {error.strerror}",
                argument="out_root",
            ) from None
        name = (stamp or utc_stamp()) + (f"-{kind}" if kind else "")
        for attempt in range(1000):
            candidate = parent / (name if attempt == 0 else f"{name}-{attempt}")
            try:
                candidate.mkdir()
                return cls(candidate)
            except FileExistsError:
                continue
        raise SnnbenchError(f"`out_root`: too many runs named {name} under {parent}")

    @property
    def run_id(self) -> str:
        """``<machine id>/<folder name>``: how rows and pages refer to the run."""
        return f"{self.path.parent.name}/{self.path.name}"

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def write_text(self, name: str, text: str) -> Path:
        """Write a file of the run atomically; returns its path."""
        atomic_write_text(self.path / name, text)
        return self.path / name

    def write_table(self, kind: str, frame: pd.DataFrame) -> Path:
        """Write a table of ``kind`` (see :data:`TABLES`) as CSV, atomically."""
        return self.write_text(TABLES[kind], frame.to_csv(index=False))

    def write_info(self, info: dict) -> None:
        """(Re)write ``run.json`` atomically."""
        self.write_text(RUN_INFO, to_json(info))

    def read_info(self) -> dict:
        """``run.json``, or an empty dict when it is missing or unreadable."""
        try:
            return json.loads((self.path / RUN_INFO).read_text())
        except (OSError, json.JSONDecodeError):
            return {}

    def fail(self, reason: str) -> None:
        """Mark the run failed in ``run.json``, with its one-line reason (the rest kept)."""
        info = self.read_info()
        info.update(status="failed", reason=reason, finished_utc=machine.utc_now())
        self.write_info(info)


def start_info(folder: RunFolder, command: Iterable[str], **fields: object) -> dict:
    """The ``run.json`` every run starts with: schema, id, command, start time, status."""
    info = {
        "schema_version": SCHEMA_VERSION,
        "run_id": folder.run_id,
        "command": [str(part) for part in command],
        "started_utc": machine.utc_now(),
        "status": "running",
        **fields,
    }
    folder.write_info(info)
    return info


# ---------------------------------------------------------------- reading tables


def read_table(path: str | os.PathLike, kind: str) -> pd.DataFrame:
    """A table of ``kind`` from its file or the run folder holding it, schema-checked.

    Raises:
        SnnbenchError: if the file is missing, unreadable, or has a schema version
            this snnbench does not read (the message says what to do).
    """
    if kind not in TABLES:
        raise SnnbenchError(f"`kind` must be one of {', '.join(TABLES)}; got {kind!r}")
    path = Path(path)
    table = path / TABLES[kind] if path.is_dir() else path
    if not table.exists():
        raise SnnbenchError(
            f"`path` must be a run folder holding {TABLES[kind]}, or that file; got {str(path)!r}",
            argument="path",
        )
    try:
        frame = pd.read_csv(table)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise SnnbenchError(
            f"{table} is not a readable CSV table ({type(error).__name__})"
        ) from None
    if kind == "benchmark" and "schema_version" in frame:
        frame = _with_run_metadata(frame, table.parent)
    return migrate(frame, table, kind) if kind in VERSIONED else frame


def find_run_dirs(path: Path, kind: str = "benchmark") -> list[Path]:
    """Run folders at or below ``path`` holding a table of ``kind`` (benchmark: or its journal)."""
    names = (TABLES[kind], JOURNAL) if kind == "benchmark" else (TABLES[kind],)
    path = Path(path)
    if any((path / name).exists() for name in names):
        return [path]
    found = {p.parent for name in names for p in path.rglob(name)}
    return sorted(f for f in found if not _inside_another_run(path, f))


def _inside_another_run(root: Path, folder: Path) -> bool:
    """Whether ``folder`` is a part of a run below ``root`` (a study's own timing run)."""
    return any(
        (parent / RUN_INFO).exists()
        for parent in folder.parents
        if parent != root and parent.is_relative_to(root)
    )


# ---------------------------------------------------------------- benchmark rows


def rows_to_frame(rows: Iterable[dict], source: str | os.PathLike = "rows") -> pd.DataFrame:
    """Benchmark rows (of any schema this snnbench reads) as a DataFrame in the current
    schema, the derived columns added."""
    frame = migrate(pd.DataFrame(list(rows)), source)
    return add_derived(frame) if not frame.empty else frame


def add_derived(frame: pd.DataFrame) -> pd.DataFrame:
    """The derived columns of benchmark rows: the jaxley/dense ratio, scaling efficiency."""
    return add_scaling_efficiency(add_overhead_ratio(frame))


def add_overhead_ratio(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``jaxley_over_dense``: median jaxley time / median dense time, same config+phase."""
    keys = key_columns(without=("backend",))
    if "run_id" in frame:
        keys = ["run_id", *keys]
    frame = frame.drop(columns=["jaxley_over_dense"], errors="ignore")
    ok = frame[frame["status"] == "ok"]
    dense = ok[ok["backend"] == "dense"].set_index(keys)["median_s"]
    dense = dense[~dense.index.duplicated(keep="last")]
    jaxley = frame["backend"] == "jaxley"
    index = pd.MultiIndex.from_frame(frame.loc[jaxley, keys])
    ratio = pd.Series(float("nan"), index=frame.index)
    ratio[jaxley] = frame.loc[jaxley, "median_s"].to_numpy(dtype=float) / dense.reindex(
        index
    ).to_numpy(dtype=float)
    frame["jaxley_over_dense"] = ratio
    return frame


def write_table(run_dir: Path, rows: list[dict], fields: dict | None = None) -> pd.DataFrame:
    """(Re)write the run's ``benchmark.csv`` atomically from ``rows``.

    ``fields`` (e.g. a shard and its campaign) are added to every row.
    """
    frame = rows_to_frame([{**row, **(fields or {})} for row in rows], f"the rows of {run_dir}")
    shared = run_metadata(Path(run_dir), frame)
    atomic_write_text(Path(run_dir) / TABLE, frame.drop(columns=shared).to_csv(index=False))
    return frame


#: Columns measured with each row: never folded into the run's metadata.
MEASURED_COLUMNS = ("load_avg_1m", "utc")


def run_metadata(run_dir: Path, frame: pd.DataFrame) -> dict[str, object]:
    """The columns every row of ``frame`` shares with the ``metadata`` of the run's
    ``run.json`` (machine, versions, git), which its table leaves out: stored once per
    run, joined back on load."""
    metadata = RunFolder(run_dir).read_info().get("metadata", {})
    return {
        name: value
        for name, value in metadata.items()
        if name in frame and name not in MEASURED_COLUMNS and (frame[name] == value).all()
    }


def _with_run_metadata(frame: pd.DataFrame, run_dir: Path) -> pd.DataFrame:
    """A schema 2 table with the metadata columns its run stored once in ``run.json``.

    The values go through a CSV round trip, so they read back as the same types
    as a column of the table would (an empty text, for one, as NaN).
    """
    if frame.empty or not (pd.to_numeric(frame["schema_version"], errors="coerce") >= 2).all():
        return frame  # a version 1 table carries its metadata on every row
    metadata = RunFolder(run_dir).read_info().get("metadata", {})
    missing = {k: v for k, v in metadata.items() if k not in frame and k not in MEASURED_COLUMNS}
    if not missing:
        return frame
    values = pd.read_csv(io.StringIO(pd.DataFrame([missing]).to_csv(index=False)))
    return frame.assign(**{name: values[name].iloc[0] for name in values})


#: run.json fields every row of a run carries (a shard's rows say which shard they are).
RUN_FIELDS = ("shard", "campaign")


def _load_run(run_dir: Path) -> pd.DataFrame:
    if (run_dir / TABLE).exists():
        frame = read_table(run_dir, "benchmark")
    else:  # a run that died before its table was written: use the journal
        frame = migrate(pd.DataFrame(journal_rows(run_dir / JOURNAL)), run_dir / JOURNAL)
    if frame.empty:
        return frame
    if "run_id" not in frame:
        frame["run_id"] = f"{run_dir.parent.name}/{run_dir.name}"
    info = RunFolder(run_dir).read_info()
    for name in RUN_FIELDS:  # the journal's rows do not carry them; run.json does
        if name in info and not frame[name].any():
            frame[name] = str(info[name])
    return frame


def load_results(path: str | os.PathLike) -> pd.DataFrame:
    """One DataFrame of benchmark rows from a run folder, a results tree, or a CSV/JSONL file.

    Shards of one campaign (``snnbench bench --shard K/N``) are run folders like
    any other, so a tree holding them loads as the campaign's one table; their
    rows say which shard and campaign they come from, and
    :func:`snnbench.measure.shards.missing_shards` says which shards it lacks.
    Every table and journal goes through :func:`snnbench.measure.schema.migrate`,
    so rows of any schema version this snnbench reads come back in the current one.

    Raises:
        SnnbenchError: if ``path`` does not exist, holds no results, or has a
            schema version this snnbench does not read.
    """
    path = Path(path)
    if not path.exists():
        raise SnnbenchError(
            f"`path` must be a results folder or CSV; {str(path)!r} does not exist",
            argument="path",
        )
    if path.is_file():
        frames = [_load_file(path)]
    else:
        frames = [_load_run(d) for d in find_run_dirs(path)]
    frames = [f for f in frames if not f.empty]
    if not frames:
        raise SnnbenchError(
            f"`path` {str(path)!r} holds no benchmark results; run `snnbench bench` (or "
            "`nox -s bench`) first.",
            argument="path",
        )
    return add_derived(pd.concat(frames, ignore_index=True))


def _load_file(path: Path) -> pd.DataFrame:
    if path.suffix == ".jsonl":
        frame = migrate(pd.DataFrame(journal_rows(path)), path)
    elif path.suffix == ".csv":
        frame = read_table(path, "benchmark")
    else:
        raise SnnbenchError(
            f"`path` must be a .csv, .jsonl or a folder; got {str(path)!r}", argument="path"
        )
    if not frame.empty and "run_id" not in frame:
        frame["run_id"] = str(path.parent)
    return frame
