"""Result files: atomic writes, an append-only row journal, run folders, loading.

A run folder ``results/<machine>/<UTC stamp>/`` holds ``rows.jsonl`` (one JSON
row per finished case, appended and fsynced as it finishes), ``benchmark.csv``
(the tidy table, rewritten atomically), ``run.json`` and pytest-benchmark's JSON.
Nothing is ever overwritten across runs: every run gets a fresh folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from snnbench.errors import SnnbenchError
from snnbench.records import SCHEMA_VERSION

TABLE = "benchmark.csv"
JOURNAL = "rows.jsonl"
RUN_INFO = "run.json"


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


def journal_rows(path: Path) -> list[dict]:
    """The finished rows recorded in a run's journal."""
    return [e["row"] for e in read_jsonl(path) if e.get("event") == "done" and "row" in e]


def _json_default(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def new_run_dir(root: Path, machine: str, stamp: str) -> Path:
    """Create and return a fresh ``root/machine/stamp`` folder (suffixed if taken)."""
    parent = Path(root) / machine
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SnnbenchError(
            f"`--out` must be a writable folder; cannot create {parent}: {error.strerror}"
        ) from None
    for attempt in range(1000):
        candidate = parent / (stamp if attempt == 0 else f"{stamp}-{attempt}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise SnnbenchError(f"`--out`: too many runs named {stamp} under {parent}")


def check_writable(root: Path) -> None:
    """Raise :class:`SnnbenchError` unless ``root`` is (or can become) a writable folder."""
    root = Path(root)
    probe = root
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise SnnbenchError(f"`--out` must be a writable folder; got {str(root)!r}")


def rows_to_frame(rows: Iterable[dict]) -> pd.DataFrame:
    """Rows as a DataFrame with the derived columns added."""
    frame = pd.DataFrame(list(rows))
    return add_overhead_ratio(frame) if not frame.empty else frame


def add_overhead_ratio(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``jaxley_over_dense``: median jaxley time / median dense time, same config+phase."""
    keys = ["phase", "batch_size", "precision", "platform", "dt_ms", "t_max_ms"]
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


def write_table(run_dir: Path, rows: list[dict]) -> pd.DataFrame:
    """(Re)write the run's ``benchmark.csv`` atomically from ``rows``."""
    frame = rows_to_frame(rows)
    atomic_write_text(Path(run_dir) / TABLE, frame.to_csv(index=False))
    return frame


def _load_run(run_dir: Path) -> pd.DataFrame:
    table = run_dir / TABLE
    if table.exists():
        frame = pd.read_csv(table)
    else:  # a run that died before its table was written: use the journal
        frame = pd.DataFrame(journal_rows(run_dir / JOURNAL))
    if frame.empty:
        return frame
    versions = set(frame.get("schema_version", pd.Series([None])).dropna().astype(int))
    if versions != {SCHEMA_VERSION}:
        raise SnnbenchError(
            f"{table} has schema version {sorted(versions) or 'none'}, this snnbench reads "
            f"version {SCHEMA_VERSION}; rerun the benchmark with this snnbench, or load it with "
            "the snnbench release that wrote it."
        )
    if "run_id" not in frame:
        frame["run_id"] = f"{run_dir.parent.name}/{run_dir.name}"
    return frame


def find_run_dirs(path: Path) -> list[Path]:
    """Run folders at or below ``path`` (a folder holding benchmark.csv or rows.jsonl)."""
    path = Path(path)
    if (path / TABLE).exists() or (path / JOURNAL).exists():
        return [path]
    found = {p.parent for name in (TABLE, JOURNAL) for p in path.rglob(name)}
    return sorted(found)


def load_results(path: str | os.PathLike) -> pd.DataFrame:
    """One DataFrame of benchmark rows from a run folder, a results tree, or a CSV file.

    Raises:
        SnnbenchError: if ``path`` does not exist, holds no results, or has a
            schema version this snnbench does not read.
    """
    path = Path(path)
    if not path.exists():
        raise SnnbenchError(f"`path` must be a results folder or CSV; {str(path)!r} does not exist")
    if path.is_file():
        frames = [_load_run_file(path)]
    else:
        frames = [_load_run(d) for d in find_run_dirs(path)]
    frames = [f for f in frames if not f.empty]
    if not frames:
        raise SnnbenchError(
            f"`path` {str(path)!r} holds no benchmark results; run `snnbench bench` (or "
            "`nox -s bench`) first."
        )
    return add_overhead_ratio(pd.concat(frames, ignore_index=True))


def _load_run_file(path: Path) -> pd.DataFrame:
    if path.suffix == ".jsonl":
        frame = pd.DataFrame(journal_rows(path))
    elif path.suffix == ".csv":
        frame = pd.read_csv(path)
    else:
        raise SnnbenchError(f"`path` must be a .csv, .jsonl or a folder; got {str(path)!r}")
    if not frame.empty and set(frame["schema_version"].dropna().astype(int)) != {SCHEMA_VERSION}:
        raise SnnbenchError(
            f"{path} has schema version {sorted(set(frame['schema_version']))}, this snnbench "
            f"reads version {SCHEMA_VERSION}; rerun the benchmark with this snnbench."
        )
    if not frame.empty and "run_id" not in frame:
        frame["run_id"] = str(path.parent)
    return frame
