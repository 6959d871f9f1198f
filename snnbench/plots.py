"""Small, reusable figures: one function per figure (a DataFrame in, a Figure out), and a saver.

Figures are built with ``matplotlib.figure.Figure`` and the Agg canvas directly,
never pyplot, so no GUI backend or global figure state is involved.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_MARKERS = {"float64": "o", "float32": "s"}
_COLOURS = {"dense": "tab:blue", "jaxley": "tab:orange"}


def save_png(figure: Figure, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Write ``figure`` as PNG atomically (a temporary file in the same folder, then rename)."""
    path = Path(path)
    FigureCanvasAgg(figure)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(fd)
    try:
        figure.savefig(tmp, dpi=dpi, format="png")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def pareto_figure(
    frame: pd.DataFrame,
    cost_column: str,
    panels: Sequence[tuple[str, str, str]],
    title: str = "",
) -> Figure:
    """Error vs cost, one panel per error metric, Pareto front drawn as a step line.

    Args:
        frame: one row per setting with columns ``dt_ms``, ``precision``,
            ``backend``, ``cost_column``, every panel's error column and its
            boolean Pareto column.
        cost_column: seconds per call (x axis, log scale).
        panels: ``(error column, Pareto-flag column, y-axis label)`` per panel.
        title: the figure's title.

    Zero errors (the reference) cannot sit on a log axis; they are drawn at a
    floor a decade below the smallest non-zero error and labelled "exact".
    """
    figure = Figure(figsize=(5.2 * len(panels), 4.2), layout="constrained")
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, (error_column, front_column, label) in zip(axes, panels, strict=True):
        _pareto_panel(ax, frame, cost_column, error_column, front_column, label)
    if title:
        figure.suptitle(title)
    return figure


def _pareto_panel(ax, frame, cost_column, error_column, front_column, label) -> None:
    shown = frame.dropna(subset=[cost_column, error_column])
    errors = shown[error_column].to_numpy(dtype=float)
    positive = errors[errors > 0]
    floor = positive.min() / 10 if positive.size else 1e-12
    y = np.where(errors > 0, errors, floor)
    x = shown[cost_column].to_numpy(dtype=float) * 1e3
    for (backend, precision), index in shown.groupby(["backend", "precision"]).groups.items():
        mask = shown.index.isin(index)
        ax.scatter(x[mask], y[mask], marker=_MARKERS.get(precision, "^"),
                   color=_COLOURS.get(backend, "tab:gray"), label=f"{backend} {precision}", zorder=3)
    for xi, yi, dt, exact in zip(x, y, shown["dt_ms"], errors <= 0, strict=True):
        ax.annotate(f"{dt * 1e3:g}e-3" + (" exact" if exact else ""), (xi, yi), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")
    front = shown[front_column].fillna(False).to_numpy(dtype=bool)
    if front.any():
        order = np.argsort(x[front])
        ax.step(x[front][order], y[front][order], where="post", color="black", lw=1,
                ls="--", label="Pareto front", zorder=2)
        ax.scatter(x[front], y[front], s=140, facecolors="none", edgecolors="black", zorder=4)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"{cost_column.removesuffix('_s').replace('_', ' ')} time per call (ms)")
    ax.set_ylabel(label)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
