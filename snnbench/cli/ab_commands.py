"""``snnbench ab`` (two environments, interleaved until the verdict is clear) and
``snnbench noise-study`` (how often that verdict is wrong on this machine)."""

from __future__ import annotations

import argparse
import sys

from snnbench.cli.args import csv_list, non_negative_float, one_of, positive_float, positive_int
from snnbench.cli.bench_commands import add_matrix_axes, matrix_from_args, storage_default
from snnbench.cli.regression_commands import (
    add_outputs,
    add_verdict_policy,
    exit_code,
    policy_from,
    write_outputs,
)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def add_job_options(p) -> None:
    """The A/B job's shape: matrix, rounds, budget, pinning, environments."""
    from snnbench.regress.ab import (
        BLOCK,
        DEFAULT_BUDGET_MIN,
        DEFAULT_MATRIX,
        DEFAULT_MAX_ROUNDS,
        AbOptions,
    )

    add_matrix_axes(p, DEFAULT_MATRIX)
    p.add_argument(
        "--rounds",
        type=positive_int,
        default=AbOptions().rounds,
        help=f"rounds per side before the first verdict, a multiple of {BLOCK} (default "
        f"{AbOptions().rounds}); more are added, {BLOCK} at a time, while a row is inconclusive",
    )
    p.add_argument(
        "--max-rounds",
        type=positive_int,
        default=DEFAULT_MAX_ROUNDS,
        help=f"never more rounds per side than this (default {DEFAULT_MAX_ROUNDS})",
    )
    p.add_argument(
        "--budget-min",
        type=positive_float,
        default=DEFAULT_BUDGET_MIN,
        help=f"start no block of rounds that would end later than this, in minutes of "
        f"measuring (default {DEFAULT_BUDGET_MIN:g}; environments are built before)",
    )
    p.add_argument(
        "--pin-cpu",
        default="auto",
        metavar="CORE",
        help="pin both sides' CPU processes to one core: auto (the last core), a core "
        "number, or none (default auto)",
    )
    p.add_argument("--repo", default=".", help="git repository of NAME@REV specs (default: .)")
    p.add_argument("--envs", default=".snnbench-envs", help="cache of environments")
    p.add_argument("--out", default=storage_default(), help="results root")


def ab_options(args: argparse.Namespace, allow_difference: tuple[str, ...] = ()):
    """The A/B job options the flags ask for."""
    from snnbench.measure import machine
    from snnbench.regress.ab import AbOptions

    return AbOptions(
        rounds=args.rounds,
        max_rounds=args.max_rounds,
        budget_s=args.budget_min * 60,
        criteria=policy_from(args),
        pin_cpu=machine.choose_pin(args.pin_cpu),
        allow_difference=allow_difference,
        command=tuple(args.command_line),
    )


def add_ab(sub) -> None:
    p = sub.add_parser(
        "ab",
        help="A/B: the matrix in two environments, interleaved until the verdict is clear",
        description="Measure the matrix in two virtual environments, case by case in "
        "Thue-Morse order (A B, B A, B A, A B, ...), judging after every 4 rounds until every "
        "row is conclusive, a regression is established, or the budget is spent. Refuses "
        "environments that differ besides what is under test. Exit codes as `compare`.",
    )
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
        "--allow-difference",
        type=csv_list(str),
        metavar="PACKAGES",
        help="packages that may differ between the environments besides those the specs "
        "name (e.g. jax,jaxlib), or all",
    )
    add_job_options(p)
    add_verdict_policy(p)
    add_outputs(p)
    p.set_defaults(run=_run_ab)


def _run_ab(args: argparse.Namespace) -> int:
    from pathlib import Path

    from snnbench.measure import runner, storage
    from snnbench.regress import ab, envs
    from snnbench.render import compare_text as compare_render
    from snnbench.render import terminal

    matrix = matrix_from_args(args, runner.probe_platforms(), ab.DEFAULT_MATRIX)
    options = ab_options(args, tuple(args.allow_difference or ()))
    storage.check_writable(args.out)
    repo = Path(args.repo)
    environments = {}
    for side, specs in (("A", args.a_spec), ("B", args.b_spec)):
        requirements = tuple(envs.parse_spec(s, repo) for s in specs)
        _say(f"environment {side}: {' + '.join(specs)} ...")
        environments[side] = envs.prepare(side, requirements, repo, Path(args.envs))
    result = ab.run_ab(matrix, environments, options, Path(args.out), _say)
    markdown = compare_render.render_markdown(result.comparison, title="snnbench A/B")
    csv_text = compare_render.to_csv([result.comparison])
    storage.atomic_write_text(result.folder / "comparison.md", markdown)
    storage.atomic_write_text(result.folder / "comparison.csv", csv_text)
    full_table = terminal.shown_path(result.folder / "comparison.md")
    print(compare_render.render_text(result.comparison, full_table=full_table), end="")
    ending = (
        f"{result.rounds} rounds per side (case by case), "
        f"{result.elapsed_s / 60:.1f} min; stopped: {result.stopped} -> "
        f"{terminal.shown_path(result.folder)}"
    )
    print("\n" + terminal.wrap(ending, indent="  "))
    write_outputs(args, markdown, csv_text)
    return exit_code([result.comparison], args.fail_on_exact, args.on_inconclusive)


def add_noise_study(sub) -> None:
    from snnbench.studies.noise_study import StudyConfig
    from snnbench.studies.noise_study.load import LOADS
    from snnbench.task.slowdown import KINDS

    defaults = StudyConfig()
    p = sub.add_parser(
        "noise-study",
        help="false alarms and detections of whole `ab` jobs, with real injected regressions",
        description="Runs `snnbench ab` jobs exactly as CI would (separate environments and "
        "processes, the same rounds, budget and verdicts), side B slowed by one kind of "
        "injected regression (SNNBENCH_SLOWDOWN), quiet or under background load; journals "
        "every job (--resume continues a campaign) and reports per-job rates with "
        "Clopper-Pearson bounds, the effect actually injected, the variance components "
        "and the operating characteristic they predict.",
    )
    p.add_argument(
        "--jobs",
        type=positive_int,
        default=defaults.jobs,
        help=f"jobs per cell: kind, size and load (default {defaults.jobs})",
    )
    lists = (
        ("--kinds", KINDS, defaults.kinds, "kinds of injected regression"),
        ("--loads", LOADS, defaults.loads, "loads"),
    )
    for flag, choices, default, what in lists:
        p.add_argument(
            flag,
            type=csv_list(one_of(choices)),
            default=default,
            help=f"{what}, from {','.join(choices)} (default: all)",
        )
    p.add_argument(
        "--slowdowns",
        type=csv_list(non_negative_float),
        default=tuple(s * 100 for s in defaults.slowdowns),
        metavar="PERCENTS",
        help="injected sizes in percent; 0 is A vs A (default "
        + ",".join(f"{s * 100:g}" for s in defaults.slowdowns)
        + ")",
    )
    p.add_argument(
        "--load",
        type=positive_int,
        default=defaults.load_processes,
        metavar="PROCESSES",
        help=f"load processes in a loaded job (default {defaults.load_processes})",
    )
    p.add_argument(
        "--spec",
        default=defaults.spec,
        help=f"what both sides install (default {defaults.spec}: the committed checkout)",
    )
    p.add_argument(
        "--resume",
        metavar="FOLDER",
        help="a study folder to continue: runs the planned jobs its journal lacks",
    )
    p.add_argument(
        "--max-jobs",
        type=positive_int,
        help="run at most this many jobs now (a part of a campaign; --resume continues it)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress messages")
    add_job_options(p)
    add_verdict_policy(p)
    p.set_defaults(run=_run_noise_study)


def _run_noise_study(args: argparse.Namespace) -> int:
    from pathlib import Path

    from snnbench.measure import runner, storage
    from snnbench.regress import ab
    from snnbench.render import noise_page, terminal
    from snnbench.studies import noise_study

    matrix = matrix_from_args(args, runner.probe_platforms(), ab.DEFAULT_MATRIX)
    config = noise_study.StudyConfig(
        jobs=args.jobs,
        kinds=tuple(args.kinds),
        slowdowns=tuple(s / 100.0 for s in args.slowdowns),
        loads=tuple(args.loads),
        load_processes=args.load,
        spec=args.spec,
    )
    options = ab_options(args)
    storage.check_writable(args.out)
    study = noise_study.run_study(
        config,
        matrix,
        options,
        Path(args.out),
        Path(args.repo),
        Path(args.envs),
        progress=None if args.no_progress else _say,
        resume=Path(args.resume) if args.resume else None,
        max_jobs=args.max_jobs,
    )
    if study.rates:
        print(noise_page.terminal_rates(study.rates))
    print(
        f"\n{len(study.jobs)} jobs journalled (this part {study.wall_s / 60:.0f} min) -> "
        f"{terminal.shown_path(study.folder)}"
    )
    return 0
