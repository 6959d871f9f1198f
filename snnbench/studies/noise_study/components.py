"""Variance components of ``ab`` rows, and the operating characteristic they predict.

A round of an ``ab`` job is one fresh pair of worker processes, so its log ratio
``d = log(B / A)`` holds the true change, a **job offset** shared by every round
of the job (the two environments, the machine's state over the job) and the
**pair noise** of that round (two processes' own speed and the calls' noise):
``d_jr = delta + b_j + e_jr``. :func:`fit` estimates both per row and load by a
one-way random-effects analysis of variance over the journalled jobs: the pair
noise from the rounds around their own job's mean (every job), the job offset
from how far the A-vs-A jobs' means scatter beyond what the pair noise explains.

:func:`predict` simulates whole jobs from those components with the gate's own
rules (vectorized, and checked against :mod:`snnbench.regress.verdict` by a
test): looks after 8, 12, ... rounds, alpha spent per look, Holm over the rows,
per-phase thresholds, the job stopping at the first conclusive look. It judges
CPU time alone (the campaign's deciding metric); the wall-time rule is not part
of the prediction. :func:`suggest_thresholds` gives each phase the smallest
threshold an unchanged row rules out at the first look in 99 % of jobs.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from snnbench.errors import SnnbenchError
from snnbench.regress.verdict import Criteria

#: The pooled load, beside each load of its own.
ALL_LOADS = "all"
#: Sizes the prediction is made at, as fractions.
SIZES = (0.0, 0.05, 0.10, 0.20)
COMPONENT_COLUMNS = [
    "case_id",
    "backend",
    "phase",
    "load",
    "jobs",
    "null_jobs",
    "rounds",
    "pair_sd",
    "job_sd",
]


def fit(pairs: pd.DataFrame, metric: str = "log_cpu") -> pd.DataFrame:
    """Per row and load (and all loads pooled): pair noise and job offset, as log sd."""
    if pairs.empty:
        return pd.DataFrame(columns=COMPONENT_COLUMNS)
    out = []
    pooled = pairs.assign(load=ALL_LOADS)
    for (case_id, backend, phase, load), part in pd.concat([pairs, pooled]).groupby(
        ["case_id", "backend", "phase", "load"], sort=True
    ):
        pair_sd, job_sd, null_jobs = _components(part, metric)
        out.append(
            {
                "case_id": case_id,
                "backend": backend,
                "phase": phase,
                "load": load,
                "jobs": part["key"].nunique(),
                "null_jobs": null_jobs,
                "rounds": len(part),
                "pair_sd": pair_sd,
                "job_sd": job_sd,
            }
        )
    return pd.DataFrame(out, columns=COMPONENT_COLUMNS)


def _components(part: pd.DataFrame, metric: str) -> tuple[float, float, int]:
    by_job = [(g["slowdown"].iloc[0], g[metric].to_numpy()) for _, g in part.groupby("key")]
    spread = [d for _, d in by_job if d.size >= 2]
    df_within = sum(d.size - 1 for d in spread)
    if not df_within:
        return math.nan, math.nan, 0
    pair_var = float(sum(np.sum((d - d.mean()) ** 2) for d in spread) / df_within)
    null = [d for size, d in by_job if size == 0.0]
    job_sd = math.nan
    if len(null) >= 2:
        means = np.array([d.mean() for d in null])
        sizes = np.array([d.size for d in null])
        # A-vs-A job means scatter around 0 by the job offset plus pair noise / rounds.
        job_sd = math.sqrt(max(0.0, float(np.mean(means**2) - pair_var * np.mean(1.0 / sizes))))
    return math.sqrt(pair_var), job_sd, len(null)


def simulate_outcomes(
    pair_sd: np.ndarray,
    job_sd: np.ndarray,
    true_log: np.ndarray,
    thresholds: np.ndarray,
    looks: tuple[int, ...],
    alpha: float,
    jobs: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Simulated job outcomes (``"regression"``, ``"no regression"``, ``"inconclusive"``).

    Arrays are per row. Each job draws one offset per row and one noise per row and
    round, and is judged at each look in turn by :func:`decide`.
    """
    m, n = pair_sd.size, max(looks)
    offsets = rng.normal(0.0, 1.0, (jobs, m, 1)) * job_sd[None, :, None]
    d = (
        true_log[None, :, None]
        + offsets
        + rng.normal(0.0, 1.0, (jobs, m, n)) * pair_sd[None, :, None]
    )
    outcome = np.full(jobs, "inconclusive", dtype=object)
    open_ = np.ones(jobs, dtype=bool)
    for k, rounds in enumerate(looks, start=1):
        slower, conclusive = decide(d[:, :, :rounds], thresholds, alpha / 2.0**k)
        flagged = open_ & slower.any(axis=1)
        clean = open_ & ~flagged & conclusive.all(axis=1)
        outcome[flagged], outcome[clean] = "regression", "no regression"
        open_ &= ~(flagged | clean)
    return outcome


def decide(d: np.ndarray, thresholds: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """``(slower, conclusive)`` per job and row, for log ratios ``d[job, row, round]``.

    The rules of :func:`snnbench.regress.verdict.judge_rows` on process pairs, by
    CPU time: Holm over the rows, intervals at ``alpha / m``, the thresholds.
    """
    jobs, m, n = d.shape
    mean = d.mean(axis=2)
    se = d.std(axis=2, ddof=1) / math.sqrt(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(se > 0, 2.0 * sps.t.sf(np.abs(mean) / se, n - 1), 1.0)
    order = np.argsort(p, axis=1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=1) * (m - np.arange(m))[None, :]
    ranked = np.minimum(1.0, np.maximum.accumulate(ranked, axis=1))
    p_holm = np.empty_like(p)
    np.put_along_axis(p_holm, order, ranked, axis=1)
    half = sps.t.ppf(1.0 - alpha / m / 2.0, n - 1) * se
    limit = np.log1p(thresholds)[None, :]
    significant = p_holm < alpha
    slower = significant & (mean > limit)
    faster = significant & (mean < -limit)
    no_change = (mean - half >= -limit) & (mean + half <= limit)
    return slower, slower | faster | no_change


def looks_of(options_rounds: int, max_rounds: int) -> tuple[int, ...]:
    """The rounds at which a job looks: the first look, then every 4 rounds."""
    return tuple(range(options_rounds, max_rounds + 1, 4))


def predict(
    fitted: pd.DataFrame,
    criteria: Criteria,
    first_look: int,
    max_rounds: int = 16,
    sizes: tuple[float, ...] = SIZES,
    jobs: int = 4000,
    seed: int = 0,
) -> pd.DataFrame:
    """Predicted per-job outcome rates per load, changed row and true size.

    For a size above 0 one row at a time carries the change and the others none
    (the least favourable case for a job: one slowed row among many).
    """
    columns = ["load", "changed_row", "slowdown", "regression", "no_regression", "inconclusive"]
    usable = fitted.dropna(subset=["pair_sd"])
    out = []
    rng = np.random.default_rng(seed)
    looks = looks_of(first_look, max_rounds)
    for load, part in usable.groupby("load", sort=True):
        pair_sd = part["pair_sd"].to_numpy()
        job_sd = np.nan_to_num(part["job_sd"].to_numpy())
        thresholds = np.array([criteria.threshold_for(p) for p in part["phase"]])
        cases = [("none", -1)] + [(c, i) for i, c in enumerate(part["case_id"])]
        for size in sizes:
            for case_id, index in cases if size > 0 else cases[:1]:
                true_log = np.zeros(len(part))
                if index >= 0:
                    true_log[index] = math.log1p(size)
                found = simulate_outcomes(
                    pair_sd, job_sd, true_log, thresholds, looks, criteria.alpha, jobs, rng
                )
                out.append(
                    {"load": load, "changed_row": case_id, "slowdown": size, **_shares(found)}
                )
    return pd.DataFrame(out, columns=columns)


def _shares(outcomes: np.ndarray) -> dict[str, float]:
    """The share of simulated jobs ending in each outcome, as table columns."""
    return {
        "regression": float(np.mean(outcomes == "regression")),
        "no_regression": float(np.mean(outcomes == "no regression")),
        "inconclusive": float(np.mean(outcomes == "inconclusive")),
    }


def predict_cells(
    fitted: pd.DataFrame,
    injected: pd.DataFrame,
    criteria: Criteria,
    first_look: int,
    max_rounds: int = 16,
    jobs: int = 4000,
    seed: int = 1,
) -> pd.DataFrame:
    """Predicted per-job rates of every campaign cell, to check against the jobs.

    A cell's true change per row is the effect its quiet jobs measured
    (``injected``: the median B/A per row); A vs A changes nothing. Each load uses
    its own fitted components.
    """
    columns = ["kind", "slowdown", "load", "regression", "no_regression", "inconclusive"]
    usable = fitted[fitted["load"] != ALL_LOADS].dropna(subset=["pair_sd"])
    cells = [("none", 0.0, {})]
    for (kind, size), part in injected.groupby(["kind", "slowdown"], sort=True):
        if size > 0:
            cells.append(
                (kind, size, dict(zip(part["case_id"], part["median_ratio"], strict=True)))
            )
    rng = np.random.default_rng(seed)
    looks = looks_of(first_look, max_rounds)
    out = []
    for load, part in usable.groupby("load", sort=True):
        thresholds = np.array([criteria.threshold_for(p) for p in part["phase"]])
        for kind, size, ratios in cells:
            true_log = np.log([ratios.get(c, 1.0) for c in part["case_id"]])
            found = simulate_outcomes(
                part["pair_sd"].to_numpy(),
                np.nan_to_num(part["job_sd"].to_numpy()),
                true_log,
                thresholds,
                looks,
                criteria.alpha,
                jobs,
                rng,
            )
            out.append({"kind": kind, "slowdown": size, "load": load, **_shares(found)})
    return pd.DataFrame(out, columns=columns)


def suggest_thresholds(
    fitted: pd.DataFrame, criteria: Criteria, first_look: int, coverage: float = 0.99
) -> pd.DataFrame:
    """Per phase: the smallest whole-percent threshold an unchanged row rules out at the
    first look in ``coverage`` of jobs, under the noisiest load and backend measured.

    "No change" needs ``|mean| + t * se <= log(1 + threshold)``, with the mean spread
    by the job offset and the pair noise, ``se`` by the pair noise alone.
    """
    columns = ["phase", "threshold_pct", "worst_case", "worst_load", "pair_sd", "job_sd"]
    usable = fitted[(fitted["load"] != ALL_LOADS)].dropna(subset=["pair_sd"])
    if usable.empty:
        return pd.DataFrame(columns=columns)
    n, m = first_look, usable.groupby("load")["case_id"].nunique().max()
    t_crit = sps.t.ppf(1.0 - criteria.alpha / 2.0 / m / 2.0, n - 1)
    z = sps.norm.ppf(0.5 + coverage / 2.0)
    need = usable.assign(
        log_limit=lambda f: (
            z * np.sqrt(np.nan_to_num(f["job_sd"]) ** 2 + f["pair_sd"] ** 2 / n)
            + t_crit * f["pair_sd"] / math.sqrt(n)
        )
    )
    out = []
    for phase, part in need.groupby("phase", sort=True):
        worst = part.loc[part["log_limit"].idxmax()]
        out.append(
            {
                "phase": phase,
                "threshold_pct": float(math.ceil(math.expm1(worst["log_limit"]) * 100)),
                "worst_case": worst["case_id"],
                "worst_load": worst["load"],
                "pair_sd": worst["pair_sd"],
                "job_sd": worst["job_sd"],
            }
        )
    return pd.DataFrame(out, columns=columns)


def read_thresholds(path: Path | str) -> tuple[tuple[str, float], ...]:
    """``(phase, percent)`` pairs from a noise study's ``thresholds.csv`` (or its folder).

    Raises:
        SnnbenchError: naming ``--thresholds-from`` and the file, if it is missing or
            damaged (no ``phase`` / ``threshold_pct`` columns, a bad phase or number).
    """
    from snnbench.measure.phases import Phase
    from snnbench.measure.storage import TABLES

    file = Path(path)
    if file.is_dir():
        file = file / TABLES["noise_thresholds"]
    try:
        table = pd.read_csv(file)
        pairs = tuple(
            (Phase.parse(str(r.phase), "phase").value, float(r.threshold_pct))
            for r in table.itertuples()
        )
    except (OSError, ValueError, AttributeError, SnnbenchError) as error:
        reason = getattr(error, "strerror", None) or str(error).splitlines()[0]
        raise SnnbenchError(
            f"`--thresholds-from` must be a noise study's thresholds.csv (phase, "
            f"threshold_pct) or its folder; {file}: {reason}",
            argument="thresholds_from",
        ) from None
    if not pairs or not all(math.isfinite(pct) and pct >= 0 for _, pct in pairs):
        raise SnnbenchError(
            f"`--thresholds-from`: {file} holds no usable thresholds (percentages >= 0)",
            argument="thresholds_from",
        )
    return pairs
