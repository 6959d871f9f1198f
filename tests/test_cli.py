"""The command line: one JSON line from `train`, one error line and exit 2 on bad input,
hints for near-miss flags, defaults in every --help."""

import json
import subprocess
import sys

import pytest

from snnbench.cli import build_parser, main
from snnbench.measure import runner


@pytest.mark.slow  # a whole training command
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


@pytest.mark.slow  # starts a process
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


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["bench", "--batch-szes", "4"], "did you mean '--batch-sizes'?"),
        (["bench", "--dtms", "0.001"], "did you mean '--dt-ms'?"),
        (["tradeoff"], "did you mean 'tradeoffs'?"),
        (["bench", "--batch-size", "1,,2"], "expected a comma-separated list without empty items"),
    ],
)
def test_near_misses_get_a_hint_and_exit_2(capsys, argv, hint):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and hint in err and "--help`)" in err


def test_bench_batch_size_and_batch_sizes_are_one_flag():
    parser = build_parser()
    assert parser.parse_args(["bench", "--batch-size", "1,16"]).batch_sizes == (1, 16)
    assert parser.parse_args(["bench", "--batch-sizes", "64"]).batch_sizes == (64,)


def test_a_device_asked_for_but_absent_is_bad_input(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "probe_platforms", lambda: {"cpu"})
    assert main(["bench", "--device", "cpu,gpu", "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "`--device` gpu was asked for, but JAX sees no such device here (it sees: cpu)" in err
    assert list(tmp_path.iterdir()) == []


def _subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if hasattr(a, "choices") and a.choices)
    return action.choices


@pytest.mark.parametrize("command", sorted(_subparsers()))
def test_every_option_is_explained_and_says_its_default(command):
    parser = _subparsers()[command]
    formatter = parser._get_formatter()
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        assert action.help, f"{command} {action.option_strings[0]} has no help"
        text = formatter._expand_help(action)
        if action.default not in (None, False):  # flags that are off need no default
            assert "default" in text, (command, action.option_strings[0], text)
        assert text.count("default") <= 2, text  # said once (twice only for --full's)


def test_train_help_says_what_plain_train_costs():
    text = _subparsers()["train"].format_help()
    assert "500" in text and "minutes" in text
