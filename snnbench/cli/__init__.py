"""Command line: the only place that turns errors into exit codes.

Exit codes: 0 success, 1 a regression was found (``compare``, ``ab``) or no setting
meets the error budget (``tradeoffs``), 2 bad input, 3 a comparison was
inconclusive (``compare``, ``ab`` with ``--on-inconclusive fail``), 130 interrupted. Each command
group lives in its own module; this one builds the parser, names library
arguments by the flags that set them, and maps errors to exit codes.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import version

from snnbench.cli.args import ERROR_PREFIX, FLAGS, Parser, cli_error
from snnbench.errors import SnnbenchError

#: Every command in the order ``--help`` lists them: its module, the function that adds
#: its options, and its one-line help. A command's options are built only when it is
#: the one run, so ``snnbench --help`` and ``--version`` never wait for JAX to load.
COMMANDS = {
    "train": ("task_commands", "add_train", "train the reference task and print one JSON line"),
    "bench": ("bench_commands", "add_bench", "run the benchmark matrix and write a run folder"),
    "build-profile": (
        "task_commands",
        "add_build_profile",
        "build the jaxley network once; show which jaxley calls cost most",
    ),
    "report": ("bench_commands", "add_report", "turn a results tree into REPORT.md with figures"),
    "tradeoffs": (
        "study_commands",
        "add_tradeoffs",
        "dt / precision trade-offs: fidelity vs time, Pareto plot",
    ),
    "profile": (
        "study_commands",
        "add_profile",
        "where the time and memory of one configuration go (writes a run folder)",
    ),
    "compare": (
        "regression_commands",
        "add_compare",
        "compare two result sets; exit 1 on a regression, 3 when inconclusive",
    ),
    "noise-study": (
        "ab_commands",
        "add_noise_study",
        "false alarms and detections of whole `ab` jobs, with real injected regressions",
    ),
    "ab": (
        "ab_commands",
        "add_ab",
        "A/B: the matrix in two environments, interleaved until the verdict is clear",
    ),
    "bisect": (
        "bisect_commands",
        "add_bisect",
        "bisect: the package group or the commit that made it slower",
    ),
    "history": (
        "history_commands",
        "add_history",
        "performance history: series over runs, change points, an HTML dashboard",
    ),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, that command's options alone are built (the rest by name:
    ``""`` builds none)."""
    parser = Parser(prog="snnbench", description="Benchmark SNN training with JAX and jaxley.")
    parser.add_argument("--version", action="version", version=f"snnbench {version('snnbench')}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name, (module, adder, help_text) in COMMANDS.items():
        if only is None or only == name:
            getattr(importlib.import_module(f"snnbench.cli.{module}"), adder)(sub)
        else:
            sub.add_parser(name, help=help_text)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The command named in ``argv`` (its first word), if it is one."""
    words = [a for a in argv if not a.startswith("-")]
    return words[0] if words and words[0] in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    given = list(sys.argv[1:] if argv is None else argv)
    command = _command_in(given)
    parser = build_parser(command or "")
    try:
        args = parser.parse_args(given)
        args.argv = given
        args.command_line = ("snnbench", *args.argv)
        return args.run(args)
    except SnnbenchError as error:
        options = parser.command_options(command)
        print(f"{ERROR_PREFIX}{cli_error(error, FLAGS, options)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:
        print(f"snnbench: {interrupt or 'interrupted'}", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
