"""Argument parsing pieces shared by every command: one-line errors, typed values."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from snnbench.errors import SnnbenchError


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage, so errors stay one line."""

    def error(self, message: str):  # noqa: D102 - argparse hook
        raise SnnbenchError(f"{message} (see `{self.prog} --help`)")


def _typed(convert: Callable[[str], float], accept: Callable[[float], bool], expected: str):
    """An argparse type: ``convert`` the text, then require ``accept``; one message for both."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


positive_int = _typed(int, lambda v: v > 0, "a positive integer")
non_negative_int = _typed(int, lambda v: v >= 0, "an integer >= 0")
positive_float = _typed(float, lambda v: v > 0, "a positive number")
non_negative_float = _typed(float, lambda v: v >= 0, "a number >= 0")
number = _typed(float, lambda v: True, "a number")


def csv_list(kind: Callable[[str], object]) -> Callable[[str], tuple]:
    """A comma-separated list of ``kind`` values."""

    def parse(text: str) -> tuple:
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
        return tuple(kind(t) for t in items)

    return parse


#: The flag that sets each library argument, so a library error names what the user typed.
FLAGS = {
    "alpha": "--alpha",
    "backend": "--backend",
    "backends": "--backend",
    "batch_size": "--batch-size",
    "batch_sizes": "--batch-sizes",
    "bench_dir": "--bench-dir",
    "by": "--by",
    "cost_column": "--optimise-for",
    "dt_ms": "--dt-ms",
    "dts_ms": "--dt-ms",
    "epochs": "--epochs",
    "max_accuracy_drop": "--max-accuracy-drop",
    "max_voltage_rmse_mv": "--max-voltage-rmse",
    "memory_batch_sizes": "--memory-batch-sizes",
    "min_grad_cosine": "--min-grad-cosine",
    "out_root": "--out",
    "results_dir": "--results",
    "path": "PATH",
    "phase_threshold_pct": "--threshold-phase",
    "phases": "--phases",
    "platform": "--device",
    "platforms": "--device",
    "precision": "--precision",
    "precisions": "--precision",
    "seed": "--seed",
    "spec": "--a-spec/--b-spec",
    "threshold_pct": "--threshold",
    "train_backends": "--train-backend",
    "trials": "--trials",
    "chunks": "--chunks",
    "weights_at": "--weights-at",
}
