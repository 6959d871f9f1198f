"""One benchmark matrix split over machines: ``snnbench bench --shard K/N``.

Every machine computes the same split from the same command line: the split is a
pure function of the matrix's cases and N (no clock, no hashing of Python
objects, nothing about the machine). Shard K of N runs in its own run folder;
its ``run.json`` and its rows carry ``shard`` (``"K/N"``) and ``campaign``, an id
of the whole matrix and N that every shard of one campaign shares, so that
:func:`missing_shards` can say which shards a merged table lacks.

The unit that is never split is a *block*: cases that share one built task in a
benchmark process (a configuration's phases) and, for device-count series, every
device count of a configuration, so that each scaling row finds its 1-device
baseline in the same run. Blocks keep the matrix's order and the line of blocks
is cut into N pieces of about equal estimated cost; a cut moves to a process
group's boundary when one is within 15 % of a shard's share, so few benchmark
processes are split between shards.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from snnbench.errors import SnnbenchError
from snnbench.measure.records import CASE_KEY_COLUMNS, CaseSpec, key_columns

#: Rough seconds per case under the quick policy on a 2-core CPU (quick-matrix runs
#: in results/). Only their ratios matter: they balance shards, they time nothing.
PHASE_COST_S = {
    ("dense", "forward_trace_lower"): 0.2,
    ("dense", "forward_compile"): 1.2,
    ("dense", "forward"): 1.0,
    ("dense", "grad_trace_lower"): 0.65,
    ("dense", "grad_compile"): 3.0,
    ("dense", "grad_step"): 1.6,
    ("jaxley", "build"): 2.0,
    ("jaxley", "build_warm"): 2.0,
    ("jaxley", "forward_trace_lower"): 1.5,
    ("jaxley", "forward_compile"): 2.7,
    ("jaxley", "forward"): 2.0,
    ("jaxley", "grad_trace_lower"): 3.2,
    ("jaxley", "grad_compile"): 7.0,
    ("jaxley", "grad_step"): 4.5,
    ("none", "overhead"): 0.5,
}
#: Building a block's task once (not a timed case, but wall time all the same).
BLOCK_BUILD_S = {"dense": 1.0, "jaxley": 3.0, "none": 0.0}
#: Work (global batch x steps) up to which a steady phase fits its fixed time budget.
_BUDGET_WORK = 64 * 200
_SNAP = 0.15


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1-based, as a CI matrix or a SLURM array counts)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not (isinstance(self.count, int) and isinstance(self.index, int)):
            raise SnnbenchError(f"`shard` must be K/N with integers; got {self}", "shard")
        if not 1 <= self.index <= self.count:
            raise SnnbenchError(
                f"`shard` must be K/N with 1 <= K <= N, e.g. 2/4; got {self.index}/{self.count}",
                argument="shard",
            )

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"K/N"`` (e.g. ``"2/4"``) as a shard, or a one-line error naming ``shard``."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
        if not match:
            raise SnnbenchError(f"`shard` must be K/N, e.g. 2/4; got {text!r}", argument="shard")
        return cls(int(match.group(1)), int(match.group(2)))


def case_cost(case: CaseSpec) -> float:
    """Estimated seconds of one case (relative weights are what matter)."""
    cost = PHASE_COST_S.get((case.backend, str(case.phase)), 1.0)
    work = case.batch_size * case.n_steps / _BUDGET_WORK
    if case.phase.is_steady and work > 1:  # past the time budget, calls themselves dominate
        cost *= 0.5 + 0.5 * work
    return cost * (1.0 + 0.1 * (case.devices - 1))  # a larger program to partition


#: What cases of one block may differ in: one built task serves every phase and
#: formulation, and one device-count series every count (its batch taken per device).
_BLOCK_FREE = ("phase", "data_parallel", "processes", "batch_size", "devices")


def block_key(case: CaseSpec) -> tuple:
    """Cases that must share a shard: one built task, or one device-count series."""
    batch = case.per_device_batch if case.scaling == "weak" else case.batch_size
    devices = () if case.sharded else (case.devices,)
    fields = dict(zip(CASE_KEY_COLUMNS, case.key, strict=True))
    return (*(fields[name] for name in key_columns(without=_BLOCK_FREE)), batch, *devices)


def _blocks(cases: Sequence[CaseSpec]) -> list[list[CaseSpec]]:
    blocks: dict[tuple, list[CaseSpec]] = {}
    for case in cases:
        blocks.setdefault(block_key(case), []).append(case)
    return list(blocks.values())


def split(cases: Sequence[CaseSpec], count: int) -> list[list[CaseSpec]]:
    """The cases of each of ``count`` shards (shard K is item K - 1), in matrix order.

    Raises:
        SnnbenchError: if ``count`` is not a positive integer or case ids repeat.
    """
    if not isinstance(count, int) or count < 1:
        raise SnnbenchError(f"`shard` count must be >= 1; got {count!r}", argument="shard")
    ids = [c.case_id for c in cases]
    if len(set(ids)) != len(ids):
        raise SnnbenchError("the matrix has repeated case ids; it cannot be split")
    blocks = _blocks(cases)
    costs = [sum(case_cost(c) for c in b) + BLOCK_BUILD_S.get(b[0].backend, 1.0) for b in blocks]
    cumulative = [0.0]
    for cost in costs:
        cumulative.append(cumulative[-1] + cost)
    total, share = cumulative[-1], cumulative[-1] / count
    group_starts = {
        i for i in range(1, len(blocks)) if blocks[i][0].group_key != blocks[i - 1][0].group_key
    }
    cuts = [0]
    for k in range(1, count):
        wanted = total * k / count
        candidates = range(cuts[-1], len(blocks) + 1)
        near_group = [
            i
            for i in candidates
            if i in group_starts and abs(cumulative[i] - wanted) <= _SNAP * share
        ]
        pool = near_group or candidates
        cuts.append(min(pool, key=lambda i: (abs(cumulative[i] - wanted), i)))
    cuts.append(len(blocks))
    return [[c for b in blocks[cuts[k] : cuts[k + 1]] for c in b] for k in range(count)]


def campaign_id(cases: Iterable[CaseSpec], count: int) -> str:
    """The id every shard of one matrix split ``count`` ways shares (same on every machine)."""
    text = json.dumps([sorted(c.case_id for c in cases), count])
    # A letter first: a CSV reader would take an all-digit (or "12e34...") id for a number.
    return "c" + hashlib.sha256(text.encode()).hexdigest()[:12]


def shard_info(cases: Sequence[CaseSpec], shard: Shard) -> dict[str, object]:
    """What a shard's ``run.json`` records: which shard, which campaign, its cases."""
    mine = split(cases, shard.count)[shard.index - 1]
    return {
        "shard": str(shard),
        "shard_index": shard.index,
        "shard_count": shard.count,
        "campaign": campaign_id(cases, shard.count),
        "campaign_cases": len(cases),
        "shard_case_ids": [c.case_id for c in mine],
    }


def missing_shards(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Per campaign in ``frame``: the shards (``"K/N"``) none of its rows come from."""
    if frame.empty or "shard" not in frame or "campaign" not in frame:
        return {}
    out = {}
    rows = frame[frame["campaign"].fillna("").astype(str) != ""]
    for campaign, group in rows.groupby(rows["campaign"].astype(str), sort=True):
        seen = {Shard.parse(s) for s in group["shard"].dropna().astype(str).unique()}
        counts = {s.count for s in seen}
        count = max(counts)
        have = {s.index for s in seen}
        out[campaign] = [f"{k}/{count}" for k in range(1, count + 1) if k not in have]
    return {c: m for c, m in out.items() if m}


def describe_missing(frame: pd.DataFrame) -> list[str]:
    """One line per campaign whose table lacks shards (empty when every shard is there)."""
    return [
        f"campaign {campaign}: shard{'s' if len(gone) > 1 else ''} {', '.join(gone)} missing "
        "(their rows are absent from this table)"
        for campaign, gone in missing_shards(frame).items()
    ]
