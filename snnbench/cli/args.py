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
