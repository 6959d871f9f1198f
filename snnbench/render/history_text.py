"""A history as terminal text and as JSON: what was used, what was left out, what changed."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from snnbench.history.changes import ChangePoint
from snnbench.history.series import History
from snnbench.render import terminal

#: Left-out folders the terminal lists before saying "and N more" (the page lists all).
SHOWN_LEFT_OUT = 5
#: Changes the terminal table shows (the page and the JSON hold all).
SHOWN_CHANGES = 10


def render_text(
    history: History, changes: Sequence[ChangePoint], new: Sequence[ChangePoint]
) -> str:
    """The summary a command prints, within :func:`terminal.width` columns."""
    lines = [
        terminal.wrap(
            f"history of {history.machine}: {len(history.runs)} runs used, "
            f"{len(history.left_out)} left out; {len(history.series)} configurations; "
            f"{len(changes)} change point{'' if len(changes) == 1 else 's'}, "
            f"{len(new)} new in the newest run"
        )
    ]
    for exclusion in history.left_out[:SHOWN_LEFT_OUT]:
        lines.append(terminal.wrap(f"left out {exclusion.where}: {exclusion.reason}", "  "))
    if len(history.left_out) > SHOWN_LEFT_OUT:
        lines.append(f"  ... and {len(history.left_out) - SHOWN_LEFT_OUT} more (see the page)")
    if changes:
        lines += ["", changes_table(changes[:SHOWN_CHANGES], new)]
        if len(changes) > SHOWN_CHANGES:
            lines.append(f"... and {len(changes) - SHOWN_CHANGES} more (see the page)")
    for change in new:
        command = change.bisect_command()
        if command:
            lines += ["", terminal.wrap(f"bisect {change.series.label}: {command}", "  ")]
    return "\n".join(lines) + "\n"


def changes_table(changes: Sequence[ChangePoint], new: Sequence[ChangePoint] = ()) -> str:
    """The changes as a terminal table: configuration, ratio, runs either side, what changed."""
    fresh = {(c.series.key, c.after.run_id) for c in new}
    rows = [
        {
            "configuration": c.series.label,
            "after/before": f"{c.ratio:.3g}",
            "interval": f"[{c.interval[0]:.3g}, {c.interval[1]:.3g}]",
            "new": "yes" if (c.series.key, c.after.run_id) in fresh else "",
            "first run after": c.after.run_id,
            "changed": ", ".join(k for k, _, _ in c.environment_diff()) or "nothing",
            "yardstick": _yardstick(c.machine_drift()),
        }
        for c in changes
    ]
    return terminal.table(pd.DataFrame(rows), keys=1)


def _yardstick(drift: str) -> str:
    if not drift:
        return "steady"
    return "moved" if drift.startswith("machine drift") else "absent"


def change_to_dict(change: ChangePoint, new: bool = False) -> dict:
    """One change point as JSON-able data (what a nightly job reads)."""
    low, high = change.interval
    return {
        "configuration": change.series.label,
        "key": dict(change.series.key),
        "ratio": change.ratio,
        "interval": [low, high],
        "alpha": change.alpha,
        "p_value": change.p_value,
        "slower": change.slower,
        "new_in_newest_run": new,
        "before": {"run_id": change.before.run_id, "runs": change.n_before},
        "after": {"run_id": change.after.run_id, "runs": change.n_after},
        "changed": [{"field": k, "before": a, "after": b} for k, a, b in change.environment_diff()],
        "bisect": change.bisect_command(),
    }


def history_to_dict(
    history: History, changes: Sequence[ChangePoint], new: Sequence[ChangePoint]
) -> dict:
    """The whole account: runs used and left out, every change, which are new."""
    fresh = {(c.series.key, c.after.run_id) for c in new}
    return {
        "machine": history.machine,
        "newest_run": history.newest_run.run_id if history.newest_run else None,
        "runs_used": [r.run_id for r in history.runs],
        "left_out": [{"folder": e.where, "reason": e.reason} for e in history.left_out],
        "configurations": len(history.series),
        "changes": [change_to_dict(c, (c.series.key, c.after.run_id) in fresh) for c in changes],
        "new_changes": len(new),
    }
