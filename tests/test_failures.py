"""One-line failure reasons: exceptions, dead children, out of memory called out."""

import signal

from snnbench.measure.failures import describe_error, describe_exit, is_out_of_memory


def test_a_killed_child_reads_as_a_possible_out_of_memory():
    reason = describe_exit(-signal.SIGKILL, "memory child")
    assert reason == "memory child died with SIGKILL (killed: out of memory?)"


def test_an_out_of_memory_traceback_is_called_out():
    text = "Traceback...\njaxlib.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory\n"
    assert describe_exit(1, "memory child", text).startswith(
        "out of memory: jaxlib.XlaRuntimeError: RESOURCE_EXHAUSTED"
    )
    assert describe_exit(3, "benchmark process") == "benchmark process exited with code 3"
    assert (
        describe_exit(1, "w", "line one\nValueError: bad\n")
        == "w exited with code 1: ValueError: bad"
    )


def test_errors_keep_their_type_and_first_line():
    assert describe_error(ValueError("bad value\nmore")) == "ValueError: bad value"
    assert describe_error(MemoryError()).startswith("out of memory (MemoryError)")
    assert is_out_of_memory("RESOURCE_EXHAUSTED: while allocating")
    assert not is_out_of_memory("shapes do not match")
    assert len(describe_error(RuntimeError("x" * 1000))) == 300
