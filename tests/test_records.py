"""Summary statistics against hand-computed values, and the row schema."""

import json
import math
from pathlib import Path

import pytest

from snnbench.measure import machine
from snnbench.measure.records import ROW_COLUMNS, SCHEMA_VERSION, CaseSpec, Measurement
from snnbench.measure.summary import summarize

SPEC = CaseSpec("dense", "forward", 4, "float64", "cpu", 1e-3)


def test_summary_of_one_to_five():
    s = summarize([5.0, 1.0, 4.0, 2.0, 3.0])
    assert (s.n, s.min, s.max, s.mean, s.median) == (5, 1.0, 5.0, 3.0, 3.0)
    assert (s.q1, s.q3, s.iqr) == (2.0, 4.0, 2.0)
    assert s.std == pytest.approx(math.sqrt(2.5))
    assert s.cv == pytest.approx(math.sqrt(2.5) / 3)
    assert s.iqr_over_median == pytest.approx(2 / 3)
    assert s.noisy


def test_quiet_samples_are_not_flagged():
    s = summarize([1.00, 1.01, 1.02, 1.03])
    assert s.q1 == pytest.approx(1.0075) and s.q3 == pytest.approx(1.0225)
    assert not s.noisy


def test_single_sample_has_zero_spread():
    s = summarize([0.5])
    assert (s.std, s.iqr, s.cv) == (0.0, 0.0, 0.0)


def test_empty_samples_are_refused():
    with pytest.raises(ValueError, match="empty"):
        summarize([])


def test_case_id_names_every_axis():
    assert SPEC.case_id == "dense-forward-b4-float64-cpu-dt0.001"
    assert SPEC.n_steps == 200


def test_row_has_schema_statistics_throughput_and_raw_samples():
    m = Measurement(SPEC, samples_s=(0.002, 0.004, 0.003), iterations=7, first_s=1.5)
    row = m.to_row({"machine_id": "m1"})
    assert tuple(row)[: len(ROW_COLUMNS)] == ROW_COLUMNS
    assert row["schema_version"] == SCHEMA_VERSION
    assert row["median_s"] == 0.003 and row["first_s"] == 1.5 and row["iterations"] == 7
    assert row["samples_per_s"] == pytest.approx(4 / 0.003)
    assert row["sample_steps_per_s"] == pytest.approx(4 * 200 / 0.003)
    assert json.loads(row["samples_json"]) == [0.002, 0.004, 0.003]
    assert row["machine_id"] == "m1"


def test_skipped_row_carries_reason_and_no_numbers():
    row = Measurement(SPEC, status="skipped", reason="no gpu").to_row({})
    assert row["status"] == "skipped" and row["reason"] == "no gpu"
    assert row["median_s"] is None and row["n_samples"] == 0 and row["samples_per_s"] is None


def test_metadata_names_versions_machine_and_commit():
    meta = machine.metadata()
    for key in (
        "snnbench_version",
        "jax_version",
        "jaxlib_version",
        "jaxley_version",
        "optax_version",
        "numpy_version",
        "python_version",
        "machine_id",
        "cpu_model",
        "cpu_count",
        "git_commit",
        "git_dirty",
        "xla_flags",
        "omp_num_threads",
        "nvidia_tf32_override",
        "load_avg_1m",
    ):
        assert key in meta, key
    assert meta["machine_id"] == machine.machine_id()
    assert machine.device_info("cpu")["device_count"] >= 1
    absent = {"device_kind": "", "device_count": 0, "device_compute_capability": ""}
    assert machine.device_info("tpu") == absent


def test_git_commit_is_snnbench_own_not_the_surrounding_repository(tmp_path):
    import subprocess

    checkout = Path(__file__).resolve().parent.parent
    commit, _ = machine.git_state(checkout)
    head = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert commit == head
    # An installed snnbench inside some other project's git tree (e.g. its .venv):
    project = tmp_path / "project"
    site = project / ".venv" / "lib" / "site-packages"
    site.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    assert machine.git_state(site) == ("unknown", False)


def test_cpu_samples_are_stored_raw_next_to_wall_samples():
    m = Measurement(SPEC, samples_s=(0.002, 0.004), cpu_samples_s=(0.001, 0.003))
    row = m.to_row({})
    assert json.loads(row["cpu_samples_json"]) == [0.001, 0.003]
    assert row["cpu_median_s"] == pytest.approx(0.002)
    old = Measurement(SPEC, samples_s=(0.002,)).to_row({})  # not recorded: empty, not zero
    assert old["cpu_samples_json"] == "" and old["cpu_median_s"] is None
