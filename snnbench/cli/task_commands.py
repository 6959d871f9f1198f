"""``snnbench train`` and ``snnbench build-profile``: the reference task itself."""

from __future__ import annotations

import argparse
import json
import time

from snnbench.cli.args import non_negative_int, positive_float, positive_int


def add_train(sub) -> None:
    from snnbench.precision import PRECISIONS
    from snnbench.task.config import TaskConfig as D  # the tutorial's run
    from snnbench.task.model import BACKENDS

    p = sub.add_parser(
        "train",
        help="train the reference task and print one JSON line",
        description="Train the reference task with Adam, as the tutorial does, and print one "
        "JSON line (final loss and accuracy, wall time, config, versions). The defaults are the "
        "tutorial's run: jaxley, 500 epochs at batch 256, float64, which takes about 19 minutes "
        "on a 2-core CPU (the dense twin: under 2 minutes). Try "
        "`snnbench train --backend dense --epochs 50` for a first look.",
    )
    p.add_argument(
        "--backend", choices=BACKENDS, default="jaxley", help="jaxley or its plain-JAX twin"
    )
    p.add_argument("--epochs", type=non_negative_int, default=500, help="full-batch Adam steps")
    p.add_argument(
        "--batch-size", type=positive_int, default=D.batch_size, help="samples per batch"
    )
    p.add_argument("--dt-ms", type=positive_float, default=D.dt_ms, help="time step in ms")
    p.add_argument("--precision", choices=PRECISIONS, default=D.precision, help="JAX precision")
    p.add_argument("--seed", type=non_negative_int, default=D.seed, help="seed of the data draw")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(run=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from snnbench.measure.machine import package_versions, utc_now
    from snnbench.precision import set_precision
    from snnbench.task import TaskConfig, make_task

    config = TaskConfig(
        batch_size=args.batch_size, dt_ms=args.dt_ms, precision=args.precision, seed=args.seed
    )
    set_precision(config.precision)
    start = time.perf_counter()
    import jax

    # Built on the host, then placed on JAX's default device (a GPU if there is one).
    device = jax.devices()[0]
    task = make_task(config, backend=args.backend, device=device)
    result = task.train(args.epochs, progress=not args.no_progress)
    record = {
        "backend": args.backend,
        "final_loss": round(result.final_loss, 6),
        "final_accuracy": round(result.final_accuracy, 6),
        "epochs": result.epochs,
        "device": str(device),
        "wall_s": round(time.perf_counter() - start, 3),
        "train_s": round(result.wall_s, 3),
        "config": config.to_dict(),
        "versions": package_versions(),
        "utc": utc_now(),
    }
    print(json.dumps(record), flush=True)
    return 0


def add_build_profile(sub) -> None:
    from snnbench.precision import PRECISIONS
    from snnbench.task.config import TaskConfig

    p = sub.add_parser(
        "build-profile", help="build the jaxley network once; show which jaxley calls cost most"
    )
    p.add_argument(
        "--precision", choices=PRECISIONS, default=TaskConfig.precision, help="JAX precision"
    )
    p.add_argument("--top", type=positive_int, default=10, help="rows to show")
    p.add_argument(
        "--tutorial-way",
        action="store_true",
        help="build as the tutorial's code does (per-edge loop), for comparison",
    )
    p.set_defaults(run=_run_build_profile)


def _run_build_profile(args: argparse.Namespace) -> int:
    from snnbench.precision import set_precision
    from snnbench.studies.profile.build import profile_build
    from snnbench.task import TaskConfig

    set_precision(args.precision)
    profile = profile_build(TaskConfig(precision=args.precision), tutorial_way=args.tutorial_way)
    from snnbench.render import terminal

    table = profile.by_call.head(args.top).round(3)
    # Class and function say which call it is; jaxley's module path would not fit a line.
    table["call"] = [".".join(str(c).split(".")[-2:]) for c in table["call"]]
    table = table.rename(columns={"n_compiles": "compiles"})
    print("jaxley calls by JAX staging time (s):\n" + terminal.table(table, keys=1))
    n = int(profile.by_call["n_compiles"].sum())
    print(
        terminal.wrap(
            f"\nbuild {profile.wall_s:.2f} s in a fresh process, of which "
            f"{profile.staging_s:.2f} s is JAX tracing/lowering/compiling {n} one-off eager "
            "operations."
        )
    )
    return 0
