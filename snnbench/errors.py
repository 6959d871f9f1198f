"""The one error type for user mistakes; the CLI prints it as a single line."""


class SnnbenchError(ValueError):
    """A mistake the user can fix: bad argument, missing file, schema mismatch.

    The message is one line that names the argument, what was expected and what
    was given.
    """


def expect(condition: bool, name: str, expected: str, got: object) -> None:
    """Raise :class:`SnnbenchError` unless ``condition`` holds.

    Args:
        condition: the check that must hold.
        name: the argument's name, shown in backticks.
        expected: what a valid value looks like.
        got: the value that was given.
    """
    if not condition:
        raise SnnbenchError(f"`{name}` must be {expected}; got {got!r}.")
