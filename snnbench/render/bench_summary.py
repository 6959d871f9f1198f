"""A benchmark run for people: the terminal table, the full table, the quality line, ``summary.md``.

The terminal gets a compact view (steady calls, compile times and jaxley's
overhead, one block per device and precision, under 100 columns); ``summary.md``
holds every phase. Both mark noisy rows the same way and count them once.
"""

from __future__ import annotations

import pandas as pd

from snnbench.measure.phases import DISPLAY_ORDER
from snnbench.measure.records import TUTORIAL_SIZE
from snnbench.measure.summary import NOISY_IQR_OVER_MEDIAN
from snnbench.render import terminal
from snnbench.render.units import format_seconds

#: What a ``~`` in front of a time means, said once wherever times are shown.
NOISE_LEGEND = f"`~` marks a row whose IQR/median exceeds {NOISY_IQR_OVER_MEDIAN:.0%}"
_INDEX = ["backend", "platform", "precision", "batch_size", "dt_ms"]
#: Network-size columns, shown when a run has more than one size or not the tutorial's.
_SIZE_INDEX = ["n_input", "n_hidden"]


def _varies_or_not_tutorial(values: pd.Series, column: str) -> bool:
    shown = set(values.dropna())
    return len(shown) > 1 or shown - {TUTORIAL_SIZE[column]} != set()


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


def _single(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the ordinary matrix (one device, no scaling series)."""
    if "scaling" not in frame:
        return frame
    return frame[frame["scaling"].fillna("").astype(str) == ""]


def _series(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of device-count series."""
    if "scaling" not in frame:
        return frame.iloc[0:0]
    return frame[frame["scaling"].fillna("").astype(str) != ""]


def summary_table(frame: pd.DataFrame) -> str:
    """Markdown: median per phase by backend, device, precision, batch size and dt.

    Device-count series follow in their own table (:func:`scaling_table`).
    """
    if frame.empty:
        return "(no rows)"
    series = scaling_table(frame, markdown=True)
    frame = _single(frame)
    if frame.empty:
        return series
    table = _pivot(frame)
    order = [p.value for p in DISPLAY_ORDER if p.value in table.columns]
    table = table[order].fillna("")
    ratio = _ratio(frame, table.index)
    if ratio is not None:
        table["jaxley/dense (grad_step)"] = ratio
    single = table.reset_index().to_markdown(index=False)
    return single + ("\n\n" + series if series else "")


def terminal_table(frame: pd.DataFrame) -> str:
    """The compact view for a terminal: one block per (device, precision), under 100 columns."""
    series = scaling_table(frame, markdown=False)
    frame = _single(frame)
    ok = frame[frame["phase"].isin(_COMPACT)]
    if ok.empty:
        return series or "(no timed rows)"
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
        keys = len(block.columns) - len(columns) - (ratio is not None)
        blocks.append(f"{platform} {precision}\n" + terminal.table(block, keys=keys))
    return "\n\n".join(blocks + ([series] if series else []))


#: The series a scaling table has one line for, and how it shows them.
_SERIES_INDEX = ["platform", "precision", "backend", "scaling", "phase", "data_parallel", "batch"]


def scaling_table(frame: pd.DataFrame, markdown: bool) -> str:
    """Device-count series: median per call and scaling efficiency, one column per count.

    ``batch`` is per device for weak scaling and global for strong scaling, so
    each line is one series (of one run, when the rows come from several); a
    cell reads ``median (efficiency)``. Empty when ``frame`` has no series.
    """
    rows = _series(frame)
    rows = rows[rows["phase"].isin(["forward", "grad_step"])]
    if rows.empty:
        return ""
    batch = rows["batch_size"] // rows["devices"].where(rows["scaling"] == "weak", 1)
    shown = rows.assign(
        batch=batch,
        data_parallel=rows["data_parallel"].fillna("").astype(str),
        value=[_series_cell(r) for r in rows.itertuples()],
        devices=[
            f"{d} dev" + (f" {p} proc" if p > 1 else "")
            for d, p in zip(rows["devices"], rows["processes"], strict=True)
        ],
    )
    index = list(_SERIES_INDEX)
    if "run_id" in rows and rows["run_id"].nunique() > 1:  # one line per run of a series
        index.insert(1, "run_id")
    table = shown.pivot_table(index=index, columns="devices", values="value", aggfunc="last")
    table = table[sorted(table.columns, key=lambda c: int(c.split()[0]))].fillna("")
    table = table.reset_index().rename(columns={"data_parallel": "dp"})
    if not markdown and table["platform"].nunique() == 1:  # keep the terminal narrow
        table = table.drop(columns="platform")
    title = (
        "Device-count series: median per call (scaling efficiency vs 1 device, 1 = ideal);\n"
        "batch is per device (weak) or global (strong); dp = data-parallel formulation."
    )
    if markdown:
        return "\n\n".join([title, table.to_markdown(index=False), *_series_notes(rows)])
    keys = len([c for c in table.columns if not str(c).endswith(" dev") and "proc" not in str(c)])
    notes = [terminal.wrap(note) for note in _series_notes(rows)]
    return "\n".join([title, terminal.table(table, keys=keys), *notes])


def _series_cell(row) -> str:
    if row.status != "ok":
        return row.status
    efficiency = getattr(row, "scaling_efficiency", float("nan"))
    shown = f" ({efficiency:.2f})" if pd.notna(efficiency) else ""
    return ("~" if bool(row.noisy) else "") + format_seconds(row.median_s) + shown


def _series_notes(rows: pd.DataFrame) -> list[str]:
    """What the sharded programs did: collectives per call, and the check against 1 device."""
    notes = []
    if "collectives_per_call" in rows:
        steps = rows[(rows["phase"] == "grad_step") & (rows["devices"] > 1)]
        steps = steps[steps["collectives_per_call"].notna()]
        for form, group in steps.groupby("data_parallel", sort=True):
            counts = sorted(set(group["collectives_per_call"].astype(int)))
            notes.append(
                f"Collectives XLA inserted per gradient step ({form}): "
                + ", ".join(str(c) for c in counts)
                + " (read from the compiled HLO, loop trip counts followed)."
            )
    if "check_ok" in rows:
        checked = rows[rows["check_ok"].notna()]
        if not checked.empty:
            passed = checked["check_ok"].astype(str).str.lower().eq("true")
            notes.append(
                f"Check against the 1-device result: {int(passed.sum())} of {len(checked)} rows "
                f"equal within the precision's tolerance; largest relative difference "
                f"{checked['check_max_rel_diff'].astype(float).max():.2g}."
            )
    return notes


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
    """How trustworthy the run's numbers are: spread of steady rows, noisy rows, what to do."""
    ok = frame[frame["status"] == "ok"]
    steady = ok[ok["phase"].isin(["forward", "grad_step"])]
    if steady.empty:
        return "No steady-state rows."
    cv = steady["cv"].astype(float)
    noisy, timed = noisy_count(frame)
    lines = [
        f"Spread of {len(steady)} steady rows (coefficient of variation): median "
        f"{cv.median():.1%}, max {cv.max():.1%}. Noisy (~): {noisy} of {timed} rows."
    ]
    if noisy:
        lines.append(NOISY_ADVICE)
    floor = ok[ok["phase"] == "overhead"]
    if not floor.empty:
        lines.append(
            "Harness floor (an empty jitted call): "
            + ", ".join(f"{format_seconds(r.median_s)} ({r.precision})" for r in floor.itertuples())
            + "."
        )
    return " ".join(lines)


#: What to do about noisy rows, said wherever they are counted.
NOISY_ADVICE = (
    "For steadier numbers: rerun with --pin-cpu auto (one core, no neighbours) or --full "
    "(more rounds); to judge a change, use `snnbench ab`, which interleaves both versions."
)


def matmul_line(frame: pd.DataFrame) -> str:
    """The dense twin's matmul precision as run: declared setting and effective arithmetic."""
    if "effective_matmul_precision" not in frame:
        return ""
    dense = frame[(frame["backend"] == "dense") & (frame["status"] == "ok")]
    dense = dense[dense["effective_matmul_precision"].notna()]  # rows that recorded it
    if dense.empty:
        return ""
    pairs = dense.groupby(["platform", "precision"], sort=True)
    parts = []
    for (platform, precision), rows in pairs:
        effective = ", ".join(sorted(set(rows["effective_matmul_precision"].astype(str))))
        declared = ", ".join(sorted(set(rows.get("matmul_precision", pd.Series()).astype(str))))
        parts.append(f"{platform} {precision}: {declared} -> {effective}")
    return "Dense matmul precision (declared -> effective): " + "; ".join(parts) + "."


def caption(frame: pd.DataFrame | None = None) -> str:
    """What the table's cells are, said only for the columns ``frame`` has."""
    phases = set(frame["phase"]) if frame is not None and "phase" in frame else set(_COMPACT)
    parts = [f"Median time per call; {NOISE_LEGEND}"]
    compiled = bool(phases & {"forward_compile", "grad_compile"})
    if compiled:
        parts.append("compile times are cold (no compilation cache)")
    if frame is None or "jaxley_over_dense" in frame and frame["jaxley_over_dense"].notna().any():
        parts.append("jaxley/dense = grad step's ratio of medians")
    if compiled:  # the quick matrix compiles at one batch size: other rows leave it blank
        parts.append("blank = not run at that batch size")
    return "; ".join(parts) + "."


def summary_page(frame: pd.DataFrame, run_id: str) -> str:
    """``summary.md`` of a benchmark run: who ran it, the caption, the table, the quality line."""
    meta = frame.iloc[0]
    return (
        f"# Benchmark run {run_id}\n\n"
        f"Machine `{meta['machine_id']}`: {meta['cpu_model']} ({meta['cpu_count']} cores); "
        f"jax {meta['jax_version']}, jaxley {meta['jaxley_version']}, snnbench "
        f"{meta['snnbench_version']} at {str(meta['git_commit'])[:10]}"
        f"{' (dirty)' if bool(meta['git_dirty']) else ''}.\n\n"
        + caption(frame)
        + "\n\n"
        + summary_table(frame)
        + "\n\n"
        + quality_summary(frame)
        + "\n"
        + (f"\n{matmul_line(frame)}\n" if matmul_line(frame) else "")
    )
