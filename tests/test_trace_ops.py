"""Self time from nested trace events, and the top-ops table, against hand-made traces."""

import gzip
import json

import pytest

from snnbench.measure.xla_analysis import HloInstruction
from snnbench.studies.profile.trace_ops import TOP_COLUMNS, load_events, self_times_us, top_ops


def _x(name, ts, dur, tid=1, **args):
    return {"ph": "X", "name": name, "ts": ts, "dur": dur, "pid": 7, "tid": tid, "args": args}


# One step: a while (100 us) holding an executor (90 us) that runs fusion.1 twice
# (30 us each) and copy.2 (10 us); a dot on another thread; Python noise.
EVENTS = [
    _x("while.6", 0, 100),
    _x("ThunkExecutor::Execute", 5, 90),
    _x("fusion.1", 10, 30),
    _x("copy.2", 40, 10),
    _x("fusion.1", 55, 30),
    _x("kernel_xyz", 0, 20, tid=2, hlo_op="dot.3"),
    _x("$profiler.py:307 trace", 0, 500, tid=3),
]
INSTRUCTIONS = [
    HloInstruction("while.6", "while", "main", "jit(f)/while"),
    HloInstruction("fusion.1", "fusion", "body", "jit(f)/while/body/mul"),
    HloInstruction("copy.2", "copy", "body", ""),
    HloInstruction("dot.3", "dot", "main", "jit(f)/dot_general"),
]


def test_self_time_subtracts_direct_children():
    got = {(e["name"], e["ts"]): own for e, own in self_times_us(EVENTS)}
    assert got[("while.6", 0)] == 10  # 100 - executor's 90
    assert got[("ThunkExecutor::Execute", 5)] == 90 - 30 - 10 - 30
    assert got[("fusion.1", 10)] == 30 and got[("copy.2", 40)] == 10
    assert got[("kernel_xyz", 0)] == 20


def test_top_ops_keeps_hlo_instructions_only_and_ranks_by_self_time():
    table = top_ops(EVENTS, INSTRUCTIONS, n_steps=2, top=4)
    assert tuple(table.columns) == TOP_COLUMNS
    # copy.2 and while.6 both hold 10 us of self time: ties go by name
    assert table["hlo_op"].tolist() == ["fusion.1", "dot.3", "copy.2", "while.6"]
    assert len(top_ops(EVENTS, INSTRUCTIONS, n_steps=2, top=2)) == 2
    first = table.iloc[0]
    assert first["calls"] == 2 and first["calls_per_step"] == 1
    assert first["self_s_per_step"] == pytest.approx(60e-6 / 2)
    assert first["jax_op"] == "jit(f)/while/body/mul" and first["opcode"] == "fusion"
    assert first["self_share"] == pytest.approx(60 / (60 + 20 + 10 + 10))
    assert table.iloc[3]["total_s_per_step"] == pytest.approx(100e-6 / 2)


def test_no_matching_events_gives_an_empty_table():
    assert top_ops(EVENTS, [HloInstruction("other", "add", "main", "")], 1, 5).empty


def test_load_events_reads_gzipped_chrome_trace(tmp_path):
    path = tmp_path / "host.trace.json.gz"
    meta = {"ph": "M", "pid": 7, "name": "process_name", "args": {"name": "/host:CPU"}}
    with gzip.open(path, "wt") as handle:
        json.dump({"traceEvents": [meta, *EVENTS, {"ph": "i", "name": "instant", "ts": 1}]}, handle)
    assert len(load_events(path)) == len(EVENTS)
