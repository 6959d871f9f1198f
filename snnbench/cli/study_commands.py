"""``snnbench tradeoffs`` and ``snnbench profile``: fidelity vs cost, and where time goes."""

from __future__ import annotations

import argparse
import sys
import time

from snnbench.cli.args import (
    add_lists,
    csv_list,
    listed,
    non_negative_int,
    number,
    positive_float,
    positive_int,
)
from snnbench.cli.bench_commands import storage_default
from snnbench.errors import SnnbenchError


def add_tradeoffs(sub) -> None:
    # The budget's module has no JAX: `tradeoffs --help` must not wait for it to load.
    from snnbench.studies.tradeoffs.budget import Budget

    B = Budget()
    p = sub.add_parser("tradeoffs", help="dt / precision trade-offs: fidelity vs time, Pareto plot")
    p.add_argument(
        "--full",
        action="store_true",
        help="both backends, full sampling (default: dense only, quick sampling)",
    )
    add_lists(
        p,
        (
            "--dt-ms",
            positive_float,
            "steps to try (default 0.00025,0.0005,0.001,0.002,0.005); finest = reference",
        ),
        ("--precision", str, "comma list of float32,float64"),
        ("--backend", str, "comma list of dense,jaxley"),
        (
            "--train-backend",
            str,
            "backends that also train (default dense); 'none' for no training",
        ),
        (
            "--surrogate",
            str,
            "surrogate scalings to compare (default per_step,per_time): per_step is the "
            "tutorial's fixed-size derivative per step, per_time scales it by dt / 1e-3 ms",
        ),
        (
            "--scenario",
            str,
            "how dt changes (default resampled): resampled = the same input step-averaged "
            "to every dt (always run); resampled,redrawn adds scenario (b), the tutorial "
            "re-run at each dt with its own draws (a training run per dt and surrogate)",
        ),
    )
    p.add_argument(
        "--refinements",
        type=non_negative_int,
        help="halvings of the reference dt that check its convergence (default 2; "
        "fewer than 2 cannot tell, and every metric is then labelled unchecked)",
    )
    p.add_argument(
        "--kernel-na",
        type=positive_float,
        metavar="NA",
        help="input pulse amplitude of every point (default 508, the tutorial's)",
    )
    p.add_argument(
        "--kernel-sweep-na",
        type=csv_list(str),
        metavar="LIST",
        help="pulse amplitudes of the input-spike sensitivity check (default "
        "505,508,510,520,530,540; 'none' to skip)",
    )
    p.add_argument(
        "--epochs", type=non_negative_int, help="training epochs per point (default 100)"
    )
    p.add_argument(
        "--batch-size", type=positive_int, help="batch size (default 256, the tutorial's)"
    )
    p.add_argument("--t-max-ms", type=positive_float, help="simulated time (default 0.2)")
    p.add_argument(
        "--weights-at",
        choices=("initial", "trained"),
        default="initial",
        help="evaluate fidelity at the tutorial's initial weights, or at the "
        "reference's trained weights",
    )
    p.add_argument("--device", choices=("cpu", "gpu", "tpu"), default="cpu", help="JAX platform")
    p.add_argument(
        "--max-voltage-rmse",
        type=number,
        default=B.max_voltage_rmse_mv,
        metavar="MV",
        help=f"budget: output-voltage RMSE in mV (default {B.max_voltage_rmse_mv:g}; "
        "negative = no limit)",
    )
    p.add_argument(
        "--min-grad-cosine",
        type=number,
        default=B.min_grad_cosine,
        help=f"budget: gradient cosine similarity (default {B.min_grad_cosine:g}; "
        "below -1 = no limit)",
    )
    p.add_argument(
        "--max-accuracy-drop",
        type=number,
        default=B.max_accuracy_drop,
        help="budget: accuracy drop of trained weights on the reference (default "
        f"{B.max_accuracy_drop:g}; negative = no limit)",
    )
    p.add_argument(
        "--optimise-for",
        choices=("grad_step", "forward"),
        default=B.cost_column.removesuffix("_s"),
        help="the time to minimise within the budget",
    )
    p.add_argument("--out", default=storage_default(), help="results root for the new run folder")
    p.add_argument("--no-progress", action="store_true", help="hide progress messages")
    p.set_defaults(run=_run_tradeoffs)


def _run_tradeoffs(args: argparse.Namespace) -> int:
    from pathlib import Path

    from snnbench.measure import storage
    from snnbench.studies.tradeoffs import study

    grid, budget = _grid_and_budget(args)  # every option is checked before any work
    storage.check_writable(Path(args.out))
    start = time.perf_counter()
    say = (lambda text: None) if args.no_progress else (lambda text: print(text, file=sys.stderr))
    result = study.run_tradeoffs(
        grid,
        budget,
        Path(args.out),
        sampling="full" if args.full else "quick",
        progress=not args.no_progress,
        say=say,
        command=args.command_line,
    )
    print_tradeoffs(result, budget, time.perf_counter() - start)
    return 0 if result.chosen is not None else 1


def print_tradeoffs(result, budget, seconds: float) -> None:
    """What ``tradeoffs`` prints: the compact table, the verdict, and where everything is."""
    from snnbench.render import terminal, tradeoffs_page
    from snnbench.studies.tradeoffs.study import TIMING

    verdict = tradeoffs_page.verdict(result.frame, budget.describe(), budget.cost_column)
    print(tradeoffs_page.terminal_table(result.frame))
    verdict = verdict.replace("**", "").replace("(see below)", "(see summary.md)")
    print("\n" + terminal.wrap(verdict))
    timing = str(result.frame["bench_run_id"].iloc[0]) if "bench_run_id" in result.frame else ""
    print(
        terminal.wrap(
            f"\n{len(result.frame)} points in {seconds:.0f} s -> {terminal.shown_path(result.run_dir)}"
        )
    )
    print(
        terminal.wrap(
            f"Every column and the evidence: {terminal.shown_path(result.run_dir / 'summary.md')}"
        )
    )
    if timing.startswith(TIMING + "/"):
        print(terminal.wrap(f"Its timing run: {terminal.shown_path(result.run_dir / timing)}"))


def _grid_and_budget(args: argparse.Namespace):
    """The study's grid and budget from the options; bad input raises here, before any work."""
    from snnbench.studies.tradeoffs import grid as tradeoff_grid

    grid = tradeoff_grid.grid_from_options(
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
        surrogates=args.surrogate,
        scenarios=args.scenario,
        refinements=args.refinements,
        kernel_na=None if args.kernel_na is None else (args.kernel_na, args.kernel_na),
        kernel_sweep_na=_amplitudes(args.kernel_sweep_na),
    )
    budget = tradeoff_grid.Budget(
        max_voltage_rmse_mv=None if args.max_voltage_rmse < 0 else args.max_voltage_rmse,
        min_grad_cosine=None if args.min_grad_cosine < -1 else args.min_grad_cosine,
        max_accuracy_drop=None if args.max_accuracy_drop < 0 else args.max_accuracy_drop,
        cost_column=f"{args.optimise_for}_s",
    )
    return grid, budget


def _amplitudes(values: tuple[str, ...] | None) -> tuple[float, ...] | None:
    """``--kernel-sweep-na``: positive amplitudes, or ``none`` for an empty sweep."""
    if values is None or values == ("none",):
        return None if values is None else ()
    try:
        return tuple(float(v) for v in values)
    except ValueError:
        raise SnnbenchError(
            f"`--kernel-sweep-na` must be a comma list of amplitudes in nA, or none; got "
            f"{','.join(values)!r}"
        ) from None


def add_profile(sub) -> None:
    p = sub.add_parser(
        "profile",
        help="where the time and memory of one configuration go (writes a run folder)",
        description="Profile one configuration of the task: trace, lower and compile times, "
        "XLA's cost and memory analyses, the peak memory of each batch size in a fresh "
        "process, a profiler trace of a few gradient steps with its top operations, and "
        "spike rates. Prints a short summary; every table is in the run folder it names "
        "(see docs/profiling.md).",
    )
    p.add_argument(
        "--backend", type=csv_list(str), help="comma list of jaxley,dense (default: both)"
    )
    p.add_argument(
        "--phases", type=csv_list(str), help="comma list of forward,grad_step (default: both)"
    )
    from snnbench.studies.profile.study import ProfileOptions as D

    p.add_argument(
        "--batch-size", type=positive_int, default=D.batch_size, help="samples per batch"
    )
    p.add_argument("--precision", default=D.precision, help="float32 or float64")
    p.add_argument("--device", default=D.platform, help="cpu, gpu or tpu")
    p.add_argument("--dt-ms", type=positive_float, default=D.dt_ms, help="time step in ms")
    p.add_argument(
        "--t-max-ms", type=positive_float, default=D.t_max_ms, help="simulated time in ms"
    )
    p.add_argument("--n-input", type=positive_int, default=D.n_input, help="input neurons")
    p.add_argument("--n-hidden", type=positive_int, default=D.n_hidden, help="hidden neurons")
    p.add_argument(
        "--memory-batch-sizes",
        type=csv_list(positive_int),
        default=D.memory_batch_sizes,
        help="batch sizes of the memory study, each in a fresh process "
        f"(default: {listed(D.memory_batch_sizes)})",
    )
    p.add_argument("--no-memory", action="store_true", help="skip the memory study")
    p.add_argument(
        "--trace-steps", type=positive_int, default=D.trace_steps, help="gradient steps to trace"
    )
    p.add_argument("--top", type=positive_int, default=D.top, help="rows of the top-ops table")
    p.add_argument("--full", action="store_true", help="the full sampling (more rounds)")
    p.add_argument("--out", default=storage_default(), help="results root for the new run folder")
    p.add_argument("--no-progress", action="store_true", help="hide progress messages")
    p.set_defaults(run=_run_profile)


def _run_profile(args: argparse.Namespace) -> int:
    from pathlib import Path

    from snnbench.studies.profile import study as profile

    options = profile.ProfileOptions(
        out_root=Path(args.out),
        backends=args.backend or profile.ProfileOptions.backends,
        phases=args.phases or profile.PROFILE_FUNCTIONS,
        batch_size=args.batch_size,
        precision=args.precision,
        platform=args.device,
        dt_ms=args.dt_ms,
        t_max_ms=args.t_max_ms,
        n_input=args.n_input,
        n_hidden=args.n_hidden,
        memory_batch_sizes=() if args.no_memory else tuple(args.memory_batch_sizes),
        trace_steps=args.trace_steps,
        top=args.top,
        sampling="full" if args.full else "quick",
        progress=not args.no_progress,
        command=args.command_line,
    )
    start = time.perf_counter()
    run = profile.run_profile(options)
    print_profile(run.tables, run.folder, time.perf_counter() - start)
    return 0


def print_profile(tables, run_dir, seconds: float) -> None:
    """What ``profile`` prints: a few compact tables, and where every table is."""
    from snnbench.render import profile_page, terminal

    print(profile_page.terminal_summary(tables))
    print(terminal.wrap(f"\nprofile written in {seconds:.0f} s -> {terminal.shown_path(run_dir)}"))
    print(
        terminal.wrap(
            f"Every table (XLA analyses, top ops, spike rates): {terminal.shown_path(run_dir / 'summary.md')}"
        )
    )
