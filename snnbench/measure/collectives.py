"""Which collectives XLA put into a compiled program, and how often each runs per call.

Read from the compiled (post-partitioning) HLO text. A collective inside a
``while`` body runs once per iteration, so each one is multiplied by the
``known_trip_count`` of every loop around it: counting ``all-reduce(`` in the
text would say 2 where the program really runs 202 per call. Asynchronous
``*-start``/``*-done`` pairs (GPU) count once.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

#: HLO opcodes that move data between devices.
KINDS = (
    "all-reduce", "all-gather", "reduce-scatter", "collective-permute", "all-to-all",
    "collective-broadcast", "ragged-all-to-all",
)  # fmt: skip
_DTYPE_BYTES = {
    "pred": 1,
    "s8": 1,
    "u8": 1,
    "s16": 2,
    "u16": 2,
    "f16": 2,
    "bf16": 2,
    "s32": 4,
    "u32": 4,
    "f32": 4,
    "s64": 8,
    "u64": 8,
    "f64": 8,
    "c64": 8,
    "c128": 16,
}
_HEADER = re.compile(r"^(?:ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$")
_INSTRUCTION = re.compile(r"^\s+(?:ROOT\s+)?%?([\w.\-]+)\s*=\s*(.*)$")
_SHAPE = re.compile(r"\b(" + "|".join(_DTYPE_BYTES) + r")\[([\d,]*)\]")
_CALLEE = re.compile(
    r"\b(body|condition|calls|to_apply|true_computation|false_computation|branch_computations)"
    r"=\{?%?([\w.\-]+)"
)
_TRIP_COUNT = re.compile(r'"known_trip_count":\{"n":"(\d+)"\}')
#: A loop whose trip count XLA does not know: its collectives' counts are lower bounds.
UNKNOWN = -1


@dataclass(frozen=True)
class Collective:
    """One collective instruction of a compiled program.

    Attributes:
        kind: the opcode without ``-start`` (e.g. ``"all-reduce"``).
        computation: the HLO computation that holds it.
        shape: its result shape on one device, as HLO prints it.
        bytes: bytes of that result (one execution, one device).
        executions: how often it runs per call (loop trip counts multiplied);
            :data:`UNKNOWN` when a surrounding loop's count is unknown.
    """

    kind: str
    computation: str
    shape: str
    bytes: int
    executions: int


@dataclass(frozen=True)
class KindSummary:
    """All collectives of one kind in a program."""

    static: int  # instructions in the text
    per_call: int  # executions per call of the program
    bytes_per_call: int  # per device
    unknown_trip_count: bool = False


def _opcode(rhs: str) -> str:
    """The opcode of an instruction's right-hand side: ``"<shape> <opcode>(...)..."``.

    The shape may be a tuple with spaces inside, so skip it by bracket depth.
    """
    depth = 0
    for i, char in enumerate(rhs):
        depth += char in "([{"
        depth -= char in ")]}"
        if char == " " and depth == 0:
            match = re.match(r"\s*([a-z][\w\-]*)\(", rhs[i:])
            return match.group(1) if match else ""
    return ""


def shape_bytes(shape: str) -> int:
    """Bytes of an HLO shape (tuples summed): ``"(f64[408], f64[])"`` is 3272."""
    total = 0
    for dtype, dims in _SHAPE.findall(shape):
        count = 1
        for dim in filter(None, dims.split(",")):
            count *= int(dim)
        total += count * _DTYPE_BYTES[dtype]
    return total


def find_collectives(hlo_text: str) -> list[Collective]:
    """Every collective in compiled HLO text, with its executions per call."""
    callers: dict[str, tuple[str, int]] = {}  # computation -> (its caller, multiplier)
    found: list[tuple[str, str, str]] = []  # (computation, kind, shape)
    computation = None
    for line in hlo_text.splitlines():
        header = _HEADER.match(line)
        if header and not line.startswith("HloModule"):
            computation = header.group(1)
            continue
        if line.startswith("}"):
            computation = None
            continue
        instruction = _INSTRUCTION.match(line)
        if instruction is None or computation is None:
            continue
        rhs = instruction.group(2)
        opcode = _opcode(rhs)
        trip = _TRIP_COUNT.search(rhs)
        for role, callee in _CALLEE.findall(rhs):
            if role == "to_apply" and opcode.removesuffix("-start") in KINDS:
                continue  # the reduction a collective applies, not a call site
            times = 1
            if opcode == "while" and role in ("body", "condition"):
                times = int(trip.group(1)) if trip else UNKNOWN
            callers.setdefault(callee, (computation, times))
        kind = opcode.removesuffix("-start")
        if kind in KINDS and not opcode.endswith("-done"):
            found.append((computation, kind, rhs[: rhs.index(f" {opcode}(")].strip()))
    return [
        Collective(kind, comp, shape, shape_bytes(shape), _executions(comp, callers))
        for comp, kind, shape in found
    ]


def _executions(computation: str, callers: dict[str, tuple[str, int]]) -> int:
    count, seen = 1, set()
    while computation in callers and computation not in seen:
        seen.add(computation)
        computation, times = callers[computation]
        count = UNKNOWN if UNKNOWN in (times, count) else count * times
    return count


def summarize(collectives: list[Collective]) -> dict[str, KindSummary]:
    """Per kind: instructions, executions per call, bytes per call (one device)."""
    out: dict[str, KindSummary] = {}
    for kind in sorted({c.kind for c in collectives}):
        mine = [c for c in collectives if c.kind == kind]
        runs = [max(c.executions, 1) for c in mine]
        out[kind] = KindSummary(
            static=len(mine),
            per_call=sum(runs),
            bytes_per_call=sum(c.bytes * r for c, r in zip(mine, runs, strict=True)),
            unknown_trip_count=any(c.executions == UNKNOWN for c in mine),
        )
    return out


def row_columns(hlo_text: str) -> dict[str, object]:
    """The collectives columns of a result row, read off a compiled program's HLO text."""
    summary = summarize(find_collectives(hlo_text))
    return {
        "collectives_json": json.dumps({k: asdict(v) for k, v in summary.items()}, sort_keys=True),
        "collectives_per_call": sum(s.per_call for s in summary.values()),
        "collective_bytes_per_call": sum(s.bytes_per_call for s in summary.values()),
    }
