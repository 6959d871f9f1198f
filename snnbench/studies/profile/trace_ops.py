"""A ``jax.profiler`` trace of a few calls, the most expensive operations in it, and coverage.

The trace is written as TensorBoard/XProf files (``*.xplane.pb``) and as
Chrome-trace JSON (``*.trace.json.gz``, and ``perfetto_trace.json.gz``), which
ui.perfetto.dev opens directly. The top-N table is read from the trace's events
(:mod:`.attribution` says which event belongs to which HLO instruction, inside
loop bodies included). Time is *self* time: an event's duration minus that of
the events nested in it on the same thread (a ``while`` event holds its body's
events). Each op's share, and the coverage of all of them together, are taken
of the *traced* step (the ``StepTraceAnnotation`` windows), so the table adds up
to the step it was measured in.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import pandas as pd

from snnbench.measure.xla_analysis import HloInstruction
from snnbench.studies.profile import attribution

TOP_COLUMNS = (
    "rank", "hlo_op", "opcode", "jax_op", "in_loop", "calls", "calls_per_step", "self_s_per_step",
    "total_s_per_step", "self_share",
)  # fmt: skip
SOURCE = "jax.profiler trace events attributed to compiled-HLO instructions (self time)"


def capture(call: Callable[[], Any], n_steps: int, log_dir: Path, name: str) -> Path:
    """Trace ``n_steps`` blocking calls of ``call`` into ``log_dir``; returns the Chrome-trace file.

    ``call`` should already be compiled and warmed up. One more call runs inside the
    trace before the annotated steps: the profiler's own start-up lands in it.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    with jax.profiler.trace(str(log_dir), create_perfetto_trace=True):
        jax.block_until_ready(call())
        for step in range(n_steps):
            with jax.profiler.StepTraceAnnotation(name, step_num=step):
                jax.block_until_ready(call())
    found = sorted(log_dir.rglob("*.trace.json.gz"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise RuntimeError(f"jax.profiler wrote no *.trace.json.gz under {log_dir}")
    return found[-1]


@dataclass(frozen=True)
class Trace:
    """A Chrome-trace file's complete events and the names of its processes and threads."""

    events: list[dict]
    process_names: dict = field(default_factory=dict)
    thread_names: dict = field(default_factory=dict)


def load_trace(path: Path) -> Trace:
    """Complete (``ph == "X"``) events and process/thread names of a Chrome-trace JSON file."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as handle:
        data = json.load(handle)
    raw = data.get("traceEvents", []) if isinstance(data, dict) else data
    meta = [e for e in raw if e.get("ph") == "M"]
    return Trace(
        events=[e for e in raw if e.get("ph") == "X" and "dur" in e],
        process_names={
            e.get("pid"): (e.get("args") or {}).get("name")
            for e in meta
            if e.get("name") == "process_name"
        },
        thread_names={
            (e.get("pid"), e.get("tid")): (e.get("args") or {}).get("name")
            for e in meta
            if e.get("name") == "thread_name"
        },
    )


def load_events(path: Path) -> list[dict]:
    """Complete (``ph == "X"``) events of a Chrome-trace JSON file (``.gz`` or plain)."""
    return load_trace(path).events


def self_times_us(events: Iterable[dict]) -> list[tuple[dict, float]]:
    """Each event with its self time (µs): its duration minus its direct children's."""
    by_thread: dict[tuple, list[dict]] = defaultdict(list)
    for event in events:
        by_thread[(event.get("pid"), event.get("tid"))].append(event)
    out = []
    for thread in by_thread.values():
        thread.sort(key=lambda e: (float(e["ts"]), -float(e["dur"])))
        stack: list[list] = []  # [event, end_us, children_us]
        for event in thread:
            start, dur = float(event["ts"]), float(event["dur"])
            while stack and start >= stack[-1][1]:
                done = stack.pop()
                out.append((done[0], float(done[0]["dur"]) - done[2]))
            if stack:
                stack[-1][2] += dur
            stack.append([event, start + dur, 0.0])
        out.extend((e, float(e["dur"]) - children) for e, _, children in stack)
    return out


@dataclass(frozen=True)
class TopOps:
    """The top-N table of one traced function and the coverage of all its attributed ops."""

    table: pd.DataFrame  # columns: TOP_COLUMNS
    coverage: attribution.Coverage
    source: str
    n_ops: int  # distinct instructions attributed (the table keeps the top ones)


def top_ops(
    trace: Trace,
    instructions: list[HloInstruction],
    top: int,
    step_name: str = "grad_step",
    entry: str = "",
) -> TopOps:
    """The ``top`` instructions by self time per traced step, and the coverage of all of them.

    Args:
        trace: the loaded trace (:func:`load_trace`).
        instructions: the compiled module's instructions (``parse_hlo``).
        top: rows to keep.
        step_name: the ``StepTraceAnnotation`` name of the traced steps.
        entry: the module's ENTRY computation; instructions elsewhere are in loop bodies.
    """
    where = attribution.layout(trace.process_names, trace.thread_names)
    steps = [e for e in trace.events if e.get("name") == step_name]
    events = attribution.clean(
        e for e in trace.events if e.get("name") != step_name and where.keep(e)
    )
    resolve = attribution.Resolver(instructions)
    per_step = [
        attribution.attribute_step(
            events,
            (float(s["ts"]), float(s["ts"]) + float(s["dur"])),
            resolve,
            entry,
            self_times_us,
        )
        for s in steps
    ]
    covered = attribution.coverage(per_step)
    n_ops = len({op for step in per_step for op in step.by_op_s})
    table = _table(per_step, resolve, entry, covered, top)
    return TopOps(table, covered, where.source, n_ops)


def _table(per_step, resolve, entry: str, covered, top: int) -> pd.DataFrame:
    n = max(len(per_step), 1)
    self_s: dict[str, float] = defaultdict(float)
    total_s: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    for step in per_step:
        for op, seconds in step.by_op_s.items():
            self_s[op] += seconds
            total_s[op] += step.total_s[op]
            calls[op] += step.calls[op]
    ranked = sorted(self_s, key=lambda k: (-self_s[k], k))[:top]
    rows = [
        {
            "rank": rank,
            "hlo_op": name,
            "opcode": resolve.known[name].opcode,
            "jax_op": resolve.known[name].op_name,
            "in_loop": resolve.known[name].computation != entry,
            "calls": calls[name],
            "calls_per_step": calls[name] / n,
            "self_s_per_step": self_s[name] / n,
            "total_s_per_step": total_s[name] / n,
            "self_share": self_s[name] / n / covered.traced_step_s
            if covered.traced_step_s > 0
            else None,
        }
        for rank, name in enumerate(ranked, start=1)
    ]
    return pd.DataFrame(rows, columns=list(TOP_COLUMNS))


def coverage_columns(found: TopOps, untraced_step_s: float | None) -> dict[str, object]:
    """The coverage figures of one traced function (``profile_page.COVERAGE_COLUMNS``)."""
    c = found.coverage
    return {
        "traced_step_s": c.traced_step_s,
        "untraced_step_s": untraced_step_s,
        "trace_overhead": c.traced_step_s / untraced_step_s if untraced_step_s else None,
        "attributed_s_per_step": c.attributed_s,
        "coverage": c.coverage,
        "in_loop_share": c.in_loop_share,
        "dispatch_s_per_step": c.dispatch_s,
        "unattributed_s_per_step": c.unattributed_s,
        "idle_s_per_step": c.idle_s,
        "n_ops_attributed": found.n_ops,
        "event_source": found.source,
    }
