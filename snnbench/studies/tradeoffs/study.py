"""dt and precision trade-offs: what each setting costs in fidelity, and what it saves in time.

The study runs a grid of (dt, precision, backend, surrogate) points against a
reference (float64 at the finest dt, per backend and surrogate):

1. fidelity, through per-precision worker processes (:mod:`.worker`) that all
   see the same input current waveform (:mod:`.resample`, scenario (a)) and the
   same weights; the metrics (:mod:`.metrics`) are computed in this process;
2. the reference's own convergence, from further halvings of its step
   (:mod:`.reference_check`); every metric is labelled with the verdict;
3. why spikes go missing: input-spike counts per kernel amplitude (:mod:`.spike_loss`);
   optionally scenario (b), the tutorial re-run at each dt with its own draws;
4. cost, through the benchmark runner (:func:`snnbench.measure.runner.run_matrix`);
5. one table, the Pareto fronts, the fastest setting within a budget (:mod:`.selection`).

The grid and the budget are in :mod:`.grid`; the page in :mod:`snnbench.render.tradeoffs_page`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from snnbench.measure import machine, procgroup, runner, storage
from snnbench.measure.records import SCHEMA_VERSION
from snnbench.measure.worker import Worker, WorkerDied, WorkerError
from snnbench.render import plots, tradeoffs_plots
from snnbench.render.tradeoffs_page import summary_markdown
from snnbench.studies.tradeoffs import reference_check, spike_loss
from snnbench.studies.tradeoffs import worker as tradeoffs_worker
from snnbench.studies.tradeoffs.grid import SEP, Budget, TradeoffGrid
from snnbench.studies.tradeoffs.metrics import fidelity_frame
from snnbench.studies.tradeoffs.selection import add_selection, cost_frame
from snnbench.task.config import TaskConfig


def _worker(precision: str, workdir: Path, name: str) -> Worker:
    env = procgroup.child_env("", extra={"XLA_PYTHON_CLIENT_PREALLOCATE": "false"})
    return Worker(sys.executable, precision, env, None, workdir / f"{name}.log")


def run_workers(grid: TradeoffGrid, workdir: Path, say: Callable[[str], None] = print) -> dict:
    """Prepare the shared data, evaluate every point; returns ``{point_id: {key: array}}``.

    One worker per precision, float64 last (its transfer evaluation needs the
    other precisions' trained weights); the float64 worker also draws the
    shared inputs and weights first. The shared arrays are returned too, under
    the key ``"shared"``.

    Raises:
        RuntimeError: naming the worker, if one died or raised.
    """
    arrays: dict[str, np.ndarray] = {}
    try:
        with _worker("float64", workdir, "float64") as reference:
            say("tradeoffs: drawing the shared inputs and weights (float64)")
            shared = reference.call(tradeoffs_worker.prepare, job=grid.job(precision="float64"))
            for precision in sorted(grid.precisions, key=lambda p: p == "float64"):
                arrays.update(_evaluate(grid, precision, shared, arrays, workdir, reference, say))
        if "redrawn" in grid.scenarios:
            say(f"tradeoffs: scenario (b), the tutorial re-run at {len(grid.dts_ms)} dts")
            job = grid.job(
                precision="float64", dts_ms=list(grid.dts_ms), surrogates=list(grid.surrogates)
            )
            with _worker("float64", workdir, "redrawn") as worker:
                arrays.update(worker.call(tradeoffs_worker.evaluate_redrawn, job=job))
    except (WorkerDied, WorkerError) as error:
        raise RuntimeError(f"tradeoffs worker: {error}") from None
    found: dict[str, dict[str, np.ndarray]] = {"shared": shared}
    for key, value in arrays.items():
        pid, name = key.split(SEP, 1)
        found.setdefault(pid, {})[name] = value
    return found


def _evaluate(grid, precision, shared, arrays, workdir, reference, say) -> dict:
    """One precision's points (float64: and the reference checks, then the transfer)."""
    points = [
        {"dt_ms": dt, "backend": backend, "surrogate": surrogate}
        | {"train": backend in grid.train_backends}
        for backend in grid.backends
        for surrogate in grid.surrogates
        for dt in grid.dts_ms
    ]
    checks = reference_check.check_points(grid) if precision == "float64" else []
    say(
        f"tradeoffs: evaluating {len(points)} {precision} points"
        + (f" and {len(checks)} reference checks (finer dt)" if checks else "")
    )
    job = grid.job(precision=precision, points=points + checks, transfer=precision == "float64")
    trained = {k.split(SEP)[0]: v for k, v in arrays.items() if k.endswith(f"{SEP}trained")}
    kwargs = {"job": job, "shared": shared, "trained_elsewhere": trained}
    if precision == "float64":
        return reference.call(tradeoffs_worker.evaluate, **kwargs)
    with _worker(precision, workdir, precision) as worker:
        return worker.call(tradeoffs_worker.evaluate, **kwargs)


#: The study's timing run lives inside the study's own folder, under this name.
TIMING = "timing"


def measure_cost(
    grid: TradeoffGrid, study_dir: Path, sampling: str, progress: bool
) -> tuple[pd.DataFrame, str]:
    """Time every point through the benchmark runner, in ``study_dir/timing/``.

    Returns ``(cost table, the timing run's folder relative to study_dir)``.
    """
    out_root = Path(study_dir) / TIMING
    options = runner.RunOptions(out_root=out_root, sampling=sampling, progress=progress)
    done = runner.run(grid.matrix(), options)
    return cost_frame(done.frame), done.path.relative_to(study_dir).as_posix()


@dataclass(frozen=True)
class TradeoffResult:
    """A finished study: its folder, its tables and the budget's pick.

    Attributes:
        run_dir: the run folder.
        frame: ``tradeoffs.csv``, one row per point of scenario (a).
        chosen: the fastest row within the budget, or ``None``.
        budget: the budget it was judged by.
        convergence: ``convergence.csv``, the reference's self-convergence per quantity.
        spike_loss: ``spike_loss.csv``, input spikes per kernel amplitude and dt.
        redrawn: ``redrawn.csv``, scenario (b) (empty unless it ran).
    """

    run_dir: Path
    frame: pd.DataFrame = field(repr=False)
    chosen: pd.Series | None = field(repr=False)
    budget: Budget
    convergence: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    spike_loss: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)
    redrawn: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)


CostFunction = Callable[[TradeoffGrid], tuple[pd.DataFrame, str]]


def run_tradeoffs(
    grid: TradeoffGrid,
    budget: Budget,
    out_root: Path,
    sampling: str = "quick",
    progress: bool = True,
    cost: CostFunction | None = None,
    say: Callable[[str], None] = print,
    command: tuple[str, ...] | None = None,
) -> TradeoffResult:
    """Run the study; writes ``<out_root>/<machine>/<stamp>-tradeoffs/`` and returns its result.

    The folder holds everything the study ran, its timing run included (under
    ``timing/``); a study that fails is marked failed in its ``run.json``, with
    the reason.
    """
    folder = storage.RunFolder.create(out_root, kind="tradeoffs")
    try:
        return _run_into(folder, grid, budget, sampling, progress, cost, say, command)
    except KeyboardInterrupt:
        folder.fail("interrupted")
        raise
    except Exception as error:
        folder.fail(f"{type(error).__name__}: {error}".splitlines()[0])
        raise


def _run_into(
    folder: storage.RunFolder,
    grid: TradeoffGrid,
    budget: Budget,
    sampling: str,
    progress: bool,
    cost: CostFunction | None,
    say: Callable[[str], None],
    command: tuple[str, ...] | None,
) -> TradeoffResult:
    info = storage.start_info(
        folder,
        command or sys.argv,
        grid=_plain(asdict(grid)),
        budget=asdict(budget),
        sampling=sampling,
        metadata=machine.metadata(),
    )
    stages: dict[str, float] = {}
    clock = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="snnbench-tradeoffs-") as tmp:
        outputs = run_workers(grid, Path(tmp), say)
    shared = outputs.pop("shared")
    stages["fidelity_s"], clock = time.perf_counter() - clock, time.perf_counter()
    verdicts = reference_check.run_checks(grid, outputs)
    convergence = reference_check.convergence_frame(grid, outputs, verdicts)
    frame = reference_check.label_metrics(fidelity_frame(grid, outputs), verdicts)
    say("tradeoffs: counting input spikes per kernel amplitude (NumPy)")
    sweep = pd.DataFrame(
        spike_loss.kernel_sensitivity(
            _task_config(grid),
            shared["spikes"],
            grid.source_dt_ms,
            tuple(sorted(set(grid.dts_ms + grid.refinement_dts_ms))),
            grid.kernel_sweep_na,
        )
    )
    redrawn = redrawn_frame(outputs) if "redrawn" in grid.scenarios else pd.DataFrame()
    stages["spike_counts_s"], clock = time.perf_counter() - clock, time.perf_counter()
    say("tradeoffs: timing every point with the benchmark harness")
    cost = cost or (lambda g: measure_cost(g, folder.path, sampling, progress))
    costs, bench_run_id = cost(grid)
    stages["cost_s"] = time.perf_counter() - clock
    frame = frame.merge(costs, on=["backend", "precision", "dt_ms"], how="left")
    frame = add_selection(frame, budget, grid.train_backends)
    frame = _with_metadata(frame, grid, folder.run_id, bench_run_id)
    tables = {"tradeoffs_convergence": convergence, "tradeoffs_spike_loss": sweep}
    if not redrawn.empty:
        tables["tradeoffs_redrawn"] = redrawn
    for kind, table in tables.items():
        table.insert(0, "schema_version", SCHEMA_VERSION)
        table.insert(1, "run_id", folder.run_id)
        folder.write_table(kind, table)
    folder.write_table("tradeoffs", frame)
    _write_figures(folder, frame, sweep, redrawn, budget.cost_column)
    chosen = frame[frame["chosen"]].iloc[0] if frame["chosen"].any() else None
    folder.write_text(
        "summary.md",
        summary_markdown(
            frame,
            budget.describe(),
            budget.cost_column,
            convergence=convergence,
            spike_loss=sweep,
            redrawn=redrawn,
        ),
    )
    info.update(
        status="complete",
        finished_utc=machine.utc_now(),
        bench_run_id=bench_run_id,
        stage_wall_s=stages,
        chosen=None if chosen is None else chosen["point_id"],
    )
    folder.write_info(info)
    return TradeoffResult(folder.path, frame, chosen, budget, convergence, sweep, redrawn)


def _task_config(grid: TradeoffGrid) -> TaskConfig:
    return TaskConfig(
        dt_ms=grid.source_dt_ms,
        t_max_ms=grid.t_max_ms,
        batch_size=grid.batch_size,
        seed=grid.seed,
        kernel_na=grid.kernel_na,
    )


def redrawn_frame(outputs: dict) -> pd.DataFrame:
    """Scenario (b): one row per (dt, surrogate) from the ``redrawn-*`` outputs."""
    rows = []
    for pid, out in outputs.items():
        if not pid.startswith("redrawn-"):
            continue
        rows.append({k: v.item() for k, v in out.items() if np.ndim(v) == 0})
    frame = pd.DataFrame(rows).sort_values(["surrogate", "dt_ms"], ignore_index=True)
    frame["input_spike_loss"] = 1.0 - frame["input_spikes"] / frame["drawn"]
    return frame


def _write_figures(
    folder: storage.RunFolder,
    frame: pd.DataFrame,
    sweep: pd.DataFrame,
    redrawn: pd.DataFrame,
    cost_column: str,
) -> None:
    plots.save_png(plots.fig_tradeoffs(frame, cost_column), folder / "pareto.png")
    if not sweep.empty or not redrawn.empty:
        plots.save_png(tradeoffs_plots.fig_spike_loss(sweep, redrawn), folder / "spike_loss.png")
    if "train_accuracy_on_reference" in frame:
        plots.save_png(tradeoffs_plots.fig_accuracy(frame, redrawn), folder / "accuracy.png")


def _plain(values: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def _with_metadata(frame: pd.DataFrame, grid: TradeoffGrid, run_id: str, bench_run_id: str):
    frame = frame.copy()
    frame.insert(0, "schema_version", SCHEMA_VERSION)
    frame.insert(1, "run_id", run_id)
    frame["bench_run_id"] = bench_run_id
    frame["n_steps"] = [round(grid.t_max_ms / dt) for dt in frame["dt_ms"]]
    frame["kernel_na"] = ";".join(f"{k:g}" for k in grid.kernel_na)
    frame["refinement_dts_ms"] = ";".join(f"{d:g}" for d in grid.refinement_dts_ms)
    for name in (
        "t_max_ms",
        "batch_size",
        "seed",
        "epochs",
        "weights_at",
        "source_dt_ms",
        "van_rossum_tau_ms",
        "platform",
    ):
        frame[name] = getattr(grid, name)
    frame["coincidence_window_ms"] = grid.window_ms
    frame["common_step_ms"] = grid.common_step_ms
    frame["trained"] = frame["backend"].isin(grid.train_backends)
    for key, value in machine.metadata().items():
        frame[key] = value
    return frame
