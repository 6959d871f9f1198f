"""``snnbench compare``, ``snnbench ab`` and ``snnbench noise-study``: regressions."""

from __future__ import annotations

import argparse
import sys
import time

from snnbench.cli.args import (
    csv_list,
    non_negative_float,
    positive_float,
    positive_int,
)
from snnbench.cli.bench_commands import add_matrix_axes, matrix_from_args
from snnbench.errors import SnnbenchError


def _phase_threshold(text: str) -> tuple[tuple[str, float], ...]:
    """``PHASE=PERCENT`` (a phase group such as ``compile`` sets each of its phases)."""
    from snnbench.measure.phases import PHASE_GROUPS

    phase, sep, pct = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected PHASE=PERCENT, got {text!r}")
    value = non_negative_float(pct)
    return tuple((p, value) for p in PHASE_GROUPS.get(phase.strip(), (phase.strip(),)))


def add_compare_policy(p) -> None:
    """Options shared by ``compare`` and ``ab``: thresholds, significance, outputs."""
    p.add_argument(
        "--threshold",
        type=non_negative_float,
        default=10.0,
        metavar="PERCENT",
        help="a slowdown must exceed this to be a regression (default 10)",
    )
    p.add_argument(
        "--threshold-phase",
        type=_phase_threshold,
        action="append",
        default=[],
        metavar="PHASE=PERCENT",
        help="per-phase threshold, e.g. grad_compile=25",
    )
    p.add_argument(
        "--alpha",
        type=positive_float,
        default=0.05,
        help="significance level of the rank test (default 0.05)",
    )
    p.add_argument("--markdown", metavar="FILE", help="also write the table as markdown here")
    p.add_argument("--csv", metavar="FILE", help="also write the comparison as CSV here")
    p.add_argument(
        "--fail-on-exact",
        action="store_true",
        help="also exit 1 when a noise-free metric (e.g. flops) increased",
    )


def _policy(args: argparse.Namespace):
    from snnbench.regress.compare import Policy

    overrides = tuple(pair for group in args.threshold_phase for pair in group)
    return Policy(threshold_pct=args.threshold, phase_threshold_pct=overrides, alpha=args.alpha)


def add_compare(sub) -> None:
    p = sub.add_parser("compare", help="compare two result sets; exit 1 on a regression")
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
    add_compare_policy(p)
    p.set_defaults(run=_run_compare)


def _load(path: str, name: str):
    from snnbench.measure import storage

    try:
        return storage.load_results(path)
    except SnnbenchError as error:
        raise SnnbenchError(f"{name}: {error}") from None


def _run_compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from snnbench.regress import compare
    from snnbench.render import compare_text as compare_render

    policy = _policy(args)
    if args.by:
        frame = pd.concat([_load(p, "`PATH`") for p in args.paths], ignore_index=True)
        steps = compare.compare_by(frame, args.by, policy)
        print(compare_render.render_history(steps, markdown=False), end="")
        markdown = compare_render.render_history(steps, markdown=True)
    else:
        if len(args.paths) != 2:
            raise SnnbenchError(
                f"`compare` needs BASELINE and CANDIDATE (or --by COLUMN); got "
                f"{len(args.paths)} paths"
            )
        baseline = _load(args.paths[0], "`BASELINE`")
        candidate = _load(args.paths[1], "`CANDIDATE`")
        steps = [compare.compare_frames(baseline, candidate, policy, labels=tuple(args.paths))]
        print(compare_render.render_text(steps[0]), end="")
        markdown = compare_render.render_markdown(steps[0])
    _write_outputs(args, markdown, compare_render.to_csv(steps))
    return _exit_code(steps, args.fail_on_exact)


def _write_outputs(args: argparse.Namespace, markdown: str, csv_text: str) -> None:
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


def _exit_code(steps, fail_on_exact: bool) -> int:
    regressed = any(step.regressions for step in steps)
    exact_up = fail_on_exact and any(e.increased for step in steps for e in step.exact)
    return 1 if regressed or exact_up else 0


def add_noise_study(sub) -> None:
    p = sub.add_parser("noise-study", help="how often compare cries wolf, and catches a slowdown")
    p.add_argument(
        "--trials",
        type=positive_int,
        default=50,
        help="trials per configuration and slowdown (default 50)",
    )
    p.add_argument(
        "--slowdowns",
        type=csv_list(non_negative_float),
        default=(0.0, 10.0, 30.0),
        metavar="PERCENTS",
        help="injected slowdowns in percent (default 0,10,30)",
    )
    p.add_argument(
        "--chunks",
        type=positive_int,
        default=8,
        help="interleaved measurements per side per trial (default 8)",
    )
    p.add_argument("--out", default="results", help="results root")
    p.add_argument("--no-progress", action="store_true", help="hide progress messages")
    p.set_defaults(run=_run_noise_study)


def _run_noise_study(args: argparse.Namespace) -> int:
    from snnbench.measure import storage
    from snnbench.render import noise_page
    from snnbench.studies import noise_study

    storage.check_writable(args.out)
    config = noise_study.StudyConfig(
        trials=args.trials, chunks=args.chunks, slowdowns=tuple(s / 100.0 for s in args.slowdowns)
    )

    def progress(done: int, total: int) -> None:
        if not args.no_progress:
            print(f"\rnoise study: {done}/{total} trials", end="", file=sys.stderr, flush=True)

    load_before = noise_study.load_average()
    start = time.perf_counter()
    results = noise_study.run_study(config, progress)
    wall_s = time.perf_counter() - start
    if not args.no_progress:
        print(file=sys.stderr)
    run_dir = noise_study.write_study(
        results,
        config,
        args.out,
        wall_s,
        load_before,
        noise_study.load_average(),
        command=args.command_line,
    )
    print(noise_page.rates_table(noise_study.rates(results)))
    print(f"\n{len(results)} trials in {wall_s:.0f} s -> {run_dir}")
    return 0


def add_ab(sub) -> None:
    p = sub.add_parser("ab", help="A/B: the matrix in two environments, interleaved, compared")
    p.add_argument(
        "--a-spec",
        action="append",
        required=True,
        metavar="SPEC",
        help="baseline: jaxley==0.13.0, NAME@GIT_REV, or a package folder (repeatable)",
    )
    p.add_argument(
        "--b-spec", action="append", required=True, metavar="SPEC", help="candidate, as --a-spec"
    )
    p.add_argument(
        "--rounds",
        type=positive_int,
        default=3,
        help="rounds per side, run A B B A ... (default 3)",
    )
    p.add_argument("--repo", default=".", help="git repository of NAME@REV specs (default: .)")
    p.add_argument("--envs", default=".snnbench-envs", help="cache of environments")
    add_matrix_axes(p)
    p.add_argument("--out", default="results", help="results root")
    add_compare_policy(p)
    p.set_defaults(run=_run_ab)


def _run_ab(args: argparse.Namespace) -> int:
    from pathlib import Path

    from snnbench.measure import runner, storage
    from snnbench.regress import ab, compare, envs
    from snnbench.render import compare_text as compare_render

    matrix = matrix_from_args(args, runner.probe_platforms())
    policy = _policy(args)
    storage.check_writable(args.out)
    repo = Path(args.repo)
    environments = {}
    for side, specs in (("A", args.a_spec), ("B", args.b_spec)):
        requirements = tuple(envs.parse_spec(s, repo) for s in specs)
        print(f"environment {side}: {' + '.join(specs)} ...", file=sys.stderr, flush=True)
        environments[side] = envs.prepare(side, requirements, repo, Path(args.envs))

    def progress(done: int, total: int, side: str) -> None:
        print(f"round {done + 1}/{total}: {side}", file=sys.stderr, flush=True)

    ab_dir = ab.run_ab(
        matrix,
        environments,
        args.rounds,
        Path(args.out),
        "full" if args.full else "quick",
        progress,
    )
    labels = (f"A: {environments['A'].label}", f"B: {environments['B'].label}")
    result = compare.compare_frames(
        _load(ab_dir / "A", "`A`"), _load(ab_dir / "B", "`B`"), policy, labels
    )
    markdown = compare_render.render_markdown(result, title="snnbench A/B")
    storage.atomic_write_text(ab_dir / "comparison.md", markdown)
    storage.atomic_write_text(ab_dir / "comparison.csv", compare_render.to_csv([result]))
    print(compare_render.render_text(result), end="")
    print(f"\n{args.rounds} rounds per side -> {ab_dir}")
    _write_outputs(args, markdown, compare_render.to_csv([result]))
    return _exit_code([result], args.fail_on_exact)
