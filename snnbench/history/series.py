"""The history store: one series per configuration, one point per run, from a results tree.

A history is the benchmark runs of one machine (or of every machine, pooled, when
asked), ordered by when each run started (or by a package's version, for a series
over releases measured in any order). Every point keeps the run's raw
samples; its median and interval are derived. Nothing is dropped silently: a run
that is not used is an :class:`Exclusion` with its reason (a damaged file named,
an incomplete run, another machine, the rounds of an A/B job).
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from snnbench.errors import SnnbenchError
from snnbench.measure import storage
from snnbench.measure.machine import PACKAGES
from snnbench.measure.records import CASE_KEY_COLUMNS

#: ``--machine`` value that pools every machine's runs into one history.
ALL_MACHINES = "all"
#: ``--order-by`` value that orders runs by when they started (the default).
BY_START = "started"
#: Row and run.json fields that describe the machine a run measured on.
MACHINE_FIELDS = (
    "machine_id",
    "hostname",
    "os",
    "cpu_model",
    "cpu_count",
    "device_kind",
    "xla_flags",
    "omp_num_threads",
    "mkl_num_threads",
    "openblas_num_threads",
)
#: Resolved package versions a run records (``<name>_version`` fields), Python's included.
VERSION_FIELDS = tuple(f"{name}_version" for name in (*PACKAGES, "python"))
#: Confidence of a point's interval, and the bootstrap that gives it.
POINT_CONFIDENCE = 0.95
_BOOTSTRAP_RESAMPLES = 2000
_BOOTSTRAP_SEED = 0


@dataclass(frozen=True)
class RunRecord:
    """One run of the history: who ran it, with what, and when.

    Attributes:
        run_id: ``<machine id>/<folder>``, as rows and pages name the run.
        path: the run folder.
        started_utc: when the run started (ISO 8601, UTC); runs are ordered by it.
        git_commit: snnbench's own commit (``unknown`` outside a checkout).
        git_dirty: whether that checkout had uncommitted changes.
        versions: resolved package versions, ``(package, version)`` pairs.
        machine: the machine's description, ``(field, value)`` pairs.
    """

    run_id: str
    path: Path
    started_utc: str
    git_commit: str
    git_dirty: bool
    versions: tuple[tuple[str, str], ...]
    machine: tuple[tuple[str, str], ...]

    @property
    def machine_id(self) -> str:
        return dict(self.machine).get("machine_id", "")

    @property
    def commit_label(self) -> str:
        """The short commit, marked ``+dirty`` when the checkout had changes."""
        return self.git_commit[:8] + ("+dirty" if self.git_dirty else "")

    def environment(self) -> dict[str, str]:
        """Everything that may explain a change: versions, commit, machine (flat)."""
        return {
            **dict(self.versions),
            "snnbench commit": self.commit_label,
            **dict(self.machine),
        }


@dataclass(frozen=True)
class Exclusion:
    """A run folder the history does not use, and why (one line)."""

    where: str
    reason: str


@dataclass(frozen=True)
class Point:
    """One run's measurement of one configuration: its raw samples, statistics derived.

    ``yardstick_s`` is the fixed numpy workload timed next to the case (NaN when the
    run predates it): it moves when the machine does, not when the code does.
    """

    run: RunRecord
    samples_s: tuple[float, ...]
    yardstick_s: float = math.nan

    @cached_property
    def median_s(self) -> float:
        return float(np.median(self.samples_s))

    @cached_property
    def interval_s(self) -> tuple[float, float]:
        """The bootstrap percentile interval of the median (NaN with fewer than 2 samples).

        A seeded, vectorised resampling rather than ``scipy.stats.bootstrap``: its
        seed argument changed name within the supported scipy range.
        """
        x = np.asarray(self.samples_s, dtype=float)
        if x.size < 2:
            return math.nan, math.nan
        rng = np.random.default_rng(_BOOTSTRAP_SEED)
        draws = rng.integers(0, x.size, size=(_BOOTSTRAP_RESAMPLES, x.size))
        medians = np.median(x[draws], axis=1)
        tail = 50.0 * (1.0 - POINT_CONFIDENCE)
        low, high = np.percentile(medians, [tail, 100.0 - tail])
        return float(low), float(high)


@dataclass(frozen=True)
class Series:
    """One configuration (a case key) over the runs that measured it, oldest first."""

    key: tuple[tuple[str, object], ...]
    label: str
    points: tuple[Point, ...]

    def facet(self, name: str) -> str:
        """The value of a key column (or ``size``: inputs x hidden) as text."""
        values = dict(self.key)
        if name == "size":
            return f"{values['n_input']}x{values['n_hidden']}"
        value = values[name]
        return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class History:
    """The series of a results tree, and the account of which runs made them.

    Attributes:
        root: the results tree read.
        machine: the machine whose runs are used (``all``: every machine, pooled).
        runs: the runs used, in history order (oldest first, or by ``order_by``'s version).
        series: one per configuration, in key order.
        left_out: every run folder not used, with its reason.
    """

    root: Path
    machine: str
    runs: tuple[RunRecord, ...]
    series: tuple[Series, ...]
    left_out: tuple[Exclusion, ...] = field(default=())
    order_by: str = BY_START

    @property
    def newest_run(self) -> RunRecord | None:
        return self.runs[-1] if self.runs else None

    def without_newest_run(self) -> History:
        """The history as it was before its newest run (what the last nightly saw)."""
        newest = self.newest_run
        if newest is None:
            return self
        series = []
        for one in self.series:
            points = tuple(p for p in one.points if p.run.run_id != newest.run_id)
            if points:
                series.append(Series(one.key, one.label, points))
        return History(
            self.root, self.machine, self.runs[:-1], tuple(series), self.left_out, self.order_by
        )


# ---------------------------------------------------------------- building


@dataclass(frozen=True)
class _Candidate:
    record: RunRecord
    rows: pd.DataFrame


def build_history(
    root: str | os.PathLike, machine: str | None = None, order_by: str = BY_START
) -> History:
    """The per-configuration series of the benchmark runs under ``root``.

    Args:
        root: a results tree (or a machine folder, or one run folder).
        machine: the machine id whose runs make the history; ``"all"`` pools every
            machine; ``None`` takes the machine with the most usable runs.
        order_by: ``"started"`` (when each run started), or a package whose
            version orders the runs (``jax``, ``jaxley``...; runs of one version by start).

    Raises:
        SnnbenchError: if ``root`` does not exist, holds no usable run, ``machine``
            names no machine of the tree, or ``order_by`` no recorded package.
    """
    root = Path(root)
    if not root.exists():
        raise SnnbenchError(
            f"`results_dir` must be a results tree; {str(root)!r} does not exist",
            argument="results_dir",
        )
    left_out: list[Exclusion] = []
    candidates: list[_Candidate] = []
    for folder in storage.find_run_dirs(root):
        candidate, why = _read_run(root, folder)
        if candidate is None:
            left_out.append(Exclusion(_where(root, folder), why))
        else:
            candidates.append(candidate)
    candidates, duplicates = _distinct(candidates, root)
    left_out += duplicates
    chosen = _choose_machine(candidates, machine, root)
    used = []
    for candidate in candidates:
        if chosen == ALL_MACHINES or candidate.record.machine_id == chosen:
            used.append(candidate)
        else:
            left_out.append(
                Exclusion(
                    _where(root, candidate.record.path),
                    f"other machine {candidate.record.machine_id} (this history is {chosen}'s; "
                    f"--machine {candidate.record.machine_id} or --machine all)",
                )
            )
    used.sort(key=_order(order_by, [c.record for c in used]))
    return History(
        root,
        chosen,
        tuple(c.record for c in used),
        _series(used),
        tuple(sorted(left_out, key=lambda e: e.where)),
        order_by,
    )


def _order(order_by: str, runs: list[RunRecord]):
    """The sort key of ``order_by``: start time, or a package's version then start time."""
    if order_by == BY_START:
        return lambda c: (c.record.started_utc, c.record.run_id)
    known = sorted({name for r in runs for name, _ in r.versions})
    if order_by not in known:
        raise SnnbenchError(
            f"`order_by` must be {BY_START} or a recorded package ({', '.join(known)}); "
            f"got {order_by!r}",
            argument="order_by",
        )
    return lambda c: (
        _version(dict(c.record.versions).get(order_by, "")),
        c.record.started_utc,
        c.record.run_id,
    )


def _version(text: str) -> tuple:
    from packaging.version import InvalidVersion, Version

    try:
        return (0, Version(text), "")
    except InvalidVersion:  # "not installed" and the like sort after every release
        return (1, Version("0"), text)


def _where(root: Path, folder: Path) -> str:
    try:
        return str(folder.relative_to(root)) or "."
    except ValueError:
        return str(folder)


def _read_run(root: Path, folder: Path) -> tuple[_Candidate | None, str]:
    """The run's record and measured rows, or ``None`` and why it is left out."""
    job = _ab_job(root, folder)
    if job is not None:
        return None, f"a side of the A/B job {_where(root, job)}: its rounds are not a run"
    info_path = folder / storage.RUN_INFO
    info: dict = {}
    if info_path.exists():
        try:
            info = json.loads(info_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            return None, f"damaged: {info_path.name} is not readable JSON ({type(error).__name__})"
    status = info.get("status", "complete")
    if status != "complete":
        reason = f": {info['reason']}" if info.get("reason") else ""
        return None, f"incomplete run (status {status}{reason})"
    try:
        frame = _rows(folder)
    except SnnbenchError as error:  # named relative to the folder, which the exclusion names
        return None, f"damaged: {str(error).replace(str(folder) + os.sep, '')}"
    if frame.empty or not {"status", "median_s"} <= set(frame.columns):
        return None, "no measured rows (the table is empty)"
    rows = frame[(frame["status"] == "ok") & frame["median_s"].notna()]
    if rows.empty:
        return None, "no measured rows (every case was skipped or failed)"
    return _Candidate(_record(folder, info, rows), rows), ""


def _rows(folder: Path) -> pd.DataFrame:
    """The run's benchmark rows: its table, or its journal when it died before writing one.

    The table is read without the derived ratios :func:`storage.load_results` adds
    (a history needs none of them, and they cost most of the reading).
    """
    if (folder / storage.TABLE).exists():
        return storage.read_table(folder, "benchmark")
    return storage.load_results(folder)


def _ab_job(root: Path, folder: Path) -> Path | None:
    for parent in (folder, *folder.parents):
        if (parent / storage.AB_JOB_INFO).exists():
            return parent
        if parent == root:
            break
    return None


def _record(folder: Path, info: dict, rows: pd.DataFrame) -> RunRecord:
    first = rows.iloc[0]
    meta = {**{k: first[k] for k in rows.columns if pd.notna(first[k])}, **info.get("metadata", {})}
    if "device_kind" in rows:
        meta["device_kind"] = ",".join(sorted(rows["device_kind"].dropna().astype(str).unique()))
    started = str(info.get("started_utc") or rows["utc"].dropna().astype(str).min())
    versions = tuple(
        (name.removesuffix("_version"), str(meta[name])) for name in VERSION_FIELDS if name in meta
    )
    described = tuple((name, _text(meta.get(name, ""))) for name in MACHINE_FIELDS)
    return RunRecord(
        run_id=str(info.get("run_id") or first.get("run_id") or folder.name),
        path=folder,
        started_utc=started,
        git_commit=str(meta.get("git_commit", "unknown")),
        git_dirty=str(meta.get("git_dirty", False)).lower() == "true",
        versions=versions,
        machine=described,
    )


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _distinct(candidates: list[_Candidate], root: Path) -> tuple[list[_Candidate], list]:
    """Runs with distinct ids (a run copied twice into the tree counts once)."""
    seen: dict[str, Path] = {}
    kept, dropped = [], []
    for candidate in sorted(candidates, key=lambda c: str(c.record.path)):
        first = seen.setdefault(candidate.record.run_id, candidate.record.path)
        if first == candidate.record.path:
            kept.append(candidate)
        else:
            dropped.append(
                Exclusion(
                    _where(root, candidate.record.path),
                    f"a copy of run {candidate.record.run_id} ({_where(root, first)})",
                )
            )
    return kept, dropped


def _choose_machine(candidates: list[_Candidate], machine: str | None, root: Path) -> str:
    counts = Counter(c.record.machine_id for c in candidates)
    if not counts:
        raise SnnbenchError(
            f"`results_dir` {str(root)!r} holds no usable benchmark run; run `snnbench bench` "
            "first (runs left out are listed with --verbose)",
            argument="results_dir",
        )
    if machine is None:
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0][0]
    if machine != ALL_MACHINES and machine not in counts:
        known = ", ".join(sorted(counts))
        raise SnnbenchError(
            f"`machine` must be one of {known} or {ALL_MACHINES}; got {machine!r}",
            argument="machine",
        )
    return machine


def _series(used: list[_Candidate]) -> tuple[Series, ...]:
    points: dict[tuple, list[Point]] = {}
    labels: dict[tuple, str] = {}
    for candidate in used:
        seen: set[tuple] = set()
        for row in candidate.rows.to_dict("records"):
            metric = _metric(row)
            key = (
                *((name, _key_value(row[name])) for name in CASE_KEY_COLUMNS),
                ("metric", metric),
            )
            if key in seen:  # one point per run: a repeated case keeps its first row
                continue
            seen.add(key)
            suffix = " (CPU time, pinned)" if metric == "cpu" else ""
            labels.setdefault(key, str(row["case_id"]) + suffix)
            yardstick = _number(row.get(f"yardstick_{metric}_s", row.get("yardstick_wall_s")))
            samples = _samples(row, metric)
            points.setdefault(key, []).append(Point(candidate.record, samples, yardstick))
    ordered = sorted(points, key=lambda k: tuple(str(v) for _, v in k))
    return tuple(Series(key, labels[key], tuple(points[key])) for key in ordered)


def _key_value(value: object) -> object:
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    if isinstance(value, float) and value.is_integer() and not math.isnan(value):
        return value  # keep dt_ms a float; ints stay ints from the CSV reader
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _number(value: object) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _metric(row: dict) -> str:
    """The time a row's point stands for, as the gate chooses it: process CPU time where
    the case ran pinned to one core on a CPU (it measures the work, not what a busy
    machine let it have), else wall time. Series of the two never mix."""
    pinned = _text(row.get("pinned_cpu"))
    cpu = row.get("cpu_samples_json")
    has_cpu = isinstance(cpu, str) and cpu.strip() not in ("", "[]")
    return "cpu" if pinned and row.get("platform") == "cpu" and has_cpu else "wall"


def _samples(row: dict, metric: str = "wall") -> tuple[float, ...]:
    """The row's raw samples of ``metric`` (seconds per call); its median when it kept none."""
    text = row.get("cpu_samples_json" if metric == "cpu" else "samples_json")
    if isinstance(text, str) and text.strip():
        values = [float(v) for v in json.loads(text) if v is not None]
        if values:
            return tuple(values)
    return (float(row["cpu_median_s" if metric == "cpu" else "median_s"]),)
