"""The program-alone memory figures: device logic on made-up memory_stats, agreement, CPU."""

import pytest

from snnbench.measure.records import CaseSpec
from snnbench.studies.profile import memory
from snnbench.studies.profile import program_memory as pm

GIB = 2**30


def test_device_peak_is_exact_when_the_runs_raised_the_mark():
    # arguments 0.4 GiB resident; compile scratch peaked at 0.5 GiB; the run adds 3 GiB
    before = {"bytes_in_use": int(0.4 * GIB), "peak_bytes_in_use": int(0.5 * GIB)}
    after = {"bytes_in_use": int(0.4 * GIB), "peak_bytes_in_use": int(3.4 * GIB)}
    found = pm.device_run_peak(before, after)
    assert found == pm.DeviceRunPeak(int(3.4 * GIB) - int(0.4 * GIB), "exact")


def test_device_peak_is_an_upper_bound_when_compile_set_the_mark():
    before = {"bytes_in_use": int(0.4 * GIB), "peak_bytes_in_use": 2 * GIB}
    found = pm.device_run_peak(before, dict(before))
    assert found.kind == "upper_bound" and found.bytes == 2 * GIB - int(0.4 * GIB)
    assert pm.device_run_peak({}, {}) == pm.DeviceRunPeak(None, "unavailable")


@pytest.mark.parametrize(
    ("measured", "kind", "xla", "platform", "agrees"),
    [
        (100 * pm.MIB, "exact", 104 * pm.MIB, "cpu", True),  # 3.8 % off
        (100 * pm.MIB, "exact", 110 * pm.MIB, "cpu", False),  # 9 % off
        (int(2.0 * pm.MIB), "exact", int(2.9 * pm.MIB), "cpu", True),  # within the 1 MiB floor
        (100 * pm.MIB, "exact", 110 * pm.MIB, "gpu", True),  # 10 % margin there
        (500 * pm.MIB, "upper_bound", 100 * pm.MIB, "gpu", None),  # a bound agrees with nothing
        (10 * pm.MIB, "upper_bound", 100 * pm.MIB, "gpu", False),  # but can be too small
        (None, "exact", 100, "cpu", None),
    ],
)
def test_agreement_margin(measured, kind, xla, platform, agrees):
    assert pm.agreement(measured, kind, xla, platform).agrees is agrees


def test_a_cpu_child_measures_the_program_alone_and_agrees_with_xla():
    spec = CaseSpec("dense", "grad_step", 64, "float32", "cpu", 1e-3)
    result = memory.measure_in_child(spec)
    assert result.status == "ok", result.reason
    figures = result.figures
    assert figures["memory_agrees"] is True, figures
    assert figures["program_peak_bytes"] < figures["peak_rss_bytes"] / 10  # not the process
    assert figures["program_peak_source"].startswith("host: median over")
    assert figures["device_run_peak_kind"] == "unavailable"  # the CPU has no memory_stats()
    assert figures["effective_matmul_precision"] == "float32"
