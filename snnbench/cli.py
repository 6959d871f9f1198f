"""Command line: the only place that turns errors into exit codes.

Exit codes: 0 success, 1 a regression was found (``compare``) or no setting meets the
error budget (``tradeoffs``), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence

from snnbench.errors import SnnbenchError


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage, so errors stay one line."""

    def error(self, message: str):  # noqa: D102 - argparse hook
        raise SnnbenchError(f"{message} (see `{self.prog} --help`)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train the reference task and print one JSON line")
    p.add_argument("--backend", choices=("jaxley", "dense"), default="jaxley")
    p.add_argument("--epochs", type=_non_negative_int, default=500)
    p.add_argument("--batch-size", type=_positive_int, default=256)
    p.add_argument("--dt-ms", type=_positive_float, default=1e-3)
    p.add_argument("--precision", choices=("float32", "float64"), default="float64")
    p.add_argument("--seed", type=_non_negative_int, default=1701)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(run=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from snnbench.config import TaskConfig
    from snnbench.machine import package_versions, utc_now
    from snnbench.task import make_task

    config = TaskConfig(
        batch_size=args.batch_size, dt_ms=args.dt_ms, precision=args.precision, seed=args.seed
    )
    start = time.perf_counter()
    task = make_task(config, backend=args.backend)
    result = task.train(args.epochs, progress=not args.no_progress)
    record = {
        "backend": args.backend,
        "final_loss": round(result.final_loss, 6),
        "final_accuracy": round(result.final_accuracy, 6),
        "epochs": result.epochs,
        "wall_s": round(time.perf_counter() - start, 3),
        "train_s": round(result.wall_s, 3),
        "config": config.to_dict(),
        "versions": package_versions(),
        "utc": utc_now(),
    }
    print(json.dumps(record), flush=True)
    return 0


def _csv(kind: Callable[[str], object]) -> Callable[[str], tuple]:
    """A comma-separated list of ``kind`` values."""

    def parse(text: str) -> tuple:
        items = [t.strip() for t in text.split(",") if t.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list, got {text!r}")
        return tuple(kind(t) for t in items)

    return parse


def _add_bench(sub) -> None:
    p = sub.add_parser("bench", help="run the benchmark matrix and write a results folder")
    _add_matrix_axes(p)
    p.add_argument("--out", default="results", help="results root (default: results/)")
    p.add_argument("--bench-dir", help="the bench/ folder (default: this checkout's)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=_run_bench)


def _add_matrix_axes(p) -> None:
    """The matrix options shared by ``bench`` and ``ab``."""
    p.add_argument(
        "--full",
        action="store_true",
        help="the full matrix (batch sizes up to 1024, every dt at every batch size)",
    )
    p.add_argument("--backend", type=_csv(str), help="comma list of jaxley,dense")
    p.add_argument("--batch-sizes", type=_csv(_positive_int), help="e.g. 1,16,64,256")
    p.add_argument("--precision", type=_csv(str), help="comma list of float32,float64")
    p.add_argument("--device", type=_csv(str), help="comma list of cpu,gpu,tpu (default: cpu,gpu)")
    p.add_argument("--dt-ms", type=_csv(_positive_float), help="e.g. 0.001,0.002,0.005")
    p.add_argument("--phases", type=_csv(str), help="phases, or the groups trace_lower, compile")


def _matrix(args: argparse.Namespace):
    """The matrix the axis options ask for (the quick matrix, narrowed)."""
    from snnbench import harness

    base = harness.FULL_MATRIX if args.full else harness.QUICK_MATRIX
    changes = {
        "backends": args.backend,
        "batch_sizes": args.batch_sizes,
        "precisions": args.precision,
        "platforms": args.device,
        "dts_ms": args.dt_ms,
        "phases": harness.expand_phases(args.phases) if args.phases else None,
    }
    if args.batch_sizes and not args.full:
        changes["dt_batch_size"] = args.batch_sizes[-1]
    return harness.Matrix(**{**base.__dict__, **{k: v for k, v in changes.items() if v}})


def _run_bench(args: argparse.Namespace) -> int:
    from pathlib import Path

    from snnbench import runner, storage

    matrix = _matrix(args)
    options = runner.RunOptions(
        out_root=Path(args.out),
        bench_dir=Path(args.bench_dir) if args.bench_dir else runner.default_bench_dir(),
        policy="full" if args.full else "quick",
        progress=not args.no_progress,
    )
    start = time.perf_counter()
    run_dir = runner.run_matrix(matrix, options)
    frame = storage.load_results(run_dir)
    summary = runner.summary_table(frame)
    storage.atomic_write_text(run_dir / "summary.md", _summary_page(frame, summary, run_dir))
    print(summary)
    print("\n" + runner.quality_summary(frame))
    print(f"\n{len(frame)} rows in {time.perf_counter() - start:.0f} s -> {run_dir}")
    noisy = int(frame["noisy"].fillna(False).astype(bool).sum())
    if noisy:
        print(f"{noisy} rows marked ~ have IQR/median > 10 %: treat them with care.")
    return 0


def _summary_page(frame, summary: str, run_dir) -> str:
    from snnbench import runner

    meta = frame.iloc[0]
    return (
        f"# Benchmark run {run_dir.parent.name}/{run_dir.name}\n\n"
        f"Machine `{meta['machine_id']}`: {meta['cpu_model']} ({meta['cpu_count']} cores); "
        f"jax {meta['jax_version']}, jaxley {meta['jaxley_version']}, snnbench "
        f"{meta['snnbench_version']} at {str(meta['git_commit'])[:10]}"
        f"{' (dirty)' if bool(meta['git_dirty']) else ''}.\n\n"
        "Median time per call; `~` marks IQR/median > 10 %; compile rows are cold "
        "(persistent compilation cache off).\n\n"
        + summary
        + "\n\n"
        + runner.quality_summary(frame)
        + "\n"
    )


def _add_build_profile(sub) -> None:
    p = sub.add_parser(
        "build-profile", help="build the jaxley network once; show which jaxley calls cost most"
    )
    p.add_argument("--precision", choices=("float32", "float64"), default="float64")
    p.add_argument("--top", type=_positive_int, default=10, help="rows to show")
    p.add_argument(
        "--tutorial-way",
        action="store_true",
        help="build as the tutorial's code does (per-edge loop), for comparison",
    )
    p.set_defaults(run=_run_build_profile)


def _run_build_profile(args: argparse.Namespace) -> int:
    from snnbench.build_profile import profile_build
    from snnbench.config import TaskConfig

    profile = profile_build(TaskConfig(precision=args.precision), tutorial_way=args.tutorial_way)
    table = profile.by_call.head(args.top).round(3)
    print(table.to_markdown(index=False))
    n = int(profile.by_call["n_compiles"].sum())
    print(
        f"\nbuild {profile.wall_s:.2f} s in a fresh process, of which {profile.staging_s:.2f} s is "
        f"JAX tracing/lowering/compiling {n} one-off eager operations."
    )
    return 0


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="turn a results tree into REPORT.md with figures")
    p.add_argument("--results", default="results", help="results tree to read (default: results/)")
    p.add_argument(
        "--out", default="results", help="where REPORT.md and report/*.png go (default: results/)"
    )
    p.set_defaults(run=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from snnbench import report

    written = report.write_report(args.results, args.out)
    for note in written.notes:
        print(f"note: {note.strip('_')}", file=sys.stderr)
    print(
        f"{written.page} ({len(written.images)} figures in {written.page.parent / report.IMAGES})"
    )
    return 0


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _add_tradeoffs(sub) -> None:
    p = sub.add_parser("tradeoffs", help="dt / precision trade-offs: fidelity vs time, Pareto plot")
    p.add_argument(
        "--full",
        action="store_true",
        help="both backends, full timing policy (default: dense only, quick timing)",
    )
    p.add_argument(
        "--dt-ms",
        type=_csv(_positive_float),
        help="steps to try (default 0.00025,0.0005,0.001,0.002,0.005); finest = reference",
    )
    p.add_argument("--precision", type=_csv(str), help="comma list of float32,float64")
    p.add_argument("--backend", type=_csv(str), help="comma list of dense,jaxley")
    p.add_argument(
        "--train-backend",
        type=_csv(str),
        help="backends that also train (default dense); 'none' for no training",
    )
    p.add_argument(
        "--epochs", type=_non_negative_int, help="training epochs per point (default 100)"
    )
    p.add_argument(
        "--batch-size", type=_positive_int, help="batch size (default 256, the tutorial's)"
    )
    p.add_argument("--t-max-ms", type=_positive_float, help="simulated time (default 0.2)")
    p.add_argument(
        "--weights-at",
        choices=("initial", "trained"),
        default="initial",
        help="evaluate fidelity at the tutorial's initial weights, or at the "
        "reference's trained weights",
    )
    p.add_argument("--device", choices=("cpu", "gpu", "tpu"), default="cpu")
    p.add_argument(
        "--max-voltage-rmse",
        type=_float,
        default=0.01,
        metavar="MV",
        help="budget: output-voltage RMSE in mV (default 0.01; negative = no limit)",
    )
    p.add_argument(
        "--min-grad-cosine",
        type=_float,
        default=0.99,
        help="budget: gradient cosine similarity (default 0.99; below -1 = no limit)",
    )
    p.add_argument(
        "--max-accuracy-drop",
        type=_float,
        default=0.02,
        help="budget: accuracy drop of trained weights on the reference (default 0.02; "
        "negative = no limit)",
    )
    p.add_argument(
        "--optimise-for",
        choices=("grad_step", "forward"),
        default="grad_step",
        help="the time to minimise within the budget",
    )
    p.add_argument("--out", default="results", help="results root (default: results/)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=_run_tradeoffs)


def _run_tradeoffs(args: argparse.Namespace) -> int:
    from pathlib import Path

    from snnbench import tradeoffs

    grid = tradeoffs.grid_from_options(
        full=args.full,
        dts_ms=args.dt_ms,
        precisions=args.precision,
        backends=args.backend,
        train_backends=args.train_backend,
        epochs=args.epochs,
        batch_size=args.batch_size,
        t_max_ms=args.t_max_ms,
        weights_at=args.weights_at,
        platform=args.device,
    )
    budget = tradeoffs.Budget(
        max_voltage_rmse_mv=None if args.max_voltage_rmse < 0 else args.max_voltage_rmse,
        min_grad_cosine=None if args.min_grad_cosine < -1 else args.min_grad_cosine,
        max_accuracy_drop=None if args.max_accuracy_drop < 0 else args.max_accuracy_drop,
        cost_column=f"{args.optimise_for}_s",
    )
    start = time.perf_counter()
    say = (lambda text: None) if args.no_progress else (lambda text: print(text, file=sys.stderr))
    result = tradeoffs.run_tradeoffs(
        grid,
        budget,
        Path(args.out),
        policy="full" if args.full else "quick",
        progress=not args.no_progress,
        say=say,
    )
    print(tradeoffs.summary_table(result.frame))
    print("\n" + tradeoffs.verdict(result.frame, budget))
    print(
        f"\n{len(result.frame)} points in {time.perf_counter() - start:.0f} s -> {result.run_dir}"
    )
    return 0 if result.chosen is not None else 1


def _add_profile(sub) -> None:
    p = sub.add_parser(
        "profile", help="where the time and memory of one configuration go (writes a run folder)"
    )
    p.add_argument("--backend", type=_csv(str), help="comma list of jaxley,dense (default: both)")
    p.add_argument(
        "--phases", type=_csv(str), help="comma list of forward,grad_step (default: both)"
    )
    p.add_argument("--batch-size", type=_positive_int, default=256)
    p.add_argument("--precision", default="float64", help="float32 or float64 (default float64)")
    p.add_argument("--device", default="cpu", help="cpu, gpu or tpu (default cpu)")
    p.add_argument("--dt-ms", type=_positive_float, default=1e-3)
    p.add_argument("--t-max-ms", type=_positive_float, default=0.2)
    p.add_argument(
        "--memory-batch-sizes",
        type=_csv(_positive_int),
        default=(1, 16, 64, 256),
        help="batch sizes of the memory study, each in a fresh process (default 1,16,64,256)",
    )
    p.add_argument("--no-memory", action="store_true", help="skip the memory study")
    p.add_argument("--trace-steps", type=_positive_int, default=5, help="gradient steps to trace")
    p.add_argument("--top", type=_positive_int, default=15, help="rows of the top-ops table")
    p.add_argument("--full", action="store_true", help="the full timing policy (more rounds)")
    p.add_argument("--out", default="results", help="results root (default: results/)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=_run_profile)


def _run_profile(args: argparse.Namespace) -> int:
    from pathlib import Path

    from snnbench import profile

    options = profile.ProfileOptions(
        out_root=Path(args.out),
        backends=args.backend or profile.ProfileOptions.backends,
        phases=args.phases or profile.PROFILE_PHASES,
        batch_size=args.batch_size,
        precision=args.precision,
        platform=args.device,
        dt_ms=args.dt_ms,
        t_max_ms=args.t_max_ms,
        memory_batch_sizes=() if args.no_memory else tuple(args.memory_batch_sizes),
        trace_steps=args.trace_steps,
        top=args.top,
        policy="full" if args.full else "quick",
        progress=not args.no_progress,
        command=("snnbench", *(sys.argv[1:] if args.argv is None else args.argv)),
    )
    start = time.perf_counter()
    run_dir = profile.run_profile(options)
    print((run_dir / profile.FILES["summary"]).read_text())
    print(f"profile written in {time.perf_counter() - start:.0f} s -> {run_dir}")
    return 0


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _phase_threshold(text: str) -> tuple[tuple[str, float], ...]:
    """``PHASE=PERCENT`` (a phase group such as ``compile`` sets each of its phases)."""
    from snnbench.records import PHASE_GROUPS

    phase, sep, pct = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected PHASE=PERCENT, got {text!r}")
    value = _non_negative_float(pct)
    return tuple((p, value) for p in PHASE_GROUPS.get(phase.strip(), (phase.strip(),)))


def _add_compare_policy(p) -> None:
    """Options shared by ``compare`` and ``ab``: thresholds, significance, outputs."""
    p.add_argument(
        "--threshold",
        type=_non_negative_float,
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
        type=_positive_float,
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
    from snnbench.compare import Policy

    overrides = tuple(pair for group in args.threshold_phase for pair in group)
    return Policy(threshold_pct=args.threshold, phase_threshold_pct=overrides, alpha=args.alpha)


def _add_compare(sub) -> None:
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
    _add_compare_policy(p)
    p.set_defaults(run=_run_compare)


def _load(path: str, name: str):
    from snnbench import storage

    try:
        return storage.load_results(path)
    except SnnbenchError as error:
        raise SnnbenchError(f"{name}: {error}") from None


def _run_compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from snnbench import compare, compare_render

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

    from snnbench.storage import atomic_write_text

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


def _add_noise_study(sub) -> None:
    p = sub.add_parser("noise-study", help="how often compare cries wolf, and catches a slowdown")
    p.add_argument(
        "--trials",
        type=_positive_int,
        default=50,
        help="trials per configuration and slowdown (default 50)",
    )
    p.add_argument(
        "--slowdowns",
        type=_csv(_non_negative_float),
        default=(0.0, 10.0, 30.0),
        metavar="PERCENTS",
        help="injected slowdowns in percent (default 0,10,30)",
    )
    p.add_argument(
        "--chunks",
        type=_positive_int,
        default=8,
        help="interleaved measurements per side per trial (default 8)",
    )
    p.add_argument("--out", default="results", help="results root (default: results/)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=_run_noise_study)


def _run_noise_study(args: argparse.Namespace) -> int:
    from snnbench import noise_study, storage

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
        results, config, args.out, wall_s, load_before, noise_study.load_average()
    )
    print(noise_study.rates_table(noise_study.rates(results)))
    print(f"\n{len(results)} trials in {wall_s:.0f} s -> {run_dir}")
    return 0


def _add_ab(sub) -> None:
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
        type=_positive_int,
        default=3,
        help="rounds per side, run A B B A ... (default 3)",
    )
    p.add_argument("--repo", default=".", help="git repository of NAME@REV specs (default: .)")
    p.add_argument("--envs", default=".snnbench-envs", help="cache of environments")
    _add_matrix_axes(p)
    p.add_argument("--out", default="results", help="results root (default: results/)")
    _add_compare_policy(p)
    p.set_defaults(run=_run_ab)


def _run_ab(args: argparse.Namespace) -> int:
    from pathlib import Path

    from snnbench import ab, compare, compare_render, storage

    matrix = _matrix(args)
    policy = _policy(args)
    storage.check_writable(args.out)
    repo = Path(args.repo)
    envs = {}
    for side, specs in (("A", args.a_spec), ("B", args.b_spec)):
        requirements = tuple(ab.parse_spec(s, repo) for s in specs)
        print(f"environment {side}: {' + '.join(specs)} ...", file=sys.stderr, flush=True)
        envs[side] = ab.prepare(side, requirements, repo, Path(args.envs))

    def progress(done: int, total: int, side: str) -> None:
        print(f"round {done + 1}/{total}: {side}", file=sys.stderr, flush=True)

    ab_dir = ab.run_ab(
        matrix, envs, args.rounds, Path(args.out), "full" if args.full else "quick", progress
    )
    labels = (f"A: {envs['A'].label}", f"B: {envs['B'].label}")
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="snnbench", description="Benchmark SNN training with JAX and jaxley.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train(sub)
    _add_bench(sub)
    _add_build_profile(sub)
    _add_report(sub)
    _add_tradeoffs(sub)
    _add_profile(sub)
    _add_compare(sub)
    _add_noise_study(sub)
    _add_ab(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        args.argv = None if argv is None else list(argv)
        return args.run(args)
    except SnnbenchError as error:
        print(f"snnbench: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("snnbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
