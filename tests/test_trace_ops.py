"""Self time, attribution (loop bodies, completion callbacks, GPU annotation stacks) and
coverage, against hand-made traces whose every figure is worked out here."""

import gzip
import json

import pytest

from snnbench.measure.xla_analysis import HloInstruction
from snnbench.studies.profile import attribution
from snnbench.studies.profile.trace_ops import (
    TOP_COLUMNS,
    Trace,
    coverage_columns,
    load_events,
    load_trace,
    self_times_us,
    top_ops,
)


def _x(name, ts, dur, tid=1, pid=7, **args):
    return {"ph": "X", "name": name, "ts": ts, "dur": dur, "pid": pid, "tid": tid, "args": args}


def _step(ts, dur):
    return _x("grad_step", ts, dur, tid=9)


# Two steps of 100 us on a CPU host. Step one: a while (80 us) holding an executor
# (70 us) that runs fusion.1 twice (20 us each, each with a 5 us `end:` callback
# inside) and copy.2 (10 us); dot.3 (10 us) on another thread; the client thread
# waits meanwhile. Step two: only fusion.1 (30 us). Python noise outside both.
EVENTS = [
    _step(0, 100),
    _x("while.6", 0, 80),
    _x("ThunkExecutor::Execute", 5, 70),
    _x("fusion.1", 10, 20),
    _x("end: fusion.1", 25, 5),
    _x("copy.2", 35, 10),
    _x("fusion.1", 50, 20),
    _x("end: fusion.1", 65, 5),
    _x("kernel_xyz", 85, 10, tid=2, hlo_op="dot.3"),
    _x("ThunkExecutor::Execute (wait for completion)", 0, 100, tid=2),
    _step(200, 100),
    _x("fusion.1", 210, 30),
    _x("$profiler.py:307 trace", 0, 500, tid=3),
]
INSTRUCTIONS = [
    HloInstruction("while.6", "while", "main", "jit(f)/while"),
    HloInstruction("fusion.1", "fusion", "body", "jit(f)/while/body/mul"),
    HloInstruction("copy.2", "copy", "body", ""),
    HloInstruction("dot.3", "dot", "main", "jit(f)/dot_general"),
]
HOST = Trace(EVENTS, {7: "/host:CPU"}, {})


def test_self_time_subtracts_direct_children():
    got = {(e["name"], e["ts"]): own for e, own in self_times_us(EVENTS)}
    assert got[("while.6", 0)] == 10  # 80 - the executor's 70
    assert got[("ThunkExecutor::Execute", 5)] == 70 - 20 - 10 - 20
    assert got[("fusion.1", 10)] == 15  # its `end:` child subtracted, until merged


def test_completion_callbacks_are_merged_into_their_op():
    cleaned = attribution.clean(EVENTS)
    assert not any(e["name"].startswith("end: ") for e in cleaned)
    got = {(e["name"], e["ts"]): own for e, own in self_times_us(cleaned)}
    assert got[("fusion.1", 10)] == 20


def test_top_ops_attributes_loop_bodies_and_shares_of_the_traced_step():
    found = top_ops(HOST, INSTRUCTIONS, top=4, entry="main")
    table = found.table
    assert tuple(table.columns) == TOP_COLUMNS
    # per step: fusion.1 (40 + 30) / 2 = 35 us; copy.2, dot.3 and while.6 10 / 2 = 5 us
    assert table["hlo_op"].tolist() == ["fusion.1", "copy.2", "dot.3", "while.6"]
    first = table.iloc[0]
    assert first["calls"] == 3 and first["calls_per_step"] == 1.5
    assert first["self_s_per_step"] == pytest.approx(35e-6)
    assert first["self_share"] == pytest.approx(35 / 100)  # of the traced step
    assert bool(first["in_loop"]) and not bool(table.iloc[3]["in_loop"])
    assert table.iloc[3]["total_s_per_step"] == pytest.approx(40e-6)
    assert len(top_ops(HOST, INSTRUCTIONS, top=2, entry="main").table) == 2


def test_coverage_is_of_the_traced_step_with_the_rest_explained():
    c = top_ops(HOST, INSTRUCTIONS, top=10, entry="main").coverage
    # attributed: step one 10 + 40 + 10 + 10 = 70 us, step two 30 us
    assert c.n_steps == 2 and c.traced_step_s == pytest.approx(100e-6)
    assert c.attributed_s == pytest.approx(50e-6) and c.coverage == pytest.approx(0.5)
    assert c.in_loop_share == pytest.approx((50 + 30) / 2 / 50)  # fusion.1 and copy.2
    assert c.dispatch_s == pytest.approx(20e-6 / 2)  # the executor's own 20 us, step one
    assert c.unattributed_s == 0  # the waiting event is neither work nor dispatch
    # idle: step one busy 0-80 and 85-95 -> 10 us; step two busy 210-240 -> 70 us
    assert c.idle_s == pytest.approx((10 + 70) / 2 * 1e-6)


def test_coverage_columns_set_the_traced_step_beside_the_untraced_one():
    found = top_ops(HOST, INSTRUCTIONS, top=10, entry="main")
    columns = coverage_columns(found, untraced_step_s=50e-6)
    assert columns["trace_overhead"] == pytest.approx(2.0)
    assert columns["coverage"] == pytest.approx(0.5)
    assert columns["n_ops_attributed"] == 4
    assert columns["event_source"] == "host thunk events"


def test_gpu_kernels_in_loop_bodies_resolve_to_the_innermost_instruction():
    resolve = attribution.Resolver(INSTRUCTIONS)
    assert resolve(_x("k", 0, 1, hlo_op="while.6::fusion.1")) == "fusion.1"
    stacked = "Thunk:#hlo_op=while.6#::Thunk:#hlo_op=copy.2#"
    assert resolve(_x("k", 0, 1, hlo_op=stacked)) == "copy.2"
    assert resolve(_x("k", 0, 1, long_name="launch hlo_op=dot.3,x")) == "dot.3"
    assert resolve(_x("fusion_1", 0, 1)) == "fusion.1"  # kernel named after the fusion
    assert resolve(_x("cutlass_gemm", 0, 1)) is None


def test_on_a_device_trace_only_device_kernels_count():
    device_events = [
        _step(0, 100),
        _x("fusion.1", 0, 60),  # the host thunk's launch: not kernel time
        _x("fusion_1", 10, 40, pid=8, tid=1, hlo_op="while.6::fusion.1"),
        _x("dot_kernel", 60, 20, pid=8, tid=1, hlo_op="dot.3"),
        _x("fusion.1", 10, 40, pid=8, tid=5),  # a derived line repeating the kernel
    ]
    trace = Trace(
        device_events,
        {7: "/host:CPU", 8: "/device:GPU:0"},
        {(8, 1): "Stream #13(Compute)", (8, 5): "XLA Modules"},
    )
    found = top_ops(trace, INSTRUCTIONS, top=5, entry="main")
    assert found.source == "device kernels"
    assert dict(zip(found.table["hlo_op"], found.table["self_s_per_step"], strict=True)) == {
        "fusion.1": pytest.approx(40e-6),
        "dot.3": pytest.approx(20e-6),
    }
    assert found.coverage.coverage == pytest.approx(0.6)
    assert found.coverage.idle_s == pytest.approx(40e-6)


def test_a_derived_xla_ops_line_is_used_alone():
    events = [_step(0, 100), _x("k1", 0, 50, pid=8, tid=1), _x("fusion.1", 0, 50, pid=8, tid=2)]
    names = {(8, 1): "Stream #1", (8, 2): attribution.OPS_LINE}
    found = top_ops(Trace(events, {8: "/device:GPU:0"}, names), INSTRUCTIONS, top=5)
    assert found.source == "device XLA Ops line"
    assert found.coverage.attributed_s == pytest.approx(50e-6)


def test_no_matching_events_gives_an_empty_table():
    other = [HloInstruction("other", "add", "main", "")]
    assert top_ops(HOST, other, top=5).table.empty


def test_entry_computation_is_read_from_hlo_text():
    text = (
        "HloModule m\n\n%body (p: f32[]) -> f32[] {\n}\n\nENTRY %main.7 (a: f32[]) -> f32[] {\n}\n"
    )
    assert attribution.entry_computation(text) == "main.7"
    assert attribution.entry_computation("no module") == ""


def test_load_trace_reads_gzipped_chrome_trace_with_names(tmp_path):
    path = tmp_path / "host.trace.json.gz"
    meta = [
        {"ph": "M", "pid": 7, "name": "process_name", "args": {"name": "/host:CPU"}},
        {"ph": "M", "pid": 7, "tid": 1, "name": "thread_name", "args": {"name": "python"}},
    ]
    with gzip.open(path, "wt") as handle:
        json.dump(
            {"traceEvents": [*meta, *EVENTS, {"ph": "i", "name": "instant", "ts": 1}]}, handle
        )
    trace = load_trace(path)
    assert len(trace.events) == len(EVENTS) == len(load_events(path))
    assert trace.process_names == {7: "/host:CPU"} and trace.thread_names == {(7, 1): "python"}
