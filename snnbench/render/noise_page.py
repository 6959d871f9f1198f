"""The noise study for people: per-job rates, injected effects, targets, ``summary.md``."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from tabulate import tabulate

from snnbench.regress import stats
from snnbench.render import terminal

#: The targets per cell: (what, size, wanted rate, "at most"/"at least").
TARGETS = (
    ("false alarms per A-vs-A job", 0.0, 1 / 20, "at most"),
    ("detections per job at +10 %", 0.10, 19 / 20, "at least"),
)
#: The longest a job may take, and the longest its median may be (minutes).
MAX_JOB_MIN = 10.0
MEDIAN_JOB_MIN = 6.0
#: One-sided confidence at which a target counts as established either way (0 of 59
#: is what bounds a rate at 5 % one-sided).
ESTABLISHED_AT = 0.95


def _level(slowdown: float) -> str:
    return "none (A vs A)" if slowdown == 0 else f"+{slowdown * 100:g} %"


#: The exit columns of the markdown table and their names in the terminal's.
_SHORT_EXITS = {
    "regression (exit 1)": "exit 1",
    "inconclusive (exit 3)": "exit 3",
    "no regression (exit 0)": "exit 0",
}


def _rate_rows(found: Sequence, metric: str) -> list[dict]:
    return [
        {
            "regression": r.regression,
            "injected": _level(r.slowdown),
            "load": r.condition,
            "jobs": str(r.jobs),
            "regression (exit 1)": f"{r.flagged}/{r.jobs}",
            "rate [95 % CI]": f"{r.rate * 100:.0f} % [{r.low * 100:.0f}, {r.high * 100:.0f}]",
            "inconclusive (exit 3)": str(r.inconclusive),
            "no regression (exit 0)": str(r.clean),
            "counts as": r.counts_as,
        }
        for r in found
        if r.metric == metric
    ]


def rates_table(found: Sequence, metric: str = "deciding") -> str:
    """Markdown: per cell (kind, size, load), jobs that ended in a regression.

    ``found`` holds the noise study's ``Rate`` records; ``metric`` picks the job's own
    outcome ("deciding") or the same jobs judged by "cpu" or "wall" time alone.
    """
    rows = _rate_rows(found, metric)
    if not rows:
        return "No job finished yet."
    return tabulate(rows, headers="keys", tablefmt="github", disable_numparse=True)


def terminal_rates(found: Sequence, metric: str = "deciding") -> str:
    """:func:`rates_table` as plain text that fits the terminal, its columns explained."""
    rows = pd.DataFrame(_rate_rows(found, metric)).drop(columns=["jobs", "counts as"])
    rows = rows.rename(columns={long: short for long, short in _SHORT_EXITS.items()})
    legend = (
        "Jobs per kind, injected size and load: exit 1 = regression found, 3 = inconclusive, "
        "0 = no regression; the rate is of exit 1, with its Clopper-Pearson interval."
    )
    return terminal.wrap(legend) + "\n" + terminal.table(rows, keys=3)


def injected_table(injected: pd.DataFrame) -> str:
    """Markdown: the median B/A ratio per configuration in quiet jobs."""
    if injected.empty:
        return "No quiet job finished, so no effect was measured quietly."
    rows = [
        {
            "regression": r.kind,
            "injected": _level(r.slowdown),
            "configuration": r.case_id,
            "median B/A (deciding metric)": f"{r.median_ratio:.3f} ({r.metric})",
            "median B/A (other metric)": ""
            if pd.isna(r.median_other_ratio)
            else f"{r.median_other_ratio:.3f}",
            "quiet jobs": str(r.quiet_jobs),
        }
        for r in injected.itertuples()
        if r.slowdown > 0
    ]
    return tabulate(rows, headers="keys", tablefmt="github", disable_numparse=True)


def target_verdict(flagged: int, jobs: int, wanted: float, sense: str) -> str:
    """Met, missed or not established, each from a one-sided exact bound."""
    low, high = stats.proportion_interval(flagged, jobs, 2 * ESTABLISHED_AT - 1)
    bounds = f"one-sided {ESTABLISHED_AT * 100:g} % bounds [{low * 100:.1f}, {high * 100:.1f}] %"
    good, bad = (
        (high <= wanted, low > wanted) if sense == "at most" else (low >= wanted, high < wanted)
    )
    if good:
        return f"**met** ({bounds})"
    if bad:
        return f"**missed** ({bounds})"
    return f"**not established** ({bounds})"


def target_lines(found: Sequence, jobs: pd.DataFrame) -> list[str]:
    """One line per target and cell, and the job durations: met, missed or not established."""
    lines = []
    for what, slowdown, wanted, sense in TARGETS:
        cells = [r for r in found if r.slowdown == slowdown and r.metric == "deciding"]
        if not cells:
            lines.append(f"- {what}: not measured (no jobs at {_level(slowdown)}).")
        for rate in cells:
            lines.append(
                f"- {what}, {rate.regression}, {rate.condition}: {rate.flagged}/{rate.jobs}, "
                f"target {sense} {wanted * 100:.0f} %: "
                + target_verdict(rate.flagged, rate.jobs, wanted, sense)
                + "."
            )
    if not jobs.empty:
        longest = float(jobs["job_s"].max()) / 60
        median = float(jobs["job_s"].median()) / 60
        lines.append(
            f"- a job at most {MAX_JOB_MIN:g} min, median at most {MEDIAN_JOB_MIN:g}: the longest "
            f"took {longest:.1f} min (**{'met' if longest <= MAX_JOB_MIN else 'missed'}**), the "
            f"median {median:.1f} (**{'met' if median <= MEDIAN_JOB_MIN else 'missed'}**)."
        )
    return lines


def _loads(jobs: pd.DataFrame) -> str:
    parts = []
    for load, part in jobs.groupby("load", sort=True):
        parts.append(
            f"{load} jobs {part['load_1min_before'].median():.1f} at the start, "
            f"{part['load_1min_after'].median():.1f} at the end (median)"
        )
    return "; ".join(parts)


def components_table(fitted: pd.DataFrame) -> str:
    """Markdown: pair noise and job offset per row and load (percent, log scale)."""
    if fitted.empty:
        return "No rounds journalled yet."
    rows = [
        {
            "configuration": r.case_id,
            "load": r.load,
            "jobs (A vs A)": f"{r.jobs} ({r.null_jobs})",
            "rounds": str(r.rounds),
            "pair noise sd": _pct(r.pair_sd),
            "job offset sd": _pct(r.job_sd),
        }
        for r in fitted.itertuples()
    ]
    return tabulate(rows, headers="keys", tablefmt="github", disable_numparse=True)


def predicted_table(predicted: pd.DataFrame) -> str:
    """Markdown: per load and size, the predicted per-job rates (worst changed row)."""
    if predicted.empty:
        return "Too few rounds to fit the components."
    rows = []
    for (load, size), part in predicted.groupby(["load", "slowdown"], sort=True):
        worst = part.loc[part["regression"].idxmin()] if size > 0 else part.iloc[0]
        rows.append(
            {
                "load": load,
                "true change": _level(size),
                "changed row (least caught)": "" if size == 0 else worst["changed_row"],
                "exit 1": f"{worst['regression'] * 100:.1f} %",
                "exit 3": f"{worst['inconclusive'] * 100:.1f} %",
                "exit 0": f"{worst['no_regression'] * 100:.1f} %",
                "best changed row, exit 1": ""
                if size == 0
                else f"{part['regression'].max() * 100:.1f} %",
            }
        )
    return tabulate(rows, headers="keys", tablefmt="github", disable_numparse=True)


def checked_table(found: Sequence, cells: pd.DataFrame) -> str:
    """Markdown: per cell, the observed share of jobs flagged beside the prediction."""
    if cells.empty:
        return "Too few rounds to predict the cells."
    observed = {
        (r.regression, r.slowdown, r.condition): r
        for r in found
        if r.metric == "deciding" and r.condition != "all"
    }
    rows = []
    for c in cells.itertuples():
        seen = observed.get((c.kind, c.slowdown, c.load))
        rows.append(
            {
                "regression": c.kind,
                "injected": _level(c.slowdown),
                "load": c.load,
                "predicted exit 1": f"{c.regression * 100:.1f} %",
                "predicted exit 3": f"{c.inconclusive * 100:.1f} %",
                "observed exit 1 [95 % CI]": "no jobs"
                if seen is None
                else f"{seen.flagged}/{seen.jobs} [{seen.low * 100:.0f}, {seen.high * 100:.0f}] %",
                "observed exit 3": "" if seen is None else f"{seen.inconclusive}/{seen.jobs}",
            }
        )
    return tabulate(rows, headers="keys", tablefmt="github", disable_numparse=True)


def thresholds_table(suggested: pd.DataFrame) -> str:
    if suggested.empty:
        return "Too few rounds to suggest thresholds."
    rows = [
        {
            "phase": r.phase,
            "suggested threshold": f"{r.threshold_pct:g} %",
            "from (noisiest)": f"{r.worst_case}, {r.worst_load}",
            "pair noise sd": _pct(r.pair_sd),
            "job offset sd": _pct(r.job_sd),
        }
        for r in suggested.itertuples()
    ]
    return tabulate(rows, headers="keys", tablefmt="github", disable_numparse=True)


def _pct(value: float) -> str:
    return "" if pd.isna(value) else f"{value * 100:.2f} %"


def summary_page(
    jobs: pd.DataFrame,
    found: Sequence,
    injected: pd.DataFrame,
    info: dict,
    fitted: pd.DataFrame | None = None,
    predicted: pd.DataFrame | None = None,
    suggested: pd.DataFrame | None = None,
    cells: pd.DataFrame | None = None,
) -> str:
    """The study's ``summary.md``: what ran, how busy the machine was, rates, effects, targets."""
    meta = info["metadata"]
    config = info["config"]
    sizes = [s for s in config["slowdowns"] if s > 0]
    planned = (
        config["jobs"]
        * len(config["loads"])
        * ((0.0 in config["slowdowns"]) + len(sizes) * len(config["kinds"]))
    )
    head = (
        "# snnbench noise study\n\n"
        f"{len(jobs)} of {planned} planned `snnbench ab` jobs finished ({config['jobs']} per "
        f"cell: kinds {', '.join(config['kinds'])}; sizes "
        f"{', '.join(_level(s) for s in config['slowdowns'])}; loads "
        f"{', '.join(config['loads'])}, {config['load_processes']} load processes), both sides "
        f"`{config['spec']}`. Machine `{meta['machine_id']}` ({meta['cpu_model']}, "
        f"{meta['cpu_count']} cores). 1-minute load average: "
        f"{_loads(jobs) if not jobs.empty else 'no job finished'}.\n\n"
        "Command: `" + " ".join(info["command"]) + "`\n\n"
    )
    body = (
        "## Per job: what CI would have seen\n\n"
        + rates_table(found)
        + "\n\n## Targets\n\n"
        + "\n".join(target_lines(found, jobs))
        + "\n\n## The effect actually injected (quiet jobs)\n\n"
        + injected_table(injected)
        + "\n\n## The same jobs judged by one metric alone (at the same look)\n\n"
        + "Per-call process CPU time (pinned to one core):\n\n"
        + rates_table(found, "cpu")
        + "\n\nWall time:\n\n"
        + rates_table(found, "wall")
    )
    if fitted is not None:
        body += "\n\n## Variance components (log ratio B/A per round)\n\n" + components_table(
            fitted
        )
    if predicted is not None:
        body += (
            "\n\n## The operating characteristic they predict\n\n"
            "Simulated jobs with the gate's rules (CPU time), one row changed at a time:\n\n"
            + predicted_table(predicted)
        )
    if cells is not None:
        body += (
            "\n\n## Prediction against the jobs\n\n"
            "Each cell predicted from its load's components and the effects its quiet jobs "
            "measured:\n\n" + checked_table(found, cells)
        )
    if suggested is not None:
        body += "\n\n## Thresholds the measured noise supports\n\n" + thresholds_table(suggested)
    return head + body + "\n"
