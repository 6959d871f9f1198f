"""`snnbench train`: one JSON line on success, one error line and exit code 2 on bad input."""

import json
import subprocess
import sys

import pytest

import snnbench
from snnbench.cli import main


@pytest.fixture(autouse=True)
def restore_float64():
    # `train --precision ...` flips JAX's process-global x64 flag; leave it as found.
    yield
    snnbench.set_precision("float64")


def test_train_prints_one_json_line(capsys):
    argv = ["train", "--backend", "dense", "--epochs", "2", "--batch-size", "4", "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) == 1 and out.endswith("\n")
    record = json.loads(lines[0])
    assert {"final_loss", "final_accuracy", "epochs", "wall_s", "config", "versions"} <= set(record)
    assert record["epochs"] == 2
    assert record["backend"] == "dense"
    assert record["config"]["batch_size"] == 4
    assert record["config"]["precision"] == "float64"
    assert {"jax", "jaxley"} <= set(record["versions"])
    assert record["final_loss"] > 0
    # 4 samples: accuracy is a multiple of 1/4.
    assert record["final_accuracy"] in (0.0, 0.25, 0.5, 0.75, 1.0)
    assert record["wall_s"] > 0


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["train", "--batch-size", "0"], "--batch-size"),
        (["train", "--batch-size", "four"], "--batch-size"),
        (["train", "--epochs", "-1"], "--epochs"),
        (["train", "--precision", "float16"], "--precision"),
        (["train", "--backend", "torch"], "--backend"),
        (["train", "--dt-ms", "0.003"], "--dt-ms"),  # 0.2 ms is not a whole number of 0.003s
        (["train", "--dt-ms", "0"], "--dt-ms"),
        (["train", "--seed", "-3"], "--seed"),
        (["frobnicate"], "frobnicate"),
        ([], "command"),
    ],
)
def test_bad_arguments_exit_2_with_one_error_line(capsys, argv, named):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("snnbench: error:")
    assert named in lines[0]


def test_python_dash_m_snnbench_runs():
    argv = "train --backend dense --epochs 1 --batch-size 2 --no-progress".split()
    completed = subprocess.run(
        [sys.executable, "-m", "snnbench", *argv], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["epochs"] == 1
    assert record["config"]["batch_size"] == 2
