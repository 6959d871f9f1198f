"""A case whose program does not fit in what its device has free is skipped, with figures."""

from types import SimpleNamespace

import pytest

from snnbench.measure import fits, harness
from snnbench.measure.records import CaseSpec


def _compiled(output: int, temp: int):
    analysis = SimpleNamespace(output_size_in_bytes=output, temp_size_in_bytes=temp)
    return SimpleNamespace(memory_analysis=lambda: analysis)


def test_check_fits_by_hand(monkeypatch):
    cpu = SimpleNamespace(platform="cpu")
    monkeypatch.setattr(fits, "free_memory_bytes", lambda device: (1000, "MemAvailable"))
    fits.check_fits(_compiled(400, 500), cpu)  # 900 <= 90 % of 1000
    with pytest.raises(fits.DoesNotFit, match=r"does not fit: .* more than 90% of .* free on cpu"):
        fits.check_fits(_compiled(400, 501), cpu)
    fits.check_fits(SimpleNamespace(memory_analysis=lambda: None), cpu)  # unknown: runs


def test_accelerator_free_memory_comes_from_memory_stats():
    gpu = SimpleNamespace(
        platform="gpu", memory_stats=lambda: {"bytes_limit": 100, "bytes_in_use": 30}
    )
    assert fits.free_memory_bytes(gpu) == (70, "memory_stats() bytes_limit - in use")
    bare = SimpleNamespace(platform="gpu", memory_stats=lambda: None)
    assert fits.free_memory_bytes(bare)[0] is None
    assert fits.free_memory_bytes(SimpleNamespace(platform="cpu"))[0] > 0  # this machine


def test_a_case_that_does_not_fit_is_skipped_with_its_reason(monkeypatch):
    harness.prepare_process("float32")
    monkeypatch.setattr(fits, "free_memory_bytes", lambda device: (1, "MemAvailable"))
    spec = CaseSpec("dense", "grad_step", 2, "float32", "cpu", 1e-3, 0.01)
    measured = harness.measure_case(spec)
    assert measured.status == "skipped" and "does not fit" in measured.reason
    row = measured.to_row({})
    assert row["effective_matmul_precision"] == "float32" and row["median_s"] is None
