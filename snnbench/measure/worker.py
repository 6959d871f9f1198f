"""A long-lived measuring process: "measure case X once" requests on stdin, rows on stdout.

``snnbench ab`` keeps one worker per environment (and precision) alive for the
whole job, so both sides stay warm -- tasks built, functions compiled -- and
A and B can alternate case by case, the finest grain at which a machine's drift
cancels. Each request measures one case with :func:`snnbench.measure.harness.measure_case`
(the same timing path as ``snnbench bench``) plus the yardstick, and answers one
result row. The protocol is one JSON object per line:

- the worker's first line: ``{"ready": true, "pid": ..., "pinned_cpu": ...}``;
- request: ``{"case": {CaseSpec fields}, "policy": "ab", "fields": {extra columns}}``;
- answer: ``{"row": {...}}``.

Run it as ``python -m snnbench.measure.worker PRECISION``. Anything else the
process prints (JAX warnings, progress bars) goes to stderr, never into the protocol.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path

MODULE = "snnbench.measure.worker"
#: A case that answers nothing for this long is treated as hung, and the worker killed.
DEFAULT_TIMEOUT_S = 900.0


def serve(precision: str) -> None:
    """The worker's loop (runs inside the environment being measured)."""
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # stray prints go to stderr, not into the protocol
    sys.stdout = sys.stderr

    from snnbench.measure import harness, machine, storage, timing
    from snnbench.measure.records import CaseSpec

    harness.prepare_process(precision)
    tasks = harness.TaskCache(size=32)
    metadata = machine.metadata()
    say = _writer(protocol, storage.to_json)
    say({"ready": True, "pid": os.getpid(), "pinned_cpu": metadata["pinned_cpu"]})
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        case = CaseSpec(**request["case"])
        policy = timing.POLICIES[request.get("policy", "ab")]
        measurement = harness.measure_case(case, policy, tasks=tasks, with_yardstick=True)
        row = measurement.to_row(metadata)
        row.update(machine.device_info(case.platform), utc=machine.utc_now())
        row.update(request.get("fields", {}))
        say({"row": row})


def _writer(stream, to_json):
    def say(message: dict) -> None:
        stream.write(to_json(message).replace("\n", " ").strip() + "\n")
        stream.flush()

    return say


class WorkerDied(RuntimeError):
    """The worker process ended (or hung) before answering; the message says how."""


class Worker:
    """The parent's handle on one worker process.

    Args:
        python: the environment's interpreter.
        precision: the precision the worker computes in (x64 is process-global).
        env: the worker's environment variables.
        pin_cpu: the core to pin it to (None: no pinning).
        log: file that receives the worker's stderr.
    """

    def __init__(
        self, python: str, precision: str, env: dict, pin_cpu: int | None, log: Path
    ) -> None:
        from snnbench.measure import machine

        self._log = open(log, "a")  # noqa: SIM115 - lives as long as the worker
        self._process = subprocess.Popen(
            [python, "-m", MODULE, precision],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            text=True,
        )
        machine.pin(self._process.pid, pin_cpu)
        self.hello = self._answer(DEFAULT_TIMEOUT_S)

    def measure(
        self, case: dict, fields: dict, policy: str = "ab", timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> dict:
        """One measurement of ``case``, as a result row with ``fields`` added.

        Raises:
            WorkerDied: if the process ended or hung before answering.
        """
        request = {"case": case, "policy": policy, "fields": fields}
        try:
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise WorkerDied(self._death()) from None
        return self._answer(timeout_s)["row"]

    def _answer(self, timeout_s: float) -> dict:
        ready, _, _ = select.select([self._process.stdout], [], [], timeout_s)
        line = self._process.stdout.readline() if ready else ""
        if not ready:
            self._process.kill()
            self._process.wait()
            raise WorkerDied(f"no answer within {timeout_s:.0f} s (killed)")
        if not line:
            raise WorkerDied(self._death())
        return json.loads(line)

    def _death(self) -> str:
        from snnbench.measure.failures import describe_exit

        try:
            code = self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            code = self._process.wait()
        return describe_exit(code, "measuring worker")

    def close(self) -> None:
        """Stop the worker (closing its stdin ends its loop)."""
        if self._process.poll() is None:
            try:
                self._process.stdin.close()
                self._process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
        self._log.close()


def supports_worker(python: str) -> bool:
    """Whether the snnbench installed for ``python`` has this worker (older ones do not)."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [
            python,
            "-c",
            f"import importlib.util as u; raise SystemExit(u.find_spec('{MODULE}') is None)",
        ],
        capture_output=True,
        env=env,
        timeout=120,
    )
    return done.returncode == 0


if __name__ == "__main__":  # pragma: no cover - the worker's entry point
    serve(sys.argv[1])
