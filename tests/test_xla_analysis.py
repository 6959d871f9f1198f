"""XLA analyses of a compiled program, HLO/StableHLO parsing, and empty analyses handled."""

import jax
import jax.numpy as jnp
import pytest

from snnbench.measure import harness
from snnbench.measure.records import EXACT_METRICS, CaseSpec
from snnbench.measure.xla_analysis import (
    XLA_COLUMNS,
    analyze_compiled,
    parse_hlo,
    stablehlo_op_count,
)


def _matmul_compiled():
    x = jnp.ones((3, 4), jnp.float32)
    y = jnp.ones((4, 5), jnp.float32)
    return jax.jit(lambda a, b: a @ b).trace(x, y).lower().compile()


def test_columns_are_exact_metrics():
    assert set(XLA_COLUMNS) <= set(EXACT_METRICS)


def test_analysis_of_a_matmul_by_hand():
    """Backend-dependent: the optimized module's *shape* differs per backend, so the
    instruction count is checked for what each backend makes of one dot.

    CPU: two parameters and the dot, 3 instructions. GPU: the dot becomes a library
    call (a cuBLAS ``custom-call`` returning (result, workspace), read back with
    ``get-tuple-element``, plus layout bitcasts; 6 instructions on the issue author's
    H200) or a fused kernel; what holds there is two entry parameters and exactly one
    matmul, and the count equals the instructions parsed.
    """
    compiled = _matmul_compiled()
    found = analyze_compiled(compiled)
    assert found["xla_flops"] == 2 * 3 * 4 * 5  # one multiply and one add per term
    assert found["xla_argument_bytes"] == (3 * 4 + 4 * 5) * 4
    assert found["xla_output_bytes"] == 3 * 5 * 4
    assert found["xla_bytes_accessed"] > 0
    assert found["xla_analysis_note"] == ""
    text = compiled.as_text()
    instructions = parse_hlo(text)
    assert found["hlo_instructions"] == len(instructions)
    if jax.default_backend() == "cpu":
        assert sorted(i.opcode for i in instructions) == ["dot", "parameter", "parameter"]
        return
    entry = [i for i in instructions if i.computation == _entry(text)]
    assert sum(i.opcode == "parameter" for i in entry) == 2
    library_calls = [
        line
        for line in text.splitlines()
        if "custom-call(" in line and ("gemm" in line.lower() or "matmul" in line.lower())
    ]
    dots = [i for i in instructions if i.opcode == "dot"]
    assert len(library_calls) + len(dots) == 1, text


def _entry(text: str) -> str:
    return next(
        line.split()[1].lstrip("%") for line in text.splitlines() if line.startswith("ENTRY")
    )


class _Empty:
    """A Compiled whose backend reports nothing."""

    def __init__(self, cost):
        self._cost = cost

    def cost_analysis(self):
        if isinstance(self._cost, Exception):
            raise self._cost
        return self._cost

    def memory_analysis(self):
        return None

    def as_text(self):
        raise NotImplementedError("no text here")


@pytest.mark.parametrize(
    ("cost", "why"),
    [
        (None, "backend returned None"),
        ([], "backend returned []"),
        ({}, "backend returned {}"),
        ([{}], "empty analysis"),
        (RuntimeError("UNIMPLEMENTED: cost analysis"), "raised RuntimeError: UNIMPLEMENTED"),
    ],
)
def test_backends_that_report_nothing_leave_fields_empty_and_say_why(cost, why):
    found = analyze_compiled(_Empty(cost))
    assert all(found[c] is None for c in XLA_COLUMNS)
    note = found["xla_analysis_note"]
    assert "cost_analysis: " in note and why in note
    assert "memory_analysis: backend returned None" in note
    assert "as_text: raised NotImplementedError: no text here" in note


def test_old_jax_list_form_is_read():
    class Listed(_Empty):
        def memory_analysis(self):
            return _matmul_compiled().memory_analysis()

    found = analyze_compiled(Listed([{"flops": 7.0, "bytes accessed": 9.0}]))
    assert (found["xla_flops"], found["xla_bytes_accessed"]) == (7, 9)
    assert found["xla_output_bytes"] == 60
    assert found["xla_analysis_note"] == "as_text: raised NotImplementedError: no text here"


@pytest.mark.slow
def test_benchmark_compile_rows_carry_the_analysis_or_a_note(monkeypatch):
    harness.prepare_process("float32")
    spec = CaseSpec("dense", "forward_compile", 2, "float32", "cpu", 1e-3, 0.01)
    tasks = harness.TaskCache()
    row = harness.measure_case(spec, tasks=tasks).to_row({})
    assert row["status"] == "ok"
    assert row["xla_flops"] > 0 and row["hlo_instructions"] > 0
    assert row["xla_temp_bytes"] > 0 and row["xla_analysis_note"] == ""

    monkeypatch.setattr(jax.stages.Compiled, "cost_analysis", lambda self: None)
    row = harness.measure_case(spec, tasks=tasks).to_row({})
    assert row["status"] == "ok" and row["n_samples"] == 3
    assert row["xla_flops"] is None and row["xla_bytes_accessed"] is None
    assert row["xla_argument_bytes"] > 0
    assert row["xla_analysis_note"] == "cost_analysis: backend returned None"


def test_trace_lower_rows_carry_program_sizes():
    harness.prepare_process("float32")
    spec = CaseSpec("dense", "forward_trace_lower", 2, "float32", "cpu", 1e-3, 0.01)
    row = harness.measure_case(spec).to_row({})
    assert row["status"] == "ok"
    assert row["jaxpr_eqns"] > 20 and row["stablehlo_ops"] > 0


HLO = """HloModule m, entry_computation_layout={(f32[2]{0})->f32[2]{0}}

%fused_computation (param_0: f32[2]) -> f32[2] {
  %param_0 = f32[2]{0} parameter(0)
  ROOT %negate.1 = f32[2]{0} negate(%param_0), metadata={op_name="jit(f)/neg"}
}

ENTRY %main.2 (x.1: f32[2]) -> (f32[2], f32[]) {
  %x.1 = f32[2]{0} parameter(0), metadata={op_name="x"}
  %fusion = f32[2]{0} fusion(%x.1), kind=kLoop, calls=%fused_computation
  %c = f32[] constant(0)
  ROOT %tuple = (f32[2]{0}, f32[]) tuple(%fusion, %c)
}
"""


def test_parse_hlo_golden():
    got = [(i.name, i.opcode, i.computation, i.op_name) for i in parse_hlo(HLO)]
    assert got == [
        ("param_0", "parameter", "fused_computation", ""),
        ("negate.1", "negate", "fused_computation", "jit(f)/neg"),
        ("x.1", "parameter", "main.2", "x"),
        ("fusion", "fusion", "main.2", ""),
        ("c", "constant", "main.2", ""),
        ("tuple", "tuple", "main.2", ""),
    ]


def test_stablehlo_op_count_golden():
    text = """module @jit_f attributes {mhlo.num_partitions = 1 : i32} {
  func.func public @main(%arg0: tensor<3xf32>) -> (tensor<3xf32>) {
    %0 = stablehlo.add %arg0, %arg0 : tensor<3xf32>
    %1:2 = "stablehlo.while"(%0, %0) ({
      stablehlo.return %0 : tensor<3xf32>
    })
    return %0 : tensor<3xf32>
  }
}"""
    # func.func, add, while, the nested stablehlo.return; not `module` nor bare `return`
    assert stablehlo_op_count(text) == 4
