"""Which trace events belong to which HLO instruction, and how much of a step that explains.

A ``jax.profiler`` trace of a compiled step holds, per thread (host) or stream
(device), events nested in time. Attribution rules, in the order they matter:

- **CPU.** XLA's thunk runtime emits one event per executed instruction, named
  after it (``args.hlo_op`` too), *including inside loop bodies*: a ``while``
  event holds a ``ThunkExecutor::Execute`` event that holds its body's events.
  Each instruction event has a child ``end: <op>``, its completion callback,
  which belongs to the op: it is merged into it (dropped before self times are
  taken), not lost. What stays unattributed is the executor's own self time
  (dispatching thousands of tiny thunks) and gaps in which no XLA thread works;
  events that only wait for other threads count as neither.
- **GPU** (unverified here: written from XLA's source, checked by
  ``scripts/gpu_check.sh`` on a device). Only device-plane events (process
  ``/device:...``) count: host events named after thunks measure launch time,
  not kernel time. A kernel launched inside a while body carries a *stack* of
  annotations, e.g. ``while.3::fusion.5``; the innermost known instruction wins.
  A kernel without ``hlo_op`` is mapped through its name (XLA names a fusion's
  kernel after the instruction, ``.`` -> ``_``). If the trace has a derived
  "XLA Ops" line, only that line is used, so kernels are not counted twice.

**Coverage** is attributed self time per step over the *traced* step time (from
the ``StepTraceAnnotation`` windows), never over the untraced median: the
profiler itself slows a CPU step down 1.2-6x (one event per sub-microsecond
thunk), so traced op times set against an untraced step would explain more than
100 %. On CPU, threads that run ops in parallel can also push it above 1.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from snnbench.measure.xla_analysis import HloInstruction

#: Child events that belong to their enclosing instruction (CPU completion callbacks).
MERGED_PREFIXES = ("end: ",)
#: Zero-length markers with no time of their own.
MARKER_PREFIXES = ("ThreadpoolListener::",)
#: The CPU thunk runtime's own dispatch events.
DISPATCH_NAMES = ("ThunkExecutor::Execute",)
#: Events that only wait for others (e.g. "ThunkExecutor::Execute (wait for completion)"
#: on the client thread while worker threads run the ops): neither work nor dispatch.
WAITING_WORD = "wait"
#: Derived device lines that repeat the kernels' time per HLO op (the one to keep
#: first) or per something else (never counted).
OPS_LINE = "XLA Ops"
DERIVED_LINES = ("XLA Modules", "Framework Ops", "Framework Name Scope", "Steps", "Source code")
_HLO_OP_IN_TEXT = re.compile(r"hlo_op=([^,#:\s]+)")
_ENTRY = re.compile(r"^ENTRY\s+%?([\w.\-]+)", re.M)


def entry_computation(hlo_text: str) -> str:
    """The name of the ENTRY computation of an HLO module's text ("" if none)."""
    match = _ENTRY.search(hlo_text)
    return match.group(1) if match else ""


def clean(events: Iterable[dict]) -> list[dict]:
    """``events`` without completion callbacks (merged into their op) and markers."""
    drop = MERGED_PREFIXES + MARKER_PREFIXES
    return [e for e in events if not str(e.get("name", "")).startswith(drop)]


class Resolver:
    """Maps a trace event to the HLO instruction it belongs to (or None)."""

    def __init__(self, instructions: Iterable[HloInstruction]):
        self.known = {i.name: i for i in instructions}
        self._kernels = {k.replace(".", "_").replace("-", "_"): k for k in self.known}

    def __call__(self, event: dict) -> str | None:
        args = event.get("args") or {}
        op = args.get("hlo_op")
        if isinstance(op, str):
            found = self._innermost(re.split(r"::|;|,", op))
            if found:
                return found
        for value in args.values():  # e.g. a long_name or annotation holding hlo_op=NAME
            if isinstance(value, str) and "hlo_op=" in value:
                found = self._innermost(_HLO_OP_IN_TEXT.findall(value))
                if found:
                    return found
        name = str(event.get("name", ""))
        if name in self.known:
            return name
        return self._kernels.get(name)

    def _innermost(self, parts: list[str]) -> str | None:
        for part in reversed(parts):
            part = part.strip()
            match = _HLO_OP_IN_TEXT.search(part)
            part = match.group(1) if match else part
            if part in self.known:
                return part
        return None


@dataclass(frozen=True)
class TraceLayout:
    """Which processes and threads of a trace hold the instruction events."""

    source: str  # "host thunk events" or "device kernels" or "device XLA Ops line"
    keep: Callable[[dict], bool]


def layout(process_names: dict, thread_names: dict) -> TraceLayout:
    """Where to read op time from: device planes if there are any, else the host."""
    devices = {pid for pid, name in process_names.items() if "/device:" in str(name)}
    if not devices:
        return TraceLayout("host thunk events", lambda e: True)
    lines = {key: str(name) for key, name in thread_names.items() if key[0] in devices}
    ops_lines = {key for key, name in lines.items() if name == OPS_LINE}
    if ops_lines:
        return TraceLayout(
            "device XLA Ops line", lambda e: (e.get("pid"), e.get("tid")) in ops_lines
        )
    derived = {key for key, name in lines.items() if name in DERIVED_LINES}

    def kernel(event: dict) -> bool:
        key = (event.get("pid"), event.get("tid"))
        return event.get("pid") in devices and key not in derived

    return TraceLayout("device kernels", kernel)


@dataclass(frozen=True)
class StepAttribution:
    """What one traced step's time went to (seconds)."""

    step_s: float
    attributed_s: float
    in_loop_s: float
    dispatch_s: float
    unattributed_s: float
    idle_s: float
    by_op_s: dict[str, float]
    calls: dict[str, int]
    total_s: dict[str, float]


def attribute_step(
    events: list[dict],
    window: tuple[float, float],
    resolve: Resolver,
    entry: str,
    self_times: Callable[[list[dict]], list[tuple[dict, float]]],
) -> StepAttribution:
    """Attribute the events starting inside ``window`` (µs) to instructions.

    ``events`` should hold no step annotation (its window is the step itself).
    """
    start, end = window
    inside = [e for e in events if start <= float(e["ts"]) < end]
    by_op: dict[str, float] = defaultdict(float)
    total: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    dispatch = unattributed = 0.0
    executing = {(e.get("pid"), e.get("tid")) for e in inside if resolve(e)}
    busy = []
    for event, own in self_times(inside):
        op = resolve(event)
        key = (event.get("pid"), event.get("tid"))
        name = str(event.get("name", ""))
        if op is not None:
            by_op[op] += own
            total[op] += float(event["dur"])
            calls[op] += 1
        elif key not in executing or WAITING_WORD in name.lower():
            continue  # not on a thread that runs ops, or only waiting there
        elif name in DISPATCH_NAMES:
            dispatch += own
        else:
            unattributed += own
        busy.append((float(event["ts"]), float(event["ts"]) + float(event["dur"])))
    step_us = end - start
    in_loop = sum(v for k, v in by_op.items() if resolve.known[k].computation != entry)
    return StepAttribution(
        step_s=step_us * 1e-6,
        attributed_s=sum(by_op.values()) * 1e-6,
        in_loop_s=in_loop * 1e-6,
        dispatch_s=dispatch * 1e-6,
        unattributed_s=unattributed * 1e-6,
        idle_s=max(step_us - union_us(busy), 0.0) * 1e-6,
        by_op_s={k: v * 1e-6 for k, v in by_op.items()},
        calls=dict(calls),
        total_s={k: v * 1e-6 for k, v in total.items()},
    )


def union_us(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of ``(start, end)`` intervals."""
    covered, reach = 0.0, None
    for start, end in sorted(intervals):
        if reach is None or start > reach:
            covered += end - start
            reach = end
        elif end > reach:
            covered += end - reach
            reach = end
    return covered


@dataclass(frozen=True)
class Coverage:
    """Per-step means over the traced steps: how much of a step the attributed ops explain."""

    n_steps: int
    traced_step_s: float
    attributed_s: float
    coverage: float
    in_loop_share: float | None
    dispatch_s: float
    unattributed_s: float
    idle_s: float


def coverage(steps: list[StepAttribution]) -> Coverage:
    """Totals over ``steps`` divided by their number (coverage: total over total)."""
    n = max(len(steps), 1)

    def mean(values: Iterable[float]) -> float:
        return sum(values) / n

    step_s, attributed_s = mean(s.step_s for s in steps), mean(s.attributed_s for s in steps)
    in_loop_s = mean(s.in_loop_s for s in steps)
    return Coverage(
        n_steps=len(steps),
        traced_step_s=step_s,
        attributed_s=attributed_s,
        coverage=attributed_s / step_s if step_s > 0 else 0.0,
        in_loop_share=in_loop_s / attributed_s if attributed_s > 0 else None,
        dispatch_s=mean(s.dispatch_s for s in steps),
        unattributed_s=mean(s.unattributed_s for s in steps),
        idle_s=mean(s.idle_s for s in steps),
    )
