"""Schema versions of result tables, and the one way an older table is read: :func:`migrate`.

Every versioned table's rows carry ``schema_version``. A reader never fills in
columns of its own: :func:`migrate` turns the rows of every version this
snnbench reads into the current one, and refuses, in one line naming the file,
a table it cannot read (no version, a version it does not know, or a damaged
one). Each step moves rows one version up.

Versions:

1. the first tables. A row written before snnbench measured several devices
   lacks the device-count columns; before the size axis, the network size and
   the matmul-precision columns.
2. every benchmark row carries every column of its case (:class:`CaseSpec`'s
   fields, ``n_edges``, the shard and campaign it belongs to); a benchmark table
   leaves out the metadata columns (machine, versions, git) that every row shares
   with its ``run.json``, which :func:`snnbench.measure.storage.read_table` joins
   back before it migrates.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pandas as pd

from snnbench.errors import SnnbenchError
from snnbench.measure.records import CASE_KEY_COLUMNS, SCHEMA_VERSION, TUTORIAL_SIZE

#: The oldest schema version :func:`migrate` reads.
OLDEST_SCHEMA = 1
#: A benchmark row's layout columns and the value of a row that has none: one device,
#: one process, no scaling series, no shard. A CSV reads an empty text cell as NaN.
LAYOUT_COLUMNS: dict[str, object] = {
    "devices": 1,
    "processes": 1,
    "scaling": "",
    "data_parallel": "",
    "shard": "",
    "campaign": "",
}
#: What a version 1 row that lacks a column ran with: the tutorial's size, JAX's default
#: matmul precision. ``effective_matmul_precision`` is worked out per row.
_V1_COLUMNS: dict[str, object] = {**TUTORIAL_SIZE, "matmul_precision": "default"}
#: A version 1 CPU row of the dense twin at JAX's default matmul precision ran in full
#: precision (the CPU ignores the setting); on other devices it is unknown after the fact.
_V1_EFFECTIVE_CPU = {"float64": "float64", "float32": "float32"}
#: Columns that make a version 1 table one of cases (a study's cost table included).
_V1_CASE_COLUMNS = ("backend", "platform", "precision", "batch_size")


def migrate(
    frame: pd.DataFrame, source: str | os.PathLike, kind: str = "benchmark"
) -> pd.DataFrame:
    """The rows of a versioned table of ``kind``, whatever version wrote them, in the
    current schema.

    ``source`` names the file in errors. Rows of several versions may be mixed
    (tables concatenated); each is moved up from its own version.

    Raises:
        SnnbenchError: a table without ``schema_version``, with a version this
            snnbench does not read, or damaged (an unreadable version, benchmark
            rows without a case column).
    """
    if frame.empty:
        return frame
    versions = _versions(frame, source)
    frame = frame.copy()
    try:
        for version in range(OLDEST_SCHEMA, SCHEMA_VERSION):
            rows = versions == version
            if rows.any():
                frame = _STEPS[version](frame, rows)
                versions = versions.where(~rows, version + 1)
        frame["schema_version"] = SCHEMA_VERSION
        return _typed(frame, source) if kind == "benchmark" else frame
    except (TypeError, ValueError) as error:  # a cell that is not what its column holds
        reason = (str(error).splitlines() or [type(error).__name__])[0]
        raise SnnbenchError(
            f"{source} is damaged ({reason}); rerun the command that wrote it."
        ) from None


def _versions(frame: pd.DataFrame, source: str | os.PathLike) -> pd.Series:
    """Each row's schema version; raises unless every one is a version this snnbench reads."""
    column = frame.get("schema_version", pd.Series(pd.NA, index=frame.index))
    numbers = pd.to_numeric(column, errors="coerce")
    if column.isna().all():
        found: object = "none"
    elif numbers.isna().any() or (numbers != numbers.round()).any():
        raise SnnbenchError(
            f"{source} is damaged: its schema_version column holds something other than "
            "whole numbers; rerun the command that wrote it."
        )
    else:
        numbers = numbers.astype(int)
        found = sorted(set(numbers))
        if set(found) <= set(range(OLDEST_SCHEMA, SCHEMA_VERSION + 1)):
            return numbers
    newer = found != "none" and max(found) > SCHEMA_VERSION
    how = (
        "a newer snnbench wrote it: upgrade snnbench"
        if newer
        else "read it with the snnbench release that wrote it"
    )
    raise SnnbenchError(
        f"{source} has schema version {found}, this snnbench reads versions "
        f"{OLDEST_SCHEMA} to {SCHEMA_VERSION}; {how}, or rerun the command that wrote it "
        "with this snnbench."
    )


def _v1_to_v2(frame: pd.DataFrame, rows: pd.Series) -> pd.DataFrame:
    """Version 1 rows of cases get the size and matmul columns their version lacked."""
    if not set(_V1_CASE_COLUMNS) <= set(frame):
        return frame  # not rows of cases (e.g. a trade-off study's convergence table)
    for column, value in _V1_COLUMNS.items():
        if column not in frame:
            frame[column] = value if rows.all() else pd.Series(value, frame.index).where(rows)
        else:
            frame.loc[rows & frame[column].isna(), column] = value
    for column in TUTORIAL_SIZE:
        frame[column] = frame[column].astype(int)
    if "effective_matmul_precision" not in frame:
        frame["effective_matmul_precision"] = pd.Series(pd.NA, index=frame.index, dtype=object)
    missing = rows & frame["effective_matmul_precision"].isna()
    if missing.any():
        old = frame.loc[missing]
        guess = old["precision"].map(_V1_EFFECTIVE_CPU).where(old["platform"] == "cpu", "unknown")
        guess = guess.where(old["backend"] == "dense", "none")  # no matmul elsewhere
        frame.loc[missing, "effective_matmul_precision"] = guess.fillna("unknown")
    return frame


_STEPS: dict[int, Callable[[pd.DataFrame, pd.Series], pd.DataFrame]] = {1: _v1_to_v2}


def _typed(frame: pd.DataFrame, source: str | os.PathLike) -> pd.DataFrame:
    """Benchmark rows with every layout column, as the type it holds (a CSV reads an
    empty text cell back as NaN)."""
    for column, empty in LAYOUT_COLUMNS.items():
        values = frame[column] if column in frame else pd.Series(pd.NA, index=frame.index)
        values = values.astype(object).where(values.notna(), empty)
        frame[column] = values.astype(type(empty))
    lacking = [c for c in (*CASE_KEY_COLUMNS, "status") if c not in frame]
    if lacking:
        raise SnnbenchError(
            f"{source} is damaged: benchmark rows without the column(s) {', '.join(lacking)}; "
            "rerun the command that wrote it."
        )
    return frame


__all__ = ["LAYOUT_COLUMNS", "OLDEST_SCHEMA", "SCHEMA_VERSION", "migrate"]
