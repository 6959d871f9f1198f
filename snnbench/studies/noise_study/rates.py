"""Per-job rates of the noise study, and the effects it actually injected (pure functions).

A rate counts *jobs*, because a CI job fails as a whole: an A-vs-A job with
one slower row among its 13 is one false alarm. Intervals are Clopper-Pearson
(exact) 95 %. A cell is one kind of regression, one size and one load; "all"
pools a cell's loads.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from snnbench.regress import stats
from snnbench.regress.compare import CLEAN, REGRESSION, UNDECIDED

#: The pooled load condition, beside each load of its own.
ALL_LOADS = "all"


@dataclass(frozen=True)
class Rate:
    """How often jobs of one cell ended in a regression.

    ``flagged`` jobs ended in a regression (for A vs A: false alarms; else
    detections), ``inconclusive`` ones could not decide, ``clean`` ones found none.
    """

    regression: str
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
    def counts_as(self) -> str:
        return "false alarms" if self.slowdown == 0 else "detections"


#: Which outcome column a rate counts: the job's own (its deciding metric), or the
#: same job judged by CPU time or wall time alone.
OUTCOMES = {"deciding": "outcome", "cpu": "outcome_cpu", "wall": "outcome_wall"}


def job_rates(jobs: pd.DataFrame) -> list[Rate]:
    """Rates per cell (kind, size, load and all loads pooled) and metric."""
    if jobs.empty:
        return []
    out = []
    for (kind, slowdown), cell in jobs.groupby(["kind", "slowdown"], sort=True):
        conditions = [(ALL_LOADS, cell)] + list(cell.groupby("load", sort=True))
        for metric, column in OUTCOMES.items():
            for condition, part in conditions:
                if column in part.columns:
                    out.append(_rate(kind, slowdown, condition, metric, part[column].tolist()))
    return out


def _rate(kind: str, slowdown: float, condition: str, metric: str, outcomes: list) -> Rate:
    flagged = outcomes.count(REGRESSION)
    low, high = stats.proportion_interval(flagged, len(outcomes))
    return Rate(
        kind,
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


def injected_effects(rows: pd.DataFrame) -> pd.DataFrame:
    """Per kind, size and configuration: the median ratio B/A in *quiet* jobs.

    That is the effect the knob really injected, measured without load: the
    deciding metric's ratio and the other metric's, with how many jobs it rests on.
    """
    keys = ["kind", "slowdown", "case_id", "metric"]
    columns = [*keys, "quiet_jobs", "median_ratio", "median_other_ratio"]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    quiet = rows[(rows["load"] == "quiet") & rows["ratio"].notna()]
    if quiet.empty:
        return pd.DataFrame(columns=columns)
    out = (
        quiet.groupby(keys, sort=True)
        .agg(
            quiet_jobs=("key", "nunique"),
            median_ratio=("ratio", "median"),
            median_other_ratio=("other_ratio", "median"),
        )
        .reset_index()
    )
    return out[columns]
