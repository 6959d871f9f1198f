"""``snnbench profile``: where the time and the memory of one configuration go.

For each backend and each profiled function (the forward pass, the gradient
step) it measures, in this order:

1. run-time memory over a range of batch sizes, each in a fresh child process
   (:mod:`.memory`), before this process touches an accelerator;
2. JAX's three staging stages timed apart — trace to a jaxpr, lower to
   StableHLO, compile with XLA — with the sizes that explain them (jaxpr
   equations counted into sub-jaxprs, StableHLO ops, optimized-HLO instructions)
   and XLA's cost and memory analyses of the compiled program;
3. the steady-state call (through :func:`snnbench.harness.measure_case`);
4. a ``jax.profiler`` trace of a few gradient steps and the top operations in it;
5. SNN figures: spike rates, sample-steps per second, achieved FLOP/s.

Every timing goes through :mod:`snnbench.measure.timing` (``time_repeated`` for
the staging stages, ``measure_case`` for compile and steady state); the page is
rendered by :mod:`snnbench.render.profile_page`. The results go
to a new folder ``<out>/<machine>/<stamp>-profile/`` (see :data:`FILES`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from snnbench.errors import expect
from snnbench.measure import machine, storage
from snnbench.measure.phases import Function, Phase
from snnbench.measure.records import PLATFORMS, CaseSpec, Measurement
from snnbench.precision import PRECISIONS
from snnbench.render import profile_page
from snnbench.studies.profile import memory
from snnbench.studies.profile.staging import spec_columns
from snnbench.task.config import TaskConfig
from snnbench.task.model import BACKENDS

PROFILE_FUNCTIONS = tuple(f.value for f in Function)
#: The files of a profile run besides its tables (``storage.TABLES``).
FILES = {"summary": "summary.md", "run": storage.RUN_INFO, "traces": "traces"}


@dataclass(frozen=True)
class ProfileOptions:
    """What to profile and where to write it (defaults: the tutorial's batch, float64, CPU)."""

    out_root: Path = Path("runs")
    backends: tuple[str, ...] = BACKENDS
    phases: tuple[str, ...] = PROFILE_FUNCTIONS
    batch_size: int = TaskConfig.batch_size
    precision: str = TaskConfig.precision
    platform: str = "cpu"
    dt_ms: float = TaskConfig.dt_ms
    t_max_ms: float = TaskConfig.t_max_ms
    n_input: int = TaskConfig.n_input
    n_hidden: int = TaskConfig.n_hidden
    memory_batch_sizes: tuple[int, ...] = (1, 16, 64, 256)
    trace_steps: int = 5
    top: int = 15
    sampling: str = "quick"
    progress: bool = True
    command: tuple[str, ...] = field(default_factory=lambda: tuple(sys.argv))

    def __post_init__(self) -> None:
        _check_names("backend", self.backends, BACKENDS)
        _check_names("phases", self.phases, PROFILE_FUNCTIONS)
        _check_names("platform", (self.platform,), PLATFORMS)
        _check_names("precision", (self.precision,), PRECISIONS)
        for name in ("batch_size", "trace_steps", "top", "n_input", "n_hidden"):
            value = getattr(self, name)
            expect(isinstance(value, int) and value > 0, name, "a positive integer", value)
        for b in self.memory_batch_sizes:
            expect(isinstance(b, int) and b > 0, "memory_batch_sizes", "positive integers", b)
        expect(self.sampling in ("quick", "full"), "sampling", "quick or full", self.sampling)
        self.config()  # TaskConfig says precisely what is wrong with dt_ms or t_max_ms

    def _shared(self) -> dict[str, object]:
        """The fields every task config and case of the run takes from the options."""
        names = ("precision", "dt_ms", "t_max_ms", "n_input", "n_hidden")
        return {name: getattr(self, name) for name in names}

    def config(self, batch_size: int | None = None) -> TaskConfig:
        return TaskConfig(batch_size=batch_size or self.batch_size, **self._shared())

    def spec(self, backend: str, phase: Phase | str, batch_size: int | None = None) -> CaseSpec:
        batch = batch_size or self.batch_size
        return CaseSpec(backend, phase, batch, platform=self.platform, **self._shared())


def _check_names(name: str, values: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    expect(len(values) > 0, name, f"one or more of {', '.join(allowed)}", "none")
    for value in values:
        expect(value in allowed, name, f"one of {', '.join(allowed)}", value)


@dataclass(frozen=True)
class ProfileRun:
    """A finished profile: its run folder and the tables written there."""

    folder: Path
    tables: profile_page.Tables


def run_profile(options: ProfileOptions, platforms: set[str] | None = None) -> ProfileRun:
    """Profile ``options``' configuration into a new run folder."""
    from snnbench.measure import runner

    storage.check_writable(options.out_root)
    if platforms is None:  # JAX always has a CPU; only an accelerator needs asking for
        platforms = {"cpu"} if options.platform == "cpu" else runner.probe_platforms()
    expect(
        options.platform in platforms,
        "platform",
        f"a platform with JAX devices on this machine ({', '.join(sorted(platforms))})",
        options.platform,
    )
    folder = storage.RunFolder.create(options.out_root, kind="profile")
    info = storage.start_info(folder, options.command, options=_options_dict(options))
    say = _say if options.progress else _quiet
    try:
        tables = _profile_into(folder, options, say)
        info["status"] = "complete"
    except KeyboardInterrupt:
        info["status"] = "interrupted"
        kept = ", ".join(sorted(p.name for p in folder.path.glob("*.csv"))) or "no table"
        raise runner.RunInterrupted(folder.path, kept) from None
    except Exception as error:
        info.update(status="failed", reason=f"{type(error).__name__}: {error}".splitlines()[0])
        raise
    finally:
        info["finished_utc"] = machine.utc_now()
        folder.write_info(info)
    return ProfileRun(folder.path, tables)


def read_profile(run_dir: Path) -> profile_page.Tables:
    """The tables of a profile folder written earlier (a missing one is empty)."""
    run_dir = Path(run_dir)

    def table(kind: str) -> pd.DataFrame:
        path = run_dir / storage.TABLES[kind]
        return storage.read_table(run_dir, kind) if path.exists() else pd.DataFrame()

    return profile_page.Tables(
        profile=table("profile"),
        memory=table("memory"),
        memory_fit=table("memory_fit"),
        top_ops=table("top_ops"),
        snn=table("snn_metrics"),
    )


def _profile_into(folder: storage.RunFolder, options: ProfileOptions, say) -> profile_page.Tables:
    memory_rows = measure_memory(options, say)
    memory_table = pd.DataFrame(memory_rows)
    folder.write_table("memory", memory_table)
    fits = pd.DataFrame(memory_fits(memory_rows), columns=list(FIT_COLUMNS))
    folder.write_table("memory_fit", fits)
    profile_rows, top_rows, snn_rows = measure_in_process(folder.path, options, say)
    tables = profile_page.Tables(
        profile=pd.DataFrame(profile_rows),
        memory=memory_table,
        memory_fit=fits,
        top_ops=pd.DataFrame(top_rows),
        snn=pd.DataFrame(snn_rows),
    )
    folder.write_table("profile", tables.profile)
    folder.write_table("top_ops", tables.top_ops)
    folder.write_table("snn_metrics", tables.snn)
    page = profile_page.render(tables, folder.run_id, options)
    folder.write_text(FILES["summary"], page)
    return tables


def measure_memory(options: ProfileOptions, say: Callable[[str], None]) -> list[dict]:
    """One row per (backend, phase, batch size), each measured in a fresh child process."""
    meta = machine.metadata()
    total = memory.machine_memory_bytes()
    rows = []
    for backend in options.backends:
        for phase in options.phases:
            for batch in options.memory_batch_sizes:
                spec = options.spec(backend, phase, batch)
                say(f"memory {spec.case_id} (fresh process)")
                result = memory.measure_in_child(spec)
                row = spec_columns(spec, result.status, result.reason)
                row.update({k: result.figures.get(k) for k in memory.MEMORY_COLUMNS})
                row["machine_memory_bytes"] = total
                row.update(meta)
                rows.append(row)
    return rows


#: Which measured quantity is fitted, and the limit it would run into.
_FITTED = (
    ("peak_rss_bytes", "machine_memory_bytes", "MemTotal of this machine"),
    ("program_peak_bytes", None, ""),
    ("device_peak_bytes", "device_bytes_limit", "the device's bytes_limit"),
    ("xla_buffer_bytes", None, ""),
)


FIT_COLUMNS = (
    "backend", "phase", "quantity", "precision", "platform", "batch_sizes", "n_points",
    "bytes_per_sample", "intercept_bytes", "r2", "limit_bytes", "limit_source",
    "extrapolated_batch_at_limit", "note",
)  # fmt: skip


def memory_fits(rows: list[dict]) -> list[dict]:
    """Linear fits of bytes vs batch size per (backend, phase) and where each meets its limit."""
    frame = pd.DataFrame(rows)
    if frame.empty:
        return []
    ok = frame[frame["status"] == "ok"]
    out = []
    for (backend, phase), group in ok.groupby(["backend", "phase"], sort=False):
        for quantity, limit_column, limit_source in _FITTED:
            points = group[["batch_size", quantity]].dropna()
            limit = group[limit_column].dropna().max() if limit_column else None
            limit = float(limit) if limit is not None and pd.notna(limit) else None
            growth = memory.fit_growth(
                points["batch_size"].astype(int).tolist(),
                points[quantity].astype(float).tolist(),
                limit,
            )
            if growth is None:
                continue
            out.append(
                {
                    "backend": backend,
                    "phase": phase,
                    "quantity": quantity,
                    "precision": group["precision"].iloc[0],
                    "platform": group["platform"].iloc[0],
                    "batch_sizes": ",".join(str(b) for b in points["batch_size"].astype(int)),
                    "n_points": growth.n_points,
                    "bytes_per_sample": growth.bytes_per_sample,
                    "intercept_bytes": growth.intercept_bytes,
                    "r2": growth.r2,
                    "limit_bytes": limit,
                    "limit_source": limit_source if limit else "",
                    "extrapolated_batch_at_limit": growth.batch_at_limit,
                    "note": (
                        "linear extrapolation beyond the measured batch sizes, not a measurement"
                        if growth.batch_at_limit is not None
                        else "no limit known or no growth with batch size"
                    ),
                }
            )
    return out


def measure_in_process(run_dir: Path, options: ProfileOptions, say: Callable[[str], None]):
    """Staging, steady state, trace and SNN figures, in this process; three lists of rows."""
    import jax

    from snnbench.measure import harness
    from snnbench.measure.timing import SAMPLINGS
    from snnbench.studies.profile import staging

    sampling = SAMPLINGS[options.sampling]
    harness.prepare_process(options.precision)
    meta = machine.metadata()
    meta.update(machine.device_info(options.platform))
    tasks = harness.TaskCache()
    profile_rows: list[dict] = []
    top_rows: list[dict] = []
    snn_rows: list[dict] = []
    steady: dict[tuple[str, str], Measurement] = {}
    flops: dict[tuple[str, str], int | None] = {}
    with jax.default_device(jax.devices(options.platform)[0]):
        for backend in options.backends:
            for phase in options.phases:
                say(f"staging and steady state: {backend} {phase}")
                measured = staging.measure_function(options, backend, phase, sampling, tasks)
                profile_rows += [m.to_row(meta) for m in measured.rows]
                steady[(backend, phase)] = measured.rows[-1]
                flops[(backend, phase)] = measured.jaxpr_flops
            if Function.GRAD_STEP in options.phases:
                say(f"jax.profiler trace of {options.trace_steps} gradient steps: {backend}")
                grad = steady.get((backend, Function.GRAD_STEP.value))
                untraced = grad.summary.median if grad is not None and grad.summary else None
                top_rows += staging.trace_top_ops(
                    run_dir / FILES["traces"], options, backend, tasks, meta, untraced
                )
        say("SNN metrics")
        snn_rows = staging.snn_rows(options, tasks, steady, flops, meta)
    return profile_rows, top_rows, snn_rows


def _options_dict(options: ProfileOptions) -> dict:
    out = asdict(options)
    out["out_root"] = str(options.out_root)
    return out


def _say(message: str) -> None:
    print(f"snnbench profile: {message}", file=sys.stderr, flush=True)


def _quiet(message: str) -> None:
    return None
