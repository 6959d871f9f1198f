"""A bisect's path of steps: the terminal table, the markdown page, CSV, and its figure."""

from __future__ import annotations

import csv
import io

from snnbench.regress.bisect import BisectResult, Step
from snnbench.render import terminal

#: ``slower``: regressed rows of the step / rows judged; ``ratio``: the largest row's.
COLUMNS = ("#", "kind", "change", "verdict", "slower", "ratio", "interval", "rounds")


def _cells(step: Step) -> tuple[str, ...]:
    worst = step.worst()
    ratio = f"{worst.ratio:.3f}x" if worst and worst.ratio else "-"
    low, high = (worst.ratio_low, worst.ratio_high) if worst else (None, None)
    interval = f"[{low:.3f}, {high:.3f}]" if low is not None and high is not None else "-"
    rows = f"{sum(r.verdict == 'slower' for r in step.judgement.rows)}/{len(step.judgement.rows)}"
    change = step.change if len(step.change) <= 28 else step.change[:25] + "..."
    return (
        str(step.index),
        step.kind,
        change,
        step.verdict,
        rows,
        ratio,
        interval,
        str(step.judgement.rounds),
    )


def _plain_table(rows: list[tuple[str, ...]]) -> str:
    """Columns padded to their widest cell, two spaces apart (no extra header padding)."""
    widths = [max(len(r[i]) for r in [COLUMNS, *rows]) for i in range(len(COLUMNS))]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([line(COLUMNS), line(["-" * w for w in widths]), *map(line, rows)])


def render_text(result: BisectResult) -> str:
    """The culprit first, then the steps (at most 100 columns), then the notes."""
    head = {
        "found": f"culprit ({result.kind}): " + "; ".join(result.culprits),
        "clean": "no regression between the two ends: nothing to bisect",
        "inconclusive": "inconclusive: no culprit established",
    }[result.outcome]
    lines = terminal.wrap(head, indent="  ").splitlines()
    for step in result.steps:
        if step.kind in ("package", "commit", "alone") and step.change in " ".join(result.culprits):
            for row in step.judgement.rows:
                if row.ratio is not None:
                    interval = f"[{row.ratio_low:.3f}, {row.ratio_high:.3f}]"
                    line = f"  {row.phase:<14} {row.case:<34} {row.ratio:.3f}x {interval}"
                    lines.append(terminal.wrap(line, indent=" " * 17))
            break
    table = _plain_table([_cells(s) for s in result.steps])
    notes = [terminal.wrap(f"note: {n}", indent="  ") for n in result.notes]
    skipped = [
        f"skipped step {s.index}: {s.judgement.reason}"
        for s in result.steps
        if s.verdict == "skipped"
    ]
    skipped = [terminal.wrap(t, indent="  ") for t in skipped]
    return "\n".join([*lines, "", table, *notes, *skipped]) + "\n"


def render_markdown(result: BisectResult) -> str:
    from tabulate import tabulate

    table = tabulate([_cells(s) for s in result.steps], headers=COLUMNS, tablefmt="github")
    body = render_text(result).split("\n\n")[0]
    notes = "".join(f"- {n}\n" for n in result.notes)
    return f"# snnbench bisect\n\n```\n{body}\n```\n\n{table}\n\n{notes}"


def to_csv(result: BisectResult) -> str:
    """One line per step and regressed row (a step that was skipped: one line, no row)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "step",
            "kind",
            "change",
            "baseline",
            "candidate",
            "verdict",
            "rounds",
            "case",
            "phase",
            "row_verdict",
            "ratio",
            "ratio_low",
            "ratio_high",
            "reason",
            "elapsed_s",
        ]
    )
    for s in result.steps:
        common = [s.index, s.kind, s.change, s.baseline, s.candidate, s.verdict, s.judgement.rounds]
        for r in s.judgement.rows or [None]:
            cells = (
                [r.case, r.phase, r.verdict, r.ratio, r.ratio_low, r.ratio_high] if r else [""] * 6
            )
            writer.writerow([*common, *cells, s.judgement.reason, f"{s.elapsed_s:.1f}"])
    return out.getvalue()


def steps_figure(result: BisectResult):
    """Each step's ratio per regressed row, with its interval; a step skipped is marked."""
    from matplotlib.figure import Figure

    from snnbench.render.plots import MAX_WIDTH_IN

    fig = Figure(
        figsize=(min(MAX_WIDTH_IN, 3.0 + 0.6 * len(result.steps)), 3.6), layout="constrained"
    )
    ax = fig.subplots()
    phases = sorted({r.phase for s in result.steps for r in s.judgement.rows})
    for k, phase in enumerate(phases):
        xs, ys, lo, hi = [], [], [], []
        for s in result.steps:
            for r in s.judgement.rows:
                if r.phase == phase and r.ratio is not None:
                    xs.append(s.index + 0.1 * (k - len(phases) / 2))
                    ys.append(r.ratio)
                    lo.append(r.ratio - (r.ratio_low or r.ratio))
                    hi.append((r.ratio_high or r.ratio) - r.ratio)
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o", capsize=3, label=phase)
    for s in result.steps:
        if s.verdict == "skipped":
            ax.axvline(s.index, color="0.7", linestyle=":")
    ax.axhline(1.0, color="0.4", linewidth=0.8)
    ax.set_xticks([s.index for s in result.steps])
    ax.set_xticklabels([f"{s.index}\n{s.kind}" for s in result.steps], fontsize=7)
    ax.set_ylabel("candidate / baseline (time)")
    ax.set_title("bisect: each step's effect (interval: the gate's)")
    if phases:
        ax.legend(fontsize=7)
    return fig
