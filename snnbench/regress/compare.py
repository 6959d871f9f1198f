"""Regression verdicts: match two sets of benchmark rows by configuration and judge each.

A configuration is *slower* (a regression) only when the candidate is
significantly slower -- a Mann-Whitney U test at ``alpha`` *and* a bootstrap
interval of the Hodges-Lehmann ratio that excludes 1 -- *and* that ratio
exceeds ``1 + threshold``. It is *faster* under the mirror rule
(``ratio < 1 / (1 + threshold)``). Everything else is *no change*; a
configuration that was skipped or failed on either side is *not comparable*.

Noise-free columns (:data:`snnbench.measure.records.EXACT_METRICS`) are compared exactly.
Building the comparison lives here; :mod:`snnbench.render.compare_text` renders it.
Checks return verdicts; the CLI decides exit codes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from snnbench.errors import SnnbenchError, expect
from snnbench.measure.phases import DISPLAY_ORDER, Phase
from snnbench.measure.records import EXACT_METRICS, SCALING_DEFAULTS, CaseSpec
from snnbench.measure.shards import describe_missing
from snnbench.regress import stats

#: Columns that identify one configuration and phase.
KEY_COLUMNS = ("backend", "phase", "batch_size", "precision", "platform", "dt_ms", "t_max_ms")
REQUIRED_COLUMNS = (*KEY_COLUMNS, "status", "samples_json")

SLOWER, FASTER, NO_CHANGE, NOT_COMPARABLE = "slower", "faster", "no change", "not comparable"
VERDICTS = (SLOWER, FASTER, NO_CHANGE, NOT_COMPARABLE)

DEFAULT_THRESHOLD_PCT = 10.0


@dataclass(frozen=True)
class Policy:
    """When a difference counts.

    Attributes:
        threshold_pct: a change smaller than this (percent of the baseline
            median) is never a verdict, however significant.
        phase_threshold_pct: per-phase overrides, ``(phase, percent)`` pairs.
        alpha: significance level of the rank test.
        confidence: confidence of the bootstrap interval of the ratio.
        n_resamples: bootstrap resamples.
        seed: bootstrap seed (the same seed gives the same table).
    """

    threshold_pct: float = DEFAULT_THRESHOLD_PCT
    phase_threshold_pct: tuple[tuple[str, float], ...] = ()
    alpha: float = stats.DEFAULT_ALPHA
    confidence: float = stats.DEFAULT_CONFIDENCE
    n_resamples: int = stats.DEFAULT_RESAMPLES
    seed: int = 0

    def __post_init__(self) -> None:
        expect(
            _percentage(self.threshold_pct),
            "threshold_pct",
            "a percentage >= 0",
            self.threshold_pct,
        )
        for phase, pct in self.phase_threshold_pct:
            Phase.parse(phase, "phase_threshold_pct")
            expect(_percentage(pct), "phase_threshold_pct", "percentages >= 0", pct)
        expect(0.0 < self.alpha < 1.0, "alpha", "a number in (0, 1)", self.alpha)

    def threshold_for(self, phase: str) -> float:
        """The threshold of ``phase`` as a fraction (10 % -> 0.10)."""
        return dict(self.phase_threshold_pct).get(phase, self.threshold_pct) / 100.0


@dataclass(frozen=True)
class Verdict:
    """The statistical verdict on one configuration's two sets of samples."""

    verdict: str
    ratio: float | None = None
    ratio_low: float | None = None
    ratio_high: float | None = None
    p_value: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class Side:
    """One configuration's samples on one side, pooled over every run of it."""

    samples_s: tuple[float, ...]
    n_runs: int
    problem: str = ""  # why it is not comparable ("" when every run was ok)
    runs: tuple[tuple[float, ...], ...] = ()  # the same samples, grouped by run

    @property
    def median_s(self) -> float | None:
        return float(pd.Series(self.samples_s).median()) if self.samples_s else None


@dataclass(frozen=True)
class RowComparison:
    """One configuration matched across baseline and candidate."""

    spec: CaseSpec
    baseline: Side
    candidate: Side
    threshold: float
    verdict: Verdict

    @property
    def regression(self) -> bool:
        return self.verdict.verdict == SLOWER


@dataclass(frozen=True)
class ExactComparison:
    """One noise-free metric of one configuration, compared exactly."""

    spec: CaseSpec
    metric: str
    baseline: float
    candidate: float

    @property
    def changed(self) -> bool:
        return self.baseline != self.candidate

    @property
    def increased(self) -> bool:
        return self.candidate > self.baseline


@dataclass(frozen=True)
class Comparison:
    """Every matched configuration, the exact metrics, and what did not match."""

    baseline_label: str
    candidate_label: str
    policy: Policy
    rows: tuple[RowComparison, ...]
    exact: tuple[ExactComparison, ...] = ()
    only_baseline: tuple[CaseSpec, ...] = ()
    only_candidate: tuple[CaseSpec, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def regressions(self) -> tuple[RowComparison, ...]:
        return tuple(r for r in self.rows if r.regression)

    def counts(self) -> dict[str, int]:
        """How many rows got each verdict."""
        return {v: sum(r.verdict.verdict == v for r in self.rows) for v in VERDICTS}


def _percentage(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value >= 0


def judge(
    baseline_s,
    candidate_s,
    threshold: float,
    policy: Policy | None = None,
    baseline_runs=None,
    candidate_runs=None,
) -> Verdict:
    """The verdict on two sets of per-call seconds, ``threshold`` a fraction.

    Significant means: Mann-Whitney U ``p < alpha`` and the bootstrap interval of
    the ratio of medians excludes 1. When the samples come in several runs
    (``*_runs``: the same samples, grouped), the interval resamples runs first,
    so that a difference between runs of one side is not mistaken for a change.
    """
    policy = policy or Policy()
    if len(baseline_s) == 0 or len(candidate_s) == 0:
        return Verdict(NOT_COMPARABLE, detail="no samples")
    interval = stats.bootstrap_hodges_lehmann_ratio(
        baseline_runs or [baseline_s],
        candidate_runs or [candidate_s],
        policy.confidence,
        policy.n_resamples,
        policy.seed,
    )
    test = stats.mann_whitney_u(baseline_s, candidate_s)
    found = dict(
        ratio=interval.ratio, ratio_low=interval.low, ratio_high=interval.high, p_value=test.p_value
    )
    change = f"{(interval.ratio - 1) * 100:+.1f} %"
    if test.min_p_value >= policy.alpha:
        return Verdict(
            NO_CHANGE,
            **found,
            detail=(
                f"too few samples to test ({len(baseline_s)} vs {len(candidate_s)}; "
                f"smallest p = {test.min_p_value:.2g})"
            ),
        )
    if test.p_value >= policy.alpha:
        return Verdict(
            NO_CHANGE, **found, detail=f"{change}, not significant (p = {test.p_value:.2g})"
        )
    if not interval.excludes_one():
        why = ": runs disagree" if _several(baseline_runs, candidate_runs) else ""
        return Verdict(
            NO_CHANGE, **found, detail=f"{change}, not significant (interval includes 1{why})"
        )
    if interval.ratio > 1.0 + threshold:
        return Verdict(SLOWER, **found, detail=f"{change}, beyond {threshold * 100:g} %")
    if interval.ratio < 1.0 / (1.0 + threshold):
        return Verdict(FASTER, **found, detail=f"{change}, beyond {threshold * 100:g} %")
    return Verdict(
        NO_CHANGE, **found, detail=f"{change}, significant but within {threshold * 100:g} %"
    )


def compare_frames(
    baseline: pd.DataFrame,
    candidate: pd.DataFrame,
    policy: Policy | None = None,
    labels: tuple[str, str] = ("baseline", "candidate"),
) -> Comparison:
    """Match rows of two result tables by configuration and judge each match.

    Several runs of one configuration on one side (rounds of an A/B run, repeated
    CI runs, the shards of one campaign) are pooled: their samples are
    concatenated. A side that is a sharded campaign missing some shards gets a
    note naming them.

    Raises:
        SnnbenchError: if a table lacks the columns this needs, or the two share
            no configuration.
    """
    policy = policy or Policy()
    for frame, label in ((baseline, labels[0]), (candidate, labels[1])):
        _check_columns(frame, label)
    sides_a, sides_b = _sides(baseline), _sides(candidate)
    shared = [k for k in sides_a if k in sides_b]
    if not shared:
        raise SnnbenchError(
            f"`{labels[0]}` and `{labels[1]}` share no configuration ({len(sides_a)} vs "
            f"{len(sides_b)} configurations; e.g. {_describe(next(iter(sides_a), None))} vs "
            f"{_describe(next(iter(sides_b), None))}); run both with the same matrix options."
        )
    rows = tuple(_row(spec, sides_a[spec], sides_b[spec], policy) for spec in _ordered(shared))
    return Comparison(
        baseline_label=labels[0],
        candidate_label=labels[1],
        policy=policy,
        rows=rows,
        exact=_exact(baseline, candidate, rows),
        only_baseline=tuple(_ordered([k for k in sides_a if k not in sides_b])),
        only_candidate=tuple(_ordered([k for k in sides_b if k not in sides_a])),
        notes=tuple(
            f"{label}: {line}"
            for frame, label in ((baseline, labels[0]), (candidate, labels[1]))
            for line in describe_missing(frame)
        ),
    )


def _check_columns(frame: pd.DataFrame, label: str) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise SnnbenchError(
            f"`{label}` lacks columns {', '.join(missing)} (schema mismatch: not a table written "
            "by `snnbench bench`); point it at a run folder or its benchmark.csv."
        )


def _describe(spec: CaseSpec | None) -> str:
    return spec.case_id if spec is not None else "nothing"


def spec_of(row: Mapping) -> CaseSpec:
    """The configuration of a table row (floats rounded so CSV round trips match).

    A row without the device-count columns (written before they existed, or
    read back with an empty cell) ran on one device in one process.
    """
    layout = {}
    for name in ("devices", "scaling", "processes", "data_parallel"):
        value, default = row.get(name), SCALING_DEFAULTS[name]
        missing = value is None or (not isinstance(value, str) and pd.isna(value))
        layout[name] = default if missing else type(default)(value)
    return CaseSpec(
        backend=str(row["backend"]),
        phase=str(row["phase"]),
        batch_size=int(row["batch_size"]),
        precision=str(row["precision"]),
        platform=str(row["platform"]),
        dt_ms=round(float(row["dt_ms"]), 12),
        t_max_ms=round(float(row["t_max_ms"]), 12),
        **layout,
    )


def _sides(frame: pd.DataFrame) -> dict[CaseSpec, Side]:
    grouped: dict[CaseSpec, list[Mapping]] = {}
    for row in frame.to_dict("records"):
        grouped.setdefault(spec_of(row), []).append(row)
    return {spec: _side(rows) for spec, rows in grouped.items()}


def _side(rows: list[Mapping]) -> Side:
    runs: list[tuple[float, ...]] = []
    problems = []
    for row in rows:
        if row["status"] != "ok":
            reason = row.get("reason")
            reason = reason if isinstance(reason, str) and reason else "no reason given"
            problems.append(f"{row['status']}: {reason}")
            continue
        runs.append(tuple(float(s) for s in json.loads(row["samples_json"])))
    if problems:
        prefix = f"{len(problems)} of {len(rows)} runs " if len(rows) > 1 else ""
        return Side((), len(rows), prefix + problems[0])
    runs = [r for r in runs if r]
    return Side(tuple(s for r in runs for s in r), len(rows), runs=tuple(runs))


def _row(spec: CaseSpec, a: Side, b: Side, policy: Policy) -> RowComparison:
    threshold = policy.threshold_for(spec.phase)
    if a.problem or b.problem:
        if a.problem == b.problem:
            detail = f"both {a.problem}"
        else:
            detail = "; ".join(
                f"{name} {side.problem}"
                for name, side in (("baseline", a), ("candidate", b))
                if side.problem
            )
        verdict = Verdict(NOT_COMPARABLE, detail=detail)
    else:
        verdict = judge(a.samples_s, b.samples_s, threshold, policy, a.runs, b.runs)
    return RowComparison(spec, a, b, threshold, verdict)


def _ordered(specs: list[CaseSpec]) -> list[CaseSpec]:
    def key(s: CaseSpec) -> tuple:
        return (
            s.platform,
            s.precision,
            s.scaling,
            s.backend,
            s.batch_size,
            s.dt_ms,
            s.t_max_ms,
            s.devices,
            s.processes,
            DISPLAY_ORDER.index(s.phase),
            s.phase,
            s.data_parallel,
        )

    return sorted(specs, key=key)


def _exact(
    baseline: pd.DataFrame, candidate: pd.DataFrame, rows: tuple[RowComparison, ...]
) -> tuple[ExactComparison, ...]:
    metrics = [m for m in EXACT_METRICS if m in baseline.columns and m in candidate.columns]
    if not metrics:
        return ()
    values_a, values_b = _exact_values(baseline, metrics), _exact_values(candidate, metrics)
    out = []
    for row in rows:
        if row.verdict.verdict == NOT_COMPARABLE:
            continue
        for metric in metrics:
            a, b = values_a.get((row.spec, metric)), values_b.get((row.spec, metric))
            if a is not None and b is not None:
                out.append(ExactComparison(row.spec, metric, a, b))
    return tuple(out)


def _exact_values(frame: pd.DataFrame, metrics: list[str]) -> dict[tuple, float]:
    out = {}
    for row in frame[frame["status"] == "ok"].to_dict("records"):
        for metric in metrics:
            value = row.get(metric)
            if value is not None and not pd.isna(value):
                out[(spec_of(row), metric)] = float(value)
    return out


def version_key(value: object) -> tuple:
    """Sort key that orders ``0.9.0`` before ``0.13.0`` (numbers compared as numbers)."""
    return tuple(
        (0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.\-+_]", str(value)) if p
    )


def compare_by(frame: pd.DataFrame, column: str, policy: Policy | None = None) -> list[Comparison]:
    """Each value of ``column`` (e.g. ``jaxley_version``) against the one before it.

    Values are ordered as versions; the rows of one value are pooled.

    Raises:
        SnnbenchError: if ``column`` is missing or holds fewer than two values.
    """
    if column not in frame.columns:
        raise SnnbenchError(
            f"`by` must name a column of the results; got {column!r} "
            f"(columns include jaxley_version, jax_version, git_commit)",
            argument="by",
        )
    values = sorted(frame[column].dropna().astype(str).unique(), key=version_key)
    if len(values) < 2:
        raise SnnbenchError(
            f"`by` ({column}) needs results with at least two values; got "
            f"{values or 'none'}; run `nox -s history` for one run per release.",
            argument="by",
        )
    by_value = {v: frame[frame[column].astype(str) == v] for v in values}
    return [
        compare_frames(
            by_value[old], by_value[new], policy, labels=(f"{column} {old}", f"{column} {new}")
        )
        for old, new in zip(values, values[1:], strict=False)
    ]


def _several(*runs) -> bool:
    return any(r is not None and len(r) > 1 for r in runs)
