"""The noise study for people: per-job rates, injected effects, targets, ``summary.md``."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from tabulate import tabulate

from snnbench.render import terminal

#: The targets the study is held to: (what, slowdown, wanted rate, "at most"/"at least").
TARGETS = (
    ("false alarms per A-vs-A job", 0.0, 1 / 20, "at most"),
    ("detections per job at +20 %", 0.2, 15 / 20, "at least"),
    ("detections per job at +40 %", 0.4, 19 / 20, "at least"),
)
#: The longest a job may take (minutes).
MAX_JOB_MIN = 15.0
#: Jobs per slowdown the targets are stated for ("1 in 20"); fewer cannot meet them.
TARGET_JOBS = 20


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
            "injected": _level(r.slowdown),
            "load": r.condition,
            "jobs": str(r.jobs),
            "regression (exit 1)": f"{r.flagged}/{r.jobs}",
            "rate [95 % CI]": f"{r.rate * 100:.0f} % [{r.low * 100:.0f}, {r.high * 100:.0f}]",
            "inconclusive (exit 3)": str(r.inconclusive),
            "no regression (exit 0)": str(r.clean),
            "counts as": r.kind,
        }
        for r in found
        if r.metric == metric
    ]


def rates_table(found: Sequence, metric: str = "deciding") -> str:
    """Markdown: per slowdown and load condition, jobs that ended in a regression.

    ``found`` holds the noise study's ``Rate`` records; ``metric`` picks the job's own
    outcome ("deciding") or the same jobs judged by "cpu" or "wall" time alone.
    """
    rows = _rate_rows(found, metric)
    return tabulate(rows, headers="keys", tablefmt="github", disable_numparse=True)


def terminal_rates(found: Sequence, metric: str = "deciding") -> str:
    """:func:`rates_table` as plain text that fits the terminal, its columns explained."""
    rows = pd.DataFrame(_rate_rows(found, metric)).drop(columns="jobs")
    rows = rows.rename(columns={long: short for long, short in _SHORT_EXITS.items()})
    legend = (
        "Jobs per injected slowdown and load: exit 1 = regression found, 3 = inconclusive, "
        "0 = no regression; the rate is of exit 1, with its Clopper-Pearson interval."
    )
    return terminal.wrap(legend) + "\n" + terminal.table(rows, keys=2)


def injected_table(injected: pd.DataFrame) -> str:
    """Markdown: the median B/A ratio per configuration in quiet jobs."""
    if injected.empty:
        return "No quiet job finished, so no effect was measured quietly."
    rows = [
        {
            "injected": _level(r.slowdown),
            "configuration": r.case_id,
            "median B/A (deciding metric)": f"{r.median_ratio:.3f} ({r.metric})",
            "median B/A (other metric)": ""
            if pd.isna(r.median_other_ratio)
            else f"{r.median_other_ratio:.3f}",
            "quiet jobs": str(r.quiet_jobs),
        }
        for r in injected.itertuples()
    ]
    return tabulate(rows, headers="keys", tablefmt="github", disable_numparse=True)


def target_lines(found: Sequence, jobs: pd.DataFrame) -> list[str]:
    """One line per target: met or missed, and by how much."""
    lines = []
    for what, slowdown, wanted, sense in TARGETS:
        rate = next(
            (
                r
                for r in found
                if r.slowdown == slowdown and r.condition == "all" and r.metric == "deciding"
            ),
            None,
        )
        if rate is None:
            lines.append(f"- {what}: not measured (no jobs at {_level(slowdown)}).")
            continue
        met = rate.rate <= wanted if sense == "at most" else rate.rate >= wanted
        observed = (
            f"- {what}: {rate.flagged}/{rate.jobs} = {rate.rate * 100:.0f} % "
            f"[{rate.low * 100:.0f}, {rate.high * 100:.0f}], target {sense} "
            f"{wanted * 100:.0f} % over {TARGET_JOBS} jobs: "
        )
        if not met:
            verdict = f"**missed** by {abs(rate.rate - wanted) * 100:.0f} points"
        elif rate.jobs < TARGET_JOBS:
            verdict = (
                f"**not established**: on target so far, but {rate.jobs} jobs are "
                f"{TARGET_JOBS - rate.jobs} short of the {TARGET_JOBS} the target is stated for"
            )
        else:
            verdict = "**met**"
        lines.append(observed + verdict + ".")
    if not jobs.empty:
        longest = float(jobs["job_s"].max()) / 60
        met = longest <= MAX_JOB_MIN
        lines.append(
            f"- one job at most {MAX_JOB_MIN:g} min: the longest took {longest:.1f} min "
            f"(median {float(jobs['job_s'].median()) / 60:.1f}): **{'met' if met else 'missed'}**."
        )
    return lines


def _loads(jobs: pd.DataFrame) -> str:
    parts = []
    for loaded, name in ((False, "quiet"), (True, "loaded")):
        part = jobs[jobs["loaded"] == loaded]
        if not part.empty:
            parts.append(
                f"{name} jobs {part['load_1min_before'].median():.1f} at the start, "
                f"{part['load_1min_after'].median():.1f} at the end (median)"
            )
    return "; ".join(parts)


def summary_page(jobs: pd.DataFrame, found: Sequence, injected: pd.DataFrame, info: dict) -> str:
    """The study's ``summary.md``: what ran, how busy the machine was, rates, effects, targets."""
    meta = info["metadata"]
    config = info["config"]
    head = (
        "# snnbench noise study\n\n"
        f"{len(jobs)} of {config['jobs'] * len(config['slowdowns'])} planned `snnbench ab` "
        f"jobs finished ({config['jobs']} per injected slowdown, "
        f"{config['load_fraction'] * 100:g} % of them with {config['load_processes']} busy "
        f"processes loading the machine), both sides `{config['spec']}`, "
        f"{info['wall_s'] / 60:.0f} min in all. Machine `{meta['machine_id']}` "
        f"({meta['cpu_model']}, {meta['cpu_count']} cores). "
        f"1-minute load average: {_loads(jobs) if not jobs.empty else 'no job finished'}.\n\n"
        "Command: `" + " ".join(info["command"]) + "`\n\n"
    )
    return (
        head
        + "## Per job: what CI would have seen\n\n"
        + rates_table(found)
        + "\n\n## The same jobs judged by one metric alone (at the same look)\n\n"
        + "Per-call process CPU time (pinned to one core):\n\n"
        + rates_table(found, "cpu")
        + "\n\nWall time:\n\n"
        + rates_table(found, "wall")
        + "\n\n## Targets\n\n"
        + "\n".join(target_lines(found, jobs))
        + "\n\n## The effect actually injected (quiet jobs)\n\n"
        + injected_table(injected)
        + "\n"
    )
