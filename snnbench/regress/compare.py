"""Regression verdicts: match two sets of benchmark rows by configuration and judge them.

Rows are matched on their configuration; several runs of one configuration on
one side (rounds of an A/B run, repeated CI runs) are pooled. Before judging,
:mod:`snnbench.regress.drift` refuses sides that mix machines, policies or
library versions, and lists what differs besides the code; the verdicts
themselves (:mod:`snnbench.regress.verdict`) are made for all rows of the job
together. Noise-free columns (:data:`snnbench.measure.records.EXACT_METRICS`)
are compared exactly. Rendering lives in :mod:`snnbench.render.compare_text`;
the CLI turns :meth:`Comparison.outcome` into an exit code.

A baseline configuration the candidate has no row for is told apart by what
the candidate's runs set out to measure (:class:`RunPlan`, from their
``run.json``): not in its matrix (not comparable, naming the axis), in its
matrix but not measured because the run was interrupted or did not finish
(incomplete: neither clean nor a regression), or unknown (no ``run.json``
says: a regression, as a lost row is). A row the candidate measured and that
failed, crashed or was skipped is a regression.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from snnbench.errors import SnnbenchError
from snnbench.measure import shards
from snnbench.measure.matrix import Matrix
from snnbench.measure.phases import DISPLAY_ORDER
from snnbench.measure.records import (
    CASE_KEY_COLUMNS,
    EXACT_METRICS,
    CaseSpec,
)
from snnbench.measure.runner import INTERRUPTED_REASON
from snnbench.regress import drift
from snnbench.regress.sides import YARDSTICKS, Side, sides_of, spec_of
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
    "INCOMPLETE",
    "INCONCLUSIVE",
    "KEY_COLUMNS",
    "NO_CHANGE",
    "NOT_COMPARABLE",
    "REGRESSION",
    "SLOWER",
    "VERDICTS",
    "Comparison",
    "Criteria",
    "Missing",
    "RowComparison",
    "RunPlan",
    "Verdict",
    "compare_by",
    "compare_frames",
    "outcome_of",
    "spec_of",
    "version_key",
]

#: Columns that identify one configuration and phase: the case key.
KEY_COLUMNS = CASE_KEY_COLUMNS
#: What a table needs to be compared (older schemas are migrated to these on load).
REQUIRED_COLUMNS = (*CASE_KEY_COLUMNS, "status", "samples_json")
#: Outcomes of a whole comparison, worst first.
REGRESSION, UNDECIDED, CLEAN = "regression", "inconclusive", "no regression"
#: Some row could not be judged (a side failed on both, lacks the metric, or the candidate's
#: matrix does not hold it): never clean.
INCOMPARABLE = "not comparable"
#: The candidate's run stopped before measuring rows its matrix holds: neither clean nor
#: a regression.
INCOMPLETE = "incomplete"
#: Every outcome, worst first.
OUTCOMES = (REGRESSION, INCOMPLETE, UNDECIDED, INCOMPARABLE, CLEAN)

#: Why the candidate has no row for a baseline configuration (see :class:`Missing`).
UNPLANNED, UNFINISHED, UNKNOWN = "not in the matrix", "not measured", "missing"
#: Matrix axes a case's fields come from (case field, matrix field).
_AXES = (
    ("backend", "backends"),
    ("phase", "phases"),
    ("batch_size", "batch_sizes"),
    ("precision", "precisions"),
    ("platform", "platforms"),
    ("dt_ms", "dts_ms"),
    ("n_input", "n_inputs"),
    ("n_hidden", "n_hiddens"),
    ("devices", "device_counts"),
)


@dataclass(frozen=True)
class RunPlan:
    """What a side's runs set out to measure, read from their ``run.json`` files.

    Attributes:
        cases: every case the runs were to measure (a shard's own cases); ``None``
            when no ``run.json`` recorded a matrix.
        matrix_cases: every case of the runs' whole matrices (a campaign's other
            shards included).
        matrices: the matrices themselves (to name the axis a case is not on).
        unfinished: ``"<run id>: <status>"`` for each run that did not complete.
    """

    cases: frozenset[CaseSpec] | None = None
    matrix_cases: frozenset[CaseSpec] = frozenset()
    matrices: tuple[Matrix, ...] = ()
    unfinished: tuple[str, ...] = ()

    @classmethod
    def from_infos(cls, infos: Iterable[Mapping]) -> RunPlan:
        """The plan of the runs whose ``run.json`` contents are ``infos``."""
        cases, whole, matrices, unfinished = set(), set(), [], []
        known = False
        for info in infos:
            status = str(info.get("status", "unknown"))
            if status != "complete":
                rows = f", {info['n_rows']} of {info['n_cases']} rows" if "n_rows" in info else ""
                unfinished.append(f"{info.get('run_id', '?')}: {status}{rows}")
            matrix = _matrix_of(info.get("matrix"))
            if matrix is None:
                continue
            known = True
            all_cases = [spec_of(c.to_dict()) for c in matrix.cases()]
            matrices.append(matrix)
            whole.update(all_cases)
            cases.update(_shard_cases(all_cases, info.get("shard")))
        return cls(
            frozenset(cases) if known else None,
            frozenset(whole),
            tuple(matrices),
            tuple(unfinished),
        )

    def why_missing(self, spec: CaseSpec, interrupted: bool) -> Missing:
        """Why the candidate, whose runs had this plan, has no row for ``spec``."""
        if interrupted:
            return Missing(spec, UNFINISHED, "interrupted (Ctrl-C) while measuring it")
        if self.cases is not None and spec in self.cases:
            ended = f" (run {'; '.join(self.unfinished)})" if self.unfinished else ""
            return Missing(spec, UNFINISHED, f"in the candidate's matrix{ended}")
        if self.cases is not None and spec in self.matrix_cases:
            return Missing(spec, UNFINISHED, "in a shard of the candidate's campaign it lacks")
        if self.cases is not None:
            return Missing(spec, UNPLANNED, _off_axis(spec, self.matrices))
        if self.unfinished:
            return Missing(spec, UNFINISHED, f"the candidate's run {'; '.join(self.unfinished)}")
        return Missing(spec, UNKNOWN, "no run.json says whether the candidate was to measure it")


def _matrix_of(recorded: object) -> Matrix | None:
    """The matrix a ``run.json`` recorded, or ``None`` when it has none this snnbench reads."""
    if not isinstance(recorded, Mapping):
        return None
    names = {f.name for f in dataclasses.fields(Matrix)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in recorded.items() if k in names}
    try:
        return Matrix(**values)
    except (SnnbenchError, TypeError, ValueError):
        return None


def _shard_cases(cases: list[CaseSpec], shard: object) -> list[CaseSpec]:
    """The cases of the run's shard (``"K/N"``), or all of them for a run of the whole matrix."""
    if not shard:
        return cases
    try:
        part = shards.Shard.parse(str(shard))
    except SnnbenchError:
        return cases
    return shards.split(cases, part.count)[part.index - 1]


def _off_axis(spec: CaseSpec, matrices: tuple[Matrix, ...]) -> str:
    """Which axis of the candidate's matrix lacks ``spec``'s value, in words."""
    for case_field, axis in _AXES:
        value = getattr(spec, case_field)
        if case_field == "batch_size" and spec.scaling == "weak":
            value = spec.per_device_batch  # a weak series' axis holds the batch per device
        if all(value not in getattr(m, axis) for m in matrices):
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            return f"{case_field} {shown} not in the candidate's matrix"
    if all(spec.t_max_ms != m.t_max_ms for m in matrices):
        return f"t_max_ms {spec.t_max_ms:g} not in the candidate's matrix"
    if all(spec.scaling not in m.scalings for m in matrices if spec.scaling):
        return f"scaling {spec.scaling or 'none'} not in the candidate's matrix"
    return "this combination of its axes is not in the candidate's matrix"


@dataclass(frozen=True)
class Missing:
    """A baseline configuration the candidate has no row for, and why.

    Attributes:
        why: :data:`UNPLANNED` (not in the candidate's matrix: not comparable),
            :data:`UNFINISHED` (in it, but its run stopped first: incomplete), or
            :data:`UNKNOWN` (nothing says: a regression).
        detail: the reason in words (e.g. "batch_size 64 not in the candidate's matrix").
    """

    spec: CaseSpec
    why: str
    detail: str


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
    #: Baseline configurations without a candidate row, each with its reason.
    missing: tuple[Missing, ...] = ()
    only_candidate: tuple[CaseSpec, ...] = ()
    context: drift.Context = field(default_factory=drift.Context)
    #: Further notes for the page (e.g. the shards a campaign is missing).
    notes: tuple[str, ...] = ()
    #: Judge only the rows both sides have: missing rows are listed, not counted.
    shared_only: bool = False

    @property
    def only_baseline(self) -> tuple[CaseSpec, ...]:
        """Every baseline configuration the candidate has no row for."""
        return tuple(m.spec for m in self.missing)

    def missing_as(self, why: str) -> tuple[Missing, ...]:
        """The missing rows of one reason (:data:`UNPLANNED`, :data:`UNFINISHED`, :data:`UNKNOWN`)."""
        return tuple(m for m in self.missing if m.why == why)

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
        """The worst that applies, in :data:`OUTCOMES` order.

        ``REGRESSION``: a slower or lost row, or a row missing for no known reason;
        ``INCOMPLETE``: rows of the candidate's matrix its run never measured;
        ``UNDECIDED``: an inconclusive row; ``INCOMPARABLE``: a row neither side
        could be judged on, or one the candidate's matrix does not hold; else
        ``CLEAN``. With ``shared_only`` missing rows do not count.
        """
        counted = () if self.shared_only else self.missing
        whys = {m.why for m in counted}
        if self.regressions or self.lost or UNKNOWN in whys:
            return REGRESSION
        if UNFINISHED in whys:
            return INCOMPLETE
        if any(r.verdict.verdict == INCONCLUSIVE for r in self.rows):
            return UNDECIDED
        if UNPLANNED in whys or any(r.verdict.verdict == NOT_COMPARABLE for r in self.rows):
            return INCOMPARABLE
        return CLEAN


def outcome_of(comparisons: list[Comparison] | tuple[Comparison, ...]) -> str:
    """The worst outcome of several comparisons (``compare --by`` steps)."""
    found = {c.outcome() for c in comparisons}
    return next(o for o in OUTCOMES if o in found or o == CLEAN)


def compare_frames(
    baseline: pd.DataFrame,
    candidate: pd.DataFrame,
    policy: Criteria | None = None,
    labels: tuple[str, str] = ("baseline", "candidate"),
    allow_machine_change: bool = False,
    by: str = "",
    plan: RunPlan | None = None,
    shared_only: bool = False,
    baseline_plan: RunPlan | None = None,
) -> Comparison:
    """Match rows of two result tables by configuration and judge all matches together.

    Several runs of one configuration on one side (rounds of an A/B run, repeated
    CI runs, the shards of one campaign) are pooled. A side that is a sharded
    campaign missing some shards gets a note naming them. ``plan`` says what the
    candidate's runs set out to measure, so that a missing row is told apart (see
    :class:`Missing`); a row the runner wrote for the case it was measuring at
    Ctrl-C counts as not measured. With ``shared_only`` only rows both sides have
    are judged. A side whose runs did not complete (``plan``, ``baseline_plan``) gets
    a note saying so, whatever rows it kept.

    Raises:
        SnnbenchError: if a table lacks the columns this needs, a side mixes
            machines or versions, the sides come from different machines (unless
            ``allow_machine_change``), or the two share no configuration.
    """
    policy = policy or Criteria()
    for frame, label in ((baseline, labels[0]), (candidate, labels[1])):
        _check_columns(frame, label)
    context = drift.check_context(baseline, candidate, labels, allow_machine_change, by)
    candidate, interrupted = _without_interrupted(candidate)
    sides_a, sides_b = sides_of(baseline), sides_of(candidate)
    shared = _ordered([k for k in sides_a if k in sides_b])
    if not shared:
        raise SnnbenchError(
            f"`{labels[0]}` and `{labels[1]}` share no configuration ({len(sides_a)} vs "
            f"{len(sides_b)} configurations; e.g. {_describe(next(iter(sides_a), None))} vs "
            f"{_describe(next(iter(sides_b), None))}); run both with the same matrix options."
        )
    yardsticks = {
        name: tuple(
            tuple(y for s in shared for y in sides[s].yardsticks_s(name))
            for sides in (sides_a, sides_b)
        )
        for name in YARDSTICKS
    }
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
        missing=tuple(
            (plan or RunPlan()).why_missing(spec, spec in interrupted)
            for spec in _ordered([k for k in sides_a if k not in sides_b])
        ),
        only_candidate=tuple(_ordered([k for k in sides_b if k not in sides_a])),
        context=context,
        notes=tuple(
            f"{label}: {line}"
            for frame, label in ((baseline, labels[0]), (candidate, labels[1]))
            for line in shards.describe_missing(frame)
        )
        + tuple(
            f"{label}: run {run} (did not complete)"
            for side_plan, label in ((baseline_plan, labels[0]), (plan, labels[1]))
            for run in (side_plan.unfinished if side_plan else ())
        ),
        shared_only=shared_only,
    )


def _without_interrupted(frame: pd.DataFrame) -> tuple[pd.DataFrame, set[CaseSpec]]:
    """``frame`` less the rows of cases that Ctrl-C stopped mid-measurement, and their specs:
    such a case was never measured, so it is missing, not failed."""
    reasons = frame["reason"] if "reason" in frame else pd.Series("", index=frame.index)
    stopped = (frame["status"] == "failed") & (reasons.astype(str) == INTERRUPTED_REASON)
    specs = {spec_of(row) for row in frame[stopped].to_dict("records")}
    return frame[~stopped], specs


def _check_columns(frame: pd.DataFrame, label: str) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise SnnbenchError(
            f"`{label}` lacks columns {', '.join(missing)} (schema mismatch: not a table written "
            "by `snnbench bench`); point it at a run folder or its benchmark.csv."
        )


def _describe(spec: CaseSpec | None) -> str:
    return spec.case_id if spec is not None else "nothing"


#: Display order: a device's rows together, then the rest of the case key, the phase last
#: (in the matrix's order), so that one configuration's phases stand together.
_SORT_FIRST = ("platform", "precision", "scaling", "backend", "batch_size")


def _ordered(specs: list[CaseSpec]) -> list[CaseSpec]:
    rest = [c for c in CASE_KEY_COLUMNS if c not in (*_SORT_FIRST, "phase")]
    columns = [*_SORT_FIRST, *rest, "phase"]

    def key(spec: CaseSpec) -> tuple:
        return tuple(
            DISPLAY_ORDER.index(spec.phase) if c == "phase" else getattr(spec, c) for c in columns
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
