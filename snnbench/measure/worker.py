"""The one worker process: typed requests on stdin, one answer per request on stdout.

Every child process snnbench starts for a job, except the pytest-benchmark
child that runs the matrix (:mod:`snnbench.measure.runner`), is this worker: an
A/B side's preflight, an A/B side kept warm case by case, a trade-off study's
process per precision, a memory probe in a fresh process, a rank of a local
``jax.distributed`` job. x64
is process-global, so a worker computes in the one precision it was started
with. Requests, one JSON object per line:

- ``{"kind": "measure", "case": {CaseSpec fields}, "sampling": NAME, "fields": {...}}``:
  one measurement of the case (:func:`snnbench.measure.harness.measure_case`)
  and the yardstick (``"yardstick": false`` leaves it out; ``"agree": true``
  takes process 0's calibration, for a rank); answered ``{"row": {...}}``, the
  result row with ``fields`` added;
- ``{"kind": "call", "function": "package.module:name", "kwargs": {...}}``: a
  study's own function run here; answered ``{"result": ...}``, or
  ``{"error": "one line"}`` if it raised (the worker then carries on);
- ``{"kind": "join", "job": {...}}``: join a ``jax.distributed`` job
  (:func:`snnbench.measure.distributed.join_as_rank`); answered ``{"joined": rank}``.

The worker's first line is ``{"ready": true, "pid": ..., "pinned_cpu": ...}``.
NumPy arrays travel inside the JSON as ``{"__npy__": base64 of .npy bytes}``,
bit for bit. Anything else the process prints goes to stderr, never into the
protocol. A worker that fails leaves with ``os._exit``: a normal exit would run
JAX's exit-time ``jax.distributed.shutdown()``, whose barrier waits for a job's
other ranks (up to five minutes) before the failure shows.
"""

from __future__ import annotations

import base64
import importlib
import io
import json
import os
import select
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from snnbench.measure import procgroup
from snnbench.measure.failures import describe_error, describe_exit

MODULE = "snnbench.measure.worker"
#: A request that answers nothing for this long is treated as hung, and the worker killed.
DEFAULT_TIMEOUT_S = 900.0


# ---------------------------------------------------------------- the wire format


def _encode(value: object) -> object:
    import numpy as np

    if isinstance(value, np.ndarray):
        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        return {"__npy__": base64.b64encode(buffer.getvalue()).decode("ascii")}
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def _decode(obj: dict) -> object:
    if set(obj) == {"__npy__"}:
        import numpy as np

        return np.load(io.BytesIO(base64.b64decode(obj["__npy__"])), allow_pickle=False)
    return obj


def dumps(message: dict) -> str:
    """One protocol line (arrays as ``__npy__``)."""
    return json.dumps(message, default=_encode) + "\n"


def loads(line: str) -> dict:
    """A protocol line back as a dict, arrays as NumPy arrays."""
    return json.loads(line, object_hook=_decode)


# ---------------------------------------------------------------- the worker's side


def serve(precision: str) -> None:
    """The worker's loop (runs inside the environment being measured)."""
    procgroup.die_with_parent()
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # stray prints go to stderr, not into the protocol
    sys.stdout = sys.stderr

    from snnbench.measure import harness, machine

    harness.prepare_process(precision)
    tasks = harness.TaskCache(size=32)
    metadata: dict = {}  # taken at the first measurement: a study's call needs none

    def say(message: dict) -> None:
        protocol.write(dumps(message))
        protocol.flush()

    say({"ready": True, "pid": os.getpid(), "pinned_cpu": machine.pinned_cpu()})
    for line in sys.stdin:
        if line.strip():
            say(_answer(loads(line), tasks, metadata))


def _answer(request: dict, tasks, metadata: dict) -> dict:
    kind = request.get("kind", "measure")
    if kind == "measure":
        if not metadata:
            from snnbench.measure import machine

            metadata.update(machine.metadata())
        return {"row": _measure(request, tasks, metadata)}
    if kind == "call":
        module, _, name = request["function"].partition(":")
        try:
            function = getattr(importlib.import_module(module), name)
            return {"result": function(**request.get("kwargs", {}))}
        except Exception as error:  # noqa: BLE001 - the parent gets the reason, in one line
            return {"error": describe_error(error)}
    if kind == "join":
        from snnbench.measure.distributed import join_as_rank

        return {"joined": join_as_rank(**request["job"])}
    return {"error": f"unknown request kind {kind!r} (this worker knows measure, call, join)"}


def _measure(request: dict, tasks, metadata: dict) -> dict:
    from snnbench.measure import distributed, harness, timing
    from snnbench.measure.records import CaseSpec

    measurement = harness.measure_case(
        CaseSpec(**request["case"]),
        timing.SAMPLINGS[request.get("sampling", "ab")],
        tasks=tasks,
        agree=distributed.agree_with_process_0 if request.get("agree") else None,
        with_yardstick=request.get("yardstick", True),
    )
    return {**harness.result_row(measurement, metadata), **request.get("fields", {})}


# ---------------------------------------------------------------- the parent's side


class WorkerDied(RuntimeError):
    """The worker process ended (or hung) before answering; the message says how."""


class WorkerError(RuntimeError):
    """A called function raised inside the worker; the message is its one-line reason."""


class Worker:
    """The parent's handle on one worker process (a context manager: leaving it closes).

    Args:
        python: the environment's interpreter.
        precision: the precision the worker computes in (x64 is process-global).
        env: the worker's environment variables (see :func:`procgroup.child_env`).
        pin_cpu: the core to pin it to (None: no pinning).
        log: file that receives the worker's stderr.
        name: how a one-line reason of its death names it.
        group: the process group to start it in (0: a new one it leads; None:
            the parent's; it stays in the parent's session, since a process cannot
            join a group of another); a worker in a group leaves reading its
            ``ready`` line to the caller (:class:`LocalJob`).
    """

    def __init__(
        self,
        python: str,
        precision: str,
        env: dict,
        pin_cpu: int | None,
        log: Path,
        name: str = "measuring worker",
        group: int | None = None,
    ) -> None:
        from snnbench.measure import machine

        self.name = name
        self._log = open(log, "a")  # noqa: SIM115 - lives as long as the worker
        self._process = subprocess.Popen(
            [python, "-m", MODULE, precision],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            text=True,
            process_group=group,
        )
        self.pid = self._process.pid
        self.stdout = self._process.stdout
        machine.pin(self.pid, pin_cpu)
        if group is None:
            self.hello = self.answer(DEFAULT_TIMEOUT_S)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def measure(
        self, case: dict, fields: dict, sampling: str = "ab", timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> dict:
        """One measurement of ``case``, as a result row with ``fields`` added.

        Raises:
            WorkerDied: if the process ended or hung before answering.
        """
        # "policy" is what workers of snnbench releases before "sampling" read.
        request = {"kind": "measure", "case": case, "sampling": sampling, "policy": sampling}
        self.send({**request, "fields": fields})
        return self.answer(timeout_s)["row"]

    def call(
        self, function: Callable | str, timeout_s: float = DEFAULT_TIMEOUT_S, **kwargs: object
    ) -> object:
        """``function(**kwargs)`` run in the worker (a module-level function, or its
        ``"module:name"``); arguments and result are JSON with NumPy arrays.

        Raises:
            WorkerDied: if the process ended or hung before answering.
            WorkerError: if the function raised (the worker lives on).
        """
        name = function if isinstance(function, str) else _qualified(function)
        self.send({"kind": "call", "function": name, "kwargs": kwargs})
        answer = self.answer(timeout_s)
        if "error" in answer:
            raise WorkerError(answer["error"])
        return answer["result"]

    def send(self, request: dict) -> None:
        """Write one request line (:meth:`answer` reads what it gets back)."""
        try:
            self._process.stdin.write(dumps(request))
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise WorkerDied(self._death()) from None

    def answer(self, timeout_s: float | None = None) -> dict:
        """The next answer line; a worker that gives none within ``timeout_s`` is killed
        (None: the caller has already waited for the line, e.g. with ``select``)."""
        if timeout_s is not None:
            ready, _, _ = select.select([self.stdout], [], [], timeout_s)
            if not ready:
                self.kill()
                raise WorkerDied(f"no answer within {timeout_s:.0f} s (killed)")
        line = self.stdout.readline()
        if not line:
            raise WorkerDied(self._death())
        return loads(line)

    def running(self) -> bool:
        return self._process.poll() is None

    def _death(self) -> str:
        try:
            code = self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self._process.wait()
        return describe_exit(code, self.name, _tail(self._log.name))

    def close_input(self) -> None:
        """Close the worker's stdin, which ends its loop."""
        try:
            self._process.stdin.close()
        except OSError:
            pass

    def close(self, timeout_s: float = 30) -> None:
        """Stop the worker: end its loop, kill it if it has not left within ``timeout_s``."""
        if self.running():
            self.close_input()
            try:
                self._process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()

    def kill(self) -> None:
        self._process.kill()
        self._process.wait()


class LocalJob:
    """The ranks of one local ``jax.distributed`` job: workers in one process group.

    Every wait (start, join, each case) is bounded by ``timeout_s``; a rank that
    dies or a wait that runs out raises :class:`WorkerDied` with a one-line
    reason naming the process, and the caller kills the whole group at once
    (:meth:`kill`): JAX never notices a hung process, and notices a dead one
    only after the heartbeat timeout. A context manager: leaving it kills.
    """

    def __init__(self, workers: list[Worker], timeout_s: float):
        self.workers, self.timeout_s = workers, timeout_s

    @classmethod
    def start(cls, case, python: str, env: dict, logs: Sequence[Path], timeout_s: float):
        """Start ``case.processes`` ranks (one log each) and join them into one job."""
        job = cls.spawn(python or sys.executable, case.precision, env, logs, timeout_s)
        try:
            coordinator = f"127.0.0.1:{procgroup.free_port()}"
            job._gather([job._join(case, rank, coordinator) for rank in range(len(logs))])
        except BaseException:
            job.kill()  # a failed start (or Ctrl-C) must not strand the ranks already running
            raise
        return job

    @classmethod
    def spawn(cls, python: str, precision: str, env: dict, logs: Sequence[Path], timeout_s: float):
        """One worker per log in one new process group, each ready (not yet joined)."""
        job = cls([], timeout_s)
        try:
            for rank, log in enumerate(logs):
                group = job.workers[0].pid if job.workers else 0
                job.workers.append(
                    Worker(python, precision, env, None, log, f"process {rank}", group)
                )
            job._gather([None] * len(logs))
        except BaseException:
            job.kill()
            raise
        return job

    def _join(self, case, rank: int, coordinator: str) -> dict:
        job = {
            "coordinator": coordinator,
            "num_processes": case.processes,
            "process_id": rank,
            "init_timeout_s": max(10, int(self.timeout_s)),
        }
        if case.platform != "cpu":  # each process drives its own slice of the accelerators
            per_process = case.devices // case.processes
            job["local_device_ids"] = list(range(rank * per_process, (rank + 1) * per_process))
        return {"kind": "join", "job": job}

    def __enter__(self) -> LocalJob:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def measure(self, case, sampling: str, fields: dict) -> dict:
        """Every rank measures ``case`` together; process 0's row, with ``fields`` added."""
        request = {
            "kind": "measure",
            "case": case.to_dict(),
            "sampling": sampling,
            "fields": fields,
            "agree": True,
            "yardstick": False,
        }
        return self._gather([request] * len(self.workers))[0]["row"]

    def _gather(self, requests: Sequence[dict | None]) -> list[dict]:
        for worker, request in zip(self.workers, requests, strict=True):
            if request is not None:
                worker.send(request)
        waiting = {worker.stdout: rank for rank, worker in enumerate(self.workers)}
        answers: dict[int, dict] = {}
        deadline = time.monotonic() + self.timeout_s
        while waiting:
            ready, _, _ = select.select(list(waiting), [], [], deadline - time.monotonic())
            if not ready:
                running = [r for r, w in enumerate(self.workers) if w.running()]
                raise WorkerDied(
                    f"timed out: no progress for {self.timeout_s:g} s; "
                    f"processes {running} still running"
                )
            for stream in ready:
                rank = waiting.pop(stream)
                answers[rank] = self.workers[rank].answer()
        return [answers[rank] for rank in range(len(self.workers))]

    def close(self) -> None:
        """End every rank's loop together (their exit-time shutdown is a barrier)."""
        for worker in self.workers:
            worker.close_input()
        for worker in self.workers:
            worker.close()
        self.kill()

    def kill(self) -> None:
        """SIGKILL the whole group and reap every rank."""
        if any(worker.running() for worker in self.workers):
            procgroup.kill_group(self.workers[0].pid)
        for worker in self.workers:
            worker.close(timeout_s=0)

    def left_running(self) -> list[int]:
        """PIDs still in the group (not zombies): empty after :meth:`kill`."""
        return procgroup.group_members(self.workers[0].pid) if self.workers else []


def call_once(
    function: Callable | str, precision: str, env: dict, timeout_s: float, **kwargs: object
) -> object:
    """``function(**kwargs)`` in a fresh worker that ends with the call (a probe kept apart
    from this process: its memory, its devices).

    Raises:
        WorkerDied: if the process ended or hung before answering.
        WorkerError: if the function raised.
    """
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        with Worker(sys.executable, precision, env, None, Path(tmp) / "log") as worker:
            return worker.call(function, timeout_s, **kwargs)


def _qualified(function: Callable) -> str:
    if "." in function.__qualname__ or function.__module__ == "__main__":
        raise ValueError(f"a worker calls module-level functions only; got {function!r}")
    return f"{function.__module__}:{function.__qualname__}"


def _tail(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")[-4000:]
    except OSError:
        return ""


def main(precision: str) -> None:
    """Serve, and on any failure leave at once with its exit code (see the module's note)."""
    try:
        serve(precision)
    except SystemExit as stop:
        sys.stderr.flush()
        os._exit(stop.code if isinstance(stop.code, int) else 1)
    except BaseException:  # noqa: BLE001 - any failure ends this process at once
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)


if __name__ == "__main__":  # pragma: no cover - the worker's entry point
    main(sys.argv[1])
