"""XLA's own view of a compiled program: cost and memory analyses, HLO size.

Everything here is noise-free: the same program on the same jax/jaxlib gives
the same numbers, so ``compare`` can check them exactly (see
``snnbench.measure.records.EXACT_METRICS``). Backends may return nothing (``None``, an empty
list or dict) or raise; then the fields stay empty and ``xla_analysis_note``
says why, instead of the run failing.

Caveat worth knowing: XLA's cost analysis counts a ``while`` loop's body once,
whatever its trip count, so ``xla_flops`` of a ``lax.scan`` over time is about
one time step's work plus what lies outside the loop. ``jaxpr_stats`` counts
loops in full.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from snnbench.measure.records import EXACT_METRICS

#: Columns :func:`analyze_compiled` fills (a subset of ``records.EXACT_METRICS``).
XLA_COLUMNS = tuple(m for m in EXACT_METRICS if m != "jaxpr_eqns")
NOTE_COLUMN = "xla_analysis_note"

_COST_KEYS = {"xla_flops": "flops", "xla_bytes_accessed": "bytes accessed"}
_MEMORY_KEYS = {
    "xla_argument_bytes": "argument_size_in_bytes",
    "xla_output_bytes": "output_size_in_bytes",
    "xla_temp_bytes": "temp_size_in_bytes",
    "xla_generated_code_bytes": "generated_code_size_in_bytes",
}
_INSTRUCTION = re.compile(r"^\s+(?:ROOT\s+)?%?([\w.\-]+)\s*=\s*(.*)$")
_OPCODE = re.compile(r"\s([a-z][\w\-]*)\(")
_COMPUTATION = re.compile(r"^(?:ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$")
_OP_NAME = re.compile(r'op_name="([^"]*)"')
_STABLEHLO_OP = re.compile(r'^\s*(?:%[^=]+=\s*)?"?([a-z_]+\.[a-z_.]+)\b')


def analyze_compiled(compiled: Any) -> dict[str, object]:
    """Cost, memory and size figures of a ``jax.stages.Compiled``.

    Returns:
        A dict with every column of :data:`XLA_COLUMNS` (``None`` where the
        backend gave nothing) and ``xla_analysis_note``: empty when all were
        found, else one line per missing analysis saying why.
    """
    out: dict[str, object] = dict.fromkeys(XLA_COLUMNS)
    notes = []
    cost, why = _cost_dict(compiled)
    if cost is None:
        notes.append(f"cost_analysis: {why}")
    else:
        for column, key in _COST_KEYS.items():
            out[column] = _number(cost.get(key))
    memory, why = _call(compiled, "memory_analysis")
    if memory is None:
        notes.append(f"memory_analysis: {why}")
    else:
        for column, attribute in _MEMORY_KEYS.items():
            out[column] = _number(getattr(memory, attribute, None))
    text, why = _call(compiled, "as_text")
    if not text:
        notes.append(f"as_text: {why or 'empty'}")
    else:
        out["hlo_instructions"] = len(parse_hlo(text))
    out[NOTE_COLUMN] = "; ".join(notes)
    return out


def _call(obj: Any, method: str) -> tuple[Any, str]:
    """``obj.method()``, or ``(None, reason)`` if it is missing, raises or returns nothing."""
    try:
        value = getattr(obj, method)()
    except Exception as error:  # noqa: BLE001 - a backend may not implement it
        return None, f"raised {type(error).__name__}: {str(error).strip()[:120]}"
    if value is None or (hasattr(value, "__len__") and len(value) == 0):
        return None, f"backend returned {value!r}"
    return value, ""


def _cost_dict(compiled: Any) -> tuple[dict | None, str]:
    # Older jax returns a list with one dict per device program; newer a dict.
    cost, why = _call(compiled, "cost_analysis")
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost and isinstance(cost[0], dict) and cost[0] else None
        why = why or "backend returned an empty analysis"
    if cost is not None and not isinstance(cost, dict):
        return None, f"backend returned a {type(cost).__name__}, not a dict"
    return cost, why


def _number(value: object) -> float | int | None:
    if value is None:
        return None
    number = float(value)
    return int(number) if number.is_integer() else number


@dataclass(frozen=True)
class HloInstruction:
    """One instruction of an HLO module's text."""

    name: str
    opcode: str
    computation: str
    op_name: str  # JAX's name for the operation it came from (metadata), or ""


def parse_hlo(text: str) -> list[HloInstruction]:
    """Every instruction in every computation (fused ones included) of HLO module text."""
    out = []
    computation = ""
    inside = False
    for line in text.splitlines():
        if not inside:
            header = _COMPUTATION.match(line)
            if header and not line.startswith("HloModule"):
                computation, inside = header.group(1), True
            continue
        if line.startswith("}"):
            inside = False
            continue
        match = _INSTRUCTION.match(line)
        if match:
            opcode = _OPCODE.search(" " + match.group(2))
            op_name = _OP_NAME.search(match.group(2))
            out.append(
                HloInstruction(
                    match.group(1),
                    opcode.group(1) if opcode else "",
                    computation,
                    op_name.group(1) if op_name else "",
                )
            )
    return out


def stablehlo_op_count(text: str) -> int:
    """Operations in lowered StableHLO/MLIR text (``dialect.op`` lines, nested regions included)."""
    return sum(1 for line in text.splitlines() if _STABLEHLO_OP.match(line))
