"""The history dashboard: one self-contained HTML page, built from a history and its changes.

The page is plotly's: one figure of time per call over runs, a line per
configuration, with dropdowns (plotly's ``updatemenus``) that filter by backend,
phase, precision, device, batch size and network size; the change points are
marked on their lines; hovering a point names its run, commit and versions.
Below it: the detected changes (largest first), the runs used and those left
out with their reasons, and links to the figures and study pages of the tree.
plotly.js is written into the page, so it opens from disk with no server and
no network. The page is a pure function of its inputs (fixed element ids, no
build time), so rebuilding from the same runs gives the same file.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from snnbench.history.changes import ChangePoint
from snnbench.history.series import BY_START, History, Point, Series
from snnbench.render.units import format_seconds

PAGE = "index.html"
PLOT_ID = "history-plot"
#: The dropdown filters, in order: (facet of a series, its label on the page).
FILTERS = (
    ("backend", "backend"),
    ("phase", "phase"),
    ("precision", "precision"),
    ("platform", "device"),
    ("batch_size", "batch"),
    ("size", "size"),
)
ALL = "all"
#: The dropdowns' spacing, as a fraction of the plot's width (plotly's toolbar has the rest).
_MENU_STEP = 0.14
#: Files of a results tree the page links to: what a person reads there.
LINKED_NAMES = ("REPORT.md", "summary.md")
LINKED_SUFFIXES = (".png",)

# Plotly calls this after every dropdown choice: a trace is shown when its facets match
# every menu's choice. plotly's own menus cannot combine several filters (each one sets
# the visibility of all traces), so this is the one piece of glue the page needs.
_FILTER_GLUE = """
var gd = document.getElementById('{plot_id}');
var names = %s;
gd.on('plotly_buttonclicked', function () {
  var chosen = gd.layout.updatemenus.map(function (m, i) {
    return m.buttons[m.active || 0].label;
  });
  var visible = gd.data.map(function (trace) {
    return names.every(function (name, i) {
      return chosen[i] === '%s' || trace.meta[name] === chosen[i];
    });
  });
  Plotly.restyle(gd, {visible: visible});
});
"""


@dataclass(frozen=True)
class Link:
    """A file of the results tree the page links to, relative to the page."""

    label: str
    href: str


def tree_links(root: Path, out: Path) -> tuple[Link, ...]:
    """Links from ``out``'s page to the reports, study summaries and figures under ``root``."""
    root, out = Path(root), Path(out)
    found = sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and (p.name in LINKED_NAMES or p.suffix in LINKED_SUFFIXES)
        and not p.resolve().is_relative_to(out.resolve())
    )
    return tuple(
        Link(str(p.relative_to(root)), Path(os.path.relpath(p, out)).as_posix()) for p in found
    )


def build_page(
    history: History,
    changes: Sequence[ChangePoint],
    links: Sequence[Link] = (),
    new: Sequence[ChangePoint] = (),
) -> str:
    """The dashboard's HTML text."""
    figure = build_figure(history, changes)
    names = json.dumps([name for name, _ in FILTERS])
    plot = figure.to_html(
        full_html=False,
        include_plotlyjs=True,
        div_id=PLOT_ID,
        config={"responsive": True, "displaylogo": False},
        post_script=_FILTER_GLUE % (names, ALL),
    )
    parts = [
        _header(history, changes, new),
        plot,
        "<h2>Detected changes, largest first</h2>",
        _changes_table(changes, new),
        "<h2>Runs used</h2>",
        _runs_table(history),
        "<h2>Runs left out</h2>",
        _left_out_table(history),
        "<h2>Figures and results in this tree</h2>",
        _links_list(links),
    ]
    return _document("snnbench performance history", "\n".join(parts))


def build_figure(history: History, changes: Sequence[ChangePoint]):
    """The plotly figure: a line per series, change points marked, filter dropdowns."""
    import plotly.graph_objects as go

    figure = go.Figure()
    where = _positions(history)
    for series in history.series:
        figure.add_trace(_series_trace(go, series, where))
    by_series: dict[tuple, list[ChangePoint]] = {}
    for change in changes:
        by_series.setdefault(change.series.key, []).append(change)
    for series in history.series:
        if series.key in by_series:
            figure.add_trace(_change_trace(go, series, by_series[series.key], where))
    figure.update_layout(
        template="plotly_white",
        height=640,
        margin={"t": 110, "l": 70, "r": 20, "b": 50},
        xaxis=_x_axis(history),
        yaxis={"title": "time per call (s, median of the run)", "type": "log"},
        showlegend=len(history.series) <= 30,
        legend={"font": {"size": 10}},
        updatemenus=_menus(history),
        annotations=_menu_labels(),
        hovermode="closest",
    )
    return figure


def _positions(history: History) -> dict[str, object]:
    """Each run's x: its start time, or its place in the history when ordered by a version."""
    if history.order_by == BY_START:
        return {r.run_id: r.started_utc for r in history.runs}
    return {r.run_id: i for i, r in enumerate(history.runs)}


def _x_axis(history: History) -> dict:
    if history.order_by == BY_START:
        return {"title": "run started (UTC)"}
    labels = [
        f"{history.order_by} {dict(r.versions).get(history.order_by, '?')}" for r in history.runs
    ]
    return {
        "title": f"runs in order of {history.order_by}'s version",
        "tickmode": "array",
        "tickvals": list(range(len(labels))),
        "ticktext": labels,
    }


def _facets(series: Series) -> dict[str, str]:
    return {name: series.facet(name) for name, _ in FILTERS}


def _series_trace(go, series: Series, where: dict[str, object]):
    points = series.points
    low = [
        p.median_s - p.interval_s[0] if p.interval_s[0] == p.interval_s[0] else 0 for p in points
    ]
    high = [
        p.interval_s[1] - p.median_s if p.interval_s[1] == p.interval_s[1] else 0 for p in points
    ]
    return go.Scatter(
        x=[where[p.run.run_id] for p in points],
        y=[p.median_s for p in points],
        error_y={"type": "data", "array": high, "arrayminus": low, "thickness": 1, "width": 2},
        mode="lines+markers",
        name=series.label,
        meta=_facets(series),
        customdata=[_hover(p) for p in points],
        hovertemplate=f"<b>{html.escape(series.label)}</b><br>%{{customdata}}<extra></extra>",
    )


def _hover(point: Point) -> str:
    low, high = point.interval_s
    interval = (
        f" [{format_seconds(low)}, {format_seconds(high)}]" if low == low else " (one sample)"
    )
    versions = ", ".join(f"{k} {v}" for k, v in point.run.versions)
    return "<br>".join(
        [
            f"median {format_seconds(point.median_s)}{interval}, {len(point.samples_s)} samples",
            f"run {html.escape(point.run.run_id)}",
            f"commit {point.run.commit_label}",
            html.escape(versions),
        ]
    )


def _change_trace(go, series: Series, changes: Sequence[ChangePoint], where: dict[str, object]):
    return go.Scatter(
        x=[where[c.after.run_id] for c in changes],
        y=[series.points[c.index].median_s for c in changes],
        mode="markers",
        name=f"change: {series.label}",
        showlegend=False,
        meta=_facets(series),
        marker={
            "symbol": "triangle-up",
            "size": 16,
            "color": ["#d62728" if c.slower else "#2ca02c" for c in changes],
            "line": {"width": 1, "color": "black"},
        },
        customdata=[_change_hover(c) for c in changes],
        hovertemplate=f"<b>change in {html.escape(series.label)}</b><br>%{{customdata}}"
        "<extra></extra>",
    )


def _change_hover(change: ChangePoint) -> str:
    what = "; ".join(f"{k}: {a} → {b}" for k, a, b in change.environment_diff()) or "nothing"
    lines = [
        f"{_ratio_text(change)} (after / before)",
        f"between {html.escape(change.before.run_id)} and {html.escape(change.after.run_id)}",
        f"changed: {html.escape(what)}",
    ]
    drift = change.machine_drift()
    return "<br>".join([*lines, html.escape(drift)] if drift else lines)


def _ratio_text(change: ChangePoint) -> str:
    low, high = change.interval
    return f"×{change.ratio:.3g} [{low:.3g}, {high:.3g}]"


def _menus(history: History) -> list[dict]:
    menus = []
    for i, (name, _) in enumerate(FILTERS):
        values = sorted({s.facet(name) for s in history.series}, key=_natural)
        menus.append(
            {
                "buttons": [{"label": v, "method": "skip", "args": []} for v in (ALL, *values)],
                "active": 0,
                "direction": "down",
                "showactive": True,
                "x": i * _MENU_STEP,
                "xanchor": "left",
                "y": 1.16,
                "yanchor": "top",
                "name": name,
            }
        )
    return menus


def _menu_labels() -> list[dict]:
    return [
        {
            "text": label,
            "x": i * _MENU_STEP,
            "xref": "paper",
            "xanchor": "left",
            "y": 1.22,
            "yref": "paper",
            "showarrow": False,
        }
        for i, (_, label) in enumerate(FILTERS)
    ]


def _natural(text: str) -> tuple:
    """Numbers in numeric order (batch 16 before 128), text after them."""
    try:
        return (0, float(text.split("x")[0]), text)
    except ValueError:
        return (1, 0.0, text)


# ---------------------------------------------------------------- the page's tables


def _header(history: History, changes: Sequence[ChangePoint], new: Sequence[ChangePoint]) -> str:
    runs = history.runs
    span = f"{runs[0].started_utc} to {runs[-1].started_utc}" if runs else "no runs"
    facts = [
        f"machine: {history.machine}; runs in order of "
        + ("start" if history.order_by == BY_START else f"{history.order_by}'s version"),
        f"{len(runs)} runs used ({span}), {len(history.left_out)} left out",
        f"{len(history.series)} configurations",
        f"{_count(len(changes), 'change point')}, {len(new)} new in the newest run",
    ]
    items = "".join(f"<li>{html.escape(f)}</li>" for f in facts)
    return f"<h1>snnbench performance history</h1>\n<ul>{items}</ul>"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], empty: str) -> str:
    if not rows:
        return f"<p>{html.escape(empty)}</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _changes_table(changes: Sequence[ChangePoint], new: Sequence[ChangePoint]) -> str:
    fresh = {(c.series.key, c.after.run_id) for c in new}
    rows = []
    for c in changes:
        what = "<br>".join(html.escape(f"{k}: {a} → {b}") for k, a, b in c.environment_diff())
        command = c.bisect_command()
        drift = c.machine_drift()
        rows.append(
            [
                html.escape(c.series.label)
                + (" <b>(new)</b>" if (c.series.key, c.after.run_id) in fresh else ""),
                html.escape(_ratio_text(c)),
                f"{c.p_value:.2g}",
                html.escape(f"{c.before.run_id} ({c.n_before} runs)"),
                html.escape(f"{c.after.run_id} ({c.n_after} runs)"),
                what or "nothing recorded",
                html.escape(drift) or "steady",
                f"<code>{html.escape(command)}</code>" if command else "",
            ]
        )
    header = (
        "configuration", "after / before", "p", "last run before", "first run after",
        "what changed", "machine (yardstick)", "bisect",
    )  # fmt: skip
    return _table(header, rows, "No change points: every series is consistent with noise.")


def _runs_table(history: History) -> str:
    rows = [
        [
            html.escape(r.run_id),
            html.escape(r.started_utc),
            html.escape(r.commit_label),
            html.escape(", ".join(f"{k} {v}" for k, v in r.versions)),
        ]
        for r in history.runs
    ]
    return _table(("run", "started (UTC)", "commit", "versions"), rows, "No runs.")


def _left_out_table(history: History) -> str:
    rows = [[html.escape(e.where), html.escape(e.reason)] for e in history.left_out]
    return _table(("folder", "why"), rows, "Every run folder was used.")


def _links_list(links: Sequence[Link]) -> str:
    if not links:
        return "<p>No reports or figures in this tree.</p>"
    items = "".join(
        f'<li><a href="{html.escape(link.href)}">{html.escape(link.label)}</a></li>'
        for link in links
    )
    return f"<ul>{items}</ul>"


_STYLE = """
body { font-family: sans-serif; margin: 1.5em; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; }
code { font-size: 0.9em; }
"""


def _document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )
