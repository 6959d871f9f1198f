"""``snnbench bench`` (the benchmark matrix) and ``snnbench report``."""

from __future__ import annotations

import argparse
import sys
import time

from snnbench.cli.args import add_lists, csv_list, listed, positive_float, positive_int


def add_bench(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="run the benchmark matrix and write a run folder",
        description="Time build, trace+lower, compile, forward and gradient step over the "
        "matrix's axes; every run writes a new folder <out>/<machine>/<UTC stamp>/. The quick "
        "matrix takes 2-6 min on a 2-core CPU (compile and build timed at one batch size per "
        "device and precision; --full times them at every one).",
    )
    add_matrix_axes(p)
    add_scaling_options(p)
    p.add_argument("--out", default=storage_default(), help="results root for the new run folder")
    p.add_argument(
        "--bench-dir",
        help="a folder of extra bench_*.py modules to run with snnbench's pytest plugin "
        "(default: the benchmark installed with snnbench)",
    )
    p.add_argument(
        "--pin-cpu",
        default="none",
        metavar="CORE",
        help="pin each CPU benchmark process to one core: auto (the last core), a core "
        "number, or none. Pinned, per-call CPU time measures the work alone (what verdicts "
        "use), but XLA runs on one core",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(run=_run_bench)


def help_values(quick=None) -> dict[str, object]:
    """What ``bench --help`` shows, from the library: the axes of the quick (or ``quick``),
    full and size-sweep matrices, the phase groups, devices, scaling options, defaults."""
    from snnbench.measure.matrix import FULL_MATRIX, QUICK_MATRIX, SIZE_SWEEP_MATRIX
    from snnbench.measure.phases import PHASE_GROUPS
    from snnbench.measure.records import PLATFORMS, SCALINGS
    from snnbench.measure.runner import RunOptions
    from snnbench.measure.storage import USER_RUNS
    from snnbench.regress.verdict import Criteria
    from snnbench.task.parallel import FORMULATIONS

    quick, full, sweep = quick or QUICK_MATRIX, FULL_MATRIX, SIZE_SWEEP_MATRIX
    return {
        "backends": listed(quick.backends),
        "batch_sizes": listed(quick.batch_sizes),
        "full_batch_sizes": listed(full.batch_sizes),
        "precisions": listed(quick.precisions),
        "platforms": listed(PLATFORMS),
        "dts_ms": listed(quick.dts_ms),
        "dt_batch_size": quick.dt_batch_size,
        "phase_groups": listed(PHASE_GROUPS),
        "phases": listed(quick.phases),
        "n_hiddens": listed(QUICK_MATRIX.n_hiddens),
        "full_n_hiddens": listed(full.n_hiddens),
        "sweep_n_hiddens": listed(sweep.n_hiddens),
        "n_inputs": listed(QUICK_MATRIX.n_inputs),
        "sweep_batch_sizes": listed(sweep.batch_sizes),
        "sweep_precisions": listed(sweep.precisions),
        "scalings": listed(SCALINGS),
        "formulations": listed(FORMULATIONS),
        "case_timeout_s": RunOptions.case_timeout_s,
        "out": USER_RUNS,
        "threshold_pct": Criteria.threshold_pct,
        "alpha": Criteria.alpha,
    }


#: :func:`help_values` written out, so that ``snnbench bench --help`` (and building the
#: parser of any command) never waits for JAX to load: every module that holds these
#: values imports it. tests/test_user_experience.py holds the two equal.
HELP_VALUES: dict[str, object] = {
    "backends": "jaxley,dense",
    "batch_sizes": "1,16,64,256",
    "full_batch_sizes": "1,4,16,64,256,1024",
    "precisions": "float32,float64",
    "platforms": "cpu,gpu,tpu",
    "dts_ms": "0.001,0.002,0.005",
    "dt_batch_size": 64,
    "phase_groups": "trace_lower,compile",
    "phases": "build,build_warm,forward_trace_lower,forward_compile,forward,grad_trace_lower,"
    "grad_compile,grad_step,overhead",
    "n_hiddens": "4",
    "full_n_hiddens": "4,16,64,256",
    "sweep_n_hiddens": "4,16,64,256,1024",
    "n_inputs": "100",
    "sweep_batch_sizes": "16",
    "sweep_precisions": "float32",
    "scalings": "weak,strong",
    "formulations": "grouped,jit",
    "case_timeout_s": 900.0,
    "out": "runs",
    "threshold_pct": 10.0,
    "alpha": 0.05,
}


def add_matrix_axes(p, base=None) -> None:
    """The matrix options shared by ``bench`` and ``ab`` (lists are comma-separated);
    ``base`` is the command's default matrix (the quick matrix unless given)."""
    v = HELP_VALUES if base is None else help_values(base)
    p.add_argument(
        "--full",
        action="store_true",
        help="the full matrix: more batch sizes, every dt at every batch size, longer timing",
    )
    p.add_argument(
        "--backend",
        type=csv_list(str),
        help=f"backends (default: {v['backends']}); jaxley_hh adds the HH canary, "
        "a 20-cell network that shows XLA runtime overhead (not the reference task)",
    )
    p.add_argument(
        "--batch-size",
        "--batch-sizes",
        dest="batch_sizes",
        type=csv_list(positive_int),
        help=f"batch sizes (default: {v['batch_sizes']}; --full: {v['full_batch_sizes']})",
    )
    add_lists(
        p,
        ("--precision", str, f"precisions (default: {v['precisions']})"),
        ("--device", str, f"devices, from {v['platforms']} (default: every one JAX sees "
         "here); a device asked for but absent is an error"),
        ("--dt-ms", positive_float, f"time steps in ms (default: {v['dts_ms']}; the first at "
         f"every batch size, the others at batch {v['dt_batch_size']} unless --full)"),
        ("--phases", str, f"phases, or the groups {v['phase_groups']} (default: all: "
         f"{v['phases']})"),
    )  # fmt: skip
    _add_size_axes(p, v)


def _add_size_axes(p, v: dict[str, object]) -> None:
    """The network-size axis: hidden width and input count, hence synapses."""
    p.add_argument(
        "--n-hidden",
        dest="n_hiddens",
        type=csv_list(positive_int),
        help=f"hidden-layer widths (default: the tutorial's {v['n_hiddens']}; --full: "
        f"{v['full_n_hiddens']}; --size-sweep: {v['sweep_n_hiddens']}); every width "
        "runs at every batch size",
    )
    p.add_argument(
        "--n-input",
        dest="n_inputs",
        type=csv_list(positive_int),
        help=f"input counts (default: the tutorial's {v['n_inputs']})",
    )
    p.add_argument(
        "--size-sweep",
        action="store_true",
        help=f"the network-size preset: cost against network size at batch "
        f"{v['sweep_batch_sizes']}, {v['sweep_precisions']}, hidden widths "
        f"{v['sweep_n_hiddens']} (about 7 min on a 2-core CPU); other flags narrow it",
    )


#: Batch sizes of a device-count series unless --batch-size says otherwise: each divides
#: by every count up to 16, so strong scaling can split it.
SCALING_BATCH_SIZES = (16, 64)


def add_scaling_options(p) -> None:
    """``bench`` only: the device-count axis, multi-process jobs, and matrix shards."""
    v = HELP_VALUES
    p.add_argument(
        "--devices",
        type=csv_list(positive_int),
        help="device counts, e.g. 1,2,4,8: run the forward pass and gradient step "
        "data-parallel on a ('batch',) mesh of each count (a CPU gets that many devices "
        "per benchmark process; GPUs are the first N JAX sees); --batch-size is then per "
        f"device for weak and global for strong scaling (default batch sizes: "
        f"{listed(SCALING_BATCH_SIZES)}; default without --devices: one device, as always)",
    )
    p.add_argument(
        "--scaling",
        type=csv_list(str),
        help=f"with --devices: {v['scalings']}: weak keeps the batch per device fixed, strong "
        "the global batch (default: weak,strong)",
    )
    p.add_argument(
        "--data-parallel",
        type=csv_list(str),
        help=f"with --devices, how the gradient step is written, from {v['formulations']}: "
        "grouped = one parameter copy per device, one all-reduce per step; jit = the task's "
        "step unchanged, whose all-reduce XLA's CPU compiler leaves inside the time loop "
        "(default: grouped)",
    )
    p.add_argument(
        "--processes",
        type=positive_int,
        default=1,
        help="run every device count above 1 as one jax.distributed job of this many local "
        "processes (coordinator on 127.0.0.1); without --devices the counts are 1,N",
    )
    p.add_argument(
        "--distributed",
        action="store_true",
        help="this process is one of a multi-host job started by a launcher (srun, mpirun, a "
        "Kubernetes Indexed Job): join it with jax.distributed.initialize() from the "
        "environment and measure on all the job's devices (device counts: 1 and all); "
        "process 0 writes the run folder. See docs/scaling.md",
    )
    p.add_argument(
        "--case-timeout",
        type=positive_float,
        default=v["case_timeout_s"],
        metavar="SECONDS",
        help="a multi-process job that finishes no case for this long is killed, every "
        "process of it, and its case recorded as failed",
    )
    p.add_argument(
        "--shard",
        type=_shard,
        metavar="K/N",
        help="run only shard K of N (1 <= K <= N) of the matrix, balanced by estimated cost "
        "and the same on every machine; needs --device; each shard writes its own run "
        "folder, and load/compare/report merge a campaign's shards",
    )


def _shard(text: str):
    """``K/N`` as a :class:`~snnbench.measure.shards.Shard` (an argparse type)."""
    from snnbench.errors import SnnbenchError
    from snnbench.measure.shards import Shard

    try:
        return Shard.parse(text)
    except SnnbenchError:
        raise argparse.ArgumentTypeError(f"expected K/N with 1 <= K <= N, got {text!r}") from None


def matrix_from_args(args: argparse.Namespace, visible: set[str] | None = None, base=None):
    """The matrix the axis options ask for (``base``, or the quick or full matrix, narrowed).

    Without ``--device`` the matrix runs on every platform in ``visible`` (those JAX
    sees here); a ``--device`` JAX does not see is bad input, except in a shard
    of a campaign, whose machines may differ (its rows are then skipped, with
    the reason).
    """
    from snnbench.errors import SnnbenchError
    from snnbench.measure.matrix import FULL_MATRIX, QUICK_MATRIX, Matrix
    from snnbench.measure.phases import expand_phases
    from snnbench.measure.records import PLATFORMS

    if getattr(args, "size_sweep", False) and args.full:
        raise SnnbenchError("`--size-sweep` and `--full` are two presets; give one of them")
    base = FULL_MATRIX if args.full else (base or QUICK_MATRIX)
    if getattr(args, "size_sweep", False):
        from snnbench.measure.matrix import SIZE_SWEEP_MATRIX

        base = SIZE_SWEEP_MATRIX
    platforms = args.device
    sharded = getattr(args, "shard", None) is not None
    if sharded and not platforms:
        raise SnnbenchError(
            "`--shard` needs `--device` (e.g. --device cpu): every shard must compute the "
            "same matrix, whatever devices its own machine has"
        )
    if visible is not None and not sharded:
        if platforms is None:
            platforms = tuple(p for p in PLATFORMS if p in visible)
        missing = [p for p in platforms if p in PLATFORMS and p not in visible]
        if missing:
            raise SnnbenchError(
                f"`--device` {','.join(missing)} was asked for, but JAX sees no such device here "
                f"(it sees: {listed(sorted(visible))}); leave out --device to use what it sees"
            )
    changes = {
        "backends": args.backend,
        "batch_sizes": args.batch_sizes,
        "precisions": args.precision,
        "platforms": platforms,
        "dts_ms": args.dt_ms,
        "phases": expand_phases(args.phases) if args.phases else None,
        "n_inputs": getattr(args, "n_inputs", None),
        "n_hiddens": getattr(args, "n_hiddens", None),
    }
    if args.batch_sizes and not args.full:
        changes["dt_batch_size"] = args.batch_sizes[-1]
    changes.update(_scaling_changes(args, base))
    return Matrix(**{**base.__dict__, **{k: v for k, v in changes.items() if v}})


def _scaling_changes(args: argparse.Namespace, base) -> dict[str, object]:
    """The device-count axis the options ask for; nothing without --devices or --processes."""
    from snnbench.errors import SnnbenchError

    devices = getattr(args, "devices", None)
    processes = getattr(args, "processes", 1)
    scaling_only = {"--scaling": getattr(args, "scaling", None)}
    scaling_only["--data-parallel"] = getattr(args, "data_parallel", None)
    if devices is None and processes == 1:
        given = [flag for flag, value in scaling_only.items() if value]
        if given:
            raise SnnbenchError(f"`{given[0]}` needs `--devices` (e.g. --devices 1,2,4)")
        return {}
    return {
        "device_counts": devices or (1, processes),
        "processes": processes,
        "scalings": args.scaling or ("weak", "strong"),
        "data_parallel": args.data_parallel,
        "batch_sizes": args.batch_sizes or SCALING_BATCH_SIZES,
        "dts_ms": args.dt_ms or base.dts_ms[:1],
    }


def _run_bench(args: argparse.Namespace) -> int:
    from pathlib import Path

    from snnbench.measure import machine, runner, storage
    from snnbench.render import bench_summary

    if args.distributed:
        return _run_distributed(args)
    # Every option is checked before the device probe (seconds) and any measuring.
    matrix_from_args(args, None)
    pin_cpu = machine.choose_pin(args.pin_cpu)
    storage.check_writable(Path(args.out))
    visible = runner.probe_platforms()
    matrix = matrix_from_args(args, visible)
    options = runner.RunOptions(
        shard=args.shard,
        case_timeout_s=args.case_timeout,
        out_root=Path(args.out),
        bench=runner.BenchTarget.folder(Path(args.bench_dir))
        if args.bench_dir
        else runner.BenchTarget.installed(),
        sampling="full" if args.full else "quick",
        progress=not args.no_progress,
        command=args.command_line,
        pin_cpu=pin_cpu,
    )
    start = time.perf_counter()
    done = runner.run(matrix, options, platforms=visible)  # its rows in memory, as written
    run_dir, frame, info = done.path, done.frame, done.info
    storage.atomic_write_text(
        run_dir / "summary.md", bench_summary.summary_page(frame, info["run_id"])
    )
    print_summary(frame, run_dir, time.perf_counter() - start, info if args.shard else None)
    return 0


def print_summary(frame, run_dir, seconds: float, shard_info: dict | None = None) -> None:
    """What ``bench`` prints at the end: the compact table, its quality, where the rest is."""
    from snnbench.render import bench_summary, terminal

    print(terminal.wrap(bench_summary.caption(frame)) + "\n")
    print(bench_summary.terminal_table(frame))
    print("\n" + terminal.wrap(bench_summary.quality_summary(frame)))
    if bench_summary.matmul_line(frame):
        print(terminal.wrap(bench_summary.matmul_line(frame)))
    print(
        terminal.wrap(f"\n{len(frame)} rows in {seconds:.0f} s -> {terminal.shown_path(run_dir)}")
    )
    print(terminal.wrap(f"Every phase, per row: {terminal.shown_path(run_dir / 'summary.md')}"))
    if shard_info:
        print(
            terminal.wrap(
                f"Shard {shard_info['shard']} of campaign {shard_info['campaign']}: "
                f"{shard_info['n_cases']} of {shard_info['campaign_cases']} cases. Put every "
                "shard's run folder under one results tree; `snnbench report` and `compare` "
                "merge them."
            )
        )


def _run_distributed(args: argparse.Namespace) -> int:
    """One process of a launcher's job: join it, then measure on all its devices."""
    from pathlib import Path

    from snnbench.errors import SnnbenchError
    from snnbench.measure import distributed, runner, storage
    from snnbench.render import terminal

    if args.processes != 1 or args.shard:
        raise SnnbenchError(
            "`--distributed` takes its processes from the launcher; leave out "
            "--processes and --shard"
        )
    storage.check_writable(Path(args.out))
    processes, devices = distributed.join_from_environment()
    args.processes = processes
    args.devices = args.devices or ((1, devices) if devices > 1 else (1,))
    matrix = matrix_from_args(args)
    options = runner.RunOptions(
        out_root=Path(args.out),
        sampling="full" if args.full else "quick",
        progress=False,
        command=args.command_line,
    )
    run_dir = distributed.run_as_job_member(matrix, options)
    if run_dir is not None:
        print(f"{processes} processes, {devices} devices -> {terminal.shown_path(run_dir)}")
    return 0


def add_report(sub) -> None:
    p = sub.add_parser(
        "report",
        help="turn a results tree into REPORT.md with figures",
        description="Read every run under --results (default: your own runs, in runs/) and "
        "write REPORT.md and report/*.png. Without --out the page goes into a new folder "
        "<tree>/reports/<machine>/<UTC stamp>/ of the results tree that holds --results, so no "
        "earlier page is touched; --out DIR writes DIR/REPORT.md and DIR/report/, replacing the "
        "page and figures an earlier report wrote there. The project's committed reference "
        "runs are in results/: `snnbench report --results results --out results` refreshes "
        "results/REPORT.md.",
    )
    p.add_argument(
        "--results",
        default=storage_default(),
        help="results tree, machine folder or run folder to read",
    )
    p.add_argument(
        "--out",
        help="folder for REPORT.md and report/*.png (default: a new folder under <tree>/reports/)",
    )
    p.set_defaults(run=_run_report)


def storage_default() -> str:
    """Where a user's runs go unless ``--out`` says otherwise (``storage.USER_RUNS``)."""
    return str(HELP_VALUES["out"])


def _run_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from snnbench.measure import storage
    from snnbench.render import report

    inputs = report.load_inputs(args.results)  # bad input fails before any folder is made
    out = (
        Path(args.out)
        if args.out
        else storage.RunFolder.create(report.reports_root(args.results) / "reports").path
    )
    written = report.write_report_from(inputs, out)
    from snnbench.render import terminal

    for note in written.notes:
        print(terminal.wrap(f"note: {note.strip('_')}", "  "), file=sys.stderr)
    print(f"{written.page}\n{len(written.images)} figures in {written.page.parent / report.IMAGES}")
    return 0
