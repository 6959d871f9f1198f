"""Per-job rates of the noise study, and the effects it actually injected (pure functions).

A rate counts *jobs*, because a CI job fails as a whole: an A-vs-A job with
one slower row among its 8 is one false alarm. Intervals are Clopper-Pearson
(exact) 95 %.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pandas as pd

from snnbench.regress import stats
from snnbench.regress.compare import CLEAN, REGRESSION, UNDECIDED

#: Load conditions a rate is reported for.
CONDITIONS = ("all", "quiet", "loaded")


@dataclass(frozen=True)
class Rate:
    """How often jobs of one slowdown and load condition ended in a regression.

    ``flagged`` jobs ended in a regression (for A vs A: false alarms; else
    detections), ``inconclusive`` ones could not decide, ``clean`` ones found none.
    """

    slowdown: float
    condition: str
    metric: str
    jobs: int
    flagged: int
    inconclusive: int
    clean: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.flagged / self.jobs

    @property
    def kind(self) -> str:
        return "false alarms" if self.slowdown == 0 else "detections"


#: Which outcome column a rate counts: the job's own (its deciding metric), or the
#: same job judged by CPU time or wall time alone.
OUTCOMES = {"deciding": "outcome", "cpu": "outcome_cpu", "wall": "outcome_wall"}


def job_rates(jobs: pd.DataFrame) -> list[Rate]:
    """Rates per slowdown, load condition (all, quiet, loaded) and metric."""
    out = []
    if jobs.empty:
        return out
    for slowdown in sorted(jobs["slowdown"].unique()):
        level = jobs[jobs["slowdown"] == slowdown]
        for metric, condition in itertools.product(OUTCOMES, CONDITIONS):
            loaded = level["loaded"].astype(bool)
            part = level if condition == "all" else level[loaded == (condition == "loaded")]
            if part.empty or OUTCOMES[metric] not in part.columns:
                continue
            outcomes = part[OUTCOMES[metric]].tolist()
            flagged = outcomes.count(REGRESSION)
            low, high = stats.proportion_interval(flagged, len(outcomes))
            out.append(
                Rate(
                    float(slowdown),
                    condition,
                    metric,
                    len(outcomes),
                    flagged,
                    outcomes.count(UNDECIDED),
                    outcomes.count(CLEAN),
                    low,
                    high,
                )
            )
    return out


def injected_effects(rows: pd.DataFrame) -> pd.DataFrame:
    """Per slowdown and configuration: the median ratio B/A in *quiet* jobs.

    That is the effect the knob really injected, measured without load: the
    deciding metric's ratio and the other metric's, with how many jobs it rests on.
    """
    columns = ["slowdown", "case_id", "metric", "quiet_jobs", "median_ratio", "median_other_ratio"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    quiet = rows[(~rows["loaded"].astype(bool)) & rows["ratio"].notna()]
    if quiet.empty:
        return pd.DataFrame(columns=columns)
    grouped = quiet.groupby(["slowdown", "case_id", "metric"], sort=True)
    out = grouped.agg(
        quiet_jobs=("index", "nunique"),
        median_ratio=("ratio", "median"),
        median_other_ratio=("other_ratio", "median"),
    ).reset_index()
    return out[columns]
