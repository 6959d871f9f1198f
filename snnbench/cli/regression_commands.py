"""``snnbench compare``: regression verdicts, and the verdict flags ``ab`` and the noise study share.

Exit codes of ``compare`` and ``ab``: 0 no regression and every row conclusive,
1 a regression (a slower row, or a row the candidate failed, crashed on or lost),
2 bad input, 3 inconclusive (with ``--on-inconclusive fail``, the default;
``pass`` turns it into 0), and 3 whatever ``--on-inconclusive`` says when a row
could not be judged (not comparable: e.g. not in the candidate's matrix) or the
candidate's run is incomplete (interrupted before measuring rows its matrix
holds): neither is ever clean, and neither is a regression.
"""

from __future__ import annotations

import argparse

from snnbench.cli.args import non_negative_float, positive_float
from snnbench.cli.bench_commands import storage_default
from snnbench.errors import SnnbenchError

#: Exit code of a comparison that could not decide (``--on-inconclusive fail``).
EXIT_INCONCLUSIVE = 3
#: Compile phases are noisier and their changes ride on jax releases: a wider default.
DEFAULT_PHASE_THRESHOLDS = ("compile=25",)


def _phase_threshold(text: str) -> tuple[tuple[str, float], ...]:
    """``PHASE=PERCENT`` (a phase group such as ``compile`` sets each of its phases)."""
    from snnbench.measure.phases import PHASE_GROUPS

    phase, sep, pct = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected PHASE=PERCENT, got {text!r}")
    value = non_negative_float(pct)
    return tuple((p, value) for p in PHASE_GROUPS.get(phase.strip(), (phase.strip(),)))


def add_verdict_policy(p) -> None:
    """When a difference counts: thresholds, the job's alpha, the metric (the defaults
    are :class:`Criteria`'s, written out in ``HELP_VALUES``)."""
    from snnbench.cli.bench_commands import HELP_VALUES

    threshold_pct, alpha_default = HELP_VALUES["threshold_pct"], HELP_VALUES["alpha"]
    p.add_argument(
        "--threshold",
        type=non_negative_float,
        default=threshold_pct,
        metavar="PERCENT",
        help=f"a change must exceed this to be slower or faster (default {threshold_pct:g})",
    )
    p.add_argument(
        "--threshold-phase",
        type=_phase_threshold,
        action="append",
        metavar="PHASE=PERCENT",
        help="per-phase threshold, e.g. grad_compile=25 or compile=25 "
        f"(default {', '.join(DEFAULT_PHASE_THRESHOLDS)})",
    )
    p.add_argument(
        "--thresholds-from",
        metavar="FOLDER",
        help="per-phase thresholds a noise study suggests from the noise it measured on this "
        "machine (its folder or thresholds.csv); --threshold-phase still overrides them",
    )
    alpha = (
        f"false-alarm rate of the whole job, all rows together (Holm); default {alpha_default:g}"
    )
    p.add_argument("--alpha", type=positive_float, default=alpha_default, help=alpha)
    p.add_argument(
        "--metric",
        choices=("auto", "cpu", "wall"),
        default="auto",
        help="per-call time that decides: process CPU time, wall time, or auto (CPU time "
        "where both sides ran pinned to one core on a CPU, else wall time)",
    )


def add_outputs(p) -> None:
    """Where the comparison goes and what fails the command."""
    p.add_argument(
        "--on-inconclusive",
        choices=("fail", "pass"),
        default="fail",
        help=f"exit {EXIT_INCONCLUSIVE} (fail) or 0 (pass) when a row is inconclusive",
    )
    p.add_argument("--markdown", metavar="FILE", help="also write the table as markdown here")
    p.add_argument("--csv", metavar="FILE", help="also write the comparison as CSV here")
    p.add_argument(
        "--fail-on-exact",
        action="store_true",
        help="also exit 1 when a noise-free metric (e.g. flops) increased",
    )


def policy_from(args: argparse.Namespace):
    """The verdict policy the flags ask for."""
    from snnbench.regress.compare import Criteria

    groups = [_phase_threshold(t) for t in DEFAULT_PHASE_THRESHOLDS]
    if getattr(args, "thresholds_from", None):
        from snnbench.studies.noise_study.components import read_thresholds

        groups.append(read_thresholds(args.thresholds_from))
    # Later pairs win (Criteria.threshold_for reads them into a dict in order).
    groups += args.threshold_phase or []
    overrides = tuple(pair for group in groups for pair in group)
    return Criteria(
        threshold_pct=args.threshold,
        phase_threshold_pct=overrides,
        alpha=args.alpha,
        metric=args.metric,
    )


def add_compare(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="compare two result sets; exit 1 on a regression, 3 when inconclusive",
        description="Judge CANDIDATE against BASELINE row by row: slower, faster, no change "
        "(a change as large as the threshold is ruled out), inconclusive, or not comparable. "
        "Runs from different machines or measuring policies are refused.",
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="BASELINE CANDIDATE (run folders, results trees or CSV files); "
        "with --by, one or more paths",
    )
    p.add_argument(
        "--by", metavar="COLUMN", help="line up the values of COLUMN instead, e.g. jaxley_version"
    )
    p.add_argument(
        "--allow-machine-change",
        action="store_true",
        help="compare runs from different machines or measuring policies anyway",
    )
    p.add_argument(
        "--shared-only",
        action="store_true",
        help="judge only the rows both runs have: rows the candidate lacks (a smaller matrix, "
        "an interrupted run) are listed but do not decide the outcome",
    )
    p.add_argument(
        "--out",
        default=storage_default(),
        help="results root: the comparison in full goes to <out>/compare/<machine>/<stamp>/",
    )
    add_verdict_policy(p)
    add_outputs(p)
    p.set_defaults(run=_run_compare)


def load(path, name: str):
    """Benchmark rows of ``path``; an error names the argument (``BASELINE``...)."""
    from snnbench.measure import storage

    try:
        return storage.load_results(path)
    except SnnbenchError as error:
        raise SnnbenchError(f"{name}: {error}") from None


def run_infos(path) -> list[dict]:
    """The ``run.json`` of every run folder ``path`` holds (a CSV: its run's, when it is one)."""
    from pathlib import Path

    from snnbench.measure import storage

    path = Path(path)
    if path.is_file():
        is_run_table = path.name in (storage.TABLE, storage.JOURNAL)
        folders = (
            [path.parent] if is_run_table and (path.parent / storage.RUN_INFO).exists() else []
        )
    else:
        folders = storage.find_run_dirs(path)
    return [info for f in folders if (info := storage.RunFolder(f).read_info())]


def _run_compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from snnbench.measure import storage
    from snnbench.regress import compare
    from snnbench.render import compare_text as compare_render

    policy = policy_from(args)
    storage.check_writable(args.out)
    if args.by:
        frame = pd.concat([load(p, "`PATH`") for p in args.paths], ignore_index=True)
        steps = compare.compare_by(frame, args.by, policy, args.allow_machine_change)
        text = compare_render.render_history(steps, markdown=False)
        markdown = compare_render.render_history(steps, markdown=True)
    else:
        if len(args.paths) != 2:
            raise SnnbenchError(
                f"`compare` needs BASELINE and CANDIDATE (or --by COLUMN); got "
                f"{len(args.paths)} paths"
            )
        baseline = load(args.paths[0], "`BASELINE`")
        candidate = load(args.paths[1], "`CANDIDATE`")
        plan = compare.RunPlan.from_infos(run_infos(args.paths[1]))
        steps = [
            compare.compare_frames(
                baseline,
                candidate,
                policy,
                tuple(args.paths),
                args.allow_machine_change,
                plan=plan,
                shared_only=args.shared_only,
                baseline_plan=compare.RunPlan.from_infos(run_infos(args.paths[0])),
            )
        ]
        text, markdown = None, compare_render.render_markdown(steps[0])
    csv_text = compare_render.to_csv(steps)
    folder = _write_folder(args, steps, markdown, csv_text)
    shown = _shown(folder / "comparison.md")
    if text is None:
        text = compare_render.render_text(steps[0], full_table=shown)
    else:
        text += f"\nEvery column in full: {shown}\n"
    print(text, end="")
    write_outputs(args, markdown, csv_text)
    return exit_code(steps, args.fail_on_exact, args.on_inconclusive)


def _shown(path) -> str:
    from snnbench.render import terminal

    return terminal.shown_path(path)


def _write_folder(args: argparse.Namespace, steps, markdown: str, csv_text: str):
    """The comparison's own folder under ``--out``: its markdown, CSV and ``run.json``."""
    from pathlib import Path

    from snnbench.measure import machine, storage
    from snnbench.regress.compare import outcome_of

    folder = storage.RunFolder.create(Path(args.out) / "compare")
    info = storage.start_info(folder, args.command_line, paths=list(args.paths))
    folder.write_text("comparison.md", markdown)
    folder.write_text("comparison.csv", csv_text)
    info.update(status="complete", outcome=outcome_of(steps), finished_utc=machine.utc_now())
    folder.write_info(info)
    return folder.path


def write_outputs(args: argparse.Namespace, markdown: str, csv_text: str) -> None:
    """``--markdown`` and ``--csv``, each into an existing folder."""
    from pathlib import Path

    from snnbench.measure.storage import atomic_write_text

    outputs = (("--markdown", args.markdown, markdown), ("--csv", args.csv, csv_text))
    for flag, path, text in outputs:
        if not path:
            continue
        target = Path(path)
        if not target.parent.is_dir():
            raise SnnbenchError(f"`{flag}` must be a file in an existing folder; got {path!r}")
        atomic_write_text(target, text)


def exit_code(steps, fail_on_exact: bool, on_inconclusive: str) -> int:
    """1 regression (or an exact metric up, when asked), 3 inconclusive (unless passed),
    not comparable or incomplete (always: neither is ever clean), else 0."""
    from snnbench.regress.compare import (
        INCOMPARABLE,
        INCOMPLETE,
        REGRESSION,
        UNDECIDED,
        outcome_of,
    )

    outcome = outcome_of(steps)
    exact_up = fail_on_exact and any(e.increased for step in steps for e in step.exact)
    if outcome == REGRESSION or exact_up:
        return 1
    if outcome == UNDECIDED and on_inconclusive == "fail":
        return EXIT_INCONCLUSIVE
    if outcome in (INCOMPARABLE, INCOMPLETE):
        return EXIT_INCONCLUSIVE
    return 0
