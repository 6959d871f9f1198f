"""A/B in one job: the same matrix in two environments, interleaved, then compared.

On a shared machine whose speed drifts by tens of percent, two runs made at
different times cannot be compared reliably. Running A and B in alternating
short rounds (A B B A A B ...) puts the drift on both sides, so it cancels.
Each side is a separate virtual environment (:mod:`snnbench.regress.envs`).
Each round is a normal run folder written by
:func:`snnbench.measure.runner.run_matrix` under ``<ab run>/A/`` or ``<ab run>/B/``;
the rounds of a side are pooled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from snnbench.measure import machine, runner, storage
from snnbench.measure.matrix import Matrix
from snnbench.regress.envs import Environment, installed_versions

SIDES = ("A", "B")


def interleaved_order(rounds: int) -> list[str]:
    """A B B A A B B A ...: each side runs ``rounds`` times; a linear drift cancels."""
    order: list[str] = []
    for i in range(rounds):
        order += list(SIDES) if i % 2 == 0 else list(reversed(SIDES))
    return order


def run_ab(
    matrix: Matrix,
    environments: dict[str, Environment],
    rounds: int,
    out_root: Path,
    policy: str = "quick",
    progress: Callable[[int, int, str], None] | None = None,
) -> Path:
    """Run ``matrix`` ``rounds`` times per side, interleaved; returns the A/B run folder."""
    folder = storage.RunFolder.create(Path(out_root) / "ab")
    ab_dir = folder.path
    order = interleaved_order(rounds)
    info = {
        "rounds": rounds,
        "order": order,
        "started_utc": machine.utc_now(),
        "sides": {
            s: {
                "label": e.label,
                "env": str(e.folder),
                "requirements": [asdict(r) for r in e.requirements],
                "versions": installed_versions(e),
            }
            for s, e in environments.items()
        },
    }
    folder.write_text("ab.json", storage.to_json(info))
    platforms = runner.probe_platforms()
    for i, side in enumerate(order):
        if progress:
            progress(i, len(order), side)
        env = environments[side]
        options = runner.RunOptions(
            out_root=ab_dir / side,
            bench=env.bench,
            policy=policy,
            progress=False,
            python=str(env.python),
        )
        runner.run_matrix(matrix, options, platforms=platforms)
    info["finished_utc"] = machine.utc_now()
    folder.write_text("ab.json", storage.to_json(info))
    return ab_dir
