"""Command line: the only place that turns errors into exit codes.

Exit codes: 0 success, 1 a regression was found (``compare``, ``ab``) or no setting
meets the error budget (``tradeoffs``), 2 bad input, 3 a comparison was
inconclusive (``compare``, ``ab`` with ``--on-inconclusive fail``), 130 interrupted. Each command
group lives in its own module; this one builds the parser, names library
arguments by the flags that set them, and maps errors to exit codes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from snnbench.cli import (
    ab_commands,
    bench_commands,
    bisect_commands,
    regression_commands,
    study_commands,
    task_commands,
)
from snnbench.cli.args import FLAGS, Parser
from snnbench.errors import SnnbenchError


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="snnbench", description="Benchmark SNN training with JAX and jaxley.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    task_commands.add_train(sub)
    bench_commands.add_bench(sub)
    task_commands.add_build_profile(sub)
    bench_commands.add_report(sub)
    study_commands.add_tradeoffs(sub)
    study_commands.add_profile(sub)
    regression_commands.add_compare(sub)
    ab_commands.add_noise_study(sub)
    ab_commands.add_ab(sub)
    bisect_commands.add_bisect(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)
        args.command_line = ("snnbench", *args.argv)
        return args.run(args)
    except SnnbenchError as error:
        print(f"snnbench: error: {error.for_flag(FLAGS)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        print(f"snnbench: {interrupt or 'interrupted'}", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
