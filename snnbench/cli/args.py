"""Argument parsing pieces shared by every command: one-line errors, typed values, hints."""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Callable, Collection, Sequence

from snnbench.errors import SnnbenchError


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends ``(default: X)`` to every option's help, unless its help already says it
    or there is no value to show (``None``, a flag that is off)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default in (None, False) or "default" in text:
            return text
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """argparse that raises one-line errors (with a "did you mean" hint) and shows defaults."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # noqa: D102 - argparse hook
        see = f"(see `{self.prog} --help`)"
        choice = _invalid_choice(message)
        if choice is None:
            raise SnnbenchError(f"{message} {see}")
        raise SnnbenchError(_choice_error(*choice, see))

    def parse_args(self, args: Sequence[str] | None = None, namespace=None):  # noqa: D102
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command = self._command_parser(parsed)
            unknown = extras[0]
            hint = suggest(unknown, command._option_string_actions) if unknown[:1] == "-" else ""
            raise SnnbenchError(
                f"unrecognized argument {unknown!r}{hint} (see `{command.prog} --help`)"
            )
        return parsed

    def command_options(self, command: str | None) -> set[str]:
        """The option strings of ``command`` (this parser's own without one)."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and command in action.choices:
                return set(action.choices[command]._option_string_actions)
        return set(self._option_string_actions)

    def _command_parser(self, parsed: argparse.Namespace) -> argparse.ArgumentParser:
        """The subcommand's parser that read ``parsed`` (or this one)."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action.choices.get(getattr(parsed, action.dest, None), self)
        return self


def cli_error(
    error: SnnbenchError, flags: dict[str, str], options: Collection[str] | None = None
) -> SnnbenchError:
    """``error`` naming the flag that set its argument, also when the library did not say
    which argument it meant (the first name in backticks that a flag sets), and naming by
    their flags the other arguments it mentions (``t_max_ms=0.2`` reads ``--t-max-ms=0.2``)
    where the command has that flag (``options``: its option strings; None: every flag)."""
    if error.argument is None:
        for name in re.findall(r"`([a-z_]+)`", str(error)):
            if name in flags:
                error = SnnbenchError(str(error), argument=name)
                break
    named = error.for_flag(flags)
    own = {k: v for k, v in flags.items() if options is None or v in options}
    return SnnbenchError(_other_flags(str(named), own), named.argument)


def _other_flags(text: str, flags: dict[str, str]) -> str:
    """Library names a message also mentions, in backticks or as ``name=value``, as flags."""
    text = re.sub(r"`([a-z_]+)`", lambda m: f"`{flags.get(m[1], m[1])}`", text)
    return re.sub(r"(?<![\w-])([a-z][a-z_]*)(?==)", lambda m: flags.get(m[1], m[1]), text)


def suggest(word: str, known: Sequence[str]) -> str:
    """``"; did you mean X?"`` for the closest of ``known``, or ``""``."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


#: What ``main`` prints before an error's message.
ERROR_PREFIX = "snnbench: error: "


def _invalid_choice(message: str) -> tuple[str, str, list[str]] | None:
    """``(argument, word, choices)`` of argparse's "argument X: invalid choice: 'w' (choose
    from 'a', 'b')" message (quotes or none, as Python releases differ), else ``None``."""
    match = re.fullmatch(r"argument (.+?): invalid choice: (.+?) \(choose from (.*)\)", message)
    if match is None:
        return None
    argument, word, listed_choices = match.groups()
    choices = [c.strip().strip("'\"") for c in listed_choices.split(",")]
    return argument, word.strip("'\""), choices


def _choice_error(argument: str, word: str, choices: list[str], see: str) -> str:
    """One line for a word that is not a choice, the fullest that fits the terminal: with
    the choices, the closest one and where to look, then with less (``--help`` lists them)."""
    from snnbench.render import terminal

    head = (
        f"unknown {argument} {word!r}"
        if argument == "command"
        else f"{argument}: invalid choice {word!r}"
    )
    hint = suggest(word, choices)
    listed_choices = f" (choose from {', '.join(choices)})"
    fuller_first = (
        f"{head}{listed_choices}{hint} {see}",
        f"{head}{listed_choices}{hint}",
        f"{head}{hint} {see}",
        f"{head}{hint}",
    )
    fits = (line for line in fuller_first if len(ERROR_PREFIX + line) <= terminal.width())
    return next(fits, head)


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
    """A comma-separated list of ``kind`` values; an empty item (``1,,2``) is an error."""

    def parse(text: str) -> tuple:
        items = [t.strip() for t in text.split(",")]
        if not text.strip() or any(not item for item in items):
            raise argparse.ArgumentTypeError(
                f"expected a comma-separated list without empty items, got {text!r}"
            )
        return tuple(kind(t) for t in items)

    return parse


def one_of(choices: Collection[str]) -> Callable[[str], str]:
    """One item of a comma list that must be one of ``choices``."""

    def parse(text: str) -> str:
        if text not in choices:
            hint = suggest(text, sorted(choices))
            raise argparse.ArgumentTypeError(
                f"expected one of {','.join(choices)}, got {text!r}{hint}"
            )
        return text

    return parse


def add_lists(parser: argparse.ArgumentParser, *options: tuple[str, Callable, str]) -> None:
    """Comma-separated list options, each ``(flag, parser of one item, help)``."""
    for flag, kind, help_text in options:
        parser.add_argument(flag, type=csv_list(kind), help=help_text)


def listed(values: Sequence[object]) -> str:
    """Values as the comma list a user would type (for help texts)."""
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


#: The flag that sets each library argument, so a library error names what the user typed.
FLAGS = {
    "allow_difference": "--allow-difference",
    "allow_machine_change": "--allow-machine-change",
    "alpha": "--alpha",
    "backend": "--backend",
    "backends": "--backend",
    "batch_size": "--batch-size",
    "batch_sizes": "--batch-size",
    "bench_dir": "--bench-dir",
    "by": "--by",
    "budget_min": "--budget-min",
    "case_timeout_s": "--case-timeout",
    "cost_column": "--optimise-for",
    "data_parallel": "--data-parallel",
    "device_counts": "--devices",
    "devices": "--devices",
    "dt_ms": "--dt-ms",
    "dts_ms": "--dt-ms",
    "epochs": "--epochs",
    "jobs": "--jobs",
    "load_fraction": "--load-fraction",
    "load_processes": "--load",
    "kernel_na": "--kernel-na",
    "kernel_sweep_na": "--kernel-sweep-na",
    "max_accuracy_drop": "--max-accuracy-drop",
    "max_rounds": "--max-rounds",
    "max_voltage_rmse_mv": "--max-voltage-rmse",
    "memory_batch_sizes": "--memory-batch-sizes",
    "metric": "--metric",
    "min_grad_cosine": "--min-grad-cosine",
    "n_hidden": "--n-hidden",
    "n_hiddens": "--n-hidden",
    "n_input": "--n-input",
    "n_inputs": "--n-input",
    "out_root": "--out",
    "path": "PATH",
    "phase_threshold_pct": "--threshold-phase",
    "phases": "--phases",
    "pin_cpu": "--pin-cpu",
    "process_rounds": "--process-rounds",
    "platform": "--device",
    "platforms": "--device",
    "precision": "--precision",
    "precisions": "--precision",
    "processes": "--processes",
    "results_dir": "--results",
    "rounds": "--rounds",
    "refinements": "--refinements",
    "scenarios": "--scenario",
    "seed": "--seed",
    "slowdowns": "--slowdowns",
    "scaling": "--scaling",
    "scalings": "--scaling",
    "shard": "--shard",
    "spec": "--a-spec/--b-spec",
    "surrogate": "--surrogate",
    "surrogates": "--surrogate",
    "t_max_ms": "--t-max-ms",
    "threshold_pct": "--threshold",
    "train_backends": "--train-backend",
    "weights_at": "--weights-at",
}
