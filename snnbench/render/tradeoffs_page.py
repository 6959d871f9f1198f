"""The trade-off study for people: its headline table, the verdict, ``summary.md``.

Every number names its statistic and its reference. A metric whose reference has
not converged (``<metric>_reference_converged`` false) is shown with two
significant digits and a dagger, and the page says why; the trained outcome,
whose reference no refinement checks, carries a double dagger.
"""

from __future__ import annotations

import pandas as pd

from snnbench.render import terminal
from snnbench.render import tradeoffs_evidence as evidence
from snnbench.render.units import format_seconds

NOT_CONVERGED = "†"
NOT_CHECKED = "‡"

_SUMMARY_COLUMNS = {
    "backend": "backend",
    "precision": "precision",
    "dt_ms": "dt (ms)",
    "surrogate": "surrogate",
    "voltage_rmse_mv": "V RMSE (mV)",
    "voltage_max_abs_own_grid_mv": "V max-abs (mV)",
    "hidden_count_rel_diff": "hidden spikes vs ref",
    "loss_abs_diff": "loss abs diff",
    "grad_cosine": "grad cos",
    "grad_rel_error": "grad rel err",
    "train_accuracy_on_reference": "trained acc (on ref)",
    "accuracy_drop": "acc drop",
    "forward_s": "forward",
    "grad_step_s": "grad step",
    "speedup_vs_reference": "speed-up",
    "meets_budget": "in budget",
}
_PERCENT = ("hidden_count_rel_diff",)
_TIMES = ("forward_s", "grad_step_s", "grad_compile_s")
_UNCHECKED = ("train_accuracy_on_reference", "accuracy_drop")


def _number(value: float, digits: int = 3) -> str:
    return "n/a" if pd.isna(value) else f"{value:.{digits}g}"


def _cell(row: pd.Series, column: str) -> str:
    """One metric as shown: marked when its reference has not converged or is unchecked."""
    value = row[column]
    converged = row.get(f"{column}_reference_converged")
    if column in _PERCENT:
        text = "n/a" if pd.isna(value) else f"{100 * value:+.1f} %"
    elif column == "grad_cosine" and pd.notna(value) and value > 0.999:
        text = f"{value:.5f}"  # three digits would round a 0.99981 to 1
    else:
        text = _number(value, 2 if converged is False else 3)
    if converged is not None and pd.notna(converged) and not bool(converged):
        return f"{text} {NOT_CONVERGED}"
    if column in _UNCHECKED and "voltage_rmse_mv_reference_converged" in row and pd.notna(value):
        return f"{text} {NOT_CHECKED}"
    return text


def _shown(row: pd.Series, column: str) -> str:
    value = row[column]
    if column in _TIMES:
        return format_seconds(value) if pd.notna(value) else "n/a"
    if column == "speedup_vs_reference":
        return f"{value:.2f}x" if pd.notna(value) else "n/a"
    if column == "dt_ms":
        return f"{value:g}"
    if column == "meets_budget":
        return "yes" if value else "no"
    if column in ("backend", "precision", "surrogate"):
        return value
    return _cell(row, column)


def _headline(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """``columns`` of every point as shown, sorted by backend, surrogate, precision and dt."""
    keys = [k for k in ("backend", "surrogate", "precision", "dt_ms") if k in frame]
    columns = [c for c in columns if c in frame]
    rows = [{c: _shown(row, c) for c in columns} for _, row in frame.sort_values(keys).iterrows()]
    return pd.DataFrame(rows, columns=columns).rename(columns=_SUMMARY_COLUMNS)


def summary_table(frame: pd.DataFrame) -> str:
    """Markdown table of the headline columns (marks only where the reference checks ran)."""
    table = _headline(frame, _SUMMARY_COLUMNS)
    return table.to_markdown(index=False, stralign="right", disable_numparse=True)


#: The terminal's columns (the full table is in summary.md).
_TERMINAL_COLUMNS = (
    "backend", "precision", "dt_ms", "surrogate", "voltage_rmse_mv", "grad_cosine",
    "accuracy_drop", "grad_step_s", "speedup_vs_reference", "meets_budget",
)  # fmt: skip


def terminal_table(frame: pd.DataFrame) -> str:
    """The headline columns as plain text that fits the terminal, with its marks explained."""
    keep = [c for c in _TERMINAL_COLUMNS if c in frame]
    if "surrogate" in keep and frame["surrogate"].nunique() == 1:
        keep.remove("surrogate")
    keys = len([c for c in ("backend", "precision", "dt_ms", "surrogate") if c in keep])
    text = terminal.table(_headline(frame, keep), keys=keys)
    legend = []
    if NOT_CONVERGED in text:
        legend.append(
            f"{NOT_CONVERGED} the reference has not converged for this metric: the number is "
            "the distance to the finest dt's run, not to the dt -> 0 limit."
        )
    if NOT_CHECKED in text:
        legend.append(f"{NOT_CHECKED} no refinement checks the trained outcome's reference.")
    return "\n".join([text, *(terminal.wrap(line, "  ") for line in legend)])


def verdict(frame: pd.DataFrame, budget_text: str, cost_column: str) -> str:
    """One paragraph: the fastest setting within the budget, or why there is none.

    Args:
        frame: the study's table, with ``chosen`` flags.
        budget_text: the budget in words (``Budget.describe()``).
        cost_column: the time that was minimised (``grad_step_s`` or ``forward_s``).
    """
    cost = cost_column.removesuffix("_s").replace("_", " ")
    if not frame["chosen"].any():
        return (
            f"**No setting meets the budget** ({budget_text}); loosen it, or check the "
            "reference's cost row (a point whose timing failed cannot be chosen)."
        )
    row = frame[frame["chosen"]].iloc[0]
    drop = row.get("accuracy_drop", float("nan"))
    accuracy = (
        f"accuracy drop {drop:.3g}"
        if pd.notna(drop)
        else "accuracy not judged (this backend was not trained)"
    )
    text = (
        f"**Fastest within the budget** ({budget_text}): `{row['point_id']}` — "
        f"{cost} {format_seconds(row[cost_column])} per call, "
        f"{row['speedup_vs_reference']:.2f}x the reference's speed; output-voltage RMSE "
        f"{row['voltage_rmse_mv']:.3g} mV, gradient cosine {row['grad_cosine']:.6f}, "
        f"{accuracy}."
    )
    caveats = row.get("budget_caveats")
    if isinstance(caveats, str) and caveats:
        text += (
            f" **Caveat:** the budget's limit on {caveats.replace(', ', ' and ')} was judged "
            "against a reference that has not converged (see below): it says how close this "
            f"setting is to the dt = {_reference_dt(frame):g} ms run, not to the dt -> 0 limit."
        )
    return text


def _reference_dt(frame: pd.DataFrame) -> float:
    return float(frame.loc[frame["is_reference"], "dt_ms"].min())


def _statistics(meta: pd.Series, frame: pd.DataFrame) -> str:
    """What each headline statistic is computed over, in words."""
    batch, n_out = int(meta["batch_size"]), 2
    n_common = round(float(meta["t_max_ms"]) / float(meta["common_step_ms"])) + 1
    return (
        "Statistics, each against the reference of the same backend and surrogate: "
        f"**V RMSE** = root-mean-square output-voltage difference over {batch} samples x "
        f"{n_out} outputs x {n_common} common times t = k x {meta['common_step_ms']:g} ms; "
        "**V max-abs** = largest absolute output-voltage difference at every time the "
        "setting reports; **hidden spikes vs ref** = relative change of the total hidden "
        "spike count; **loss abs diff** = |loss - reference loss| at the evaluation weights; "
        "**grad cos** / **grad rel err** = cosine and ||g - g_ref|| / ||g_ref|| over all "
        "synaptic weights; **trained acc (on ref)** = accuracy on "
        "the reference simulation of the weights trained at this setting; **acc drop** = the "
        "reference's trained accuracy minus that. "
        f"{NOT_CONVERGED} = the reference has not converged for this metric (see "
        f"below): the number says how far the setting is from the dt = "
        f"{_reference_dt(frame):g} ms run only. {NOT_CHECKED} = no refinement checks the "
        "trained outcome's reference."
    )


def summary_markdown(
    frame: pd.DataFrame,
    budget_text: str,
    cost_column: str,
    convergence: pd.DataFrame | None = None,
    spike_loss: pd.DataFrame | None = None,
    redrawn: pd.DataFrame | None = None,
) -> str:
    """``summary.md`` of a trade-off run, from its tables alone (every setting is a column)."""
    meta = frame.iloc[0]
    trained = sorted(frame.loc[frame["trained"].astype(bool), "backend"].unique())
    dirty = " (dirty)" if bool(meta["git_dirty"]) else ""
    refinements = str(meta.get("refinement_dts_ms", "") or "")
    checked = (
        ", checked by halving its step to "
        + ", ".join(evidence.dt_label(float(d)) for d in refinements.split(";"))
        + " ms (dense twin)"
        if refinements
        else ", not checked by refinement"
    )
    parts = [
        f"# dt / precision trade-offs {meta['run_id']}\n",
        f"Machine `{meta['machine_id']}`: {meta['cpu_model']} ({meta['cpu_count']} cores), "
        f"{meta['platform']}; jax {meta['jax_version']}, jaxley {meta['jaxley_version']}; "
        f"snnbench at {str(meta['git_commit'])[:10]}{dirty}. "
        f"Timing: benchmark run `{meta['bench_run_id']}` (per-step surrogate).\n",
        f"Scenario (a): the tutorial's input, drawn once on its {meta['source_dt_ms']:g} ms "
        f"grid (kernel {str(meta.get('kernel_na', '508;508')).replace(';', ', ')} nA), "
        "step-averaged to every dt. "
        f"Reference: float64 at dt = {_reference_dt(frame):g} ms, per backend and "
        f"surrogate{checked}. Batch {meta['batch_size']}, t_max = {meta['t_max_ms']:g} ms, "
        f"weights at {meta['weights_at']}; training {meta['epochs']} epochs on "
        f"{', '.join(trained) or 'no backend'}.\n",
        _statistics(meta, frame) + "\n",
        verdict(frame, budget_text, cost_column) + "\n",
        summary_table(frame) + "\n",
    ]
    if convergence is not None and not convergence.empty:
        parts.append(evidence.convergence_section(convergence))
    if "surrogate" in frame and frame["surrogate"].nunique() > 1:
        parts.append(evidence.surrogate_section(frame))
    if spike_loss is not None and not spike_loss.empty:
        parts.append(evidence.spike_loss_section(spike_loss, meta))
    if redrawn is not None and not redrawn.empty:
        parts.append(evidence.redrawn_section(redrawn, meta))
    return "\n".join(parts)
