"""The trade-off study's evidence figures: input spikes lost, and the trained accuracy, vs dt.

The Pareto figure is :func:`snnbench.render.plots.fig_tradeoffs`; these two come
from the study's other tables (``spike_loss.csv``, ``redrawn.csv``) and its main one.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from snnbench.render.plots import _new, _pick, _require, _styled

_SURROGATE_STYLES = {"per_step": "-", "per_time": "--"}


def _dt_axis(ax, dts_ms) -> None:
    """Log dt axis ticked at the study's own steps, labelled as multiples of 1e-3 ms."""
    ticks = sorted(set(float(d) for d in dts_ms))
    ax.set_xscale("log")
    ax.set_xticks(ticks, [f"{d * 1e3:g}e-3" for d in ticks], rotation=45)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("dt (ms)")


@_styled
def fig_spike_loss(sweep: pd.DataFrame, redrawn: pd.DataFrame | None = None) -> Figure:
    """Input spikes fired, as a percentage of the right count, vs dt.

    Left (scenario (a), ``spike_loss.csv``): the task's count over the continuous-time
    count of the same input, one line per kernel amplitude. Right (scenario (b),
    ``redrawn.csv``, when given): fired and continuous-time counts over the spikes drawn.
    """
    panels = 1 + (redrawn is not None and not redrawn.empty)
    figure, axes = _new(1, panels, 5.2 * panels, 4.0)
    ax = axes[0][0]
    if not sweep.empty:
        _require(
            sweep, ("kernel_na", "dt_ms", "implicit_euler", "continuous_time"), "spike_loss.csv"
        )
        for index, (kernel, rows) in enumerate(sweep.groupby("kernel_na")):
            rows = rows.sort_values("dt_ms")
            share = 100 * rows["implicit_euler"] / rows["continuous_time"]
            ax.plot(rows["dt_ms"], share, marker="o", color=_pick(index), label=f"{kernel:g} nA")
    _dt_axis(ax, sweep.get("dt_ms", []))
    ax.set_ylabel("input spikes fired / continuous-time count (%)")
    ax.set_title("(a) the same input, step-averaged to each dt")
    ax.legend(title="pulse amplitude", fontsize=7)
    if panels == 2:
        ax = axes[0][1]
        rows = redrawn.sort_values("dt_ms").drop_duplicates("dt_ms")
        lines = (
            ("input_spikes", "o", "-", "fired (the task)"),
            ("continuous_time", "s", "--", "continuous time, same current"),
        )
        for index, (column, marker, style, label) in enumerate(lines):
            share = 100 * rows[column] / rows["drawn"]
            ax.plot(rows["dt_ms"], share, marker=marker, color=_pick(index), ls=style, label=label)
        _dt_axis(ax, rows["dt_ms"])
        ax.set_yscale("log")
        ax.set_ylabel("input spikes / spikes drawn (%)")
        ax.set_title("(b) the tutorial re-run at each dt, own draws")
        ax.legend(fontsize=7)
    figure.suptitle("Input spikes vs dt")
    return figure


@_styled
def fig_accuracy(frame: pd.DataFrame, redrawn: pd.DataFrame | None = None) -> Figure:
    """Trained accuracy vs dt, per surrogate.

    Left (scenario (a), ``tradeoffs.csv``, float64): weights trained at each dt scored
    on the reference simulation (solid) and on their own (dotted). Right (scenario
    (b), when given): each dt's own trained accuracy.
    """
    _require(frame, ("dt_ms", "precision", "train_accuracy_on_reference"), "tradeoffs.csv")
    panels = 1 + (redrawn is not None and not redrawn.empty and "train_accuracy" in redrawn)
    figure, axes = _new(1, panels, 5.2 * panels, 4.0)
    ax = axes[0][0]
    rows = frame[(frame["precision"] == "float64") & frame["train_accuracy_on_reference"].notna()]
    groups = (
        rows.groupby(["backend", "surrogate"]) if "surrogate" in rows else rows.groupby(["backend"])
    )
    for index, (key, line) in enumerate(groups):
        line = line.sort_values("dt_ms")
        label = " ".join(key) if isinstance(key, tuple) else str(key)
        ax.plot(
            line["dt_ms"],
            line["train_accuracy_on_reference"],
            marker="o",
            color=_pick(index),
            label=f"{label}, on the reference",
        )
        ax.plot(
            line["dt_ms"],
            line["train_accuracy"],
            marker=".",
            ls=":",
            color=_pick(index),
            label=f"{label}, on its own simulation",
        )
    _dt_axis(ax, rows["dt_ms"])
    ax.set_ylabel("trained accuracy")
    ax.set_title("(a) the same input, step-averaged to each dt")
    ax.legend(fontsize=7)
    if panels == 2:
        ax = axes[0][1]
        for index, (surrogate, line) in enumerate(redrawn.groupby("surrogate")):
            line = line.sort_values("dt_ms")
            ax.plot(
                line["dt_ms"],
                line["train_accuracy"],
                marker="o",
                color=_pick(index),
                ls=_SURROGATE_STYLES.get(surrogate, "-"),
                label=surrogate,
            )
        _dt_axis(ax, redrawn["dt_ms"])
        ax.set_ylabel("trained accuracy (own simulation)")
        ax.set_title("(b) the tutorial re-run at each dt, own draws")
        ax.legend(fontsize=7)
    figure.suptitle("Trained accuracy vs dt")
    return figure
