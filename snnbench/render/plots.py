"""Figures for the report: one small function per figure, DataFrame in, Figure out.

Every ``fig_*`` function takes the tidy table (or a trade-off / memory table),
draws with matplotlib's object API (no pyplot, so no global figure state) under
one fixed style, and raises :class:`SnnbenchError` with a one-line reason when
its input holds nothing it can draw. :func:`save_png` writes a figure atomically
and byte-reproducibly (fixed DPI, fixed fonts, no "Software" or date metadata).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import (
    FixedLocator,
    FuncFormatter,
    LogLocator,
    NullFormatter,
    NullLocator,
    ScalarFormatter,
)

from snnbench.errors import SnnbenchError
from snnbench.measure import storage

DPI = 100
#: Columns that tell two software/hardware environments apart.
ENVIRONMENT_COLUMNS = ("machine_id", "jaxley_version", "jax_version")
STEADY = ("forward", "grad_step")
_STYLE = {
    "font.family": "DejaVu Sans",  # ships with matplotlib: same glyphs on every machine
    "font.size": 9,
    "axes.titlesize": 10,
    "figure.titlesize": 11,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "savefig.dpi": DPI,
    "figure.dpi": DPI,
}
#: The one colour scheme of every figure: a colour per backend, and per precision a line
#: style and a marker (distinct shapes and dashes, not light and dark shades of a hue).
BACKEND_COLORS = {"jaxley": "#1f4e9c", "dense": "#c55a11"}
PRECISION_STYLES = {"float64": ("-", "o"), "float32": ("--", "s")}
#: Colours of anything else that needs telling apart (devices, series), in order.
_PALETTE = ("#1f4e9c", "#c55a11", "#38761d", "#7f3f98", "#b8860b", "#444444", "#0097a7")
_MARKERS = {"cpu": "o", "gpu": "s", "tpu": "^"}


@contextmanager
def _style():
    """Matplotlib's defaults plus ours, whatever the user's matplotlibrc says."""
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(_STYLE)
        yield


def _styled(draw: Callable[..., Figure]) -> Callable[..., Figure]:
    @functools.wraps(draw)
    def wrapper(*args, **kwargs) -> Figure:
        with _style():
            return draw(*args, **kwargs)

    return wrapper


def save_png(figure: Figure, path: str | Path) -> Path:
    """Write ``figure`` as PNG to ``path`` atomically; the same figure gives the same bytes."""
    buffer = io.BytesIO()
    with _style():
        figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    path = Path(path)
    storage.atomic_write_bytes(path, buffer.getvalue())
    return path


# ---------------------------------------------------------------- selections


def device_labels(frame: pd.DataFrame) -> pd.Series:
    """The device kind (e.g. "NVIDIA H200"), or the platform when JAX reported none."""
    kind = frame.get("device_kind", pd.Series("", index=frame.index)).fillna("").astype(str)
    platform = frame["platform"].astype(str)
    return kind.where(kind.str.strip() != "", platform)


def environment_labels(frame: pd.DataFrame) -> pd.Series:
    """A short label from the environment columns that differ within ``frame``."""
    present = [c for c in ENVIRONMENT_COLUMNS if c in frame]
    varying = [c for c in present if frame[c].astype(str).nunique() > 1]
    if not varying:
        return pd.Series("", index=frame.index)
    parts = [_env_part(c, frame[c].astype(str)) for c in varying]
    return functools.reduce(lambda a, b: a + ", " + b, parts)


def _env_part(column: str, values: pd.Series) -> pd.Series:
    return values if column == "machine_id" else column.replace("_version", " ") + values


def steady_rows(frame: pd.DataFrame, phases: Sequence[str]) -> pd.DataFrame:
    """Rows that finished ("ok") with a median, of the given phases, labelled."""
    _require(frame, ("phase", "status", "median_s", "backend", "precision", "batch_size"))
    rows = frame[frame["phase"].isin(phases) & (frame["status"] == "ok")]
    rows = rows[rows["median_s"].notna()].copy()
    rows["device"] = device_labels(rows)
    rows["environment"] = environment_labels(rows)
    return rows


def main_dt(rows: pd.DataFrame) -> float:
    """The dt with the most rows (the batch-size sweep's dt); ties go to the smallest."""
    return float(_most_rows(rows["dt_ms"]))


def common_batch(rows: pd.DataFrame) -> int:
    """The batch size with the most rows; ties go to the smallest."""
    return int(_most_rows(rows["batch_size"]))


def _most_rows(values: pd.Series) -> object:
    counts = values.value_counts()
    return min(counts[counts == counts.max()].index)


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str = "table") -> None:
    missing = [c for c in columns if c not in frame]
    if missing:
        raise SnnbenchError(f"the {what} must have columns {missing}; got {sorted(frame.columns)}")


def _nonempty(rows: pd.DataFrame, what: str) -> pd.DataFrame:
    if rows.empty:
        raise SnnbenchError(f"no {what} to plot")
    return rows


# ---------------------------------------------------------------- axes helpers


#: Widest figure in inches: 1000 px at DPI 100, so every figure reads on a normal screen.
MAX_WIDTH_IN = 10.0


def _new(n_rows: int, n_cols: int, width: float, height: float, **kw) -> tuple[Figure, np.ndarray]:
    figure = Figure(figsize=(min(width, MAX_WIDTH_IN), height), layout="constrained")
    return figure, figure.subplots(n_rows, n_cols, squeeze=False, **kw)


def _time_unit(seconds: np.ndarray) -> tuple[float, str]:
    top = float(np.nanmax(seconds)) if len(seconds) else 1.0
    for scale, unit in ((1.0, "s"), (1e-3, "ms")):
        if top >= scale:
            return scale, unit
    return 1e-6, "µs"


def _log_if_wide(ax, values: np.ndarray, axis: str = "y", span: float = 20.0) -> None:
    """Log scale when the values span more than ``span``x (decades are unreadable on linear)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    if len(values) and values.max() / values.min() > span:
        target = ax.yaxis if axis == "y" else ax.xaxis
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
        plain = FuncFormatter(lambda value, _: f"{value:g}")
        target.set_major_formatter(plain)
        target.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
        # Minor labels help within a few decades and clutter beyond.
        wide = values.max() / values.min() > 1e3
        target.set_minor_formatter(NullFormatter() if wide else plain)


def _batch_axis(ax, batch_sizes: Sequence[int], label: str = "batch size (samples)") -> None:
    """A log2 x axis ticked at the whole numbers given (batch sizes, device counts)."""
    ticks = sorted(set(int(b) for b in batch_sizes))
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(label)
    if len(ticks) == 1:
        ax.set_xlim(ticks[0] / 2, ticks[0] * 2)


def _color(backend: str, index: int = 0) -> str:
    return BACKEND_COLORS.get(backend, _PALETTE[index % len(_PALETTE)])


def _precision_line(precision: str) -> str:
    return PRECISION_STYLES.get(precision, (":", "^"))[0]


def _precision_marker(precision: str) -> str:
    return PRECISION_STYLES.get(precision, (":", "^"))[1]


def _marker(device: str) -> str:
    return _MARKERS.get(device.lower(), "D" if "cpu" not in device.lower() else "o")


def _panel_title(base: str, environment: str) -> str:
    return f"{base}\n{environment}" if environment else base


# ---------------------------------------------------------------- figures


@_styled
def fig_time_vs_batch(frame: pd.DataFrame, phases: Sequence[str] = STEADY) -> Figure:
    """Median time per call vs batch size, one panel per phase (and per environment).

    Lines: backend x precision x device; error bars: the interquartile range.
    """
    rows = _nonempty(steady_rows(frame, phases), f"ok rows of phases {list(phases)}")
    dt = main_dt(rows)
    rows = rows[rows["dt_ms"] == dt]
    shown = [p for p in phases if (rows["phase"] == p).any()]
    envs = sorted(rows["environment"].unique())
    scale, unit = _time_unit(rows["q3_s"].fillna(rows["median_s"]).to_numpy(float))
    size = (4.2 * len(shown) + 2.2, 3.2 * len(envs) + 0.6)
    figure, axes = _new(len(envs), len(shown), *size, sharey=True)
    for i, env in enumerate(envs):
        for j, phase in enumerate(shown):
            panel = rows[(rows["environment"] == env) & (rows["phase"] == phase)]
            _draw_time_lines(axes[i, j], panel, scale)
            axes[i, j].set_title(_panel_title(phase, env))
            if j == 0:
                axes[i, j].set_ylabel(f"median time per call ({unit})")
            _batch_axis(axes[i, j], rows["batch_size"])
            _log_if_wide(axes[i, j], rows["median_s"] / scale)
    _figure_legend(figure, axes)
    figure.suptitle(f"Time per call vs batch size (dt = {dt:g} ms; bars: IQR)")
    return figure


def _draw_time_lines(ax, panel: pd.DataFrame, scale: float) -> None:
    keys = ["backend", "precision", "device"]
    for index, (key, line) in enumerate(panel.groupby(keys, sort=True)):
        line = line.sort_values("batch_size")
        median = line["median_s"].to_numpy(float) / scale
        low = median - line["q1_s"].fillna(line["median_s"]).to_numpy(float) / scale
        high = line["q3_s"].fillna(line["median_s"]).to_numpy(float) / scale - median
        ax.errorbar(
            line["batch_size"],
            median,
            yerr=[np.maximum(low, 0), np.maximum(high, 0)],
            color=_color(key[0], index),
            linestyle=_precision_line(key[1]),
            marker=_marker(key[2]),
            capsize=3,
            label=" ".join(key),
        )


def _figure_legend(figure: Figure, axes: np.ndarray) -> None:
    labels: dict[str, object] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            labels.setdefault(label, handle)
    if labels:
        ncols = min(4, len(labels))
        figure.legend(labels.values(), labels.keys(), loc="outside lower center", ncols=ncols)


@_styled
def fig_compile_breakdown(frame: pd.DataFrame) -> Figure:
    """Stacked bars: trace+lower under XLA compile, forward and gradient, per configuration."""
    phases = ("forward_trace_lower", "forward_compile", "grad_trace_lower", "grad_compile")
    rows = _nonempty(steady_rows(frame, phases), "ok compile-phase rows")
    rows = rows[rows["dt_ms"] == main_dt(rows)]
    batch = common_batch(rows)
    rows = rows[rows["batch_size"] == batch]
    envs = sorted(rows["environment"].unique())
    keys = ["backend", "precision", "device"]
    n_groups = rows.groupby(["environment", *keys]).ngroups
    width = max(7.5, 1.3 * n_groups / len(envs) + 2.0)
    scale, unit = _time_unit(_compile_totals(rows).to_numpy(float))
    figure, axes = _new(len(envs), 1, width, 3.4 * len(envs) + 0.6, sharey=True)
    for i, env in enumerate(envs):
        ax = axes[i, 0]
        panel = rows[rows["environment"] == env]
        _draw_compile_bars(ax, panel, sorted(panel.groupby(keys).groups), scale)
        ax.set_title(_panel_title(f"batch size {batch}", env))
        ax.set_ylabel(f"median cold time ({unit})")
    figure.legend(handles=_compile_legend(), loc="outside lower center", ncols=4)
    figure.suptitle("Compile-time breakdown: trace+lower vs XLA compile (median of cold runs)")
    return figure


def _compile_totals(rows: pd.DataFrame) -> pd.Series:
    stage = rows["phase"].str.split("_", n=1).str[0]
    keys = [rows["environment"], rows["backend"], rows["precision"], rows["device"], stage]
    return rows.groupby(keys)["median_s"].sum()


_STAGE_COLORS = {"forward": ("#9fc5e8", "#1f4e9c"), "grad": ("#f9cb9c", "#c55a11")}


def _draw_compile_bars(ax, panel: pd.DataFrame, groups: list[tuple], scale: float) -> None:
    medians = panel.set_index(["backend", "precision", "device", "phase"])["median_s"]
    medians = medians[~medians.index.duplicated(keep="last")]
    width = 0.38
    for x, group in enumerate(groups):
        for offset, stage in ((-width / 2, "forward"), (width / 2, "grad")):
            trace = medians.get((*group, f"{stage}_trace_lower"), np.nan) / scale
            comp = medians.get((*group, f"{stage}_compile"), np.nan) / scale
            light, dark = _STAGE_COLORS[stage]
            ax.bar(x + offset, np.nan_to_num(trace), width, color=light, edgecolor="black", lw=0.5)
            ax.bar(x + offset, np.nan_to_num(comp), width, bottom=np.nan_to_num(trace), color=dark)
            total = np.nansum([trace, comp])
            if np.isfinite(trace) or np.isfinite(comp):
                ax.annotate(f"{total:.3g}", (x + offset, total), ha="center", va="bottom", size=7)
    ax.set_xticks(range(len(groups)), ["\n".join(g) for g in groups])
    ax.margins(y=0.12)


def _compile_legend() -> list[Patch]:
    return [
        Patch(facecolor=_STAGE_COLORS[s][k], edgecolor="black", lw=0.5, label=f"{s}: {name}")
        for s in ("forward", "grad")
        for k, name in ((0, "trace + lower"), (1, "XLA compile"))
    ]


@_styled
def fig_overhead_ratio(frame: pd.DataFrame) -> Figure:
    """jaxley median / dense median vs batch size: one column per phase, one row per environment.

    Forward and gradient step sit in separate panels (not line styles in one), so
    no legend entry depends on telling a dashed line from a solid one.
    """
    _require(frame, ("jaxley_over_dense",), "benchmark table")
    rows = steady_rows(frame, STEADY)
    rows = rows[(rows["backend"] == "jaxley") & rows["jaxley_over_dense"].notna()]
    rows = _nonempty(rows, "jaxley rows with a dense twin in the same run")
    dt = main_dt(rows)
    rows = rows[rows["dt_ms"] == dt]
    envs = sorted(rows["environment"].unique())
    phases = [p for p in STEADY if p in set(rows["phase"])]
    figure, axes = _new(
        len(envs), len(phases), 4.8 * len(phases), 3.0 * len(envs) + 0.8, sharey=True
    )
    for i, env in enumerate(envs):
        for j, phase in enumerate(phases):
            ax = axes[i, j]
            panel = rows[(rows["environment"] == env) & (rows["phase"] == phase)]
            for index, (key, line) in enumerate(panel.groupby(["precision", "device"])):
                line = line.sort_values("batch_size")
                ax.plot(
                    line["batch_size"],
                    line["jaxley_over_dense"],
                    color=_PALETTE[index % len(_PALETTE)],
                    linestyle=_precision_line(key[0]),
                    marker=_precision_marker(key[0]),
                    label=" ".join(key),
                )
            ax.axhline(1.0, color="black", lw=0.8, linestyle=":")
            _batch_axis(ax, rows["batch_size"])
            _log_if_wide(ax, rows["jaxley_over_dense"], span=10.0)
            if j == 0:
                ax.set_ylabel("jaxley / dense (median time)")
            ax.set_title(_panel_title(phase, env))
    _figure_legend(figure, axes)
    figure.suptitle(f"jaxley overhead over the dense twin (dt = {dt:g} ms; 1 = parity)")
    return figure


@_styled
def fig_compare(frame: pd.DataFrame, by: str, phase: str = "grad_step") -> Figure:
    """Median time of ``phase`` side by side for each value of ``by`` (e.g. machine_id).

    The other environment columns are held at the combination that has the most
    values of ``by``, so the bars differ in ``by`` (and the device it implies) only.
    """
    rows = _nonempty(steady_rows(frame, (phase,)), f"ok {phase} rows")
    _require(rows, (by,), "benchmark table")
    rows, fixed = _hold_fixed(rows, by)
    if rows[by].astype(str).nunique() < 2:
        raise SnnbenchError(f"`by` {by!r} has one value only; nothing to compare")
    rows = rows[rows["dt_ms"] == main_dt(rows)]
    rows["series"] = rows[by].astype(str) + " · " + rows["device"]
    panels = sorted(rows.groupby(["backend", "precision"]).groups)
    n_cols = min(2, len(panels))
    n_rows = -(-len(panels) // n_cols)
    scale, unit = _time_unit(rows["median_s"].to_numpy(float))
    figure, axes = _new(n_rows, n_cols, 4.6 * n_cols + 2.4, 3.2 * n_rows + 0.7)
    series = sorted(rows["series"].unique())
    for ax, (backend, precision) in zip(axes.flat, panels, strict=False):
        panel = rows[(rows["backend"] == backend) & (rows["precision"] == precision)]
        _draw_grouped_bars(ax, panel, series, scale)
        ax.set_title(f"{backend} {precision}")
        ax.set_ylabel(f"{phase} median ({unit})")
        _log_if_wide(ax, rows["median_s"] / scale)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    _figure_legend(figure, axes)
    held = ", ".join(f"{k} {v}" for k, v in fixed.items())
    figure.suptitle(f"{phase} median by {by}" + (f" (held fixed: {held})" if held else ""))
    return figure


def _hold_fixed(rows: pd.DataFrame, by: str) -> tuple[pd.DataFrame, dict[str, str]]:
    others = [c for c in ENVIRONMENT_COLUMNS if c in rows and c != by]
    if not others:
        return rows, {}
    combos = rows.groupby(others)[by].nunique()
    best = sorted(combos[combos == combos.max()].index.map(_as_tuple))[0]
    mask = np.logical_and.reduce([rows[c] == v for c, v in zip(others, best, strict=True)])
    varying = {c: str(v) for c, v in zip(others, best, strict=True) if rows[c].nunique() > 1}
    return rows[mask].copy(), varying


def _as_tuple(key) -> tuple:
    return key if isinstance(key, tuple) else (key,)


def _draw_grouped_bars(ax, panel: pd.DataFrame, series: list[str], scale: float) -> None:
    batches = sorted(panel["batch_size"].unique())
    width = 0.8 / max(len(series), 1)
    medians = panel.groupby(["series", "batch_size"])["median_s"].last()
    for k, name in enumerate(series):
        heights = [medians.get((name, b), np.nan) / scale for b in batches]
        x = np.arange(len(batches)) - 0.4 + width * (k + 0.5)
        ax.bar(x, heights, width, color=_PALETTE[k % len(_PALETTE)], label=name)
    ax.set_xticks(range(len(batches)), [str(b) for b in batches])
    ax.set_xlabel("batch size (samples)")


@_styled
def fig_memory(memory: pd.DataFrame) -> Figure:
    """Memory vs batch size, one panel per measured ``*_bytes`` column of memory.csv.

    Limits (the machine's or the device's memory) and columns that do not vary
    are left out; panels wrap three to a row, so the figure stays 1000 px wide.
    """
    _require(memory, ("batch_size",), "memory table (memory.csv)")
    columns = [c for c in _MEMORY_ORDER if c in memory and _varies(memory[c])]
    if not columns:  # a table from elsewhere: whatever bytes it measured
        columns = sorted(
            c
            for c in memory.columns
            if c.endswith("_bytes") and c not in _MEMORY_LIMITS and _varies(memory[c])
        )
    if not columns:
        raise SnnbenchError("the memory table (memory.csv) has no *_bytes column that varies")
    keys = _varying(memory, ("phase", "function", "backend", "precision", "platform", "run_id"))
    n_cols = min(3, len(columns))
    n_rows = -(-len(columns) // n_cols)
    figure, axes = _new(n_rows, n_cols, 3.3 * n_cols, 2.9 * n_rows + 0.9)
    for ax, column in zip(axes.flat, columns, strict=False):  # spare panels are hidden
        rows = memory.assign(mib=pd.to_numeric(memory[column], errors="coerce") / 2**20)
        rows = rows[rows["mib"].notna()]
        groups = rows.groupby(keys, sort=True) if keys else [((), rows)]
        for index, (key, line) in enumerate(groups):
            line = line.sort_values("batch_size")
            named = dict(zip(keys, _as_tuple(key), strict=True))
            label = " ".join(str(k) for k in named.values()) or column
            color = _color(named["backend"], index) if "backend" in named else _pick(index)
            style = "--" if named.get("phase", named.get("function")) == "grad_step" else "-"
            ax.plot(line["batch_size"], line["mib"], marker="o", color=color, ls=style, label=label)
        _batch_axis(ax, memory["batch_size"])
        _log_if_wide(ax, rows["mib"])
        ax.set_ylabel("MiB")
        ax.set_title(MEMORY_TITLES.get(column, column.removesuffix("_bytes").replace("_", " ")))
    for ax in list(axes.flat)[len(columns) :]:
        ax.set_visible(False)
    _figure_legend(figure, axes)
    figure.suptitle("Memory vs batch size (each point: a fresh process)")
    return figure


#: Memory columns in the order a reader wants them; limits are not plotted.
_MEMORY_ORDER = (
    "peak_rss_bytes", "program_peak_bytes", "device_peak_bytes", "xla_buffer_bytes",
    "xla_temp_bytes", "rss_after_build_bytes",
)  # fmt: skip
_MEMORY_LIMITS = ("machine_memory_bytes", "device_bytes_limit")
#: What each memory panel shows, in words a newcomer reads without the docs.
MEMORY_TITLES = {
    "peak_rss_bytes": "whole process at its peak\n(compiler included)",
    "program_peak_bytes": "the timed program alone\n(measured)",
    "device_peak_bytes": "device memory at its peak",
    "xla_buffer_bytes": "XLA's estimate: arguments,\noutputs and scratch",
    "xla_temp_bytes": "XLA's estimate: scratch\n(temporary buffers)",
    "rss_after_build_bytes": "process after building\nthe network",
}


def _varies(values: pd.Series) -> bool:
    numbers = pd.to_numeric(values, errors="coerce").dropna()
    return numbers.nunique() > 1


def _varying(frame: pd.DataFrame, candidates: Sequence[str]) -> list[str]:
    return [c for c in candidates if c in frame and frame[c].astype(str).nunique() > 1]


def _pick(index: int) -> str:
    return _PALETTE[index % len(_PALETTE)]


# ---------------------------------------------------------------- trade-off study

#: The trade-off study's two views: simulation error and gradient error vs time.
TRADEOFF_PANELS = (
    ("voltage_rmse_mv", "pareto_voltage", "output-voltage RMSE vs reference (mV)"),
    ("grad_rel_error", "pareto_grad", "gradient relative error ||g - g_ref|| / ||g_ref||"),
)
#: Trade-off points: a colour per precision (the study's main contrast), a marker per backend.
_TRADEOFF_COLORS = {"float64": _PALETTE[0], "float32": _PALETTE[1]}
_TRADEOFF_MARKERS = {"dense": "o", "jaxley": "D"}


@_styled
def fig_tradeoffs(frame: pd.DataFrame, cost_column: str = "grad_step_s") -> Figure:
    """The trade-off study's Pareto figure from its own table (``tradeoffs.csv``).

    One row of panels per surrogate (each against its own reference). Points on
    the Pareto front have a black edge and are joined by the front's step line;
    a point whose metric's reference has not converged
    (``<metric>_reference_converged`` false) is drawn pale. The reference
    itself has no error to put on a log axis: a dotted vertical line marks its
    time instead.
    """
    columns = ("backend", "precision", "dt_ms", cost_column)
    _require(
        frame,
        columns + tuple(c for panel in TRADEOFF_PANELS for c in panel[:2]),
        "trade-off table (tradeoffs.csv)",
    )
    surrogates = frame["surrogate"].unique() if "surrogate" in frame else [None]
    n_panels = len(TRADEOFF_PANELS)
    figure, axes = _new(len(surrogates), n_panels, 5.2 * n_panels, 4.0 * len(surrogates) + 0.9)
    hollow = False
    for row_axes, surrogate in zip(axes, surrogates, strict=True):
        rows = frame if surrogate is None else frame[frame["surrogate"] == surrogate]
        for ax, (error, front, label) in zip(row_axes, TRADEOFF_PANELS, strict=True):
            every = pd.Series(True, index=rows.index)
            converged = rows.get(f"{error}_reference_converged", every).fillna(True).astype(bool)
            hollow |= not converged.all()
            _pareto_panel(ax, rows, cost_column, error, front, label, converged)
            heading = "" if surrogate is None else f"{surrogate} surrogate"
            if not converged.all():
                heading += (": " if heading else "") + "reference not converged"
            ax.set_title(heading)
    figure.legend(
        handles=_tradeoff_legend(frame, hollow), loc="outside lower center", ncols=3, fontsize=8
    )
    if "batch_size" in frame and len(frame):
        cost = cost_column.removesuffix("_s").replace("_", " ")
        figure.suptitle(
            f"Error against {cost} time, per dt and precision "
            f"(batch {int(frame['batch_size'].iloc[0])}; labels: dt in ms)"
        )
    return figure


def _key(label: str, **style: object):
    """A legend entry drawn with ``style`` (a line, a marker, or both)."""
    from matplotlib.lines import Line2D

    return Line2D([], [], label=label, **style)


def _tradeoff_legend(frame: pd.DataFrame, hollow: bool) -> list:
    backends = sorted(frame["backend"].unique())
    several = len(backends) > 1
    handles = [
        _key(p, ls="", marker="o" if several else _precision_marker(p),
             color=_TRADEOFF_COLORS.get(p, "gray"))
        for p in sorted(frame["precision"].unique(), reverse=True)
    ]  # fmt: skip
    if several:
        handles += [
            _key(b, ls="", marker=_TRADEOFF_MARKERS.get(b, "^"), color="gray") for b in backends
        ]
    handles += [
        _key("Pareto front (black edge)", color="black", ls="--", lw=1, marker="o",
             mfc="lightgray", mec="black", mew=1.5),
        _key("the reference's time (error 0)", color="black", ls=":", lw=1),
    ]  # fmt: skip
    if hollow:
        handles.append(
            _key("pale: reference not converged for this metric", ls="", marker="o",
                 mfc=(0.5, 0.5, 0.5, 0.35), mec="gray")
        )  # fmt: skip
    return handles


def _near_a_label(
    labelled: list[tuple[float, float, float]], x: float, y: float, dt: float
) -> bool:
    """Whether a point of this dt within a factor 1.6 in x and y (log axes) has a label."""
    return any(
        d == dt and max(x / lx, lx / x) < 1.6 and max(y / ly, ly / y) < 1.6
        for lx, ly, d in labelled
    )


def _pareto_panel(
    ax, frame, cost_column, error_column, front_column, label, converged=None
) -> None:
    converged = pd.Series(True, index=frame.index) if converged is None else converged
    shown = frame.dropna(subset=[cost_column, error_column])
    errors = shown[error_column].to_numpy(dtype=float)
    x = shown[cost_column].to_numpy(dtype=float) * 1e3
    exact = errors <= 0  # the reference: no error to draw on a log axis
    for xi in sorted(set(x[exact])):
        ax.axvline(xi, color="black", ls=":", lw=1, zorder=1)
    front = shown[front_column].fillna(False).to_numpy(dtype=bool) & ~exact
    good = converged.reindex(shown.index).fillna(True).to_numpy(dtype=bool)
    several = frame["backend"].nunique() > 1
    for k in np.nonzero(~exact)[0]:
        precision = shown["precision"].iloc[k]
        color = matplotlib.colors.to_rgb(_TRADEOFF_COLORS.get(precision, "gray"))
        marker = (
            _TRADEOFF_MARKERS.get(shown["backend"].iloc[k], "^")
            if several
            else _precision_marker(precision)
        )
        ax.scatter(
            x[k],
            errors[k],
            marker=marker,
            facecolors=[(*color, 1.0 if good[k] else 0.35)],
            edgecolors="black" if front[k] else [color],
            linewidths=1.6 if front[k] else 1.2,
            s=44,
            zorder=3,
        )
    labelled: list[tuple[float, float, float]] = []
    for xi, yi, dt in zip(x[~exact], errors[~exact], shown["dt_ms"][~exact], strict=True):
        if _near_a_label(labelled, xi, yi, dt):
            continue  # the same dt right next to it is labelled already
        labelled.append((xi, yi, dt))
        ax.annotate(f"{dt:g}", (xi, yi), fontsize=7, xytext=(4, 3), textcoords="offset points")
    if front.any():
        order = np.argsort(x[front])
        ax.step(
            x[front][order],
            errors[front][order],
            where="post",
            color="black",
            lw=1,
            ls="--",
            zorder=2,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_ticks(ax.xaxis)
    ax.set_xlabel(f"{cost_column.removesuffix('_s').replace('_', ' ')} time per call (ms)")
    ax.set_ylabel(label)
    ax.grid(True, which="major", alpha=0.3)


def _plain_log_ticks(axis) -> None:
    """Log-axis ticks written as plain numbers (2, 5, 10, 20 ...): at 1, 2 and 5 x 10^k
    over up to two decades, at powers of ten over more (call after drawing)."""
    low, high = sorted(abs(v) for v in axis.get_view_interval())
    decades = np.log10(high / low) if low > 0 else np.inf
    subs = (1.0, 2.0, 5.0) if decades <= 2.5 else (1.0,)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


# ---------------------------------------------------------------- network size

#: The panels of the size figure: (phase, column, y label); compile and memory
#: show the cost that is not per call.
SIZE_PANELS = (
    ("forward", "median_s", "forward: median time per call"),
    ("grad_step", "median_s", "grad_step: median time per call"),
    ("grad_compile", "median_s", "grad_step: XLA compile (cold)"),
    ("grad_compile", "xla_temp_bytes", "grad_step: XLA temporary buffers"),
)


def size_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of a run that varies the network size, at one batch size and dt.

    The batch size is the one measured at the most network sizes (ties: the
    smallest); raises :class:`SnnbenchError` when fewer than two sizes were measured.
    """
    _require(frame, ("n_edges", "phase", "status", "batch_size", "dt_ms"), "benchmark table")
    rows = frame[(frame["status"] == "ok") & frame["phase"].isin({p for p, _, _ in SIZE_PANELS})]
    if "scaling" in rows:  # device-count series have figures of their own
        rows = rows[rows["scaling"].fillna("").astype(str) == ""]
    if rows.empty or rows["n_edges"].nunique() < 2:
        raise SnnbenchError("fewer than two network sizes measured (run with --n-hidden)")
    rows = rows[rows["dt_ms"] == main_dt(rows)]
    counts = rows.groupby("batch_size")["n_edges"].nunique()
    batch = int(min(counts[counts == counts.max()].index))
    rows = rows[rows["batch_size"] == batch].copy()
    rows["device"] = device_labels(rows)
    rows["environment"] = environment_labels(rows)
    # A configuration measured at one size only (e.g. a quick run at the same batch
    # size) is a point, not a line: it would only clutter the figure.
    keys = ["backend", "precision", "device", "environment"]
    sizes = rows.groupby(keys)["n_edges"].transform("nunique")
    rows = rows[sizes > 1]
    rows["environment"] = environment_labels(rows)
    return rows


@_styled
def fig_cost_vs_size(frame: pd.DataFrame) -> Figure:
    """Time per call, compile time and XLA's temporary bytes against the number of synapses.

    One panel per quantity (2 x 2, 1000 px wide); lines: backend x precision x
    device (and environment, where several), log-log, so a slope of 1 is linear growth.
    """
    rows = size_rows(frame)
    batch = int(rows["batch_size"].iloc[0])
    figure, axes = _new(2, 2, 9.6, 7.0)
    for ax, (phase, column, title) in zip(axes.flat, SIZE_PANELS, strict=True):
        panel = rows[rows["phase"] == phase]
        values = pd.to_numeric(panel.get(column), errors="coerce")
        panel = panel.assign(value=values).dropna(subset=["value"])
        is_bytes = column.endswith("_bytes")
        scale, unit = (2**20, "MiB") if is_bytes else _time_unit(panel["value"].to_numpy(float))
        keys = ["backend", "precision", "device", "environment"]
        for index, (key, line) in enumerate(panel.groupby(keys, sort=True)):
            line = line.sort_values("n_edges")
            ax.plot(
                line["n_edges"],
                line["value"] / scale,
                color=_color(key[0], index),
                marker=_marker(key[2])
                if "cpu" not in key[2].lower()
                else _precision_marker(key[1]),
                linestyle=_precision_line(key[1]),
                label=" ".join(k for k in key if k),
            )
        ax.set_title(title)
        ax.set_ylabel(unit if is_bytes else f"time ({unit})")
        _edges_axis(ax, rows["n_edges"])
        if not panel.empty:
            _log_if_wide(ax, panel["value"] / scale, span=5.0)
    _figure_legend(figure, axes)
    figure.suptitle(f"Cost vs network size (batch {batch}, dt = {main_dt(rows):g} ms)")
    return figure


def _edges_axis(ax, edges: pd.Series) -> None:
    ticks = sorted(set(int(e) for e in edges))
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _short_count(v)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("synapses (trainable weights)")


def _short_count(value: float) -> str:
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:g}"


# ---------------------------------------------------------------- device-count series

_FORMULATION_STYLES = {"grouped": "-", "jit": "--", "": "-"}


def series_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of device-count series (``scaling`` weak or strong) that ran, with a median."""
    _require(frame, ("scaling", "devices", "data_parallel"), "benchmark table")
    rows = steady_rows(frame, STEADY)
    rows = rows[rows["scaling"].isin(("weak", "strong"))].copy()
    rows["data_parallel"] = rows["data_parallel"].fillna("").astype(str)
    rows["series_batch"] = np.where(
        rows["scaling"] == "weak", rows["batch_size"] // rows["devices"], rows["batch_size"]
    )
    # A series run as multi-process jobs has its 1-device baseline in one process:
    # label the whole series by the most processes any of its rows used.
    keys = ["backend", "precision", "phase", "data_parallel", "scaling", "series_batch"]
    keys += ["run_id"] if "run_id" in rows else []
    rows["series_processes"] = rows.groupby(keys)["processes"].transform("max").astype(int)
    return rows


def _program_label(phase: str, formulation: str) -> str:
    return f"{phase} ({formulation})" if formulation else phase


@_styled
def fig_scaling_efficiency(frame: pd.DataFrame) -> Figure:
    """Scaling efficiency vs device count: columns weak | strong, a row per program and backend.

    Lines: the precisions (a line style and marker each), in grey for series run
    as multi-process jobs, so a panel holds a few lines; one batch per panel (the
    one with the most lines, then the most device counts, then the largest),
    named in its title. 1 is ideal; the dotted line marks it.
    """
    _require(frame, ("scaling_efficiency",), "benchmark table")
    rows = series_rows(frame)
    rows = _nonempty(
        rows[rows["scaling_efficiency"].notna()], "device-count series with efficiency"
    )
    programs = sorted(
        {
            (p, f, b)
            for p, f, b in zip(rows["phase"], rows["data_parallel"], rows["backend"], strict=True)
        },
        key=lambda k: (STEADY.index(k[0]), k[1], k[2]),
    )
    scalings = [s for s in ("weak", "strong") if (rows["scaling"] == s).any()]
    figure, axes = _new(
        len(programs), len(scalings), 4.6 * len(scalings) + 0.6, 2.3 * len(programs) + 1.0
    )
    for i, (phase, formulation, backend) in enumerate(programs):
        for j, scaling in enumerate(scalings):
            ax = axes[i, j]
            panel = rows[
                (rows["phase"] == phase)
                & (rows["data_parallel"] == formulation)
                & (rows["scaling"] == scaling)
                & (rows["backend"] == backend)
            ]
            batch = _series_batch(panel)
            panel = panel[panel["series_batch"] == batch] if batch else panel
            _draw_efficiency(ax, panel)
            unit = "per device" if scaling == "weak" else "global"
            ax.set_title(
                f"{backend}, {scaling}: {_program_label(phase, formulation)}, batch {batch} {unit}"
            )
            _batch_axis(ax, rows["devices"], "devices")
            ax.set_ylabel("efficiency (1 = ideal)")
            _log_if_wide(ax, rows["scaling_efficiency"], span=20.0)
            if ax.get_yscale() == "log":
                _plain_log_ticks(ax.yaxis)
    figure.legend(handles=_series_legend(rows), loc="outside lower center", ncols=4)
    figure.suptitle("Scaling efficiency vs 1 device: throughput(n) / (n x throughput(1))")
    return figure


def _series_legend(rows: pd.DataFrame) -> list:
    """What the lines of the efficiency panels are: style per precision, colour per layout."""
    handles = [
        _key(p, color="black", ls=_precision_line(p), marker=_precision_marker(p))
        for p in sorted(rows["precision"].unique(), reverse=True)
    ]
    handles += [
        _key(f"{b}, 1 process", color=_color(b), lw=3) for b in sorted(rows["backend"].unique())
    ]
    for n in sorted(set(rows["series_processes"]) - {1}):
        handles.append(_key(f"{n} processes (a job)", color="#888888", lw=3))
    return handles


def _series_batch(panel: pd.DataFrame) -> int | None:
    """The batch with the most lines, then the most device counts, then the largest."""
    if panel.empty:
        return None
    lines = panel.groupby(["backend", "precision", "series_processes"]).ngroup()
    score = {
        int(batch): (lines[group.index].nunique(), group["devices"].nunique(), int(batch))
        for batch, group in panel.groupby("series_batch")
    }
    return max(score, key=score.get)


def _draw_efficiency(ax, panel: pd.DataFrame) -> None:
    keys = ["backend", "precision", "series_processes"]
    for index, (key, line) in enumerate(panel.groupby(keys, sort=True)):
        line = line.groupby("devices", as_index=False)["scaling_efficiency"].mean()
        if not (line["devices"] == 1).any():
            # 1 by definition; a report keeps one 1-device row per configuration (the
            # newest run's), which may belong to another series than this line's.
            line = pd.concat([pd.DataFrame({"devices": [1], "scaling_efficiency": [1.0]}), line])
        processes = int(key[2])
        ax.plot(
            line["devices"],
            line["scaling_efficiency"],
            color=_color(key[0], index) if processes == 1 else "#888888",
            marker=_precision_marker(key[1]),
            linestyle=_precision_line(key[1]),
            label=key[1] + (f", {processes} processes" if processes > 1 else ", 1 process"),
        )
    ax.axhline(1.0, color="black", lw=0.8, linestyle=":")


@_styled
def fig_scaling_time_vs_batch(frame: pd.DataFrame, phase: str = "grad_step") -> Figure:
    """Median time per call of ``phase`` vs global batch, one line per device count.

    One panel per backend x precision; solid lines for the ``grouped`` gradient
    step, dashed for ``jit``. Where several rows measured the same program
    (weak and strong scaling, or several runs, at the same devices and global
    batch), the point is the mean of their medians.
    """
    rows = series_rows(frame)
    rows = _nonempty(rows[rows["phase"] == phase], f"device-count series of {phase}")
    panels = sorted(rows.groupby(["backend", "precision"]).groups)
    n_cols = min(2, len(panels))
    n_rows = -(-len(panels) // n_cols)
    scale, unit = _time_unit(rows["median_s"].to_numpy(float))
    figure, axes = _new(n_rows, n_cols, 4.7 * n_cols + 0.6, 3.2 * n_rows + 1.0)
    # One colour per (devices, processes): a count run in one process and as a job differ.
    pairs = zip(rows["devices"].astype(int), rows["processes"].astype(int), strict=True)
    layouts = sorted(set(pairs))
    for ax, (backend, precision) in zip(axes.flat, panels, strict=False):
        panel = rows[(rows["backend"] == backend) & (rows["precision"] == precision)]
        keys = ["devices", "processes", "data_parallel"]
        for (n, processes, formulation), line in panel.groupby(keys, sort=True):
            line = line.groupby("batch_size", as_index=False)["median_s"].mean()
            label = f"{n} device{'s' if n > 1 else ''}"
            label += f", {processes} processes" if processes > 1 else ""
            ax.plot(
                line["batch_size"],
                line["median_s"] / scale,
                color=_PALETTE[layouts.index((int(n), int(processes))) % len(_PALETTE)],
                linestyle=_FORMULATION_STYLES.get(formulation, ":"),
                marker="o" if processes == 1 else "s",
                label=label + (f" ({formulation})" if formulation else ""),
            )
        _batch_axis(ax, rows["batch_size"])
        ax.set_xlabel("global batch (samples)")
        ax.set_ylabel(f"median time per {phase} ({unit})")
        _log_if_wide(ax, rows["median_s"] / scale)
        ax.set_title(f"{backend} {precision}")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    _figure_legend(figure, axes)
    figure.suptitle(f"Time per {phase} vs global batch, by device count")
    return figure
