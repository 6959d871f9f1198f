"""Render comparisons: terminal text, markdown for a pull-request comment, and CSV.

Tables are built as plain rows (:func:`timing_rows`, :func:`history_rows`) and
only then rendered, so every format shows the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from tabulate import tabulate

from snnbench.regress.compare import (
    FASTER,
    INCOMPARABLE,
    INCOMPLETE,
    INCONCLUSIVE,
    KEY_COLUMNS,
    NO_CHANGE,
    NOT_COMPARABLE,
    REGRESSION,
    SLOWER,
    UNDECIDED,
    UNFINISHED,
    UNKNOWN,
    UNPLANNED,
    VERDICTS,
    Comparison,
    Missing,
    RowComparison,
)
from snnbench.regress.drift import PROCESS_SPREAD_PCT
from snnbench.render import terminal
from snnbench.render.units import format_seconds

_MARK = {
    SLOWER: "🔴 slower",
    FASTER: "🟢 faster",
    INCONCLUSIVE: "🟡 inconclusive",
    NO_CHANGE: "no change",
    NOT_COMPARABLE: "⚪ not comparable",
}
_TEXT_MARK = {
    SLOWER: "SLOWER",
    FASTER: "faster",
    INCONCLUSIVE: "inconclusive",
    NO_CHANGE: "no change",
    NOT_COMPARABLE: "not comparable",
}
_METRIC = {"cpu": "CPU time", "wall": "wall time"}


def _ratio_cell(row: RowComparison) -> str:
    v = row.verdict
    if v.ratio is None:
        return ""
    return f"{v.ratio:.3f} [{v.ratio_low:.3f}, {v.ratio_high:.3f}]"


def _display_order(comparison: Comparison) -> list[RowComparison]:
    """Regressions first, then improvements, inconclusive, unchanged, not comparable."""
    return sorted(comparison.rows, key=lambda r: VERDICTS.index(r.verdict.verdict))


def _confidence(comparison: Comparison) -> str:
    return f"{(1 - comparison.criteria.spent_alpha) * 100:.4g} %"


def timing_rows(comparison: Comparison, marks: dict[str, str]) -> list[dict[str, str]]:
    """The comparison as display rows (strings), in display order."""
    out = []
    for row in _display_order(comparison):
        v = row.verdict
        out.append(
            {
                "configuration": row.spec.case_id,
                "baseline": format_seconds(row.median_s("baseline")) or "—",
                "candidate": format_seconds(row.median_s("candidate")) or "—",
                "metric": v.metric,
                f"ratio [{_confidence(comparison)} CI, all rows]": _ratio_cell(row),
                "other metric": "" if v.other_ratio is None else f"{v.other_ratio:.3f}",
                "p (Holm)": "" if v.p_holm is None else f"{v.p_holm:.2g}",
                "verdict": marks[v.verdict],
                "note": v.detail,
            }
        )
    return out


def _rows(n: int) -> str:
    return f"{n} row{'s' if n != 1 else ''}"


def headline(comparison: Comparison) -> str:
    """One line: how many rows got each verdict, and what the candidate lacks and why."""
    c = comparison.counts()
    lost = len(comparison.lost) + len(comparison.missing_as(UNKNOWN))
    unplanned = len(comparison.missing_as(UNPLANNED))
    unfinished = len(comparison.missing_as(UNFINISHED))
    parts = [
        f"{c[SLOWER]} slower, {c[FASTER]} faster, {c[INCONCLUSIVE]} inconclusive, "
        f"{c[NO_CHANGE]} no change, {c[NOT_COMPARABLE]} not comparable",
        f"the candidate lost {_rows(lost)}" if lost else "",
        f"{_rows(unplanned)} not in the candidate's matrix" if unplanned else "",
        f"{_rows(unfinished)} never measured (the candidate's run is incomplete)"
        if unfinished
        else "",
    ]
    return "; ".join(p for p in parts if p)


#: What an outcome means, where the word alone does not say it.
_OUTCOME_MEANS = {
    INCOMPLETE: "the candidate's run stopped before measuring rows its matrix holds: "
    "neither clean nor a regression; finish the candidate's run, or judge the rows both "
    "runs share with --shared-only",
    INCOMPARABLE: "some rows could not be judged (see the notes); never clean",
}


def shared_only_line(comparison: Comparison) -> str:
    """What ``--shared-only`` left out ("" when it was not asked for)."""
    if not comparison.shared_only:
        return ""
    return (
        f"Compared only the rows both runs share (--shared-only): "
        f"{_rows(len(comparison.missing))} of the baseline left out."
    )


def rule(comparison: Comparison) -> str:
    """The decision rule in words, with the thresholds, alpha and metrics in force."""
    p = comparison.criteria
    overrides = ", ".join(f"{phase}: {pct:g} %" for phase, pct in p.phase_threshold_pct)
    look = f" (look {p.look} of a sequential A/B job: its share of {p.alpha:g})" if p.look else ""
    used = ", ".join(
        f"{n} row{'s' if n != 1 else ''} by {_METRIC[m]}"
        for m, n in sorted(comparison.metrics().items())
    )
    return (
        f"slower/faster = Holm-adjusted p < {p.spent_alpha:.3g} over all rows{look} and a "
        f"change beyond {p.threshold_pct:g} %" + (f" ({overrides})" if overrides else "") + "; "
        "no change = the simultaneous interval lies inside ± the threshold; inconclusive = "
        "anything else. Decided: " + (used or "no row") + " (per-call process CPU time where "
        "both sides ran pinned to one core, else wall time)."
    )


def outcome_line(comparison: Comparison) -> str:
    """What the comparison means for CI, in one line."""
    return {
        REGRESSION: "❌ regression",
        INCOMPLETE: "⏸️ incomplete",
        UNDECIDED: "🟡 inconclusive",
        INCOMPARABLE: "⚪ not comparable",
    }.get(comparison.outcome(), "✅ no regression")


def _outcome_sentence(comparison: Comparison) -> str:
    outcome = comparison.outcome()
    means = _OUTCOME_MEANS.get(outcome)
    return f"Outcome: {outcome}" + (f" ({means})." if means else ".")


def _terminal_rows(comparison: Comparison) -> pd.DataFrame:
    """The timing table cut to what a terminal shows (every column is in the markdown)."""
    ratio = next(k for k in timing_rows(comparison, _TEXT_MARK)[0] if k.startswith("ratio"))
    keep = ["configuration", "baseline", "candidate", ratio, "verdict", "note"]
    frame = pd.DataFrame(timing_rows(comparison, _TEXT_MARK))[keep]
    return frame.rename(columns={ratio: f"ratio [{_confidence(comparison)} CI]"})


def separate_runs_line(comparison: Comparison) -> str:
    """What separate runs cannot judge, said plainly ("" when every row was interleaved)."""
    metrics = sorted(
        {r.verdict.metric for r in comparison.rows if r.verdict.design in ("runs", "samples")}
        - {""}
    )
    if not metrics:
        return ""
    spread = " and ".join(
        f"{PROCESS_SPREAD_PCT[m]} % by {'pinned CPU' if m == 'cpu' else 'wall'} time"
        for m in metrics
    )
    return (
        f"Separate runs: between quiet processes the same code moves {spread}, and the "
        f"machine may drift up to the yardstick's {comparison.criteria.drift_tolerance_pct:g} % "
        "tolerance unseen; changes smaller than that cannot be judged from separate runs. "
        "Judge them with `snnbench ab` (interleaved, a fresh process pair per round)."
    )


def render_text(comparison: Comparison, full_table: str = "") -> str:
    """Terminal text within :func:`terminal.width` columns: the headline, the outcome, the
    rule, the timing and exact tables, and the unmatched rows; ``full_table`` names the
    file that holds every column in full."""
    prose = [
        f"{comparison.baseline_label} -> {comparison.candidate_label}",
        headline(comparison),
        _outcome_sentence(comparison),
        shared_only_line(comparison),
        separate_runs_line(comparison),
        *comparison.context.notes(),
        rule(comparison),
    ]
    lines = [terminal.wrap(p, indent="  ") for p in prose if p]
    if comparison.rows:
        lines += ["", terminal.table(_terminal_rows(comparison), keys=1)]
    exact = _exact_rows(comparison)
    if exact:
        changed = [r for r in exact if r["change"] != "same"]
        lines += ["", f"Exact metrics: {len(changed)} of {len(exact)} changed."]
        if changed:
            lines.append(terminal.table(pd.DataFrame(changed), keys=1))
    unmatched = _unmatched_lines(comparison, bullet="- ")
    lines += [""] * bool(unmatched) + [terminal.wrap(u, indent="  ") for u in unmatched]
    if full_table:
        lines += ["", terminal.wrap(f"Every column in full: {full_table}")]
    return "\n".join(lines) + "\n"


def render_markdown(comparison: Comparison, title: str = "snnbench comparison") -> str:
    """Markdown ready for a pull-request comment."""
    out = [
        f"### {title}: {outcome_line(comparison)}",
        "",
        f"`{comparison.baseline_label}` → `{comparison.candidate_label}`: {headline(comparison)}.",
        "",
        *([_outcome_sentence(comparison), ""] if comparison.outcome() in _OUTCOME_MEANS else []),
        *([shared_only_line(comparison), ""] if comparison.shared_only else []),
        *([separate_runs_line(comparison), ""] if separate_runs_line(comparison) else []),
        *[f"- {note}" for note in comparison.context.notes()],
        *([""] if comparison.context.notes() else []),
        f"<sub>{rule(comparison)}</sub>",
        "",
    ]
    out.append(
        tabulate(
            timing_rows(comparison, _MARK), headers="keys", tablefmt="github", disable_numparse=True
        )
    )
    exact = _exact_rows(comparison)
    if exact:
        changed = [r for r in exact if r["change"] != "same"]
        out += [
            "",
            "<details><summary>Exact metrics (noise-free): "
            f"{len(changed)} of {len(exact)} changed</summary>",
            "",
        ]
        if changed:
            out.append(tabulate(changed, headers="keys", tablefmt="github", disable_numparse=True))
        else:
            out.append("Every exact metric is identical.")
        out += ["", "</details>"]
    unmatched = _unmatched_lines(comparison, bullet="- ")
    if unmatched:
        out += ["", *unmatched]
    return "\n".join(out) + "\n"


def _exact_rows(comparison: Comparison) -> list[dict[str, str]]:
    out = []
    for e in comparison.exact:
        if not e.changed:
            change = "same"
        elif e.baseline:
            change = f"{(e.candidate / e.baseline - 1) * 100:+.2f} %"
        else:
            change = "changed"
        out.append(
            {
                "configuration": e.spec.case_id,
                "metric": e.metric,
                "baseline": f"{e.baseline:g}",
                "candidate": f"{e.candidate:g}",
                "change": change,
            }
        )
    return out


def _unmatched_lines(comparison: Comparison, bullet: str) -> list[str]:
    counted = "left out (--shared-only)" if comparison.shared_only else "{}"
    lines = []
    unknown = comparison.missing_as(UNKNOWN)
    if unknown:
        lines.append(
            f"{bullet}missing in the candidate, no run.json says why "
            f"({counted.format('counts as a regression')}): "
            + _listed(tuple(m.spec for m in unknown))
        )
    for detail, missing in _by_detail(comparison.missing_as(UNFINISHED)).items():
        lines.append(
            f"{bullet}never measured: {detail} ({counted.format('incomplete')}): "
            + _listed(tuple(m.spec for m in missing))
        )
    for detail, missing in _by_detail(comparison.missing_as(UNPLANNED)).items():
        lines.append(
            f"{bullet}{detail} ({counted.format('not comparable')}): "
            + _listed(tuple(m.spec for m in missing))
        )
    if comparison.lost:
        lines.append(
            f"{bullet}failed or skipped in the candidate only (counts as a regression): "
            + _listed(tuple(r.spec for r in comparison.lost))
        )
    specs = comparison.only_candidate
    if specs:
        lines.append(
            f"{bullet}only in {comparison.candidate_label} ({len(specs)}): {_listed(specs)}"
        )
    lines += [f"{bullet}note: {note}" for note in comparison.notes]
    return lines


def _by_detail(missing: tuple[Missing, ...]) -> dict[str, list[Missing]]:
    out: dict[str, list[Missing]] = {}
    for m in missing:
        out.setdefault(m.detail, []).append(m)
    return out


def _listed(specs) -> str:
    shown = ", ".join(s.case_id for s in specs[:5])
    return f"{shown} and {len(specs) - 5} more" if len(specs) > 5 else shown


def _record(comparison: Comparison, kind: str, spec, **fields: object) -> dict[str, object]:
    return {
        "baseline_label": comparison.baseline_label,
        "candidate_label": comparison.candidate_label,
        "kind": kind,
        "case_id": spec.case_id,
        **{k: getattr(spec, k) for k in KEY_COLUMNS},
        **fields,
    }


def to_csv(comparisons: Sequence[Comparison]) -> str:
    """Tidy CSV: one line per configuration (``kind=timing``) or exact metric (``kind=exact``)."""
    records = []
    for comparison in comparisons:
        for row in comparison.rows:
            v = row.verdict
            records.append(
                _record(
                    comparison,
                    "timing",
                    row.spec,
                    metric=v.metric,
                    baseline=row.median_s("baseline"),
                    candidate=row.median_s("candidate"),
                    ratio=v.ratio,
                    ratio_low=v.ratio_low,
                    ratio_high=v.ratio_high,
                    other_metric_ratio=v.other_ratio,
                    p_value=v.p_value,
                    p_holm=v.p_holm,
                    confidence=1 - comparison.criteria.spent_alpha,
                    design=v.design,
                    n_baseline_runs=len(row.baseline.repeats),
                    n_candidate_runs=len(row.candidate.repeats),
                    threshold_pct=row.threshold * 100,
                    detectable_pct=v.detectable_pct,
                    verdict=v.verdict,
                    lost=row.lost,
                    detail=v.detail,
                )
            )
        records += [
            _record(comparison, "missing", m.spec, verdict=m.why, detail=m.detail)
            for m in comparison.missing
        ]
        records += [
            _record(
                comparison,
                "exact",
                e.spec,
                metric=e.metric,
                baseline=e.baseline,
                candidate=e.candidate,
                ratio=e.candidate / e.baseline if e.baseline else None,
                verdict="changed" if e.changed else "same",
            )
            for e in comparison.exact
        ]
    return pd.DataFrame(records).to_csv(index=False)


def history_rows(steps: Sequence[Comparison], marks: dict[str, str]) -> list[dict[str, str]]:
    """Release by release: each configuration's median per value and each step's verdict."""
    table: dict[str, dict[str, str]] = {}
    for step in steps:
        old = step.baseline_label.split(" ", 1)[-1]
        new = step.candidate_label.split(" ", 1)[-1]
        for row in step.rows:
            cells = table.setdefault(row.spec.case_id, {"configuration": row.spec.case_id})
            cells.setdefault(old, format_seconds(row.median_s("baseline")) or "—")
            cells[new] = format_seconds(row.median_s("candidate")) or "—"
            v = row.verdict
            ratio = f"{v.ratio:.2f}x " if v.ratio is not None else ""
            cells[f"{old} → {new}"] = f"{ratio}{marks[v.verdict]}"
    return list(table.values())


def render_history(steps: Sequence[Comparison], markdown: bool) -> str:
    """The release-by-release table, then each step's headline (terminal text within
    :func:`terminal.width` columns, or markdown)."""
    marks = _MARK if markdown else _TEXT_MARK
    rows = history_rows(steps, marks)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    rows = [{c: r.get(c, "") for c in columns} for r in rows]
    by = steps[0].baseline_label.split(" ", 1)[0]
    if markdown:
        table = tabulate(rows, headers="keys", tablefmt="github", disable_numparse=True)
        lines = [f"### snnbench history by {by}", "", table, ""]
    else:
        lines = [f"History by {by}", "", terminal.table(pd.DataFrame(rows), keys=1), ""]
    for step in steps:
        line = f"{step.baseline_label} → {step.candidate_label}: {headline(step)}"
        lines.append(f"- {line}" if markdown else terminal.wrap(line, indent="  "))
    lines += ["", rule(steps[0]) if markdown else terminal.wrap(rule(steps[0]), indent="  ")]
    return "\n".join(lines) + "\n"
