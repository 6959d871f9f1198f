"""A benchmark run for people: the terminal table, the full table, the quality line, ``summary.md``.

The terminal gets a compact view (steady calls, compile times and jaxley's
overhead, one block per device and precision, under 100 columns); ``summary.md``
holds every phase. Both mark noisy rows the same way and count them once.
"""

from __future__ import annotations

import pandas as pd

from snnbench.measure.phases import DISPLAY_ORDER
from snnbench.measure.records import OLD_ROW_DEFAULTS
from snnbench.measure.summary import NOISY_IQR_OVER_MEDIAN
from snnbench.render.units import format_seconds

#: What a ``~`` in front of a time means, said once wherever times are shown.
NOISE_LEGEND = f"`~` marks a row whose IQR/median exceeds {NOISY_IQR_OVER_MEDIAN:.0%}"
_INDEX = ["backend", "platform", "precision", "batch_size", "dt_ms"]
#: Network-size columns, shown when a run has more than one size or not the tutorial's.
_SIZE_INDEX = ["n_input", "n_hidden"]


def _varies_or_not_tutorial(values: pd.Series, column: str) -> bool:
    shown = set(values.dropna())
    return len(shown) > 1 or shown - {OLD_ROW_DEFAULTS[column]} != set()


def _index(frame: pd.DataFrame) -> list[str]:
    """The row keys of a table: the size columns join when the run varies them."""
    sizes = [c for c in _SIZE_INDEX if c in frame and _varies_or_not_tutorial(frame[c], c)]
    return [*_INDEX[:3], *sizes, *_INDEX[3:]]


#: The terminal's columns: phase -> header.
_COMPACT = {
    "forward": "forward",
    "grad_step": "grad_step",
    "forward_compile": "fwd compile",
    "grad_compile": "grad compile",
}


def summary_table(frame: pd.DataFrame) -> str:
    """Markdown: median per phase by backend, device, precision, batch size and dt."""
    if frame.empty:
        return "(no rows)"
    table = _pivot(frame)
    order = [p.value for p in DISPLAY_ORDER if p.value in table.columns]
    table = table[order].fillna("")
    ratio = _ratio(frame, table.index)
    if ratio is not None:
        table["jaxley/dense (grad_step)"] = ratio
    return table.reset_index().to_markdown(index=False)


def terminal_table(frame: pd.DataFrame) -> str:
    """The compact view for a terminal: one block per (device, precision), under 100 columns."""
    ok = frame[frame["phase"].isin(_COMPACT)]
    if ok.empty:
        return "(no timed rows)"
    table = _pivot(ok)
    columns = [p for p in _COMPACT if p in table.columns]
    table = table[columns].fillna("").rename(columns=_COMPACT)
    ratio = _ratio(frame, table.index)
    if ratio is not None:
        table["jaxley/dense"] = ratio
    blocks = []
    for (platform, precision), block in table.groupby(level=["platform", "precision"]):
        rows = frame[(frame["platform"] == platform) & (frame["precision"] == precision)]
        if not (rows["status"] == "ok").any():  # one line, not a table of "skipped"
            reasons = "; ".join(sorted(set(rows["reason"].fillna("").astype(str)) - {""}))
            blocks.append(f"{platform} {precision}: {len(rows)} cases not run: {reasons}")
            continue
        block = block.droplevel(["platform", "precision"]).reset_index()
        block = block.rename(
            columns={"batch_size": "batch", "dt_ms": "dt (ms)", "n_input": "in", "n_hidden": "hid"}
        )
        blocks.append(f"{platform} {precision}\n" + block.to_string(index=False))
    return "\n\n".join(blocks)


def _pivot(frame: pd.DataFrame) -> pd.DataFrame:
    shown = frame.assign(value=[_format_cell(r) for r in frame.itertuples()])
    return shown.pivot_table(index=_index(frame), columns="phase", values="value", aggfunc="first")


def _ratio(frame: pd.DataFrame, index: pd.MultiIndex) -> pd.Series | None:
    """jaxley/dense of the grad step per configuration, when both backends ran it."""
    keys = list(index.names)
    grad = frame[frame["phase"] == "grad_step"].set_index(keys).get("jaxley_over_dense")
    if grad is None or not grad.notna().any():
        return None
    grad = grad[~grad.index.duplicated(keep="last")]
    return grad.reindex(index).map(lambda r: f"{r:.1f}x" if pd.notna(r) else "")


def _format_cell(row) -> str:
    if row.status != "ok":
        return row.status
    flag = "~" if bool(row.noisy) else ""
    return flag + format_seconds(row.median_s)


def noisy_count(frame: pd.DataFrame) -> tuple[int, int]:
    """``(rows marked ~, rows timed)``: the one noise count every summary shows."""
    ok = frame[frame["status"] == "ok"]
    return int(ok["noisy"].fillna(False).astype(bool).sum()), len(ok)


def quality_summary(frame: pd.DataFrame) -> str:
    """How trustworthy the run's numbers are: CV of steady rows, noisy rows, harness floor."""
    ok = frame[frame["status"] == "ok"]
    steady = ok[ok["phase"].isin(["forward", "grad_step"])]
    if steady.empty:
        return "No steady-state rows."
    cv = steady["cv"].astype(float)
    noisy, timed = noisy_count(frame)
    lines = [
        f"Steady-state rows (forward, grad_step): {len(steady)}; coefficient of variation "
        f"median {cv.median():.1%}, 90th percentile {cv.quantile(0.9):.1%}, max {cv.max():.1%}. "
        f"Noisy rows (marked ~, IQR/median > {NOISY_IQR_OVER_MEDIAN:.0%}): {noisy} of {timed}."
    ]
    floor = ok[ok["phase"] == "overhead"]
    if not floor.empty:
        lines.append(
            "Harness overhead (an empty jitted function through the same path): "
            + ", ".join(f"{format_seconds(r.median_s)} ({r.precision})" for r in floor.itertuples())
            + "."
        )
    return " ".join(lines)


def matmul_line(frame: pd.DataFrame) -> str:
    """The dense twin's matmul precision as run: declared setting and effective arithmetic."""
    if "effective_matmul_precision" not in frame:
        return ""
    dense = frame[(frame["backend"] == "dense") & (frame["status"] == "ok")]
    if dense.empty:
        return ""
    pairs = dense.groupby(["platform", "precision"], sort=True)
    parts = []
    for (platform, precision), rows in pairs:
        effective = ", ".join(sorted(set(rows["effective_matmul_precision"].astype(str))))
        declared = ", ".join(sorted(set(rows.get("matmul_precision", pd.Series()).astype(str))))
        parts.append(f"{platform} {precision}: {declared} -> {effective}")
    return "Dense matmul precision (declared -> effective): " + "; ".join(parts) + "."


def caption() -> str:
    """What the tables' cells are."""
    return (
        f"Median time per call; {NOISE_LEGEND}; compile rows are cold (persistent "
        "compilation cache off); jaxley/dense is the grad step's ratio of medians. The quick "
        "matrix times build and compile at one batch size (they do not depend on it; --full "
        "times them at every one), so a blank cell is a phase not run there."
    )


def summary_page(frame: pd.DataFrame, run_id: str) -> str:
    """``summary.md`` of a benchmark run: who ran it, the caption, the table, the quality line."""
    meta = frame.iloc[0]
    return (
        f"# Benchmark run {run_id}\n\n"
        f"Machine `{meta['machine_id']}`: {meta['cpu_model']} ({meta['cpu_count']} cores); "
        f"jax {meta['jax_version']}, jaxley {meta['jaxley_version']}, snnbench "
        f"{meta['snnbench_version']} at {str(meta['git_commit'])[:10]}"
        f"{' (dirty)' if bool(meta['git_dirty']) else ''}.\n\n"
        + caption()
        + "\n\n"
        + summary_table(frame)
        + "\n\n"
        + quality_summary(frame)
        + "\n"
        + (f"\n{matmul_line(frame)}\n" if matmul_line(frame) else "")
    )
