"""Device-count series on forced host devices: equal to one device, collectives found.

The device count of a CPU is fixed when JAX starts, so everything with several
devices runs in child processes (the runner's own, or one started here); the
pytest process itself keeps its single device. Sizes are tiny (t_max 0.02 ms:
20 steps, a few samples per device): these tests check correctness, never speed.
"""

import json
import os
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from snnbench.measure import harness, runner, scaling, storage
from snnbench.measure.matrix import Matrix
from snnbench.measure.records import CaseSpec, Measurement
from snnbench.measure.timing import Sampling

STEPS = 20  # t_max 0.02 ms at dt 1e-3 ms
#: Timing kept short: these tests check what the rows say, never how fast.
FAST = Sampling(target_s=0.1, min_rounds=3, staging_rounds=1)


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """A weak-scaling series over 1 and 4 devices through the runner (two child processes)."""
    matrix = Matrix(
        backends=("dense",),
        batch_sizes=(2,),
        precisions=("float64",),
        platforms=("cpu",),
        dts_ms=(1e-3,),
        phases=("forward", "grad_step"),
        t_max_ms=0.02,
        device_counts=(1, 4),
        scalings=("weak",),
        data_parallel=("grouped", "jit"),
    )
    out = tmp_path_factory.mktemp("results")
    options = runner.RunOptions(out_root=out, progress=False)
    run_dir = runner.run_matrix(matrix, options, platforms={"cpu"})
    return run_dir, storage.load_results(run_dir).set_index("case_id")


def _row(frame, phase, devices, formulation=""):
    suffix = f"-{formulation}" if formulation else ""
    batch = 2 * devices
    return frame.loc[f"dense-{phase}-b{batch}-float64-cpu-dt0.001-d{devices}-weak{suffix}"]


def test_every_case_ran_and_equals_the_one_device_result(series):
    _, frame = series
    assert (frame["status"] == "ok").all(), frame["reason"].dropna().tolist()
    steady = frame[frame["phase"].isin(["forward", "grad_step"])]
    assert steady["check_ok"].astype(bool).all()
    assert (steady["check_max_rel_diff"] <= 1e-12).all()
    assert (steady["check_rtol"] == 1e-12).all()


def test_each_child_gets_the_device_count_it_needs(series):
    run_dir, frame = series
    four = _row(frame, "grad_step", 4, "grouped")
    assert four["mesh"] == '{"batch": 4}' and four["local_devices"] == 4
    assert four["input_sharding"] == "P('batch',)"
    assert four["param_sharding"] == "P()"
    assert "--xla_force_host_platform_device_count=4" in four["xla_flags"]
    one = _row(frame, "grad_step", 1, "grouped")
    assert "xla_force_host_platform_device_count" not in str(one["xla_flags"])
    assert "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", "")
    assert (run_dir / "pytest-cpu-float64-d4.log").exists()
    assert (run_dir / "pytest-cpu-float64.log").exists()


def test_collectives_follow_the_time_loop(series):
    _, frame = series
    grouped = _row(frame, "grad_step", 4, "grouped")
    plain = _row(frame, "grad_step", 4, "jit")
    assert json.loads(grouped["collectives_json"])["all-reduce"]["per_call"] == 1
    assert grouped["collectives_per_call"] == 1
    # XLA's CPU compiler leaves the unchanged step's all-reduce in the backward loop
    assert plain["collectives_per_call"] > STEPS
    assert set(json.loads(plain["collectives_json"])) == {"all-reduce"}  # no batch gathered
    assert _row(frame, "forward", 4)["collectives_per_call"] == 0
    assert _row(frame, "grad_step", 1, "grouped")["collectives_per_call"] == 0


def test_efficiency_is_derived_against_the_one_device_row(series):
    _, frame = series
    one = _row(frame, "grad_step", 1, "jit")
    four = _row(frame, "grad_step", 4, "jit")
    assert one["scaling_efficiency"] == pytest.approx(1.0)
    assert four["scaling_efficiency"] == pytest.approx(one["median_s"] / four["median_s"])
    assert four["per_device_batch"] == 2 and four["batch_size"] == 8


CHILD = textwrap.dedent(
    """
    import json, sys
    from snnbench.measure import harness, timing
    from snnbench.measure.records import CaseSpec

    harness.prepare_process("float32")
    tasks = harness.TaskCache()
    out = {}
    fast = timing.Sampling(target_s=0.1, min_rounds=3, staging_rounds=1)
    for backend, phase, devices, form in [
        ("dense", "grad_step", 4, "grouped"),
        ("dense", "grad_step", 2, "jit"),
        ("dense", "forward", 4, ""),
        ("dense", "grad_compile", 4, "grouped"),
        ("jaxley", "grad_step", 2, "grouped"),
    ]:
        spec = CaseSpec(backend, phase, 2 * devices, "float32", "cpu", 1e-3, 0.01,
                        devices=devices, scaling="strong", data_parallel=form)
        m = harness.measure_case(spec, fast, tasks=tasks)
        out[spec.case_id] = {"status": m.status, "reason": m.reason, **m.extra}
    print(json.dumps(out))
    """
)


def test_float32_and_jaxley_in_a_four_device_process():
    env = dict(
        os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=4"
    )
    done = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    compiled = rows.pop("dense-grad_compile-b8-float32-cpu-dt0.001-d4-strong-grouped")
    assert compiled["status"] == "ok" and compiled["xla_flops"] > 0
    assert compiled["collectives_per_call"] == 1 and compiled["mesh"] == '{"batch": 4}'
    for case_id, row in rows.items():
        assert row["status"] == "ok", (case_id, row["reason"])
        assert row["check_ok"] and row["check_max_rel_diff"] <= 1e-5, case_id
        assert row["check_rtol"] == 1e-5
    jaxley = rows["jaxley-grad_step-b4-float32-cpu-dt0.001-d2-strong-grouped"]
    assert jaxley["collectives_per_call"] == 1 and jaxley["mesh"] == '{"batch": 2}'


def test_a_sharded_result_that_differs_fails_the_case(monkeypatch):
    """One device is enough to see the check turn a wrong program into a failed row."""
    spec = CaseSpec(
        "dense", "grad_step", 2, "float64", "cpu", 1e-3, 0.005, scaling="weak", data_parallel="jit"
    )
    m = harness.measure_case(spec, FAST)
    assert m.status == "ok" and m.extra["check_max_rel_diff"] == 0.0

    def doubled(spec, task, fn, args, device):
        return {"check_max_rel_diff": 1.0, "check_rtol": 1e-12, "check_ok": False}

    monkeypatch.setattr(scaling, "check_against_one_device", doubled)
    m = harness.measure_case(spec, FAST)
    assert m.status == "failed" and "differs from the 1-device result" in m.reason
    assert m.samples_s  # the timing is kept, only not trusted


def test_a_sharded_steady_case_keeps_its_cpu_samples():
    """The sharded path adds its layout and check columns without losing the CPU time."""
    spec = CaseSpec("dense", "forward", 2, "float64", "cpu", 1e-3, 0.005, scaling="weak")
    m = harness.measure_case(spec, FAST)
    assert m.status == "ok" and m.extra["check_ok"]
    assert len(m.cpu_samples_s) == len(m.samples_s) >= 3


def test_more_devices_than_jax_sees_is_skipped_with_the_reason():
    spec = CaseSpec("dense", "forward", 8, "float64", "cpu", 1e-3, 0.005, devices=8, scaling="weak")
    m = harness.measure_case(spec)
    assert m.status == "skipped" and "needs 8 cpu devices, JAX sees 1" in m.reason


def test_max_relative_difference_compares_each_shard_with_its_slice():
    import jax.numpy as jnp

    from snnbench.task import parallel

    mesh = parallel.batch_mesh(1)
    got = parallel.place({"w": jnp.array([1.0, 2.0, 4.0])}, parallel.data_sharding(mesh))
    assert parallel.max_relative_difference(got, {"w": jnp.array([1.0, 2.0, 4.0])}) == 0.0
    assert parallel.max_relative_difference(got, {"w": jnp.array([1.0, 2.0, 3.0])}) == 1 / 3


def _measured(devices, median, scaling_mode, batch, formulation="grouped", phase="grad_step"):
    spec = CaseSpec(
        "dense",
        phase,
        batch,
        "float64",
        "cpu",
        1e-3,
        devices=devices,
        scaling=scaling_mode,
        data_parallel=formulation if phase == "grad_step" else "",
    )
    row = Measurement(spec, samples_s=(median,) * 3).to_row({"run_id": "m/r"})
    return row


def test_efficiency_formula_for_weak_and_strong_and_old_rows():
    rows = [
        _measured(1, 1.0, "weak", 8),
        _measured(4, 2.0, "weak", 32),  # 4x the work in 2x the time: 0.5
        _measured(1, 1.0, "strong", 32),
        _measured(4, 0.5, "strong", 32),  # 2x faster on 4 devices: 0.5
        _measured(4, 0.5, "strong", 32, formulation="jit"),  # no 1-device jit row: NaN
    ]
    plain = Measurement(CaseSpec("dense", "grad_step", 8, "float64", "cpu", 1e-3), samples_s=(1.0,))
    old = {k: v for k, v in plain.to_row({"run_id": "m/r"}).items() if k not in ("devices",)}
    frame = storage.rows_to_frame([*rows, old])
    efficiency = frame["scaling_efficiency"].tolist()
    assert efficiency[:4] == pytest.approx([1.0, 0.5, 1.0, 0.5])
    assert pd.isna(efficiency[4]) and pd.isna(efficiency[5])
    assert frame["devices"].tolist()[-1] == 1  # an old row without the column: one device


def test_scaling_rows_survive_a_csv_round_trip(tmp_path):
    folder = storage.RunFolder.create(tmp_path, stamp="s")
    rows = [_measured(1, 1.0, "strong", 8), _measured(2, 0.6, "strong", 8, phase="forward")]
    storage.write_table(folder.path, rows)
    frame = storage.load_results(folder.path)
    assert frame["scaling"].tolist() == ["strong", "strong"]
    assert frame["data_parallel"].tolist() == ["grouped", ""]
    assert frame["shard"].tolist() == ["", ""]
