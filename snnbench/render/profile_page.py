"""``summary.md`` of a profile run: tables built from the run's rows, then rendered.

Bookkeeping (which columns, which rows, pivots) is in the ``*_table`` functions,
which return DataFrames with raw numbers; :func:`render` only formats them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from snnbench.measure.phases import Function, Phase, Stage
from snnbench.measure.xla_analysis import XLA_COLUMNS
from snnbench.render import terminal
from snnbench.render.units import format_bytes, format_seconds


@dataclass(frozen=True)
class Tables:
    """The rows of one profile run, one DataFrame per result file."""

    profile: pd.DataFrame
    memory: pd.DataFrame
    memory_fit: pd.DataFrame
    top_ops: pd.DataFrame
    snn: pd.DataFrame


_STAGES = (Stage.TRACE, Stage.LOWER, Stage.COMPILE)


def _value(frame: pd.DataFrame, backend: str, phase: str, column: str):
    if frame.empty or column not in frame:
        return None
    hit = frame[
        (frame["backend"] == backend) & (frame["phase"] == phase) & (frame["status"] == "ok")
    ]
    if hit.empty or pd.isna(hit[column].iloc[0]):
        return None
    return hit[column].iloc[0]


def compile_table(profile: pd.DataFrame) -> pd.DataFrame:
    """Per backend and function: median trace, lower, compile seconds and the program sizes."""
    rows = []
    for backend in dict.fromkeys(profile["backend"]):
        for function in Function:
            trace, lower, compile_ = (Phase.of(function, s).value for s in _STAGES)
            if (
                _value(profile, backend, function.value, "median_s") is None
                and _value(profile, backend, compile_, "median_s") is None
            ):
                continue
            row = {"backend": backend, "function": function.value}
            for stage in _STAGES:
                phase = Phase.of(function, stage).value
                row[f"{stage}_s"] = _value(profile, backend, phase, "median_s")
            row["jaxpr_eqns"] = _value(profile, backend, trace, "jaxpr_eqns")
            row["jaxpr_eqns_top_level"] = _value(profile, backend, trace, "jaxpr_eqns_top_level")
            row["stablehlo_ops"] = _value(profile, backend, lower, "stablehlo_ops")
            row["hlo_instructions"] = _value(profile, backend, compile_, "hlo_instructions")
            rows.append(row)
    return pd.DataFrame(rows)


def ratio_table(compiled: pd.DataFrame) -> pd.DataFrame:
    """jaxley over dense, per function, for every column of :func:`compile_table`."""
    if compiled.empty or not {"jaxley", "dense"} <= set(compiled["backend"]):
        return pd.DataFrame()
    rows = []
    for function, group in compiled.groupby("function", sort=False):
        by_backend = group.set_index("backend")
        if not {"jaxley", "dense"} <= set(by_backend.index):
            continue
        ratios = by_backend.loc["jaxley"].drop("function") / by_backend.loc["dense"].drop(
            "function"
        )
        rows.append({"function": function, **{k: _ratio(v) for k, v in ratios.items()}})
    return pd.DataFrame(rows)


def _ratio(value) -> str:
    try:
        return f"{float(value):.1f}x"
    except (TypeError, ValueError):
        return ""


_XLA = (*(c for c in XLA_COLUMNS if c != "hlo_instructions"), "xla_analysis_note")


def xla_table(profile: pd.DataFrame) -> pd.DataFrame:
    """XLA's cost and memory analyses of each compiled function."""
    compiled = profile[profile["phase"].str.endswith("_compile")]
    columns = [c for c in ("backend", "phase", *_XLA) if c in compiled]
    return compiled[columns].reset_index(drop=True)


def steady_table(profile: pd.DataFrame, snn: pd.DataFrame) -> pd.DataFrame:
    """Median steady-state call, throughput and achieved FLOP/s per backend and function."""
    rows = []
    for backend in dict.fromkeys(profile["backend"]):
        for function in (f.value for f in Function):
            median = _value(profile, backend, function, "median_s")
            if median is None:
                continue
            row = {
                "backend": backend,
                "function": function,
                "median_s": median,
                "noisy": _value(profile, backend, function, "noisy"),
            }
            for metric in (
                "sample_steps_per_s",
                "jaxpr_flops",
                "achieved_flop_per_s",
                "fraction_of_peak",
            ):
                row[metric] = _metric(snn, backend, function, metric)
            row["peak_note"] = _note(snn, backend, function, "peak_flop_per_s")
            rows.append(row)
    return pd.DataFrame(rows)


def _metric(snn: pd.DataFrame, backend: str, phase: str, metric: str, layer: str = ""):
    hit = _snn_hit(snn, backend, phase, metric, layer)
    return None if hit.empty or pd.isna(hit["value"].iloc[0]) else hit["value"].iloc[0]


def _note(snn: pd.DataFrame, backend: str, phase: str, metric: str) -> str:
    hit = _snn_hit(snn, backend, phase, metric, "")
    return "" if hit.empty else str(hit["note"].iloc[0])


def _snn_hit(snn: pd.DataFrame, backend: str, phase: str, metric: str, layer: str):
    if snn.empty:
        return snn
    layers = snn["layer"].fillna("")
    return snn[
        (snn["backend"] == backend)
        & (snn["phase"] == phase)
        & (snn["metric"] == metric)
        & (layers == layer)
    ]


def memory_table(memory: pd.DataFrame) -> pd.DataFrame:
    """Measured memory per backend, phase and batch size: the process, then the program alone."""
    columns = (
        "backend phase batch_size status peak_rss_bytes device_peak_bytes program_peak_bytes "
        "xla_run_bytes program_over_xla memory_agrees xla_buffer_bytes"
    )
    return _present(memory, columns).reset_index(drop=True)


def _present(frame: pd.DataFrame, columns: str) -> pd.DataFrame:
    """The columns of ``frame`` named in ``columns`` (space-separated) that it has, in order."""
    return frame[[c for c in columns.split() if c in frame]]


#: Per-backend figures every top-ops row carries (the same on each of its rows): how
#: much of the traced step the attributed operations explain, and where the rest went.
COVERAGE_COLUMNS = (
    "traced_step_s", "untraced_step_s", "trace_overhead", "attributed_s_per_step", "coverage",
    "in_loop_share", "dispatch_s_per_step", "unattributed_s_per_step", "idle_s_per_step",
    "n_ops_attributed", "event_source",
)  # fmt: skip


def coverage_table(top: pd.DataFrame) -> pd.DataFrame:
    """Per backend: how much of the traced gradient step the attributed ops explain, and the rest."""
    if top.empty or "coverage" not in top:
        return pd.DataFrame()
    columns = ["backend", *COVERAGE_COLUMNS]
    ok = top[top["status"] == "ok"].drop_duplicates("backend")
    return ok[[c for c in columns if c in ok]].reset_index(drop=True)


def _number(value) -> str:
    if value is None or pd.isna(value):
        return ""
    return f"{value:.3g}"


def _seconds(value) -> str:
    return "" if value is None or pd.isna(value) else format_seconds(float(value))


def _formatted(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if column.endswith("_bytes") or column in ("bytes_per_sample", "xla_bytes_accessed"):
            out[column] = out[column].map(format_bytes)
        elif (column.endswith("_s") and not column.endswith("_per_s")) or column.endswith(
            "_s_per_step"
        ):
            out[column] = out[column].map(_seconds)
        elif out[column].dtype.kind == "f":
            out[column] = out[column].map(_number)
    return out.fillna("")


def _markdown(frame: pd.DataFrame, formatted: bool = True) -> str:
    if frame.empty:
        return "(none)"
    return (_formatted(frame) if formatted else frame).to_markdown(index=False)


def render(tables: Tables, run_id: str, options) -> str:
    """The whole ``summary.md`` page; ``options`` is the run's ``ProfileOptions``."""
    meta = tables.profile.iloc[0] if not tables.profile.empty else {}
    sections = [
        f"# Profile {run_id}\n",
        f"Command: `{' '.join(options.command)}`\n",
        f"Configuration: batch {options.batch_size}, {options.precision}, {options.platform} "
        f"({meta.get('device_kind', '')}), dt {options.dt_ms:g} ms, t_max {options.t_max_ms:g} ms, "
        f"{getattr(options, 'n_input', 100)} inputs x {getattr(options, 'n_hidden', 4)} hidden "
        f"neurons; dense matmuls at {_matmul(tables.profile)}; load average "
        f"{_load(meta)} at the start; "
        f"machine `{meta.get('machine_id', '')}`: {meta.get('cpu_model', '')} "
        f"({meta.get('cpu_count', '')} cores); jax {meta.get('jax_version', '')}, "
        f"jaxley {meta.get('jaxley_version', '')}, {snnbench_version(tables)}.\n",
        "## Compile breakdown\n",
        "Median of the staging rounds (each on a fresh jitted function or lowering, "
        "persistent compilation cache off). `jaxpr_eqns` counts equations recursively into "
        "sub-jaxprs (scan bodies, pjit, custom_vjp) once each; `jaxpr_eqns_top_level` does "
        "not recurse. `stablehlo_ops`: operations in the lowered module; `hlo_instructions`: "
        "instructions of XLA's optimized module (fused computations included).\n",
        _markdown(compile_table(tables.profile)) + "\n",
        "jaxley over dense (same configuration):\n",
        _markdown(ratio_table(compile_table(tables.profile)), formatted=False) + "\n",
        "## XLA's analysis of the compiled programs\n",
        "`cost_analysis()` and `memory_analysis()` of the compiled executable. XLA counts a "
        "while loop's body once, so `xla_flops` of a scan over time is roughly one step's work "
        "plus what lies outside the loop; see `jaxpr_flops` below for a loop-aware count.\n",
        _markdown(xla_table(tables.profile)) + "\n",
        "## Steady state\n",
        "Median per call. `achieved_flop_per_s` = `jaxpr_flops` / median; the fraction of "
        "peak is given only for devices whose datasheet peak is in "
        "`snnbench.studies.profile.snn_metrics.PEAK_FLOP_PER_S`.\n",
        _markdown(steady_table(tables.profile, tables.snn)) + "\n",
        "## Spike rates\n",
        _markdown(_spike_table(tables.snn)) + "\n",
        "## Memory by batch size\n",
        "Each row is a fresh process that builds the task on the host, places its arguments "
        "on the device, compiles the function, warms it up and runs it five times. "
        "`peak_rss_bytes` is the process's high-water mark (VmHWM), compiler included. "
        "`program_peak_bytes` is the timed program alone: on CPU the median over the runs of "
        "VmHWM above a settled baseline (VmHWM reset before each run), on an accelerator "
        "`memory_stats()` peak after the runs minus bytes in use before them. It is set "
        "beside XLA's `output + temp` bytes (`xla_run_bytes`; the arguments are resident "
        "before the run); `memory_agrees` is false where they differ by more than "
        "max(5 %, 1 MiB) on CPU, max(10 %, 16 MiB) on an accelerator (a first guess there). "
        "`xla_buffer_bytes` = argument + output + temporary bytes.\n",
        _markdown(memory_table(tables.memory)) + "\n",
        "Linear fits of bytes vs batch size. **`extrapolated_batch_at_limit` is an "
        "extrapolation** of the fit to the machine's memory, not a measurement.\n",
        _markdown(_fit_table(tables.memory_fit)) + "\n",
        "## Most expensive operations (from the trace)\n",
        _top_text(tables.top_ops, options.top),
        "## Trace\n",
        "Raw traces are under `traces/<backend>/plugins/profile/<stamp>/` (not in git). Open "
        "`perfetto_trace.json.gz` (or `*.trace.json.gz`) at https://ui.perfetto.dev, or run "
        "`tensorboard --logdir traces/<backend>` (with the `tensorboard-plugin-profile`/XProf "
        "package) for the `*.xplane.pb`.\n",
    ]
    return "\n".join(sections)


def _matmul(profile: pd.DataFrame) -> str:
    """The dense twin's declared and effective matmul precision, as one phrase."""
    if profile.empty or "effective_matmul_precision" not in profile:
        return "(not recorded)"
    dense = profile[(profile["backend"] == "dense") & profile["effective_matmul_precision"].notna()]
    if dense.empty:
        return "(no dense rows)"
    row = dense.iloc[0]  # rows timed by the harness carry it (staging-only rows do not)
    return f"{row.get('matmul_precision', '')} (effective: {row['effective_matmul_precision']})"


def terminal_summary(tables: Tables) -> str:
    """The few tables a terminal shows (time per stage and call, memory, coverage);
    ``summary.md`` holds every table."""
    memory = memory_table(tables.memory) if not tables.memory.empty else tables.memory
    covered = coverage_table(tables.top_ops) if not tables.top_ops.empty else pd.DataFrame()
    blocks = (
        ("Compile stages (median)", compile_table(tables.profile), 2,
         "backend function trace_s lower_s compile_s"),
        ("Steady state, per call", steady_table(tables.profile, tables.snn), 2,
         "backend function median_s achieved_flop_per_s"),
        ("Memory by batch size (fresh process each)", memory, 3,
         "backend phase batch_size status peak_rss_bytes program_peak_bytes"),
        ("Traced gradient step", covered, 1, "backend traced_step_s coverage in_loop_share"),
    )  # fmt: skip
    names = {"peak_rss_bytes": "process peak", "program_peak_bytes": "program alone"}
    parts = [
        f"{title}:\n"
        + terminal.table(_formatted(_present(frame, shown)).rename(columns=names), keys)
        for title, frame, keys, shown in blocks
        if not frame.empty
    ]
    return "\n\n".join(parts) or "(no rows)"


def snnbench_version(tables: Tables) -> str:
    """``snnbench <version> at <commit>`` from the first row of any table that recorded one."""
    from importlib.metadata import version

    __version__ = version("snnbench")
    for frame in (tables.profile, tables.memory, tables.snn):
        if "git_commit" not in frame:
            continue
        known = [str(c) for c in frame["git_commit"].dropna() if str(c) not in ("", "unknown")]
        if known:
            return f"snnbench {__version__} at {known[0][:10]}"
    return f"snnbench {__version__} (no commit: not run from a git checkout of snnbench)"


def _load(meta) -> str:
    value = meta.get("load_avg_1m") if hasattr(meta, "get") else None
    return "unknown" if value is None or pd.isna(value) else f"{float(value):.1f}"


def _spike_table(snn: pd.DataFrame) -> pd.DataFrame:
    if snn.empty:
        return snn
    layers = snn[snn["layer"].fillna("") != ""]
    if layers.empty:
        return pd.DataFrame()
    return layers.pivot_table(
        index="layer", columns="metric", values="value", aggfunc="first"
    ).reset_index()


def _fit_table(fits: pd.DataFrame) -> pd.DataFrame:
    columns = (
        "backend phase quantity batch_sizes bytes_per_sample intercept_bytes r2 limit_bytes "
        "extrapolated_batch_at_limit"
    )
    return _present(fits, columns) if not fits.empty else fits


def _top_text(top: pd.DataFrame, n: int) -> str:
    if top.empty:
        return "(no trace was taken: profile the `grad_step` phase)\n"
    parts = []
    covered = coverage_table(top)
    if not covered.empty:
        parts.append(
            "Coverage: self time attributed to HLO instructions (inside loop bodies too) per "
            "traced step, over the traced step (`StepTraceAnnotation` windows; the profiler "
            "slows a step down by `trace_overhead` against the untraced median, so traced op "
            "times are never set against the untraced step). The rest: `dispatch` (the CPU "
            "thunk executor's own time), `unattributed` (other events on the threads that run "
            "ops), `idle` (no such thread busy). On CPU, ops of parallel threads add up, so "
            "coverage can exceed 1. Target: at least 80 %.\n"
        )
        parts.append(_markdown(covered) + "\n")
    for backend, group in top.groupby("backend", sort=False):
        ok = group[group["status"] == "ok"]
        if ok.empty:
            parts.append(f"**{backend}**: {group['reason'].iloc[0]}\n")
            continue
        columns = "rank hlo_op opcode jax_op in_loop calls_per_step self_s_per_step self_share"
        parts.append(
            f"**{backend}**, gradient step: top {n} HLO operations by self time per "
            f"step over {int(ok['trace_steps'].iloc[0])} traced steps "
            f"(source: {ok['source'].iloc[0]}); `self_share` is of the traced step.\n"
        )
        parts.append(_markdown(_present(ok, columns).reset_index(drop=True)) + "\n")
    return "\n".join(parts)
