"""dt and precision trade-offs: what each setting costs in fidelity, and what it saves in time.

The study runs a grid of (dt, precision, backend) points against a reference
(float64 at the finest dt, per backend):

1. fidelity, through per-precision worker processes (:mod:`snnbench.tradeoffs_worker`)
   that all see the same input current waveform (:mod:`snnbench.resample`) and
   the same weights; the metrics (:mod:`snnbench.fidelity`) are computed here;
2. cost, through the benchmark harness (:func:`snnbench.runner.run_matrix`);
3. one table, the Pareto fronts, the fastest setting within a budget.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from snnbench import fidelity, machine, storage
from snnbench.config import TaskConfig
from snnbench.errors import SnnbenchError, expect
from snnbench.harness import Matrix
from snnbench.records import SCHEMA_VERSION
from snnbench.resample import SOURCE_DT_MS, common_step_ms, resample_currents, sample_indices
from snnbench.task import BACKENDS
from snnbench.tradeoffs_worker import SEP, point_id

TABLE = "tradeoffs.csv"
COST_PHASES = ("forward_compile", "forward", "grad_compile", "grad_step")
WEIGHTS_AT = ("initial", "trained")


@dataclass(frozen=True)
class TradeoffGrid:
    """The points of the study and how they are evaluated.

    The reference is float64 at the finest dt, for each backend; every dt must be
    a whole multiple of the finest one (so the reference has a sample at every
    time a coarser grid reports) and a whole multiple or divisor of the input
    grid ``source_dt_ms`` (so step-averaged inputs are exact).
    """

    dts_ms: tuple[float, ...] = (0.25e-3, 0.5e-3, 1e-3, 2e-3, 5e-3)
    precisions: tuple[str, ...] = ("float32", "float64")
    backends: tuple[str, ...] = ("dense",)
    train_backends: tuple[str, ...] = ("dense",)
    t_max_ms: float = 0.2
    batch_size: int = 256
    seed: int = 1701
    epochs: int = 100
    weights_at: str = "initial"
    source_dt_ms: float = SOURCE_DT_MS
    coincidence_window_ms: float | None = None
    van_rossum_tau_ms: float = 0.01
    platform: str = "cpu"

    def __post_init__(self) -> None:
        expect(len(self.dts_ms) > 0, "dt-ms", "at least one dt (ms)", "none")
        expect(len(set(self.dts_ms)) == len(self.dts_ms), "dt-ms", "distinct values", self.dts_ms)
        for dt in self.dts_ms:
            try:
                TaskConfig(dt_ms=dt, t_max_ms=self.t_max_ms, batch_size=self.batch_size)
            except SnnbenchError as error:
                raise SnnbenchError(f"`--dt-ms` {dt:g}: {error}") from None
        for name, values in (("precision", self.precisions), ("backend", self.backends)):
            allowed = ("float32", "float64") if name == "precision" else BACKENDS
            expect(len(values) > 0, name, f"one or more of {', '.join(allowed)}", "none")
            for value in values:
                expect(value in allowed, name, f"one of {', '.join(allowed)}", value)
        for value in self.train_backends:
            expect(value in self.backends, "train-backend", f"one of the grid's backends {self.backends}",
                   value)
        expect("float64" in self.precisions, "precision",
               "a list that includes float64 (the reference runs in float64)", self.precisions)
        expect(self.weights_at in WEIGHTS_AT, "weights-at", f"one of {WEIGHTS_AT}", self.weights_at)
        expect(isinstance(self.epochs, int) and self.epochs >= 0, "epochs", "an integer >= 0",
               self.epochs)
        expect(self.weights_at == "initial" or self.epochs > 0, "epochs",
               "> 0 when --weights-at trained (the reference is trained for that many epochs)",
               self.epochs)
        TaskConfig(dt_ms=self.source_dt_ms, t_max_ms=self.t_max_ms)
        n_source = round(self.t_max_ms / self.source_dt_ms)
        for dt in self.dts_ms:
            resample_currents(np.zeros((1, n_source)), self.source_dt_ms, dt)
        common_step_ms(self.dts_ms, self.reference_dt_ms)

    @property
    def reference_dt_ms(self) -> float:
        return min(self.dts_ms)

    @property
    def window_ms(self) -> float:
        """Coincidence window: given, or the coarsest dt (a spike cannot be placed finer)."""
        return self.coincidence_window_ms or max(self.dts_ms)

    @property
    def common_step_ms(self) -> float:
        return common_step_ms(self.dts_ms, self.reference_dt_ms)

    def reference_id(self, backend: str) -> str:
        return point_id(backend, "float64", self.reference_dt_ms)

    def matrix(self) -> Matrix:
        """The benchmark matrix that times every point (one batch size, every dt)."""
        return Matrix(backends=self.backends, batch_sizes=(self.batch_size,),
                      precisions=self.precisions, platforms=(self.platform,),
                      dts_ms=tuple(sorted(self.dts_ms)), phases=COST_PHASES, product=True,
                      dt_batch_size=self.batch_size, t_max_ms=self.t_max_ms)

    def job(self, **changes: object) -> dict:
        base = {"t_max_ms": self.t_max_ms, "batch_size": self.batch_size, "seed": self.seed,
                "source_dt_ms": self.source_dt_ms, "at": self.weights_at, "epochs": self.epochs,
                "reference": {"dt_ms": self.reference_dt_ms, "backend": self.backends[0]}}
        return {**base, **changes}


QUICK_GRID = TradeoffGrid()
FULL_GRID = TradeoffGrid(backends=("jaxley", "dense"))


def grid_from_options(full: bool = False, **options: object) -> TradeoffGrid:
    """The quick (or full) grid with the options that were given (``None`` = default)."""
    base = FULL_GRID if full else QUICK_GRID
    changes = {k: v for k, v in options.items() if v is not None}
    if changes.get("train_backends") == ("none",):
        changes["train_backends"] = ()
    if "backends" in changes and "train_backends" not in changes:
        changes["train_backends"] = tuple(b for b in base.train_backends if b in changes["backends"])
    if changes.get("train_backends") == () and "epochs" not in changes:
        changes["epochs"] = 0
    return TradeoffGrid(**{**asdict(base), **changes})


@dataclass(frozen=True)
class Budget:
    """Error budget; ``None`` leaves a metric unconstrained.

    Attributes:
        max_voltage_rmse_mv: output-voltage RMSE on the common time grid (mV).
        min_grad_cosine: cosine similarity of the gradient to the reference's.
        max_accuracy_drop: reference accuracy minus the accuracy that weights
            trained at this setting reach on the reference simulation (fraction).
        cost_column: the time to minimise (``grad_step_s`` or ``forward_s``).
    """

    max_voltage_rmse_mv: float | None = 0.01
    min_grad_cosine: float | None = 0.99
    max_accuracy_drop: float | None = 0.02
    cost_column: str = "grad_step_s"

    def __post_init__(self) -> None:
        for name in ("max_voltage_rmse_mv", "max_accuracy_drop"):
            value = getattr(self, name)
            flag = "--" + name.removesuffix("_mv").replace("_", "-")
            expect(value is None or (value >= 0 and math.isfinite(value)), flag,
                   "a finite number >= 0", value)
        expect(self.min_grad_cosine is None or -1 <= self.min_grad_cosine <= 1, "--min-grad-cosine",
               "a number in [-1, 1]", self.min_grad_cosine)
        expect(self.cost_column in ("grad_step_s", "forward_s"), "--optimise-for",
               "grad_step_s or forward_s", self.cost_column)

    def failures(self, row: pd.Series) -> list[str]:
        """Why ``row`` misses the budget (empty if it meets it); a missing figure fails."""
        out = []
        checks = (("voltage_rmse_mv", self.max_voltage_rmse_mv, "<="),
                  ("grad_cosine", self.min_grad_cosine, ">="),
                  ("accuracy_drop", self.max_accuracy_drop, "<="))
        for column, limit, sense in checks:
            if limit is None:
                continue
            value = row.get(column, float("nan"))
            ok = value <= limit if sense == "<=" else value >= limit
            if not (pd.notna(value) and ok):
                out.append(f"{column}={value:.3g} (needs {sense} {limit:g})")
        if not pd.notna(row.get(self.cost_column, float("nan"))):
            out.append(f"{self.cost_column} not measured")
        return out

    def describe(self) -> str:
        parts = [f"voltage RMSE <= {self.max_voltage_rmse_mv:g} mV"
                 if self.max_voltage_rmse_mv is not None else "",
                 f"gradient cosine >= {self.min_grad_cosine:g}"
                 if self.min_grad_cosine is not None else "",
                 f"accuracy drop <= {self.max_accuracy_drop:g}"
                 if self.max_accuracy_drop is not None else ""]
        return ", ".join(p for p in parts if p) or "no constraint"


# --- workers ---------------------------------------------------------------------------


def _run_worker(job: dict, workdir: Path, name: str) -> None:
    job_file = workdir / f"{name}.json"
    job_file.write_text(json.dumps(job))
    log = workdir / f"{name}.log"
    env = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false")
    with open(log, "w") as handle:
        done = subprocess.run([sys.executable, "-m", "snnbench.tradeoffs_worker", str(job_file)],
                              stdout=handle, stderr=subprocess.STDOUT, env=env)
    if done.returncode != 0:
        tail = log.read_text().strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"tradeoffs worker {name!r} failed (exit {done.returncode}): {tail[0]}")


def run_workers(grid: TradeoffGrid, workdir: Path, say: Callable[[str], None] = print) -> dict:
    """Prepare the shared data, evaluate every point; returns ``{point_id: {key: array}}``."""
    shared = workdir / "shared.npz"
    separate_prepare = "float32" in grid.precisions  # float32 needs the data before float64 runs
    if separate_prepare:
        say("tradeoffs: drawing the shared inputs and weights (float64)")
        _run_worker(grid.job(stage="prepare", precision="float64", out=str(shared)), workdir,
                    "prepare")
    outputs: dict[str, Path] = {}
    for precision in sorted(grid.precisions, key=lambda p: p == "float64"):  # float64 last
        points = [{"dt_ms": dt, "backend": backend, "train": backend in grid.train_backends}
                  for backend in grid.backends for dt in grid.dts_ms]
        out = workdir / f"{precision}.npz"
        say(f"tradeoffs: evaluating {len(points)} {precision} points")
        job = grid.job(stage="evaluate", precision=precision, points=points, shared=str(shared),
                       out=str(out), transfer=precision == "float64",
                       prepare_first=not separate_prepare,
                       transfer_from=[str(p) for p in outputs.values()])
        _run_worker(job, workdir, precision)
        outputs[precision] = out
    return _collect(outputs.values())


def _collect(paths) -> dict[str, dict[str, np.ndarray]]:
    found: dict[str, dict[str, np.ndarray]] = {}
    for path in paths:
        with np.load(path) as loaded:
            for key in loaded.files:
                pid, name = key.split(SEP, 1)
                found.setdefault(pid, {})[name] = loaded[key]
    return found


# --- metrics -----------------------------------------------------------------------------


def _times(pid_outputs: dict, dt_ms: float, times_ms: np.ndarray) -> np.ndarray:
    return pid_outputs["v"][..., sample_indices(dt_ms, times_ms)]


def _spike_times(out: dict, layer: str, dt_ms: float) -> np.ndarray | None:
    if f"{layer}_rows" not in out:
        return None
    n_trains = int(out[f"{layer}_trains"])
    n_bins = int(out[f"{layer}_bins"].max()) + 1 if out[f"{layer}_bins"].size else 1
    dense = np.zeros((n_trains, n_bins), dtype=bool)
    dense[out[f"{layer}_rows"], out[f"{layer}_bins"]] = True
    return fidelity.spike_times_ms(dense, dt_ms)


def point_metrics(grid: TradeoffGrid, out: dict, ref: dict, dt_ms: float) -> dict[str, float]:
    """Fidelity of one point's raw outputs against the reference's."""
    row: dict[str, float] = {}
    t_max = grid.t_max_ms
    common = np.arange(0, round(t_max / grid.common_step_ms) + 1) * grid.common_step_ms
    own = np.arange(0, round(t_max / dt_ms) + 1) * dt_ms
    ref_dt = grid.reference_dt_ms
    for suffix, times in (("", common), ("_own_grid", own)):
        v, v_ref = _times(out, dt_ms, times), _times(ref, ref_dt, times)
        row[f"voltage_rmse{suffix}_mv"] = fidelity.rmse(v, v_ref)
        row[f"voltage_max_abs{suffix}_mv"] = fidelity.max_abs_error(v, v_ref)
    for layer in ("input", "hidden"):
        times, ref_times = _spike_times(out, layer, dt_ms), _spike_times(ref, layer, ref_dt)
        if times is None or ref_times is None:
            continue
        per_train, relative = fidelity.count_differences(times, ref_times)
        row[f"{layer}_spikes"] = int(np.sum(~np.isnan(times)))
        row[f"{layer}_count_abs_diff"] = per_train
        row[f"{layer}_count_rel_diff"] = relative
        row[f"{layer}_coincidence"] = fidelity.coincidence_fraction(times, ref_times, grid.window_ms)
        row[f"{layer}_van_rossum"] = float(np.mean(
            fidelity.van_rossum_distance(times, ref_times, grid.van_rossum_tau_ms)))
    row["loss"] = float(out["loss"])
    row["loss_abs_diff"] = abs(float(out["loss"]) - float(ref["loss"]))
    row["grad_cosine"] = fidelity.cosine_similarity(out["grad"], ref["grad"])
    row["grad_rel_error"] = fidelity.relative_norm_error(out["grad"], ref["grad"])
    row["grad_norm"] = float(np.linalg.norm(out["grad"]))
    if "train_losses" in out:
        row.update(train_loss=float(out["train_loss"]),
                   train_accuracy=float(out["train_accuracy"]),
                   train_loss_on_reference=float(out.get("ref_loss", np.nan)),
                   train_accuracy_on_reference=float(out.get("ref_accuracy", np.nan)),
                   train_wall_s=float(out["train_wall_s"]))
    return row


def fidelity_frame(grid: TradeoffGrid, outputs: dict) -> pd.DataFrame:
    """One row per point with every fidelity metric against its backend's reference."""
    rows = []
    for backend in grid.backends:
        ref_id = grid.reference_id(backend)
        ref = outputs[ref_id]
        for precision in grid.precisions:
            for dt in grid.dts_ms:
                pid = point_id(backend, precision, dt)
                row = {"point_id": pid, "backend": backend, "precision": precision, "dt_ms": dt,
                       "is_reference": pid == ref_id, "reference_id": ref_id}
                row.update(point_metrics(grid, outputs[pid], ref, dt))
                rows.append(row)
    frame = pd.DataFrame(rows)
    if "train_accuracy_on_reference" in frame:
        ref_acc = frame[frame["is_reference"]].set_index("backend")["train_accuracy_on_reference"]
        frame["accuracy_drop"] = frame["backend"].map(ref_acc) - frame["train_accuracy_on_reference"]
    else:
        frame["accuracy_drop"] = np.nan
    return frame


# --- cost --------------------------------------------------------------------------------


def cost_frame(bench: pd.DataFrame) -> pd.DataFrame:
    """Median seconds per phase for each (backend, precision, dt) from benchmark rows."""
    ok = bench[bench["status"] == "ok"]
    keys = ["backend", "precision", "dt_ms"]
    wide = ok.pivot_table(index=keys, columns="phase", values="median_s", aggfunc="first")
    wide = wide.reindex(columns=list(COST_PHASES))
    wide.columns = [f"{phase}_s" for phase in wide.columns]
    noisy = ok[ok["phase"].isin(["forward", "grad_step"])].groupby(keys)["noisy"].apply(
        lambda s: bool(s.fillna(False).astype(bool).any()))
    wide["cost_noisy"] = noisy
    failed = bench[bench["status"] != "ok"].groupby(keys)["reason"].first()
    wide = wide.join(failed.rename("cost_failure"), how="outer")
    return wide.reset_index()


def measure_cost(grid: TradeoffGrid, out_root: Path, policy: str, progress: bool) -> tuple[pd.DataFrame, str]:
    """Time every point through the benchmark runner; ``(cost table, benchmark run id)``."""
    from snnbench import runner

    options = runner.RunOptions(out_root=Path(out_root), bench_dir=runner.default_bench_dir(),
                                policy=policy, progress=progress)
    run_dir = runner.run_matrix(grid.matrix(), options)
    bench = storage.load_results(run_dir)
    return cost_frame(bench), f"{run_dir.parent.name}/{run_dir.name}"


# --- selection ---------------------------------------------------------------------------


def pareto_front(frame: pd.DataFrame, cost_column: str, error_column: str) -> pd.Series:
    """True for rows no other row beats on both cost and error (lower is better for both)."""
    flags = pd.Series(False, index=frame.index)
    valid = frame.dropna(subset=[cost_column, error_column])
    best = math.inf
    for index, row in valid.sort_values([cost_column, error_column]).iterrows():
        if row[error_column] < best:
            flags[index] = True
            best = row[error_column]
    return flags


def add_selection(frame: pd.DataFrame, budget: Budget) -> pd.DataFrame:
    """Pareto flags, budget verdicts and the chosen (fastest within budget) row."""
    frame = frame.copy()
    cost = budget.cost_column
    frame["grad_angle_error"] = 1.0 - frame["grad_cosine"]
    frame["pareto_voltage"] = pareto_front(frame, cost, "voltage_rmse_mv")
    frame["pareto_grad"] = pareto_front(frame, cost, "grad_rel_error")
    failures = [budget.failures(row) for _, row in frame.iterrows()]
    frame["meets_budget"] = [not f for f in failures]
    frame["budget_failures"] = ["; ".join(f) for f in failures]
    frame["chosen"] = False
    within = frame[frame["meets_budget"]]
    if not within.empty:
        frame.loc[within[cost].idxmin(), "chosen"] = True
    ref_cost = frame[frame["is_reference"]].set_index("backend")[cost]
    frame["speedup_vs_reference"] = frame["backend"].map(ref_cost) / frame[cost]
    return frame


# --- the study ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TradeoffResult:
    run_dir: Path
    frame: pd.DataFrame = field(repr=False)
    chosen: pd.Series | None = field(repr=False)
    budget: Budget


CostFunction = Callable[[TradeoffGrid], tuple[pd.DataFrame, str]]


def run_tradeoffs(grid: TradeoffGrid, budget: Budget, out_root: Path, policy: str = "quick",
                  progress: bool = True, cost: CostFunction | None = None,
                  say: Callable[[str], None] = print) -> TradeoffResult:
    """Run the study; writes ``<out_root>/<machine>/<stamp>-tradeoffs/`` and returns its result."""
    storage.check_writable(out_root)
    run_dir = storage.new_run_dir(out_root, machine.machine_id(), _stamp() + "-tradeoffs")
    run_id = f"{run_dir.parent.name}/{run_dir.name}"
    info = {"schema_version": SCHEMA_VERSION, "run_id": run_id, "command": sys.argv,
            "grid": _plain(asdict(grid)), "budget": asdict(budget), "policy": policy,
            "started_utc": machine.utc_now(), "status": "running", "metadata": machine.metadata()}
    storage.atomic_write_text(run_dir / storage.RUN_INFO, json.dumps(info, indent=2, default=str))
    with tempfile.TemporaryDirectory(prefix="snnbench-tradeoffs-") as tmp:
        outputs = run_workers(grid, Path(tmp), say)
    frame = fidelity_frame(grid, outputs)
    say("tradeoffs: timing every point with the benchmark harness")
    cost = cost or (lambda g: measure_cost(g, out_root, policy, progress))
    costs, bench_run_id = cost(grid)
    frame = frame.merge(costs, on=["backend", "precision", "dt_ms"], how="left")
    frame = add_selection(frame, budget)
    frame = _with_metadata(frame, grid, run_id, bench_run_id)
    storage.atomic_write_text(run_dir / TABLE, frame.to_csv(index=False))
    from snnbench import plots

    plots.save_png(pareto_plot(frame, budget), run_dir / "pareto.png")
    chosen = frame[frame["chosen"]].iloc[0] if frame["chosen"].any() else None
    storage.atomic_write_text(run_dir / "summary.md", summary_markdown(frame, grid, budget, run_id))
    info.update(status="complete", finished_utc=machine.utc_now(), bench_run_id=bench_run_id,
                chosen=None if chosen is None else chosen["point_id"])
    storage.atomic_write_text(run_dir / storage.RUN_INFO, json.dumps(info, indent=2, default=str))
    return TradeoffResult(run_dir, frame, chosen, budget)


def _stamp() -> str:
    return machine.utc_now().replace(":", "").replace("-", "")


def _plain(values: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def _with_metadata(frame: pd.DataFrame, grid: TradeoffGrid, run_id: str, bench_run_id: str):
    frame = frame.copy()
    frame.insert(0, "schema_version", SCHEMA_VERSION)
    frame.insert(1, "run_id", run_id)
    frame["bench_run_id"] = bench_run_id
    frame["n_steps"] = [round(grid.t_max_ms / dt) for dt in frame["dt_ms"]]
    for name in ("t_max_ms", "batch_size", "seed", "epochs", "weights_at", "source_dt_ms",
                 "van_rossum_tau_ms", "platform"):
        frame[name] = getattr(grid, name)
    frame["coincidence_window_ms"] = grid.window_ms
    frame["common_step_ms"] = grid.common_step_ms
    frame["trained"] = frame["backend"].isin(grid.train_backends)
    for key, value in machine.metadata().items():
        frame[key] = value
    return frame


def load_tradeoffs(path: str | os.PathLike) -> pd.DataFrame:
    """A stored ``tradeoffs.csv`` (file or run folder), schema-checked."""
    path = Path(path)
    table = path / TABLE if path.is_dir() else path
    if not table.exists():
        raise SnnbenchError(f"`path` must be a tradeoffs run folder or {TABLE}; got {str(path)!r}")
    frame = pd.read_csv(table)
    versions = set(frame["schema_version"].dropna().astype(int))
    if versions != {SCHEMA_VERSION}:
        raise SnnbenchError(f"{table} has schema version {sorted(versions)}, this snnbench reads "
                            f"version {SCHEMA_VERSION}; rerun `snnbench tradeoffs`.")
    return frame


# --- rendering ---------------------------------------------------------------------------


def pareto_plot(frame: pd.DataFrame, budget: Budget):
    """The Pareto figure: voltage RMSE and gradient error against time per call."""
    from snnbench import plots

    return plots.fig_tradeoffs(frame, budget.cost_column)


_SUMMARY_COLUMNS = {
    "backend": "backend", "precision": "precision", "dt_ms": "dt (ms)",
    "voltage_rmse_mv": "V RMSE (mV)", "voltage_max_abs_own_grid_mv": "V max err (mV)",
    "hidden_coincidence": "hidden spike coinc.", "loss_abs_diff": "loss abs diff",
    "grad_cosine": "grad cos", "grad_rel_error": "grad rel err",
    "train_accuracy_on_reference": "trained acc (on ref)", "accuracy_drop": "acc drop",
    "forward_s": "forward", "grad_step_s": "grad step", "grad_compile_s": "grad compile",
    "speedup_vs_reference": "speed-up", "meets_budget": "in budget",
}


def summary_table(frame: pd.DataFrame) -> str:
    """Markdown table of the headline columns, sorted by backend, precision and dt."""
    from snnbench.units import format_seconds

    shown = frame.sort_values(["backend", "precision", "dt_ms"])
    shown = shown[[c for c in _SUMMARY_COLUMNS if c in shown]].copy()
    for column in ("forward_s", "grad_step_s", "grad_compile_s"):
        if column in shown:
            shown[column] = shown[column].map(lambda s: format_seconds(s) if pd.notna(s) else "n/a")
    if "speedup_vs_reference" in shown:
        shown["speedup_vs_reference"] = shown["speedup_vs_reference"].map(
            lambda r: f"{r:.2f}x" if pd.notna(r) else "n/a")
    shown["dt_ms"] = shown["dt_ms"].map(lambda d: f"{d:g}")
    if "meets_budget" in shown:
        shown["meets_budget"] = shown["meets_budget"].map(lambda b: "yes" if b else "no")
    shown = shown.rename(columns=_SUMMARY_COLUMNS)
    return shown.to_markdown(index=False, floatfmt=".3g")


def verdict(frame: pd.DataFrame, budget: Budget) -> str:
    """One paragraph: the fastest setting within the budget, or why there is none."""
    cost = budget.cost_column.removesuffix("_s").replace("_", " ")
    if not frame["chosen"].any():
        return (f"**No setting meets the budget** ({budget.describe()}); loosen it, or check the "
                "reference's cost row (a point whose timing failed cannot be chosen).")
    row = frame[frame["chosen"]].iloc[0]
    from snnbench.units import format_seconds

    return (f"**Fastest within the budget** ({budget.describe()}): `{row['point_id']}` — "
            f"{cost} {format_seconds(row[budget.cost_column])} per call, "
            f"{row['speedup_vs_reference']:.2f}x the reference's speed; voltage RMSE "
            f"{row['voltage_rmse_mv']:.3g} mV, gradient cosine {row['grad_cosine']:.6f}, "
            f"accuracy drop {row['accuracy_drop']:.3g}.")


def summary_markdown(frame: pd.DataFrame, grid: TradeoffGrid, budget: Budget, run_id: str) -> str:
    meta = frame.iloc[0]
    return (
        f"# dt / precision trade-offs {run_id}\n\n"
        f"Machine `{meta['machine_id']}`: {meta['cpu_model']} ({meta['cpu_count']} cores), "
        f"{grid.platform}; jax {meta['jax_version']}, jaxley {meta['jaxley_version']}; "
        f"snnbench at {str(meta['git_commit'])[:10]}{' (dirty)' if bool(meta['git_dirty']) else ''}. "
        f"Timing: benchmark run `{meta['bench_run_id']}`.\n\n"
        f"Reference: float64 at dt = {grid.reference_dt_ms:g} ms, per backend. Batch "
        f"{grid.batch_size}, t_max = {grid.t_max_ms:g} ms, weights at {grid.weights_at}; "
        f"training {grid.epochs} epochs on {', '.join(grid.train_backends) or 'no backend'}. "
        f"Voltage RMSE on the common grid t = k x {grid.common_step_ms:g} ms; "
        f"max error on each setting's own grid; spike coincidence window "
        f"{grid.window_ms:g} ms.\n\n"
        + verdict(frame, budget) + "\n\n" + summary_table(frame) + "\n"
    )
