"""Command line: the only place that turns errors into exit codes.

Exit codes: 0 success, 1 a regression was found (``compare``), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from snnbench.errors import SnnbenchError


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage, so errors stay one line."""

    def error(self, message: str):  # noqa: D102 - argparse hook
        raise SnnbenchError(f"{self.prog}: {message}")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train the reference task and print one JSON line")
    p.add_argument("--backend", choices=("jaxley", "dense"), default="jaxley")
    p.add_argument("--epochs", type=_non_negative_int, default=500)
    p.add_argument("--batch-size", type=_positive_int, default=256)
    p.add_argument("--dt-ms", type=_positive_float, default=1e-3)
    p.add_argument("--precision", choices=("float32", "float64"), default="float64")
    p.add_argument("--seed", type=_non_negative_int, default=1701)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(run=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from snnbench.config import TaskConfig
    from snnbench.machine import package_versions, utc_now
    from snnbench.task import make_task

    config = TaskConfig(
        batch_size=args.batch_size, dt_ms=args.dt_ms, precision=args.precision, seed=args.seed
    )
    start = time.perf_counter()
    task = make_task(config, backend=args.backend)
    result = task.train(args.epochs, progress=not args.no_progress)
    record = {
        "backend": args.backend,
        "final_loss": round(result.final_loss, 6),
        "final_accuracy": round(result.final_accuracy, 6),
        "epochs": result.epochs,
        "wall_s": round(time.perf_counter() - start, 3),
        "train_s": round(result.wall_s, 3),
        "config": config.to_dict(),
        "versions": package_versions(),
        "utc": utc_now(),
    }
    print(json.dumps(record), flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="snnbench", description="Benchmark SNN training with JAX and jaxley.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except SnnbenchError as error:
        print(f"snnbench: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("snnbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
