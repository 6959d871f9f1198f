"""A set of worker processes that live and die together: one process group, one kill.

A ``jax.distributed`` job cannot be left to notice its own failures: a process
that hangs is never detected, and one that dies makes the others abort only
after the heartbeat timeout (100 s by default), or leaves them blocked in a
collective. So the parent starts every worker in one new process group, watches
them, and on the first failure or when time runs out kills the whole group at
once and says why, in one line. Linux workers also die with the parent
(:func:`die_with_parent`, ``PR_SET_PDEATHSIG``), so a parent killed outright
leaves nothing behind.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from snnbench.measure.failures import describe_exit

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
    """
    env = dict(os.environ)
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


def _group_option(group: int) -> dict:
    """Popen's way to put the child in process group ``group`` (0: a new one it leads).

    Python 3.11 does it inside the child's start-up code; 3.10 needs a
    ``preexec_fn``, kept to the one system call.
    """
    if sys.version_info >= (3, 11):
        return {"process_group": group}
    return {"preexec_fn": functools.partial(os.setpgid, 0, group)}


class ProcessGroup:
    """Worker processes started together in one new process group.

    The first worker leads the group (``setpgid(0, 0)``); the others join it.
    All stay in the parent's session: a process cannot join a group of
    another session, so ``start_new_session`` would break the second join.
    """

    def __init__(
        self, commands: Sequence[Sequence[str]], env: Sequence[dict], logs: Sequence[Path]
    ):
        self.logs = [Path(p) for p in logs]
        self.processes: list[subprocess.Popen] = []
        self.pgid: int | None = None
        try:
            for command, environment, log in zip(commands, env, self.logs, strict=True):
                group = 0 if self.pgid is None else self.pgid
                with open(log, "w") as out:  # the child holds its own copy of the descriptor
                    self.processes.append(
                        subprocess.Popen(
                            list(command),
                            stdout=out,
                            stderr=subprocess.STDOUT,
                            env=environment,
                            **_group_option(group),
                        )
                    )
                if self.pgid is None:
                    self.pgid = self.processes[0].pid
        except BaseException:
            self.kill()  # a failed start (or Ctrl-C) must not strand the workers already running
            raise

    def poll(self) -> list[int | None]:
        """Each worker's exit code, None while it runs."""
        return [p.poll() for p in self.processes]

    def failure(self) -> str:
        """Why the job failed, if a worker ended badly: one line naming it; else ``""``."""
        for rank, code in enumerate(self.poll()):
            if code not in (None, 0):
                return describe_exit(code, f"process {rank}", self._last_error(rank))
        return ""

    def running(self) -> list[int]:
        """Ranks of the workers still running."""
        return [rank for rank, code in enumerate(self.poll()) if code is None]

    def kill(self) -> None:
        """SIGKILL the whole group and reap every worker.

        Only while one of them runs: the group then still exists, so its id
        cannot have been handed to another process group.
        """
        if self.pgid is not None and self.running():
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for process in self.processes:
            process.wait()

    def left_running(self) -> list[int]:
        """PIDs still in the group (not zombies): empty after :meth:`kill`."""
        return group_members(self.pgid) if self.pgid is not None else []

    def _last_error(self, rank: int) -> str:
        """The last line of a worker's log that looks like an error (else its last line)."""
        try:
            lines = self.logs[rank].read_text(errors="replace").splitlines()
        except OSError:
            return ""
        lines = [line.strip() for line in lines if line.strip()]
        errors = [line for line in lines if _looks_like_error(line)]
        return (errors or lines or [""])[-1]


def _looks_like_error(line: str) -> bool:
    return any(word in line for word in ("Error", "Exception", "error:", "FATAL", "Fatal"))


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
