"""Text for a terminal: the line width, wrapped prose, and tables that fit it.

Every command prints within :func:`width` columns (``$COLUMNS``, 100 if unset,
never more than 100); a table too wide for it is split into blocks of columns,
each repeating the row keys, and a cell too long for any block is shortened
with ``…`` (the run folder's markdown files hold every column in full).
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pandas as pd

#: The widest line any command prints, whatever ``$COLUMNS`` says.
MAX_WIDTH = 100
#: The narrowest line snnbench lays out for (a narrower ``$COLUMNS`` is taken as this).
MIN_WIDTH = 40


def width() -> int:
    """Columns to print within: ``$COLUMNS`` if it is a number, else 100; 40 to 100."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = MAX_WIDTH
    return max(MIN_WIDTH, min(columns, MAX_WIDTH))


def wrap(text: str, indent: str = "") -> str:
    """``text`` wrapped to :func:`width`, paragraph by paragraph (blank lines kept); a word
    longer than a line (a deep path) keeps a line of its own, unbroken, to be copied."""
    paragraphs = text.split("\n")
    return "\n".join(
        textwrap.fill(
            p, width(), subsequent_indent=indent, break_on_hyphens=False, break_long_words=False
        )
        if p
        else ""
        for p in paragraphs
    )


def table(frame: pd.DataFrame, keys: int = 0) -> str:
    """``frame`` as plain text within :func:`width` columns.

    Args:
        frame: the rows to show, already formatted as text where it matters.
        keys: how many leading columns identify a row; every block repeats them.
    """
    if frame.empty:
        return "(no rows)"
    shown = frame.astype(object).where(frame.notna(), "").astype(str)
    shown = shown.apply(lambda column: column.map(lambda cell: _shorten(cell, width() // 2)))
    key_columns, values = list(shown.columns[:keys]), list(shown.columns[keys:])
    blocks, current = [], []
    for column in values:
        if current and _too_wide(shown[key_columns + current + [column]]):
            blocks.append(current)
            current = []
        current.append(column)
    blocks.append(current)
    return "\n\n".join(_render(shown[key_columns + block]) for block in blocks)


def _render(frame: pd.DataFrame) -> str:
    text = frame.to_string(index=False)
    return "\n".join(_shorten(line, width()) for line in text.splitlines())


def _too_wide(frame: pd.DataFrame) -> bool:
    return max(len(line) for line in frame.to_string(index=False).splitlines()) > width()


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown_path(path: os.PathLike | str) -> str:
    """``path`` as a user types it: relative to the working folder when it lies under it
    (a deep absolute path would not fit a line), else as given."""
    given = Path(path)
    try:
        return str(given.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(given)
