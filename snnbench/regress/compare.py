"""Regression verdicts: match two sets of benchmark rows by configuration and judge them.

Rows are matched on their configuration; several runs of one configuration on
one side (rounds of an A/B run, repeated CI runs) are pooled. Before judging,
:mod:`snnbench.regress.drift` refuses sides that mix machines, policies or
library versions, and lists what differs besides the code; the verdicts
themselves (:mod:`snnbench.regress.verdict`) are made for all rows of the job
together. Noise-free columns (:data:`snnbench.measure.records.EXACT_METRICS`)
are compared exactly. Rendering lives in :mod:`snnbench.render.compare_text`;
the CLI turns :meth:`Comparison.outcome` into an exit code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

from snnbench.errors import SnnbenchError
from snnbench.measure.phases import DISPLAY_ORDER
from snnbench.measure.records import EXACT_METRICS, CaseSpec
from snnbench.measure.shards import describe_missing
from snnbench.regress import drift
from snnbench.regress.sides import Side, sides_of, spec_of
from snnbench.regress.verdict import (
    FASTER,
    INCONCLUSIVE,
    NO_CHANGE,
    NOT_COMPARABLE,
    SLOWER,
    VERDICTS,
    Criteria,
    Verdict,
    judge_rows,
)

__all__ = [
    "FASTER",
    "INCOMPARABLE",
    "INCONCLUSIVE",
    "KEY_COLUMNS",
    "NO_CHANGE",
    "NOT_COMPARABLE",
    "REGRESSION",
    "SLOWER",
    "VERDICTS",
    "Comparison",
    "Criteria",
    "RowComparison",
    "Verdict",
    "compare_by",
    "compare_frames",
    "outcome_of",
    "spec_of",
    "version_key",
]

#: Columns that identify one configuration and phase.
KEY_COLUMNS = (
    "backend",
    "phase",
    "batch_size",
    "precision",
    "platform",
    "dt_ms",
    "t_max_ms",
    "n_input",
    "n_hidden",
)
#: Rows written before the network-size axis lack its columns (read as the tutorial's).
REQUIRED_COLUMNS = (*KEY_COLUMNS[:-2], "status", "samples_json")
#: Outcomes of a whole comparison, worst first.
REGRESSION, UNDECIDED, CLEAN = "regression", "inconclusive", "no regression"
#: Some row could not be judged (a side failed on both, or lacks the metric): never clean.
INCOMPARABLE = "not comparable"


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

    @property
    def lost(self) -> bool:
        """The baseline measured it and the candidate did not (failed, crashed, skipped)."""
        return self.baseline.ok and not self.candidate.ok

    def median_s(self, side: str) -> float | None:
        """The median of the deciding metric (wall time when none decided) on ``side``."""
        metric = self.verdict.metric or "wall"
        return (self.baseline if side == "baseline" else self.candidate).median_s(metric)


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
    criteria: Criteria
    rows: tuple[RowComparison, ...]
    exact: tuple[ExactComparison, ...] = ()
    only_baseline: tuple[CaseSpec, ...] = ()
    only_candidate: tuple[CaseSpec, ...] = ()
    context: drift.Context = field(default_factory=drift.Context)
    #: Further notes for the page (e.g. the shards a campaign is missing).
    notes: tuple[str, ...] = ()

    @property
    def regressions(self) -> tuple[RowComparison, ...]:
        return tuple(r for r in self.rows if r.regression)

    @property
    def lost(self) -> tuple[RowComparison, ...]:
        """Rows the candidate failed, crashed on or skipped while the baseline measured them."""
        return tuple(r for r in self.rows if r.lost)

    def counts(self) -> dict[str, int]:
        """How many rows got each verdict."""
        return {v: sum(r.verdict.verdict == v for r in self.rows) for v in VERDICTS}

    def metrics(self) -> dict[str, int]:
        """How many rows each metric decided."""
        out: dict[str, int] = {}
        for row in self.rows:
            if row.verdict.metric:
                out[row.verdict.metric] = out.get(row.verdict.metric, 0) + 1
        return out

    def outcome(self) -> str:
        """``REGRESSION`` (a slower, lost or missing row), ``UNDECIDED``, ``INCOMPARABLE``
        (a row neither side could be judged on) or ``CLEAN``."""
        if self.regressions or self.lost or self.only_baseline:
            return REGRESSION
        if any(r.verdict.verdict == INCONCLUSIVE for r in self.rows):
            return UNDECIDED
        if any(r.verdict.verdict == NOT_COMPARABLE for r in self.rows):
            return INCOMPARABLE
        return CLEAN


def outcome_of(comparisons: list[Comparison] | tuple[Comparison, ...]) -> str:
    """The worst outcome of several comparisons (``compare --by`` steps)."""
    found = {c.outcome() for c in comparisons}
    return next((o for o in (REGRESSION, UNDECIDED, INCOMPARABLE) if o in found), CLEAN)


def compare_frames(
    baseline: pd.DataFrame,
    candidate: pd.DataFrame,
    policy: Criteria | None = None,
    labels: tuple[str, str] = ("baseline", "candidate"),
    allow_machine_change: bool = False,
    by: str = "",
) -> Comparison:
    """Match rows of two result tables by configuration and judge all matches together.

    Several runs of one configuration on one side (rounds of an A/B run, repeated
    CI runs, the shards of one campaign) are pooled. A side that is a sharded
    campaign missing some shards gets a note naming them.

    Raises:
        SnnbenchError: if a table lacks the columns this needs, a side mixes
            machines or versions, the sides come from different machines (unless
            ``allow_machine_change``), or the two share no configuration.
    """
    policy = policy or Criteria()
    for frame, label in ((baseline, labels[0]), (candidate, labels[1])):
        _check_columns(frame, label)
    context = drift.check_context(baseline, candidate, labels, allow_machine_change, by)
    sides_a, sides_b = sides_of(baseline), sides_of(candidate)
    shared = _ordered([k for k in sides_a if k in sides_b])
    if not shared:
        raise SnnbenchError(
            f"`{labels[0]}` and `{labels[1]}` share no configuration ({len(sides_a)} vs "
            f"{len(sides_b)} configurations; e.g. {_describe(next(iter(sides_a), None))} vs "
            f"{_describe(next(iter(sides_b), None))}); run both with the same matrix options."
        )
    yardsticks = tuple(
        tuple(y for s in shared for y in sides[s].yardsticks_s) for sides in (sides_a, sides_b)
    )
    verdicts = judge_rows(
        [(str(s.phase), s.platform, sides_a[s], sides_b[s]) for s in shared], policy, yardsticks
    )
    rows = tuple(
        RowComparison(spec, sides_a[spec], sides_b[spec], policy.threshold_for(spec.phase), v)
        for spec, v in zip(shared, verdicts, strict=True)
    )
    return Comparison(
        baseline_label=labels[0],
        candidate_label=labels[1],
        criteria=policy,
        rows=rows,
        exact=_exact(baseline, candidate, rows),
        only_baseline=tuple(_ordered([k for k in sides_a if k not in sides_b])),
        only_candidate=tuple(_ordered([k for k in sides_b if k not in sides_a])),
        context=context,
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


def _ordered(specs: list[CaseSpec]) -> list[CaseSpec]:
    def key(s: CaseSpec) -> tuple:
        return (
            s.platform,
            s.precision,
            s.scaling,
            s.backend,
            s.batch_size,
            s.n_input,
            s.n_hidden,
            s.dt_ms,
            s.t_max_ms,
            s.n_input,
            s.n_hidden,
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


def compare_by(
    frame: pd.DataFrame,
    column: str,
    policy: Criteria | None = None,
    allow_machine_change: bool = False,
) -> list[Comparison]:
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
            by_value[old],
            by_value[new],
            policy,
            labels=(f"{column} {old}", f"{column} {new}"),
            allow_machine_change=allow_machine_change,
            by=column,
        )
        for old, new in zip(values, values[1:], strict=False)
    ]
