"""Two processes in one jax.distributed job on CPU: they measure together, and fail in time.

Every job here is tiny (dense backend, 20 time steps, 2 samples per device):
the tests check that the job runs, agrees with one device and reports its
collectives, and that a dead or hung process fails the case with a reason
within the timeout and leaves no process behind. They never check speed.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from snnbench.measure import distributed, procgroup, runner, storage
from snnbench.measure.matrix import Matrix
from snnbench.measure.worker import LocalJob, WorkerDied


def _matrix(device_counts):
    return Matrix(
        backends=("dense",),
        batch_sizes=(2,),
        precisions=("float64",),
        platforms=("cpu",),
        dts_ms=(1e-3,),
        phases=("grad_step",),
        t_max_ms=0.02,
        device_counts=device_counts,
        scalings=("weak",),
        processes=2,
    )


def _left_running(run_dir: Path) -> list[int]:
    """PIDs of live processes whose command line names this run folder (our workers)."""
    mine = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(run_dir) in command and state != "Z":
            mine.append(int(entry.name))
    return mine


def test_two_processes_time_the_sharded_step_together(tmp_path):
    options = runner.RunOptions(out_root=tmp_path, progress=False, case_timeout_s=120)
    run_dir = runner.run_matrix(_matrix((1, 4)), options, platforms={"cpu"})
    frame = storage.load_results(run_dir).set_index("case_id")
    assert (frame["status"] == "ok").all(), frame["reason"].dropna().tolist()
    job = frame.loc["dense-grad_step-b8-float64-cpu-dt0.001-d4-p2-weak-grouped"]
    assert (job["devices"], job["processes"], job["local_devices"]) == (4, 2, 2)
    assert job["mesh"] == '{"batch": 4}' and job["cpu_collectives"] == "gloo"
    assert job["check_ok"] and job["check_max_rel_diff"] <= 1e-12
    assert job["collectives_per_call"] == 1
    assert job["scaling_efficiency"] > 0
    assert "--xla_force_host_platform_device_count=2" in job["xla_flags"]  # 2 per process
    assert (run_dir / "worker-cpu-float64-d4-p2-0.log").exists()
    assert (run_dir / "worker-cpu-float64-d4-p2-1.log").exists()
    assert _left_running(run_dir) == []


@pytest.mark.parametrize(
    ("fault", "timeout_s", "reason"),
    [
        ("kill:1", 60, "process 1 died with SIGKILL"),
        ("exit:0", 60, "process 0 exited with code 3"),
        ("hang:1", 6, "timed out: no progress for 6 s; processes [0, 1] still running"),
    ],
)
def test_a_dead_or_hung_process_fails_the_case_in_time(
    tmp_path, monkeypatch, fault, timeout_s, reason
):
    monkeypatch.setenv(distributed.FAULT_VARIABLE, fault)
    options = runner.RunOptions(out_root=tmp_path, progress=False, case_timeout_s=timeout_s)
    start = time.monotonic()
    run_dir = runner.run_matrix(_matrix((2,)), options, platforms={"cpu"})
    elapsed = time.monotonic() - start
    (row,) = storage.load_results(run_dir).to_dict("records")
    assert row["status"] == "failed" and reason in row["reason"]
    assert elapsed < timeout_s + 30  # start-up of two processes, then the fault or the timeout
    assert _left_running(run_dir) == []


def test_the_process_group_is_killed_whole_and_says_why(tmp_path):
    env = runner.child_env(_matrix((2,)).cases()[0])
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    job = LocalJob.spawn(sys.executable, "float64", env, logs, timeout_s=30)
    os.kill(job.workers[1].pid, signal.SIGKILL)
    sleep = {"kind": "call", "function": "subprocess:run", "kwargs": {"args": ["sleep", "600"]}}
    with pytest.raises(WorkerDied, match=r"^process 1 died with SIGKILL"):
        job._gather([sleep, sleep])
    assert [w.running() for w in job.workers] == [True, False]
    assert len(job.left_running()) == 2  # rank 0 and the sleep it started
    job.kill()
    assert job.left_running() == [] and not any(w.running() for w in job.workers)


def test_launcher_started_processes_join_from_the_environment(tmp_path):
    """``snnbench bench --distributed`` under a (simulated) SLURM step of 2 tasks."""
    port = procgroup.free_port()
    out = tmp_path / "results"
    argv = [
        sys.executable, "-m", "snnbench", "bench", "--distributed", "--out", str(out),
        "--device", "cpu", "--backend", "dense", "--precision", "float64",
        "--batch-size", "2", "--scaling", "strong", "--phases", "forward",
    ]  # fmt: skip
    slurm = {"SLURM_JOB_ID": "7", "SLURM_STEP_NODELIST": "localhost", "SLURM_NTASKS": "2"}
    envs = [
        dict(os.environ, **slurm, SLURM_PROCID=str(i), SLURM_LOCALID=str(i),
             JAX_COORDINATOR_PORT=str(port), JAX_PLATFORMS="cpu")
        for i in (0, 1)
    ]  # fmt: skip
    jobs = [subprocess.Popen(argv, env=e, stdout=subprocess.PIPE, text=True) for e in envs]
    try:
        outputs = [job.communicate(timeout=240)[0] for job in jobs]
    finally:
        for job in jobs:
            job.kill()
    assert [job.returncode for job in jobs] == [0, 0]
    assert "2 processes, 2 devices ->" in outputs[0] and "->" not in outputs[1]  # process 0 writes
    (run_dir,) = storage.find_run_dirs(out)
    assert run_dir.name.endswith("-distributed")
    frame = storage.load_results(run_dir).set_index("devices")
    assert (frame["status"] == "ok").all(), frame["reason"].tolist()
    assert frame.loc[2, "processes"] == 2 and frame.loc[1, "processes"] == 1
    assert frame.loc[2, "check_ok"]


def test_children_may_write_bytecode(monkeypatch):
    from snnbench.measure import procgroup

    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    env = procgroup.child_env("cpu", python="/some/venv/bin/python", extra={"X": "1"})
    assert "PYTHONDONTWRITEBYTECODE" not in env and env["X"] == "1"
    assert env["JAX_PLATFORMS"] == "cpu"
