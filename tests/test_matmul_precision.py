"""The effective matmul precision a row records, per backend, device and setting."""

import pytest

from snnbench import TaskConfig
from snnbench.measure import harness
from snnbench.measure.records import CaseSpec
from snnbench.task.model import effective_matmul_precision

F32, F64 = TaskConfig(precision="float32"), TaskConfig(precision="float64")
DEFAULT = F32.replace(matmul_precision="default")


@pytest.mark.parametrize(
    ("config", "backend", "platform", "capability", "override", "expected"),
    [
        (F32, "jaxley", "gpu", "9.0", "", "none"),  # jaxley's programs hold no dot
        (F64, "dense", "gpu", "9.0", "", "float64"),
        (F32, "dense", "cpu", None, "", "float32"),
        (DEFAULT, "dense", "cpu", None, "", "float32"),  # the CPU ignores the setting
        (F32, "dense", "gpu", "9.0", "", "float32"),  # highest: full float32 everywhere
        (DEFAULT, "dense", "gpu", "9.0", "", "tf32"),  # H100/H200
        (DEFAULT, "dense", "gpu", "8.0", "", "tf32"),  # A100
        (DEFAULT, "dense", "gpu", "7.0", "", "float32"),  # V100: no TF32
        (DEFAULT, "dense", "gpu", "9.0", "0", "float32"),  # NVIDIA_TF32_OVERRIDE=0
        (DEFAULT, "dense", "gpu", None, "", "unknown"),
        (DEFAULT, "dense", "tpu", None, "", "bf16"),
        (F32, "dense", "tpu", None, "", "float32"),
    ],
)
def test_effective_precision(config, backend, platform, capability, override, expected):
    assert effective_matmul_precision(config, backend, platform, capability, override) == expected


def test_every_measured_row_records_the_matmul_precision():
    harness.prepare_process("float32")
    spec = CaseSpec("dense", "forward", 2, "float32", "cpu", 1e-3, 0.01)
    row = harness.measure_case(spec).to_row({})
    assert row["matmul_precision"] == "highest"
    assert row["effective_matmul_precision"] == "float32"
    skipped = harness.measure_case(CaseSpec("dense", "forward", 2, "float32", "tpu", 1e-3))
    assert skipped.status == "skipped"  # no TPU here: no device, so nothing to record
