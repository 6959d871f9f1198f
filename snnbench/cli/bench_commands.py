"""``snnbench bench`` (the benchmark matrix) and ``snnbench report``."""

from __future__ import annotations

import argparse
import sys
import time

from snnbench.cli.args import csv_list, listed, positive_float, positive_int


def add_bench(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="run the benchmark matrix and write a results folder",
        description="Time build, trace+lower, compile, forward and gradient step over the "
        "matrix's axes; every run writes a new folder <out>/<machine>/<UTC stamp>/. The quick "
        "matrix takes about 7 min on a 2-core CPU.",
    )
    add_matrix_axes(p)
    p.add_argument("--out", default="results", help="results root")
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


def add_matrix_axes(p, base=None) -> None:
    """The matrix options shared by ``bench`` and ``ab`` (lists are comma-separated);
    ``base`` is the command's default matrix (the quick matrix unless given)."""
    from snnbench.measure.matrix import FULL_MATRIX, QUICK_MATRIX
    from snnbench.measure.phases import PHASE_GROUPS
    from snnbench.measure.records import PLATFORMS

    quick, full = base or QUICK_MATRIX, FULL_MATRIX
    p.add_argument(
        "--full",
        action="store_true",
        help="the full matrix: more batch sizes, every dt at every batch size, longer timing",
    )
    p.add_argument(
        "--backend",
        type=csv_list(str),
        help=f"backends (default: {listed(quick.backends)})",
    )
    p.add_argument(
        "--batch-size",
        "--batch-sizes",
        dest="batch_sizes",
        type=csv_list(positive_int),
        help=f"batch sizes (default: {listed(quick.batch_sizes)}; "
        f"--full: {listed(full.batch_sizes)})",
    )
    p.add_argument(
        "--precision",
        type=csv_list(str),
        help=f"precisions (default: {listed(quick.precisions)})",
    )
    p.add_argument(
        "--device",
        type=csv_list(str),
        help=f"devices, from {listed(PLATFORMS)} (default: every one JAX sees here); "
        "a device asked for but absent is an error",
    )
    p.add_argument(
        "--dt-ms",
        type=csv_list(positive_float),
        help=f"time steps in ms (default: {listed(quick.dts_ms)}; the first at every batch "
        f"size, the others at batch {quick.dt_batch_size} unless --full)",
    )
    p.add_argument(
        "--phases",
        type=csv_list(str),
        help=f"phases, or the groups {listed(PHASE_GROUPS)} (default: all: {listed(quick.phases)})",
    )


def matrix_from_args(args: argparse.Namespace, visible: set[str] | None = None, base=None):
    """The matrix the axis options ask for (``base``, or the quick or full matrix, narrowed).

    Without ``--device`` the matrix runs on every platform in ``visible`` (those JAX
    sees here); a ``--device`` JAX does not see is bad input.
    """
    from snnbench.errors import SnnbenchError
    from snnbench.measure.matrix import FULL_MATRIX, QUICK_MATRIX, Matrix
    from snnbench.measure.phases import expand_phases
    from snnbench.measure.records import PLATFORMS

    base = FULL_MATRIX if args.full else (base or QUICK_MATRIX)
    platforms = args.device
    if visible is not None:
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
    }
    if args.batch_sizes and not args.full:
        changes["dt_batch_size"] = args.batch_sizes[-1]
    return Matrix(**{**base.__dict__, **{k: v for k, v in changes.items() if v}})


def _run_bench(args: argparse.Namespace) -> int:
    from pathlib import Path

    from snnbench.measure import machine, runner, storage
    from snnbench.render import bench_summary

    visible = runner.probe_platforms()
    matrix = matrix_from_args(args, visible)
    options = runner.RunOptions(
        out_root=Path(args.out),
        bench=runner.BenchTarget.folder(Path(args.bench_dir))
        if args.bench_dir
        else runner.BenchTarget.installed(),
        policy="full" if args.full else "quick",
        progress=not args.no_progress,
        command=args.command_line,
        pin_cpu=machine.choose_pin(args.pin_cpu),
    )
    start = time.perf_counter()
    run_dir = runner.run_matrix(matrix, options, platforms=visible)
    frame = storage.load_results(run_dir)
    run_id = storage.RunFolder(run_dir).run_id
    storage.atomic_write_text(run_dir / "summary.md", bench_summary.summary_page(frame, run_id))
    print(bench_summary.caption() + "\n")
    print(bench_summary.terminal_table(frame))
    print("\n" + bench_summary.quality_summary(frame))
    print(f"\n{len(frame)} rows in {time.perf_counter() - start:.0f} s -> {run_dir}")
    print(f"Every phase, per row: {run_dir / 'summary.md'}")
    return 0


def add_report(sub) -> None:
    p = sub.add_parser(
        "report",
        help="turn a results tree into REPORT.md with figures",
        description="Read every run under --results and write REPORT.md and report/*.png. "
        "Without --out the page goes into a new folder <results>/reports/<machine>/<UTC stamp>/, "
        "so no earlier page is touched; --out DIR writes DIR/REPORT.md and DIR/report/, "
        "replacing the page and figures an earlier report wrote there (e.g. --out results to "
        "refresh the committed results/REPORT.md).",
    )
    p.add_argument("--results", default="results", help="results tree to read")
    p.add_argument(
        "--out",
        help="folder for REPORT.md and report/*.png (default: a new folder under "
        "<results>/reports/)",
    )
    p.set_defaults(run=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from snnbench.measure import storage
    from snnbench.render import report

    inputs = report.load_inputs(args.results)  # bad input fails before any folder is made
    out = (
        Path(args.out)
        if args.out
        else storage.RunFolder.create(Path(args.results) / "reports").path
    )
    written = report.write_report_from(inputs, out)
    for note in written.notes:
        print(f"note: {note.strip('_')}", file=sys.stderr)
    print(
        f"{written.page} ({len(written.images)} figures in {written.page.parent / report.IMAGES})"
    )
    return 0
