"""A/B in one job: the same matrix in two environments, interleaved until the verdict is clear.

On a shared machine whose speed drifts by tens of percent, two runs made at
different times cannot be compared reliably. ``snnbench ab`` therefore measures
both sides in one job, alternating case by case, the finest grain that stays
honest: a warm worker per side (:mod:`snnbench.measure.worker`; a side whose
snnbench has none is refused before any round) answers "measure case X once";
for every case, A and B run back to back. Both sides start a fresh pair of
processes every ``process_rounds`` rounds, because each process carries its own
speed offset: the process pair is the unit the verdict counts.

The order of the two sides over rounds is the Thue-Morse sequence (A B, B A,
B A, A B, then the complement: B A, A B, A B, B A, ...): over every 4 rounds a
drift that is linear or quadratic in time falls on both sides alike. Rounds come
in blocks of 4; after each block the rows are judged (:mod:`snnbench.regress.verdict`,
the k-th look spending alpha / 2**k), and the job stops once the outcome is
clear (every row conclusive, or a regression), or the time budget or the round
limit is reached; an inconclusive job gets one extension block first. A crashed
case is measured once more in a fresh process before it counts as failed. Each
side's rows (one per case and round, tagged with the round) go to ``<job>/A/``
and ``<job>/B/``; ``ab.json`` says what ran and why it stopped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pandas as pd

from snnbench.errors import expect
from snnbench.measure import machine, procgroup, storage
from snnbench.measure.matrix import Matrix
from snnbench.measure.phases import MATRIX_PHASES, Phase
from snnbench.measure.records import CaseSpec, Measurement
from snnbench.measure.worker import Worker, WorkerDied
from snnbench.regress import envs
from snnbench.regress.compare import (
    CLEAN,
    INCOMPARABLE,
    REGRESSION,
    UNDECIDED,
    Comparison,
    Criteria,
    compare_frames,
)
from snnbench.regress.envs import Environment

SIDES = ("A", "B")
#: Rounds per block: the Thue-Morse order balances linear and quadratic drift per 4 rounds.
BLOCK = 4
#: Default time budget of one job, minutes (the CI workflow's job fits in 15).
DEFAULT_BUDGET_MIN = 12.0
DEFAULT_MAX_ROUNDS = 32
#: What an A/B job measures unless told otherwise (the CI workflow's matrix): both
#: backends at batch 16, float32, the tutorial's dt, every phase a user pays for
#: (build, trace+lower, XLA compile, steady forward and gradient step).
DEFAULT_MATRIX = Matrix(
    backends=("jaxley", "dense"),
    batch_sizes=(16,),
    precisions=("float32",),
    dts_ms=(1e-3,),
    phases=tuple(p for p in MATRIX_PHASES if p is not Phase.OVERHEAD),
    dt_batch_size=16,
)


def round_order(index: int) -> tuple[str, str]:
    """The sides' order in round ``index``: A B when its bit count is even, else B A."""
    return SIDES if bin(index).count("1") % 2 == 0 else (SIDES[1], SIDES[0])


def schedule(rounds: int) -> list[str]:
    """Every slot of ``rounds`` rounds in order (``ABBABAAB...``), for one case."""
    return [side for i in range(rounds) for side in round_order(i)]


@dataclass(frozen=True)
class AbOptions:
    """How an A/B job runs.

    Attributes:
        rounds: rounds per side before the first look (a multiple of 4). Default 8:
            at 4 rounds a t interval has 3 degrees of freedom and almost never
            decides, so a look there would only spend alpha.
        process_rounds: rounds measured by one pair of worker processes before both
            sides start fresh ones. Each process carries its own speed offset, so
            the process pair, not the round, is the unit of replication; default 1
            (a fresh pair every round). ``rounds`` must hold at least 4 pairs.
        max_rounds: never more rounds than this (a multiple of 4), besides the one
            automatic extension block an inconclusive job gets.
        budget_s: no new block of rounds starts if it would end after this.
        criteria: when a difference counts (its ``look`` is set by the job).
        pin_cpu: pin both sides' CPU processes to this core (None: no pinning).
        allow_difference: packages that may differ between the environments
            besides those under test (``("all",)``: anything).
        timing: the worker's timing policy per measurement.
        command: the command line recorded in ``ab.json``.
    """

    rounds: int = 2 * BLOCK
    process_rounds: int = 1
    max_rounds: int = DEFAULT_MAX_ROUNDS
    budget_s: float = DEFAULT_BUDGET_MIN * 60
    criteria: Criteria = field(default_factory=Criteria)
    pin_cpu: int | None = None
    allow_difference: tuple[str, ...] = ()
    timing: str = "ab"
    command: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("rounds", "max_rounds"):
            value = getattr(self, name)
            expect(
                isinstance(value, int) and value > 0 and value % BLOCK == 0,
                name,
                f"a positive multiple of {BLOCK} (the Thue-Morse order balances drift per "
                f"{BLOCK} rounds)",
                value,
            )
        expect(
            isinstance(self.process_rounds, int) and self.process_rounds > 0,
            "process_rounds",
            "a positive integer",
            self.process_rounds,
        )
        # The process pair is the unit, so the first look needs as many pairs as a
        # block has rounds: fewer leave the spread between processes unestimated.
        expect(
            self.rounds >= BLOCK * self.process_rounds,
            "process_rounds",
            f"at most rounds / {BLOCK} = {self.rounds // BLOCK} ({BLOCK} pairs a look)",
            self.process_rounds,
        )
        expect(
            self.max_rounds >= self.rounds,
            "max_rounds",
            f">= rounds ({self.rounds})",
            self.max_rounds,
        )
        expect(self.budget_s > 0, "budget_min", "a positive number of minutes", self.budget_s / 60)


@dataclass(frozen=True)
class AbResult:
    """A finished A/B job."""

    folder: Path
    comparison: Comparison
    rounds: int
    looks: int
    stopped: str
    elapsed_s: float
    #: The rows each side measured (A, B), as judged: the job's data in memory.
    frames: tuple[pd.DataFrame, ...] = ()


class _Side:
    """One side's measurements: where its rows go, and how it measures."""

    def __init__(
        self,
        env: Environment,
        folder: Path,
        job: str,
        options: AbOptions,
        measured_by: dict | None = None,
    ):
        self.env, self.folder, self.job, self.options = env, folder, job, options
        folder.mkdir(parents=True, exist_ok=True)
        self.journal = folder / storage.JOURNAL
        self.workers: dict[tuple[str, str], Worker] = {}
        # Who measures this side (its preflight, in its own environment and pinning):
        # a row its worker could not measure still carries its versions and conditions.
        self.measured_by = measured_by or {}
        #: Every row this side measured, held for judging (the journal is the file copy).
        self.rows: list[dict] = []

    def fields(self, round_index: int) -> dict[str, object]:
        return {
            "ab_job": self.job,
            "ab_round": round_index,
            "ab_process": round_index // self.options.process_rounds,
            "ab_side": self.env.side,
            "run_id": f"{self.job}/{self.env.side}",
        }

    def record(self, row: dict) -> None:
        self.rows.append(row)
        storage.append_jsonl(self.journal, {"event": "done", "row": row})

    def variables(self, platform: str) -> dict[str, str]:
        return procgroup.child_env(
            platform, python=str(self.env.python), extra=dict(self.env.variables)
        )

    def measure_case(self, case: CaseSpec, round_index: int) -> None:
        """One measurement of ``case`` by this side's worker; a crash is retried once.

        A crashed case is measured again in a fresh process before it counts as
        failed, so one transient crash does not leave a row unjudged.
        """
        fields = self.fields(round_index)
        try:
            row = self._measure_once(case, fields)
        except WorkerDied:
            try:
                row = self._measure_once(case, fields)
            except WorkerDied as died:
                row = Measurement(case, "failed", str(died)).to_row(self.measured_by) | fields
        self.record(row)

    def _measure_once(self, case: CaseSpec, fields: dict) -> dict:
        key = (case.platform, case.precision)
        try:
            if key not in self.workers:
                pin = self.options.pin_cpu if case.platform == "cpu" else None
                log = self.folder / f"worker-{case.platform}-{case.precision}.log"
                self.workers[key] = Worker(
                    str(self.env.python), case.precision, self.variables(case.platform), pin, log
                )
            return self.workers[key].measure(case.to_dict(), fields, self.options.timing)
        except WorkerDied:  # the next try starts a fresh worker
            dead = self.workers.pop(key, None)
            if dead is not None:
                dead.close()
            raise

    def close(self) -> None:
        for worker in self.workers.values():
            worker.close()
        self.workers.clear()

    def write_table(self) -> None:
        if self.rows:
            storage.write_table(self.folder, self.rows)

    def frame(self):
        """The rows measured so far, as the table a comparison judges (no file read)."""
        if self.rows:  # a side's own snnbench may write an older schema
            return storage.rows_to_frame(self.rows, self.folder / storage.JOURNAL)
        return storage.load_results(self.folder)


def run_ab(
    matrix: Matrix,
    environments: dict[str, Environment],
    options: AbOptions,
    out_root: Path,
    progress: Callable[[str], None] | None = None,
) -> AbResult:
    """Run ``matrix`` on both sides, interleaved, until the verdict is clear or time is up.

    Raises:
        SnnbenchError: if the environments differ besides what is under test.
    """
    envs.check_same_besides(environments["A"], environments["B"], set(options.allow_difference))
    say = progress or (lambda _: None)
    measured_by = {s: _preflight(environments[s], matrix, options, say) for s in SIDES}
    folder = storage.RunFolder.create(Path(out_root) / "ab")
    sides = {
        s: _Side(environments[s], folder / s, folder.run_id, options, measured_by[s]) for s in SIDES
    }
    info = _info(folder, matrix, environments, options)
    cases = matrix.cases()
    start = time.perf_counter()
    rounds = looks = 0
    stopped = "interrupted"
    extended = False
    try:
        while True:
            batch = options.rounds if rounds == 0 else BLOCK
            for index in range(rounds, rounds + batch):
                if index % options.process_rounds == 0:
                    for side in sides.values():  # a fresh pair of processes
                        side.close()
                say(f"round {index + 1} ({'-'.join(round_order(index))}), {_clock(start)}")
                _one_round(sides, cases, index)
                info["rounds_log"].append(_round_log(index, start))
            rounds, looks = rounds + batch, looks + 1
            comparison = _judge(sides, options.criteria, looks, environments)
            stopped = _stop_reason(comparison, rounds, time.perf_counter() - start, options)
            say(f"look {looks} after {rounds} rounds: {comparison.outcome()}")
            if stopped and comparison.outcome() == UNDECIDED and not extended:
                extended = True  # one automatic extension before inconclusive
                info["extended"] = stopped
                say(f"{stopped}; one extension block")
                continue
            if stopped:
                break
    finally:
        for side in sides.values():
            side.close()
            side.write_table()
        info.update(rounds=rounds, looks=looks, stopped=stopped, finished_utc=machine.utc_now())
        info["elapsed_s"] = time.perf_counter() - start
        folder.write_text(storage.AB_JOB_INFO, storage.to_json(info))
    frames = tuple(sides[s].frame() for s in SIDES)
    return AbResult(folder.path, comparison, rounds, looks, stopped, info["elapsed_s"], frames)


def _preflight(env: Environment, matrix: Matrix, options: AbOptions, say) -> dict:
    """A side that cannot run is refused before any round, with its own error."""
    say(f"side {env.side}: checking that its environment runs snnbench")
    pin = options.pin_cpu if "cpu" in matrix.platforms else None
    return envs.preflight(env, matrix.backends, pin)


def _one_round(sides, cases, index: int) -> None:
    order = round_order(index)
    for case in cases:  # A and B back to back, per case: the finest honest grain
        for side in order:
            sides[side].measure_case(case, index)


def _judge(sides, criteria: Criteria, look: int, environments) -> Comparison:
    frames = [sides[s].frame() for s in SIDES]
    labels = tuple(f"{s}: {environments[s].label}" for s in SIDES)
    return compare_frames(frames[0], frames[1], replace(criteria, look=look), labels)


def _stop_reason(comparison: Comparison, rounds: int, elapsed_s: float, options: AbOptions) -> str:
    """Why the job stops after this look ("" to run another block)."""
    outcome = comparison.outcome()
    if outcome == REGRESSION:
        return "a regression is established"
    if outcome == CLEAN:
        return "every row is conclusive"
    if outcome == INCOMPARABLE:  # failed on both sides, after a retry: more rounds cannot help
        return "a row is not comparable"
    if rounds + BLOCK > options.max_rounds:
        return f"the round limit ({options.max_rounds}) is reached"
    if elapsed_s * (rounds + BLOCK) / rounds > options.budget_s:
        return f"another block would overrun the budget ({options.budget_s / 60:g} min)"
    return ""


def _clock(start: float) -> str:
    return f"{(time.perf_counter() - start) / 60:.1f} min"


def _round_log(index: int, start: float) -> dict[str, object]:
    try:
        load = os.getloadavg()
    except OSError:
        load = (float("nan"),) * 3
    return {"round": index, "elapsed_s": time.perf_counter() - start, "load_average": load}


def _info(folder, matrix: Matrix, environments, options: AbOptions) -> dict:
    info = dict(
        run_id=folder.run_id,
        command=list(options.command),
        started_utc=machine.utc_now(),
        matrix=matrix.to_dict(),
        block_rounds=BLOCK,
        options={
            **{k: v for k, v in asdict(options).items() if k not in ("criteria", "command")},
            "criteria": asdict(options.criteria),
        },
        sides={
            s: {
                "label": e.label,
                "env": str(e.folder),
                "requirements": [asdict(r) for r in e.requirements],
                "variables": dict(e.variables),
                "packages": e.packages,
            }
            for s, e in environments.items()
        },
        metadata=machine.metadata(),
        rounds_log=[],
    )
    folder.write_text(storage.AB_JOB_INFO, storage.to_json(info))
    return info
