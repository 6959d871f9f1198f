"""The trade-off study for people: its headline table, the verdict, ``summary.md``."""

from __future__ import annotations

import pandas as pd

from snnbench.render.units import format_seconds

_SUMMARY_COLUMNS = {
    "backend": "backend",
    "precision": "precision",
    "dt_ms": "dt (ms)",
    "voltage_rmse_mv": "V RMSE (mV)",
    "voltage_max_abs_own_grid_mv": "V max err (mV)",
    "hidden_coincidence": "hidden spike coinc.",
    "loss_abs_diff": "loss abs diff",
    "grad_cosine": "grad cos",
    "grad_rel_error": "grad rel err",
    "train_accuracy_on_reference": "trained acc (on ref)",
    "accuracy_drop": "acc drop",
    "forward_s": "forward",
    "grad_step_s": "grad step",
    "grad_compile_s": "grad compile",
    "speedup_vs_reference": "speed-up",
    "meets_budget": "in budget",
}


def summary_table(frame: pd.DataFrame) -> str:
    """Markdown table of the headline columns, sorted by backend, precision and dt."""
    shown = frame.sort_values(["backend", "precision", "dt_ms"])
    shown = shown[[c for c in _SUMMARY_COLUMNS if c in shown]].copy()
    for column in ("forward_s", "grad_step_s", "grad_compile_s"):
        if column in shown:
            shown[column] = shown[column].map(lambda s: format_seconds(s) if pd.notna(s) else "n/a")
    if "speedup_vs_reference" in shown:
        shown["speedup_vs_reference"] = shown["speedup_vs_reference"].map(
            lambda r: f"{r:.2f}x" if pd.notna(r) else "n/a"
        )
    shown["dt_ms"] = shown["dt_ms"].map(lambda d: f"{d:g}")
    if "meets_budget" in shown:
        shown["meets_budget"] = shown["meets_budget"].map(lambda b: "yes" if b else "no")
    shown = shown.rename(columns=_SUMMARY_COLUMNS)
    return shown.to_markdown(index=False, floatfmt=".3g")


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
    return (
        f"**Fastest within the budget** ({budget_text}): `{row['point_id']}` — "
        f"{cost} {format_seconds(row[cost_column])} per call, "
        f"{row['speedup_vs_reference']:.2f}x the reference's speed; voltage RMSE "
        f"{row['voltage_rmse_mv']:.3g} mV, gradient cosine {row['grad_cosine']:.6f}, "
        f"{accuracy}."
    )


def summary_markdown(frame: pd.DataFrame, budget_text: str, cost_column: str) -> str:
    """``summary.md`` of a trade-off run, from its table alone (every setting is a column)."""
    meta = frame.iloc[0]
    reference_dt = frame.loc[frame["is_reference"], "dt_ms"].min()
    trained = sorted(frame.loc[frame["trained"].astype(bool), "backend"].unique())
    dirty = " (dirty)" if bool(meta["git_dirty"]) else ""
    return (
        f"# dt / precision trade-offs {meta['run_id']}\n\n"
        f"Machine `{meta['machine_id']}`: {meta['cpu_model']} ({meta['cpu_count']} cores), "
        f"{meta['platform']}; jax {meta['jax_version']}, jaxley {meta['jaxley_version']}; "
        f"snnbench at {str(meta['git_commit'])[:10]}{dirty}. "
        f"Timing: benchmark run `{meta['bench_run_id']}`.\n\n"
        f"Reference: float64 at dt = {reference_dt:g} ms, per backend. Batch "
        f"{meta['batch_size']}, t_max = {meta['t_max_ms']:g} ms, weights at {meta['weights_at']}; "
        f"training {meta['epochs']} epochs on {', '.join(trained) or 'no backend'}. "
        f"Voltage RMSE on the common grid t = k x {meta['common_step_ms']:g} ms; "
        f"max error on each setting's own grid; spike coincidence window "
        f"{meta['coincidence_window_ms']:g} ms.\n\n"
        + verdict(frame, budget_text, cost_column)
        + "\n\n"
        + summary_table(frame)
        + "\n"
    )
