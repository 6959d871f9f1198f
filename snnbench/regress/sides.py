"""One configuration's measurements on one side of a comparison, read from table rows.

Each table row is one *repeat* of a configuration: the per-call samples of one
measurement (wall time, and process CPU time when recorded), the yardstick
measured next to it, and -- for interleaved A/B rounds -- the job, round and
worker process it belongs to, so that the rounds of the two sides can be paired
and grouped by the pair of processes that measured them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from snnbench.measure.records import CaseSpec

#: The timing metrics a verdict may use: per-call process CPU time, per-call wall time.
METRICS = ("cpu", "wall")


def _finite(value: object) -> float | None:
    """A cell as a finite number (None for an empty cell or text)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _number(value: object) -> float | None:
    number = _finite(value)
    return number if number is not None and number > 0 else None


def _index(value: object) -> int | None:
    number = _finite(value)
    return None if number is None else int(number)


def _samples(value: object) -> tuple[float, ...]:
    if not isinstance(value, str) or not value.strip():
        return ()
    return tuple(float(s) for s in json.loads(value))


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = str(value).strip()
    return text[:-2] if text.endswith(".0") and text[:-2].isdigit() else text


#: The yardsticks a row may carry (:mod:`snnbench.measure.yardstick`), by name: the
#: numpy workload's wall and CPU time, and the XLA program's CPU time.
YARDSTICKS = {
    "wall": "yardstick_wall_s",
    "cpu": "yardstick_cpu_s",
    "xla_cpu": "yardstick_xla_cpu_s",
}


@dataclass(frozen=True)
class Repeat:
    """One measurement of one configuration (one table row).

    Attributes:
        wall_s / cpu_s: per-call seconds (``cpu_s`` empty when not recorded).
        pinned_cpu: the core the process was pinned to ("" when it was not).
        yardsticks: the yardsticks' seconds next to this repeat, by
            :data:`YARDSTICKS` name (only those recorded).
        pair_key: ``(A/B job, round)`` for interleaved rounds, else ``None``.
        process_key: ``(A/B job, process pair)`` for interleaved rounds, else ``None``.
    """

    wall_s: tuple[float, ...]
    cpu_s: tuple[float, ...] = ()
    pinned_cpu: str = ""
    yardsticks: tuple[tuple[str, float], ...] = ()
    pair_key: tuple[str, int] | None = None
    process_key: tuple[str, int] | None = None

    def samples(self, metric: str) -> tuple[float, ...]:
        return self.cpu_s if metric == "cpu" else self.wall_s

    def median(self, metric: str) -> float:
        return float(np.median(self.samples(metric)))


@dataclass(frozen=True)
class Side:
    """One configuration on one side: its repeats, or why it has none to compare.

    Attributes:
        repeats: the repeats that finished (all of them, when ``problem`` is empty).
        n_rows: how many rows the table held for it (finished or not).
        problem: why it is not comparable ("" when every repeat was ok).
        ok: whether every row was ok (a skipped or failed row makes it False).
    """

    repeats: tuple[Repeat, ...]
    n_rows: int
    problem: str = ""
    ok: bool = True

    def has(self, metric: str) -> bool:
        """Whether every repeat recorded ``metric``."""
        return bool(self.repeats) and all(r.samples(metric) for r in self.repeats)

    def samples(self, metric: str) -> tuple[float, ...]:
        return tuple(s for r in self.repeats for s in r.samples(metric))

    def median_s(self, metric: str = "wall") -> float | None:
        samples = self.samples(metric)
        return float(np.median(samples)) if samples else None

    @property
    def pinned(self) -> bool:
        return bool(self.repeats) and all(r.pinned_cpu for r in self.repeats)

    def yardsticks_s(self, name: str = "wall") -> tuple[float, ...]:
        """Every repeat's yardstick ``name`` (:data:`YARDSTICKS`); empty unless all have it."""
        found = [dict(r.yardsticks).get(name) for r in self.repeats]
        return tuple(found) if found and None not in found else ()

    @property
    def pair_keys(self) -> set[tuple[str, int]]:
        return {r.pair_key for r in self.repeats if r.pair_key is not None}

    @property
    def paired(self) -> bool:
        return bool(self.repeats) and all(r.pair_key is not None for r in self.repeats)


def spec_of(row: Mapping) -> CaseSpec:
    """The configuration of a table row (of a table in the current schema)."""
    return CaseSpec.from_row(row)


def repeat_of(row: Mapping) -> Repeat:
    """The repeat a finished table row holds."""
    job, round_ = _text(row.get("ab_job")), _index(row.get("ab_round"))
    process = _index(row.get("ab_process"))
    return Repeat(
        wall_s=_samples(row["samples_json"]),
        cpu_s=_samples(row.get("cpu_samples_json")),
        pinned_cpu=_text(row.get("pinned_cpu")),
        yardsticks=tuple(
            (name, value)
            for name, column in YARDSTICKS.items()
            if (value := _number(row.get(column))) is not None
        ),
        pair_key=(job, round_) if job and round_ is not None else None,
        process_key=(job, process) if job and process is not None else None,
    )


def side_of(rows: list[Mapping]) -> Side:
    """A side from all rows of one configuration (several repeats are pooled)."""
    problems = []
    repeats = []
    for row in rows:
        if row["status"] != "ok":
            reason = row.get("reason")
            reason = reason if isinstance(reason, str) and reason else "no reason given"
            problems.append(f"{row['status']}: {reason}")
            continue
        repeat = repeat_of(row)
        if repeat.wall_s:
            repeats.append(repeat)
    if problems:
        prefix = f"{len(problems)} of {len(rows)} repeats " if len(rows) > 1 else ""
        return Side(tuple(repeats), len(rows), prefix + problems[0], ok=False)
    if not repeats:
        return Side((), len(rows), "ok but without samples", ok=False)
    return Side(tuple(repeats), len(rows))


def sides_of(frame: pd.DataFrame) -> dict[CaseSpec, Side]:
    """Every configuration of a table and its side."""
    grouped: dict[CaseSpec, list[Mapping]] = {}
    for row in frame.to_dict("records"):
        grouped.setdefault(spec_of(row), []).append(row)
    return {spec: side_of(rows) for spec, rows in grouped.items()}
