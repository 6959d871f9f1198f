"""A benchmark run for people: the summary table, its quality line, ``summary.md``."""

from __future__ import annotations

import pandas as pd

from snnbench.measure.phases import DISPLAY_ORDER
from snnbench.render.units import format_seconds


def summary_table(frame: pd.DataFrame) -> str:
    """Markdown summary: median per phase by backend, device, precision, batch size and dt."""
    if frame.empty:
        return "(no rows)"
    shown = frame.copy()
    shown["value"] = [_format_cell(r) for r in shown.itertuples()]
    index = ["backend", "platform", "precision", "batch_size", "dt_ms"]
    table = shown.pivot_table(index=index, columns="phase", values="value", aggfunc="first")
    order = [p.value for p in DISPLAY_ORDER if p.value in table.columns]
    table = table[order].fillna("")
    ratio = shown[shown["phase"] == "grad_step"].set_index(index).get("jaxley_over_dense")
    if ratio is not None and ratio.notna().any():  # only when both backends ran it
        table["jaxley/dense (grad_step)"] = ratio.reindex(table.index).map(
            lambda r: f"{r:.1f}x" if pd.notna(r) else ""
        )
    return table.reset_index().to_markdown(index=False)


def _format_cell(row) -> str:
    if row.status != "ok":
        return row.status
    flag = "~" if bool(row.noisy) else ""
    return flag + format_seconds(row.median_s)


def quality_summary(frame: pd.DataFrame) -> str:
    """How trustworthy the run's steady-state numbers are: CV, noisy rows, harness floor."""
    ok = frame[frame["status"] == "ok"]
    steady = ok[ok["phase"].isin(["forward", "grad_step"])]
    if steady.empty:
        return "No steady-state rows."
    cv = steady["cv"].astype(float)
    noisy = int(steady["noisy"].astype(bool).sum())
    lines = [
        f"Steady-state rows (forward, grad_step): {len(steady)}; coefficient of variation "
        f"median {cv.median():.1%}, 90th percentile {cv.quantile(0.9):.1%}, max {cv.max():.1%}; "
        f"{noisy} with IQR/median > 10 %."
    ]
    floor = ok[ok["phase"] == "overhead"]
    if not floor.empty:
        lines.append(
            "Harness overhead (an empty jitted function through the same path): "
            + ", ".join(f"{format_seconds(r.median_s)} ({r.precision})" for r in floor.itertuples())
            + "."
        )
    return " ".join(lines)


def summary_page(frame: pd.DataFrame, run_id: str) -> str:
    """``summary.md`` of a benchmark run: who ran it, the table, the quality line."""
    meta = frame.iloc[0]
    return (
        f"# Benchmark run {run_id}\n\n"
        f"Machine `{meta['machine_id']}`: {meta['cpu_model']} ({meta['cpu_count']} cores); "
        f"jax {meta['jax_version']}, jaxley {meta['jaxley_version']}, snnbench "
        f"{meta['snnbench_version']} at {str(meta['git_commit'])[:10]}"
        f"{' (dirty)' if bool(meta['git_dirty']) else ''}.\n\n"
        "Median time per call; `~` marks IQR/median > 10 %; compile rows are cold "
        "(persistent compilation cache off).\n\n"
        + summary_table(frame)
        + "\n\n"
        + quality_summary(frame)
        + "\n"
    )
