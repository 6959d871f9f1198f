"""How child processes start and die: their environment, dying with the parent, groups.

A ``jax.distributed`` job's ranks live in one process group, killed at once
(:class:`snnbench.measure.worker.LocalJob`). Linux workers also die with
the parent (:func:`die_with_parent`, ``PR_SET_PDEATHSIG``), so a parent killed
outright leaves nothing behind.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import socket
from collections.abc import Mapping
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_HOST_COUNT = re.compile(r"--xla_force_host_platform_device_count=\S*")


def child_env(
    platform: str, devices: int = 1, python: str = "", extra: Mapping[str, str] = {}
) -> dict[str, str]:
    """The environment of every child process snnbench starts to run JAX work.

    ``python`` names another environment's interpreter (``snnbench ab``):
    PYTHONPATH is then dropped so that environment imports its own packages. A
    CPU runs on as many devices as ``--xla_force_host_platform_device_count``
    says in ``XLA_FLAGS`` when JAX starts; the count (``devices`` per process)
    is set here, for the child only, replacing any count the user's own flags
    carry. Accelerators are real devices: their children see every one.
    ``extra`` variables (e.g. a side's test-only slowdown) go on top.

    ``PYTHONDONTWRITEBYTECODE`` is dropped: an A/B round starts fresh processes, and
    without bytecode each of them compiles jax and jaxley from source again (importing
    jaxley took 9.1 s instead of 2.5 s); nothing measured includes imports.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if python:
        env.pop("PYTHONPATH", None)
    if platform == "cpu":
        env["JAX_PLATFORMS"] = "cpu"
        flags = _HOST_COUNT.sub("", env.get("XLA_FLAGS", "")).split()
        if devices > 1:
            flags.append(f"--xla_force_host_platform_device_count={devices}")
        if flags:
            env["XLA_FLAGS"] = " ".join(flags)
        else:
            env.pop("XLA_FLAGS", None)
    return {**env, **extra}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now, for a job's coordinator.

    Another program may take it before the coordinator binds it; the job then
    fails to start, and says so, rather than joining a stranger.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (a no-op elsewhere).

    Called first thing in a worker, not between fork and exec: code run there
    in a parent with threads (JAX's) can deadlock. If the parent is already
    gone (it died before the request), leave now.
    """
    parent = os.getppid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the group kill still covers a live parent
        return
    if os.getppid() != parent or parent == 1:
        os._exit(1)


def kill_group(pgid: int) -> None:
    """SIGKILL process group ``pgid``. Call it only while one of its members runs:
    the group then still exists, so its id cannot have been handed to another."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def group_members(pgid: int) -> list[int]:
    """PIDs of live (non-zombie) processes in process group ``pgid``, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "(command)": state, ppid, pgrp, ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members
