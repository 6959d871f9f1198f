"""Sessions: ``nox -s tests`` (the test suite), ``nox -s bench`` (the main job), ``nox -s report``.

Every session installs snnbench from pyproject.toml into its own virtualenv and
passes ``nox -s NAME -- ARGS`` through to the command it runs.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (CPU only, fast; benchmarks are disabled)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Run the benchmark matrix (quick by default; ``-- --full`` for everything)."""
    session.install("-e", ".")
    session.run("snnbench", "bench", *session.posargs)


@nox.session(default=False)
def report(session: nox.Session) -> None:
    """Turn ``results/`` into ``results/REPORT.md`` and its figures (``-- --results DIR``)."""
    session.install("-e", ".")
    session.run("snnbench", "report", *session.posargs)


@nox.session(default=False)
def tradeoffs(session: nox.Session) -> None:
    """dt / precision trade-offs: fidelity vs time and a Pareto plot (``-- --full`` for more)."""
    session.install("-e", ".")
    session.run("snnbench", "tradeoffs", *session.posargs)


@nox.session(default=False)
def lint(session: nox.Session) -> None:
    """Check formatting and lint with ruff."""
    session.install("ruff")
    session.run("ruff", "check", "snnbench", "bench", "tests", "noxfile.py")


@nox.session(default=False)
def profile(session: nox.Session) -> None:
    """Profile one configuration: compile stages, XLA analyses, memory, trace, SNN metrics."""
    session.install("-e", ".")
    session.run("snnbench", "profile", *session.posargs)
