"""Why a case failed, in one line: exceptions, dead processes, out-of-memory called out.

Every part of snnbench that records a failure (the harness, the process
supervisor, the memory children of the profiler) describes it here, so an
out-of-memory failure reads the same wherever it happened.
"""

from __future__ import annotations

import signal

#: Longest reason kept in a row.
MAX_REASON_CHARS = 300
_OOM_MARKERS = ("RESOURCE_EXHAUSTED", "MemoryError", "Out of memory", "out of memory")


def is_out_of_memory(text: str) -> bool:
    """Whether an error text is one of the ways JAX, XLA or Python report exhausted memory."""
    return any(marker in text for marker in _OOM_MARKERS)


def describe_error(error: BaseException) -> str:
    """The error type and the first line of its message, out of memory called out."""
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    kind = type(error).__name__
    if isinstance(error, MemoryError) or is_out_of_memory(text):
        kind = f"out of memory ({kind})"
    return f"{kind}: {first}"[:MAX_REASON_CHARS]


def describe_exit(returncode: int, what: str, output: str = "") -> str:
    """Why a child process ``what`` ended with ``returncode``, from its code and output."""
    if returncode < 0:
        name = signal.Signals(-returncode).name
        hint = " (killed: out of memory?)" if name == "SIGKILL" else ""
        return f"{what} died with {name}{hint}"[:MAX_REASON_CHARS]
    lines = [line for line in output.strip().splitlines() if line.strip()]
    last = lines[-1].strip() if lines else ""
    if is_out_of_memory(output):
        return f"out of memory: {last or what}"[:MAX_REASON_CHARS]
    detail = f": {last}" if last else ""
    return f"{what} exited with code {returncode}{detail}"[:MAX_REASON_CHARS]
