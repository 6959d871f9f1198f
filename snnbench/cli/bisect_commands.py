"""``snnbench bisect``: which package group or commit made the task slower."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from snnbench.cli.ab_commands import ab_options, add_job_options
from snnbench.cli.args import positive_float, positive_int
from snnbench.cli.regression_commands import EXIT_INCONCLUSIVE, add_verdict_policy

#: found, clean, inconclusive (bad input is 2, from the CLI's error handler).
EXIT_CODES = {"found": 1, "clean": 0, "inconclusive": EXIT_INCONCLUSIVE}


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def add_bisect(sub) -> None:
    p = sub.add_parser(
        "bisect",
        help="bisect: the package group or the commit that made it slower",
        description="Localize a slowdown between two sides. Sides that differ in one "
        "git-revision spec (NAME@REV, or --name with --good/--bad) are bisected by commit; "
        "otherwise by package: pip resolves both sides and the packages that differ move "
        "from A to B one group at a time. Every step is an ab job on the regressed rows. "
        "Exit 1 culprit found, 0 no regression, 3 inconclusive, 2 bad input.",
    )
    p.add_argument("--a-spec", action="append", metavar="SPEC", help="good side, as ab")
    p.add_argument("--b-spec", action="append", metavar="SPEC", help="bad side, as ab")
    p.add_argument(
        "--job",
        help="an ab job folder that found the regression: its sides, matrix and verdict rules "
        "(thresholds, alpha, metric; the verdict flags here are then not used)",
    )
    p.add_argument("--name", help="package built from --repo (commit bisect with --good/--bad)")
    p.add_argument("--good", help="a revision without the slowdown (commit bisect)")
    p.add_argument("--bad", help="a revision with it (commit bisect)")
    p.add_argument(
        "--resume",
        metavar="FOLDER",
        help="an earlier bisect folder: its journalled steps are reused, new ones appended",
    )
    p.add_argument(
        "--search-budget-min",
        type=positive_float,
        default=60.0,
        help="start no step after this many minutes of the whole search (default 60)",
    )
    p.add_argument(
        "--process-rounds",
        type=positive_int,
        default=1,
        metavar="ROUNDS",
        help="rounds one pair of worker processes measures before both sides start fresh "
        "ones (default 1: a fresh pair every round). The process pair is the unit the "
        "gate counts, so --rounds must be at least 4 x ROUNDS: more rounds per process "
        "start, no fewer processes",
    )
    add_job_options(p)
    add_verdict_policy(p)
    p.set_defaults(run=_run_bisect, rounds=4, max_rounds=12)


def _run_bisect(args: argparse.Namespace) -> int:
    from snnbench.cli.bench_commands import matrix_from_args
    from snnbench.errors import SnnbenchError
    from snnbench.measure import runner, storage
    from snnbench.regress import bisect, envs
    from snnbench.regress.ab import DEFAULT_MATRIX
    from snnbench.render import bisect_text, terminal
    from snnbench.render.plots import save_png

    repo, env_root = Path(args.repo), Path(args.envs)
    endpoints = None
    if args.job:
        info, endpoints = bisect.job_verdict(Path(args.job))
        specs = {s: tuple(r["spec"] for r in info["sides"][s]["requirements"]) for s in "AB"}
        matrix = bisect.matrix_from_dict(info["matrix"])
    else:
        if args.name and args.good and args.bad:
            specs = {"A": (f"{args.name}@{args.good}",), "B": (f"{args.name}@{args.bad}",)}
        elif args.a_spec and args.b_spec:
            specs = {"A": tuple(args.a_spec), "B": tuple(args.b_spec)}
        else:
            raise SnnbenchError(
                "`a_spec`: bisect needs --a-spec and --b-spec, --name/--good/--bad, or --job"
            )
        matrix = matrix_from_args(args, runner.probe_platforms(), DEFAULT_MATRIX)
    step_options = replace(ab_options(args, ("all",)), process_rounds=args.process_rounds)
    if args.job:
        # Each step is judged as the job that found the regression was judged.
        step_options = replace(step_options, criteria=bisect.criteria_of(info))
    options = bisect.BisectOptions(step_options, args.search_budget_min * 60)
    storage.check_writable(args.out)
    folder = (
        Path(args.resume)
        if args.resume
        else storage.RunFolder.create(Path(args.out) / "bisect").path
    )
    journal = bisect.Journal(folder)
    commit = bisect.commit_sides(specs, repo)
    if commit is not None:
        name, good, bad, common = commit
        commits = bisect.commit_range(repo, good, bad)

        good_end: list = []  # every revision is installed over the good end's packages

        def make_env(side: str, rev: str):
            reqs = tuple(envs.parse_spec(s, repo) for s in (*common, f"{name}@{rev}"))
            if not good_end:
                good_reqs = (*common, f"{name}@{commits[0][0]}")
                good = tuple(envs.parse_spec(s, repo) for s in good_reqs)
                good_end.append(envs.prepare(side, good, repo, env_root))
            return envs.prepare_over(good_end[0], side, reqs, repo, env_root)

        result = bisect.bisect_commits(matrix, commits, make_env, options, journal, _say, endpoints)
    else:

        def make_env(side: str, pins: tuple[str, ...]):
            return envs.prepare_exact(side, pins, repo, env_root)

        def report(side_specs: tuple[str, ...]):
            reqs = tuple(envs.parse_spec(s, repo) for s in side_specs)
            sources = {r.spec: Path(r.location) for r in reqs if r.kind == "path"}
            checkout = Path(bisect.__file__).resolve().parents[2]
            return envs.resolve_report(envs.install_arguments(reqs, sources, checkout))

        result = bisect.bisect_packages(
            matrix, specs, make_env, report, options, journal, _say, endpoints
        )
    storage.atomic_write_text(folder / "bisect.md", bisect_text.render_markdown(result))
    storage.atomic_write_text(folder / "steps.csv", bisect_text.to_csv(result))
    save_png(bisect_text.steps_figure(result), folder / "steps.png")
    print(bisect_text.render_text(result), end="")
    print(f"\n{len(result.steps)} steps -> {terminal.shown_path(folder)}")
    return EXIT_CODES[result.outcome]
