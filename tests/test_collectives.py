"""Collectives read off compiled HLO text: loop trip counts followed, async pairs counted once."""

import json

import jax
import jax.numpy as jnp

from snnbench.measure import collectives

#: The shape of what XLA prints (trimmed): a loop body holding an all-reduce that runs
#: 201 times, a nested loop inside it (x3), an async pair, and one all-reduce at the top.
HLO = """HloModule jit_step, entry_computation_layout={()}

%add.clone (x: f64[], y: f64[]) -> f64[] {
  ROOT %add = f64[] add(%x, %y)
}

%inner_body (p: (s64[], f32[8])) -> (s64[], f32[8]) {
  %ag = f32[8]{0} all-gather(%x), channel_id=5, replica_groups={{0,1}}, dimensions={0}
  %start = f32[4]{0} all-reduce-start(%y), channel_id=6, to_apply=%add.clone
  %done = f32[4]{0} all-reduce-done(%start)
}

%inner_cond (p: (s64[], f32[8])) -> pred[] {
  ROOT %lt = pred[] compare(%a, %b), direction=LT
}

%wide.region_10.11_spmd.clone (wide.param.7: (s64[], f64[100,4], /*index=5*/f64[2,4])) -> (s64[]) {
  %all-reduce.13 = (f64[4,100]{1,0}, f64[2,4]{1,0}) all-reduce(%dot.23, %dot.24), channel_id=1, replica_groups=mesh['axis_0'=2] {'axis_0'}, to_apply=%add.clone
  %loop = (s64[], f32[8]) while(%t), condition=%inner_cond, body=%inner_body, backend_config={"known_trip_count":{"n":"3"}}
}

%region_cond (p: (s64[])) -> pred[] {
  ROOT %lt = pred[] compare(%a, %b), direction=LT
}

ENTRY %main.14_spmd (param.4: f64[408]) -> (f64[408], f64[]) {
  %while.1 = (s64[]) while(%tuple), condition=%region_cond, body=%wide.region_10.11_spmd.clone, backend_config={"known_trip_count":{"n":"201"}}
  %all-reduce.2 = f64[] all-reduce(%select_reduce_fusion), channel_id=3, to_apply=%add.clone
}
"""


def test_collectives_are_counted_per_call_through_nested_loops():
    found = {c.kind: c for c in collectives.find_collectives(HLO) if c.kind != "all-reduce"}
    assert found["all-gather"].executions == 201 * 3
    assert found["all-gather"].bytes == 8 * 4
    summary = collectives.summarize(collectives.find_collectives(HLO))
    reduce = summary["all-reduce"]
    # 201 in the loop, 201 x 3 async (start counted, done not), 1 at the top
    assert (reduce.static, reduce.per_call) == (3, 201 + 603 + 1)
    assert reduce.bytes_per_call == 201 * (4 * 100 * 8 + 2 * 4 * 8) + 603 * 16 + 8
    assert not reduce.unknown_trip_count


def test_a_loop_without_a_known_trip_count_is_flagged():
    text = HLO.replace(', backend_config={"known_trip_count":{"n":"201"}}', "")
    summary = collectives.summarize(collectives.find_collectives(text))
    assert summary["all-reduce"].unknown_trip_count
    assert summary["all-reduce"].per_call == 3  # inside an unknown loop: counted once each


def test_shapes_are_sized_in_bytes():
    assert collectives.shape_bytes("(f64[408]{0}, f64[])") == 408 * 8 + 8
    assert collectives.shape_bytes("bf16[2,3]{1,0}") == 12


def test_row_columns_of_a_program_without_collectives():
    compiled = jax.jit(lambda x: x * 2).lower(jnp.ones(3)).compile()
    columns = collectives.row_columns(compiled.as_text())
    assert columns == {
        "collectives_json": "{}",
        "collectives_per_call": 0,
        "collective_bytes_per_call": 0,
    }
    assert json.loads(collectives.row_columns(HLO)["collectives_json"])["all-reduce"]["static"] == 3
