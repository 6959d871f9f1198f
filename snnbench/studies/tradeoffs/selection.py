"""From fidelity and cost to a choice: the cost table, Pareto fronts, the budget's pick."""

from __future__ import annotations

import math

import pandas as pd

from snnbench.studies.tradeoffs.grid import COST_PHASES, Budget


def cost_frame(bench: pd.DataFrame) -> pd.DataFrame:
    """Median seconds per phase for each (backend, precision, dt) from benchmark rows."""
    ok = bench[bench["status"] == "ok"]
    keys = ["backend", "precision", "dt_ms"]
    wide = ok.pivot_table(index=keys, columns="phase", values="median_s", aggfunc="first")
    wide = wide.reindex(columns=[p.value for p in COST_PHASES])
    wide.columns = [f"{phase}_s" for phase in wide.columns]
    noisy = (
        ok[ok["phase"].isin(["forward", "grad_step"])]
        .groupby(keys)["noisy"]
        .apply(lambda s: bool(s.fillna(False).astype(bool).any()))
    )
    wide["cost_noisy"] = noisy
    failed = bench[bench["status"] != "ok"].groupby(keys)["reason"].first()
    wide = wide.join(failed.rename("cost_failure"), how="outer")
    return wide.reset_index()


def pareto_front(frame: pd.DataFrame, cost_column: str, error_column: str) -> pd.Series:
    """True for rows no other row beats on both cost and error (lower is better for both)."""
    flags = pd.Series(False, index=frame.index)
    valid = frame.dropna(subset=[cost_column, error_column])
    best = math.inf
    for index, row in valid.sort_values([cost_column, error_column]).iterrows():
        if row[error_column] < best:
            flags[index] = True
            best = row[error_column]
    return flags


#: The budget's metrics, and the table column that says whether their reference converged.
_BUDGET_METRICS = (
    ("max_voltage_rmse_mv", "voltage_rmse_mv"),
    ("min_grad_cosine", "grad_cosine"),
)


def budget_caveats(row: pd.Series, budget: Budget) -> str:
    """The budget metrics of ``row`` that were judged against an unconverged reference."""
    out = []
    for limit, metric in _BUDGET_METRICS:
        converged = row.get(f"{metric}_reference_converged")
        if getattr(budget, limit) is not None and converged is not None and not bool(converged):
            out.append(metric)
    return ", ".join(out)


def add_selection(
    frame: pd.DataFrame, budget: Budget, trained_backends: tuple[str, ...] | None = None
) -> pd.DataFrame:
    """Pareto flags, budget verdicts and the chosen (fastest within budget) row.

    ``budget_caveats`` names the budget metrics judged against a reference that
    has not converged (the verdict stands, relative to that reference only).

    ``trained_backends``: backends whose points were trained (``None``: all); the
    accuracy limit applies only to those.
    """
    frame = frame.copy()
    cost = budget.cost_column
    frame["grad_angle_error"] = 1.0 - frame["grad_cosine"]
    # Each surrogate's errors are against its own reference: one front per surrogate.
    groups = frame.groupby("surrogate", sort=False) if "surrogate" in frame else [(None, frame)]
    for column, error in (("pareto_voltage", "voltage_rmse_mv"), ("pareto_grad", "grad_rel_error")):
        frame[column] = False
        for _, group in groups:
            frame.loc[group.index, column] = pareto_front(group, cost, error)
    frame["budget_caveats"] = [budget_caveats(row, budget) for _, row in frame.iterrows()]
    failures = [
        budget.failures(row, trained_backends is None or row["backend"] in trained_backends)
        for _, row in frame.iterrows()
    ]
    frame["meets_budget"] = [not f for f in failures]
    frame["budget_failures"] = ["; ".join(f) for f in failures]
    frame["chosen"] = False
    within = frame[frame["meets_budget"]]
    if not within.empty:
        frame.loc[within[cost].idxmin(), "chosen"] = True
    ref_cost = frame[frame["is_reference"]].groupby("backend")[cost].first()
    frame["speedup_vs_reference"] = frame["backend"].map(ref_cost) / frame[cost]
    return frame
