"""The one error type for user mistakes; the CLI prints it as a single line.

Library code names what was wrong in library terms (``batch_sizes``,
``threshold_pct``, ``out_root``); the CLI knows which flag set each argument and
rewrites the name (:func:`SnnbenchError.for_flag`), so the same mistake reads
right whether it came from Python or from the command line.
"""

from __future__ import annotations


class SnnbenchError(ValueError):
    """A mistake the user can fix: bad argument, missing file, schema mismatch.

    The message is one line that names the argument, what was expected and what
    was given.

    Attributes:
        argument: the library argument the message names in backticks, if any.
    """

    def __init__(self, message: str, argument: str | None = None):
        super().__init__(message)
        self.argument = argument

    def for_flag(self, flags: dict[str, str]) -> SnnbenchError:
        """The same error with its argument renamed to the CLI flag that set it."""
        flag = flags.get(self.argument or "")
        if not flag:
            return self
        return SnnbenchError(str(self).replace(f"`{self.argument}`", f"`{flag}`", 1), flag)


def expect(condition: bool, name: str, expected: str, got: object) -> None:
    """Raise :class:`SnnbenchError` unless ``condition`` holds.

    Args:
        condition: the check that must hold.
        name: the argument's name, shown in backticks.
        expected: what a valid value looks like.
        got: the value that was given.
    """
    if not condition:
        raise SnnbenchError(f"`{name}` must be {expected}; got {got!r}.", argument=name)
