"""Render comparisons: terminal text, markdown for a pull-request comment, and CSV.

Tables are built as plain rows (:func:`timing_rows`, :func:`history_rows`) and
only then rendered, so every format shows the same numbers.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import pandas as pd
from tabulate import tabulate

from snnbench.regress.compare import (
    FASTER,
    INCONCLUSIVE,
    KEY_COLUMNS,
    NO_CHANGE,
    NOT_COMPARABLE,
    REGRESSION,
    SLOWER,
    UNDECIDED,
    VERDICTS,
    Comparison,
    RowComparison,
)
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


def headline(comparison: Comparison) -> str:
    """One line: how many rows got each verdict (and how many the candidate lost)."""
    c = comparison.counts()
    lost = len(comparison.lost) + len(comparison.only_baseline)
    return (
        f"{c[SLOWER]} slower, {c[FASTER]} faster, {c[INCONCLUSIVE]} inconclusive, "
        f"{c[NO_CHANGE]} no change, {c[NOT_COMPARABLE]} not comparable"
        + (f"; the candidate lost {lost} row{'s' if lost != 1 else ''}" if lost else "")
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
    outcome = comparison.outcome()
    if outcome == REGRESSION:
        return "❌ regression"
    return "🟡 inconclusive" if outcome == UNDECIDED else "✅ no regression"


def render_text(comparison: Comparison) -> str:
    """A terminal table with a headline, the rule, exact metrics and unmatched rows."""
    lines = [
        f"{comparison.baseline_label} -> {comparison.candidate_label}: {headline(comparison)}",
        f"Outcome: {comparison.outcome()}.",
        *comparison.context.notes(),
        rule(comparison),
        "",
    ]
    lines.append(
        tabulate(
            timing_rows(comparison, _TEXT_MARK),
            headers="keys",
            tablefmt="simple",
            disable_numparse=True,
        )
    )
    exact = _exact_rows(comparison)
    if exact:
        changed = [r for r in exact if r["change"] != "same"]
        lines += ["", f"Exact metrics: {len(changed)} of {len(exact)} changed."]
        if changed:
            lines.append(
                tabulate(changed, headers="keys", tablefmt="simple", disable_numparse=True)
            )
    lines += _unmatched_lines(comparison, bullet="  ")
    return "\n".join(lines) + "\n"


def render_markdown(comparison: Comparison, title: str = "snnbench comparison") -> str:
    """Markdown ready for a pull-request comment."""
    out = [
        f"### {title}: {outcome_line(comparison)}",
        "",
        f"`{comparison.baseline_label}` → `{comparison.candidate_label}`: {headline(comparison)}.",
        "",
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
    lines = []
    if comparison.only_baseline:
        lines.append(
            f"{bullet}missing in the candidate (counts as a regression): "
            + _listed(comparison.only_baseline)
        )
    if comparison.lost:
        lines.append(
            f"{bullet}failed or skipped in the candidate only (counts as a regression): "
            + _listed(tuple(r.spec for r in comparison.lost))
        )
    for label, specs in ((comparison.candidate_label, comparison.only_candidate),):
        if specs:
            shown = ", ".join(s.case_id for s in specs[:5])
            more = f" and {len(specs) - 5} more" if len(specs) > 5 else ""
            lines.append(f"{bullet}only in {label} ({len(specs)}): {shown}{more}")
    lines += [f"{bullet}note: {note}" for note in comparison.notes]
    return ([""] if lines and bullet.strip() == "" else []) + lines


def _listed(specs) -> str:
    shown = ", ".join(s.case_id for s in specs[:5])
    return f"{shown} and {len(specs) - 5} more" if len(specs) > 5 else shown


def to_csv(comparisons: Sequence[Comparison]) -> str:
    """Tidy CSV: one line per configuration (``kind=timing``) or exact metric (``kind=exact``)."""
    records = []
    for comparison in comparisons:
        labels = {
            "baseline_label": comparison.baseline_label,
            "candidate_label": comparison.candidate_label,
        }
        for row in comparison.rows:
            v = row.verdict
            records.append(
                {
                    **labels,
                    "kind": "timing",
                    "case_id": row.spec.case_id,
                    **{k: getattr(row.spec, k) for k in KEY_COLUMNS},
                    "metric": v.metric,
                    "baseline": row.median_s("baseline"),
                    "candidate": row.median_s("candidate"),
                    "ratio": v.ratio,
                    "ratio_low": v.ratio_low,
                    "ratio_high": v.ratio_high,
                    "other_metric_ratio": v.other_ratio,
                    "p_value": v.p_value,
                    "p_holm": v.p_holm,
                    "confidence": 1 - comparison.criteria.spent_alpha,
                    "design": v.design,
                    "n_baseline_runs": len(row.baseline.repeats),
                    "n_candidate_runs": len(row.candidate.repeats),
                    "threshold_pct": row.threshold * 100,
                    "detectable_pct": v.detectable_pct,
                    "verdict": v.verdict,
                    "lost": row.lost,
                    "detail": v.detail,
                }
            )
        for e in comparison.exact:
            records.append(
                {
                    **labels,
                    "kind": "exact",
                    "case_id": e.spec.case_id,
                    **{k: getattr(e.spec, k) for k in KEY_COLUMNS},
                    "metric": e.metric,
                    "baseline": e.baseline,
                    "candidate": e.candidate,
                    "ratio": e.candidate / e.baseline if e.baseline else None,
                    "verdict": "changed" if e.changed else "same",
                }
            )
    buffer = io.StringIO()
    pd.DataFrame(records).to_csv(buffer, index=False)
    return buffer.getvalue()


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
    """The release-by-release table, then each step's headline."""
    marks = _MARK if markdown else _TEXT_MARK
    rows = history_rows(steps, marks)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    rows = [{c: r.get(c, "") for c in columns} for r in rows]
    table = tabulate(
        rows, headers="keys", tablefmt="github" if markdown else "simple", disable_numparse=True
    )
    lines = [
        f"### snnbench history by {steps[0].baseline_label.split(' ', 1)[0]}"
        if markdown
        else f"History by {steps[0].baseline_label.split(' ', 1)[0]}",
        "",
        table,
        "",
    ]
    for step in steps:
        lines.append(
            f"{'- ' if markdown else ''}{step.baseline_label} → "
            f"{step.candidate_label}: {headline(step)}"
        )
    lines += ["", rule(steps[0])]
    return "\n".join(lines) + "\n"
