"""``snnbench bench`` (the benchmark matrix) and ``snnbench report``."""

from __future__ import annotations

import argparse
import sys
import time

from snnbench.cli.args import (
    csv_list,
    positive_float,
    positive_int,
)


def add_bench(sub) -> None:
    p = sub.add_parser("bench", help="run the benchmark matrix and write a results folder")
    add_matrix_axes(p)
    p.add_argument("--out", default="results", help="results root (default: results/)")
    p.add_argument(
        "--bench-dir",
        help="a folder of bench_*.py modules to run with snnbench's pytest plugin "
        "(default: the benchmark installed with snnbench)",
    )
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=_run_bench)


def add_matrix_axes(p) -> None:
    """The matrix options shared by ``bench`` and ``ab``."""
    p.add_argument(
        "--full",
        action="store_true",
        help="the full matrix (batch sizes up to 1024, every dt at every batch size)",
    )
    p.add_argument("--backend", type=csv_list(str), help="comma list of jaxley,dense")
    p.add_argument("--batch-sizes", type=csv_list(positive_int), help="e.g. 1,16,64,256")
    p.add_argument("--precision", type=csv_list(str), help="comma list of float32,float64")
    p.add_argument(
        "--device", type=csv_list(str), help="comma list of cpu,gpu,tpu (default: cpu,gpu)"
    )
    p.add_argument("--dt-ms", type=csv_list(positive_float), help="e.g. 0.001,0.002,0.005")
    p.add_argument(
        "--phases", type=csv_list(str), help="phases, or the groups trace_lower, compile"
    )


def matrix_from_args(args: argparse.Namespace):
    """The matrix the axis options ask for (the quick matrix, narrowed)."""
    from snnbench.measure.matrix import FULL_MATRIX, QUICK_MATRIX, Matrix
    from snnbench.measure.phases import expand_phases

    base = FULL_MATRIX if args.full else QUICK_MATRIX
    changes = {
        "backends": args.backend,
        "batch_sizes": args.batch_sizes,
        "precisions": args.precision,
        "platforms": args.device,
        "dts_ms": args.dt_ms,
        "phases": expand_phases(args.phases) if args.phases else None,
    }
    if args.batch_sizes and not args.full:
        changes["dt_batch_size"] = args.batch_sizes[-1]
    return Matrix(**{**base.__dict__, **{k: v for k, v in changes.items() if v}})


def _run_bench(args: argparse.Namespace) -> int:
    from pathlib import Path

    from snnbench.measure import runner, storage
    from snnbench.render import bench_summary

    matrix = matrix_from_args(args)
    options = runner.RunOptions(
        out_root=Path(args.out),
        bench=runner.BenchTarget.folder(Path(args.bench_dir))
        if args.bench_dir
        else runner.BenchTarget.installed(),
        policy="full" if args.full else "quick",
        progress=not args.no_progress,
        command=args.command_line,
    )
    start = time.perf_counter()
    run_dir = runner.run_matrix(matrix, options)
    frame = storage.load_results(run_dir)
    run_id = storage.RunFolder(run_dir).run_id
    storage.atomic_write_text(run_dir / "summary.md", bench_summary.summary_page(frame, run_id))
    print(bench_summary.summary_table(frame))
    print("\n" + bench_summary.quality_summary(frame))
    print(f"\n{len(frame)} rows in {time.perf_counter() - start:.0f} s -> {run_dir}")
    noisy = int(frame["noisy"].fillna(False).astype(bool).sum())
    if noisy:
        print(f"{noisy} rows marked ~ have IQR/median > 10 %: treat them with care.")
    return 0


def add_report(sub) -> None:
    p = sub.add_parser("report", help="turn a results tree into REPORT.md with figures")
    p.add_argument("--results", default="results", help="results tree to read (default: results/)")
    p.add_argument(
        "--out", default="results", help="where REPORT.md and report/*.png go (default: results/)"
    )
    p.set_defaults(run=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from snnbench.render import report

    written = report.write_report(args.results, args.out)
    for note in written.notes:
        print(f"note: {note.strip('_')}", file=sys.stderr)
    print(
        f"{written.page} ({len(written.images)} figures in {written.page.parent / report.IMAGES})"
    )
    return 0
