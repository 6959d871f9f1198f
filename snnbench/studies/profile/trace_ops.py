"""A ``jax.profiler`` trace of a few calls, and the most expensive operations in it.

The trace is written as TensorBoard/XProf files (``*.xplane.pb``) and as
Chrome-trace JSON (``*.trace.json.gz``, and ``perfetto_trace.json.gz``), which
ui.perfetto.dev opens directly. The top-N table is read from the trace's
events: on CPU, XLA's thunk runtime emits one event per executed HLO
instruction (fusions, copies, the ``while`` of a scan ...), named after the
instruction; on GPU the kernel events carry the instruction in ``args.hlo_op``.
Events are kept only if their name is an instruction of the compiled module,
so Python and runtime bookkeeping events drop out. Time is *self* time: an
event's duration minus that of the events nested in it on the same thread
(a ``while`` event holds its body's events).
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import jax
import pandas as pd

from snnbench.measure.xla_analysis import HloInstruction

TOP_COLUMNS = (
    "rank",
    "hlo_op",
    "opcode",
    "jax_op",
    "calls",
    "calls_per_step",
    "self_s_per_step",
    "total_s_per_step",
    "self_share",
)
SOURCE = "jax.profiler trace events named after compiled-HLO instructions (self time)"


def capture(call: Callable[[], Any], n_steps: int, log_dir: Path, name: str) -> Path:
    """Trace ``n_steps`` blocking calls of ``call`` into ``log_dir``; returns the Chrome-trace file.

    ``call`` should already be compiled and warmed up, so the trace shows steady state.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    with jax.profiler.trace(str(log_dir), create_perfetto_trace=True):
        for step in range(n_steps):
            with jax.profiler.StepTraceAnnotation(name, step_num=step):
                jax.block_until_ready(call())
    found = sorted(log_dir.rglob("*.trace.json.gz"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise RuntimeError(f"jax.profiler wrote no *.trace.json.gz under {log_dir}")
    return found[-1]


def load_events(path: Path) -> list[dict]:
    """Complete (``ph == "X"``) events of a Chrome-trace JSON file (``.gz`` or plain)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as handle:
        data = json.load(handle)
    events = data.get("traceEvents", []) if isinstance(data, dict) else data
    return [e for e in events if e.get("ph") == "X" and "dur" in e]


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


def top_ops(
    events: Iterable[dict], instructions: list[HloInstruction], n_steps: int, top: int
) -> pd.DataFrame:
    """The ``top`` HLO instructions by self time per step (columns: :data:`TOP_COLUMNS`)."""
    known = {i.name: i for i in instructions}
    self_us: dict[str, float] = defaultdict(float)
    total_us: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    for event, own_us in self_times_us(events):
        name = (event.get("args") or {}).get("hlo_op") or event.get("name", "")
        if name not in known:
            continue
        self_us[name] += own_us
        total_us[name] += float(event["dur"])
        calls[name] += 1
    all_self = sum(self_us.values())
    ranked = sorted(self_us, key=lambda k: (-self_us[k], k))[:top]
    rows = [
        {
            "rank": rank,
            "hlo_op": name,
            "opcode": known[name].opcode,
            "jax_op": known[name].op_name,
            "calls": calls[name],
            "calls_per_step": calls[name] / n_steps,
            "self_s_per_step": self_us[name] * 1e-6 / n_steps,
            "total_s_per_step": total_us[name] * 1e-6 / n_steps,
            "self_share": self_us[name] / all_self if all_self > 0 else None,
        }
        for rank, name in enumerate(ranked, start=1)
    ]
    return pd.DataFrame(rows, columns=list(TOP_COLUMNS))
