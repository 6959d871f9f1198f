"""The matrix runner: separate processes, skipped devices, crash recovery, bad input."""

import dataclasses
import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from snnbench import cli
from snnbench.cli import bench_commands
from snnbench.errors import SnnbenchError
from snnbench.measure import machine, runner, storage
from snnbench.measure.matrix import Matrix
from snnbench.measure.phases import expand_phases

BENCH = Path(__file__).resolve().parent.parent / "bench"
TINY = Matrix(
    backends=("dense",),
    batch_sizes=(1,),
    precisions=("float32",),
    platforms=("cpu", "gpu"),
    dts_ms=(1e-3,),
    phases=("overhead", "forward"),
    t_max_ms=0.01,
)


def _options(out, bench=None):
    bench = bench or runner.BenchTarget.installed()
    return runner.RunOptions(out_root=out, bench=bench, progress=False)


def test_tiny_matrix_end_to_end(tmp_path):
    pin = machine.choose_pin("auto")
    options = dataclasses.replace(_options(tmp_path), pin_cpu=pin)
    run_dir = runner.run_matrix(TINY, options, platforms={"cpu"})
    frame = storage.load_results(run_dir)
    by_status = frame.groupby(["platform", "status"]).size().to_dict()
    assert by_status == {("cpu", "ok"): 2, ("gpu", "skipped"): 2}
    gpu = frame[frame["platform"] == "gpu"]
    assert gpu["reason"].str.contains("no gpu device").all()
    assert gpu["median_s"].isna().all()
    ok = frame[frame["status"] == "ok"]
    assert (ok["median_s"] > 0).all() and (ok["n_samples"] >= 5).all()
    # pinned (recorded), with CPU time and the yardstick next to every row
    pinned = "" if machine.machine_cores() == 1 else str(pin)
    assert ok["pinned_cpu"].fillna("").astype(str).str.removesuffix(".0").eq(pinned).all()
    assert (ok["cpu_median_s"] > 0).all() and (ok["yardstick_wall_s"] > 0).all()
    assert set(ok["precision"]) == {"float32"}
    assert (run_dir / "pytest-benchmark-cpu-float32.json").exists()
    assert (run_dir / "run.json").exists()
    assert run_dir.parent.parent == tmp_path


FAKE_BENCH = textwrap.dedent(
    """
    import os, signal
    from snnbench.measure.records import Measurement

    def test_case(case, benchmark, record, mark_started):
        mark_started(case)
        if case.batch_size == 2:
            os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would
        benchmark.pedantic(lambda: None, rounds=1)
        record(Measurement(case, samples_s=(0.001,)))
    """
)


def test_a_killed_process_keeps_rows_and_the_run_goes_on(tmp_path):
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "bench_fake.py").write_text(FAKE_BENCH)  # run with snnbench's pytest plugin
    matrix = Matrix(
        backends=("dense",),
        batch_sizes=(1, 2, 3),
        precisions=("float64",),
        platforms=("cpu",),
        dts_ms=(1e-3,),
        phases=("forward",),
    )
    options = _options(tmp_path / "results", runner.BenchTarget.folder(bench))
    run_dir = runner.run_matrix(matrix, options, platforms={"cpu"})
    frame = storage.load_results(run_dir).set_index("batch_size")
    assert frame.loc[1, "status"] == "ok" and frame.loc[3, "status"] == "ok"
    assert frame.loc[2, "status"] == "failed"
    assert "SIGKILL" in frame.loc[2, "reason"]
    assert pd.isna(frame.loc[2, "median_s"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--batch-sizes", "0"], "--batch-sizes"),
        (["--batch-sizes", "4,x"], "--batch-sizes"),
        (["--device", "quantum"], "`--device` must be one of cpu, gpu, tpu"),
        (["--phases", "warp"], "`--phases` must be phases from"),
        (["--backend", "torch"], "`--backend` must be one of jaxley, dense"),
        (["--precision", "float16"], "`--precision` must be one of"),
        (["--dt-ms", "0.003"], "`--dt-ms`"),
        (["--bench-dir", "/nonexistent"], "`--bench-dir`"),
        (["--devices", "0"], "--devices"),
        (["--devices", "1,3", "--batch-size", "4"], "`--batch-size` must be global batches"),
        (["--scaling", "weak"], "`--scaling` needs `--devices`"),
        (["--devices", "1,3", "--processes", "2"], "`--devices` must be 1 or multiples"),
        (["--devices", "1,2", "--data-parallel", "pmap"], "`--data-parallel` must be one of"),
        (["--shard", "3/2"], "--shard"),
        (["--distributed", "--processes", "2"], "`--distributed` takes its processes"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "results"
    code = cli.main(["bench", "--out", str(out), "--no-progress", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("snnbench: error:")
    assert message in err
    assert not out.exists()


def test_unwritable_output_folder_is_refused(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = cli.main(["bench", "--out", str(blocker / "results"), "--no-progress"])
    assert code == 2
    assert "writable" in capsys.readouterr().err


def test_phase_groups_expand_in_matrix_order():
    assert expand_phases(["compile", "forward"]) == ("forward_compile", "forward", "grad_compile")
    with pytest.raises(SnnbenchError):
        expand_phases(["nope"])


def test_quick_matrix_crosses_dt_at_one_batch_size():
    cases = Matrix(
        backends=("dense",), precisions=("float64",), platforms=("cpu",), phases=("forward",)
    ).cases()
    configs = {(c.batch_size, c.dt_ms) for c in cases}
    assert configs == {(1, 1e-3), (16, 1e-3), (64, 1e-3), (256, 1e-3), (64, 2e-3), (64, 5e-3)}


def test_build_phase_only_for_jaxley():
    cases = Matrix(
        batch_sizes=(1,),
        precisions=("float64",),
        platforms=("cpu",),
        dts_ms=(1e-3,),
        phases=("build",),
    ).cases()
    assert {c.backend for c in cases} == {"jaxley"}


def test_ctrl_c_keeps_the_rows_and_says_where(tmp_path, monkeypatch, capsys):
    matrix = Matrix(
        backends=("dense",),
        batch_sizes=(1, 2, 3),
        precisions=("float32",),
        platforms=("cpu",),
        dts_ms=(1e-3,),
        phases=("forward",),
        t_max_ms=0.01,
    )
    advance = runner._Progress.advance

    def interrupt_after_first_row(self, n):
        advance(self, n)
        if n:
            raise KeyboardInterrupt

    monkeypatch.setattr(runner._Progress, "advance", interrupt_after_first_row)
    monkeypatch.setattr(runner, "probe_platforms", lambda: {"cpu"})
    monkeypatch.setattr(bench_commands, "matrix_from_args", lambda args, visible: matrix)
    assert cli.main(["bench", "--out", str(tmp_path), "--no-progress"]) == 130
    err = capsys.readouterr().err
    (run_dir,) = [p for p in tmp_path.glob("*/*") if p.is_dir()]
    frame = storage.load_results(run_dir)
    assert f"interrupted: {len(frame)} of 3 rows kept in {run_dir}" in err
    assert (frame["status"] == "ok").sum() >= 1
    assert json.loads((run_dir / "run.json").read_text())["status"] == "interrupted"
