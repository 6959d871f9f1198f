"""``snnbench history``: the series of a results tree, their change points, and the dashboard."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from snnbench.cli.args import non_negative_float

#: Exit code when ``--fail-on-new`` is given and the newest run brought a change point.
EXIT_NEW_CHANGE = 1
#: Library arguments of this command that the shared flag table does not name.
_FLAGS = {
    "machine": "--machine",
    "min_change_pct": "--min-change",
    "alpha": "--alpha",
    "order_by": "--order-by",
}


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}")
    return value


def add_history(sub) -> None:
    from snnbench.cli.bench_commands import storage_default

    p = sub.add_parser(
        "history",
        help="performance history: series over runs, change points, an HTML dashboard",
        description="Read every benchmark run under --results, build one series per "
        "configuration (a point per run, ordered by when the run started), find the change "
        "points in each, and write --out/index.html (one self-contained page: no server, no "
        "network) and --out/changes.json. Runs of other machines, incomplete runs, damaged "
        "files and A/B rounds are left out and listed with the reason. Exit 0; with "
        "--fail-on-new, exit 1 when the newest run brought a change point; 2 bad input.",
    )
    p.add_argument(
        "--results", default=storage_default(), help="results tree to read (default: runs)"
    )
    p.add_argument("--out", required=True, help="folder for index.html and changes.json")
    p.add_argument(
        "--machine",
        help="machine id whose runs make the history, or `all` to pool every machine "
        "(default: the machine with the most runs)",
    )
    p.add_argument(
        "--order-by",
        default="started",
        metavar="WHAT",
        help="started (when each run started), or a package whose version orders the runs "
        "(jax, jaxley, ...: a series over releases measured in any order)",
    )
    p.add_argument(
        "--alpha",
        type=_probability,
        default=0.01,
        help="family-wise significance over all configurations (Bonferroni)",
    )
    p.add_argument(
        "--min-change",
        dest="min_change_pct",
        type=non_negative_float,
        default=10.0,
        metavar="PCT",
        help="smallest change, in percent either way, that counts as a change point",
    )
    p.add_argument(
        "--fail-on-new",
        action="store_true",
        help="exit 1 when the newest run brought a change point (for a nightly job)",
    )
    p.set_defaults(run=_run_history)


def _run_history(args: argparse.Namespace) -> int:
    from snnbench.errors import SnnbenchError
    from snnbench.history import ChangeCriteria, build_history, find_changes, new_changes
    from snnbench.measure import storage
    from snnbench.render import dashboard, history_text, terminal

    out = Path(args.out)
    try:
        storage.check_writable(out)
        criteria = ChangeCriteria(args.alpha, args.min_change_pct)
        history = build_history(args.results, args.machine, args.order_by)
    except SnnbenchError as error:
        raise error.for_flag(_FLAGS) from None
    changes = find_changes(history, criteria)
    new = new_changes(history, criteria)
    out.mkdir(parents=True, exist_ok=True)
    links = dashboard.tree_links(Path(args.results), out)
    page = dashboard.build_page(history, changes, links, new)
    storage.atomic_write_text(out / dashboard.PAGE, page)
    record = history_text.history_to_dict(history, changes, new)
    storage.atomic_write_text(out / "changes.json", storage.to_json(record))
    print(history_text.render_text(history, changes, new), end="")
    print(terminal.wrap(f"dashboard: {terminal.shown_path(out / dashboard.PAGE)}", "  "))
    sys.stdout.flush()
    return EXIT_NEW_CHANGE if args.fail_on_new and new else 0
