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
    """Run the test suite (CPU only, fast; benchmarks are disabled). The bisect tests on
    real installs take 5-13 minutes more: ``nox -s real-bisect``, which CI runs next."""
    session.install("-e", ".[test]", "uv")
    session.run("pytest", *session.posargs)


#: The ends of the declared ranges (pyproject.toml). The oldest is every dependency at
#: its floor (what ``uv pip install --resolution lowest-direct`` picks), with jax at the
#: last release before XLA's CPU thunk runtime; keep it in step with
#: snnbench.jax_compat.OLDEST_JAX and pyproject.toml (tests check that they agree).
JAX_ENDS = {
    "0.4.31": (
        "jax==0.4.31",
        "jaxlib==0.4.31",
        "jaxley==0.13.0",
        "optax==0.2.3",
        "chex==0.1.86",
        "numpy==1.24.1",
        "pandas==2.2.0",
        "scipy==1.10.0",
        "matplotlib==3.7.0",
        "tqdm==4.60.0",
        "tabulate==0.9.0",
        "packaging==23.0",
        "pytest==7.0.0",
        "pytest-benchmark==4.0.0",
        "ruptures==1.1.10",
        "plotly==7.1.0",
    ),
    "newest": ("jax", "jaxlib"),
}
#: What depends on the jax release: the task, the measuring worker, the verdict path.
JAX_ENDS_TESTS = (
    "tests/test_jax_compat.py",
    "tests/test_data.py",
    "tests/test_task.py",
    "tests/test_compare.py",
    "tests/test_ab.py",
)


@nox.session(name="jax-ends", default=False)
@nox.parametrize("jax", list(JAX_ENDS))
def jax_ends(session: nox.Session, jax: str) -> None:
    """The task, worker and verdict tests on the oldest and the newest supported jax."""
    session.install("-e", ".[test]", *JAX_ENDS[jax])
    session.run("python", "-c", "import jax; print('jax', jax.__version__)")
    session.run("pytest", "-q", *(session.posargs or JAX_ENDS_TESTS))


@nox.session(name="real-bisect", default=False)
def real_bisect(session: nox.Session) -> None:
    """The bisect tests on real installs: a jaxley commit range and two package sets."""
    session.install("-e", ".[test]", "uv")
    session.env["SNNBENCH_REAL_BISECT"] = "1"
    session.run("pytest", "-q", "tests/test_bisect.py", "-k", "real", *session.posargs)


@nox.session(default=False)
def quick(session: nox.Session) -> None:
    """The inner loop: the suite without the ``slow`` tests (processes, whole commands)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "not slow", *session.posargs)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Run the benchmark matrix (quick by default; ``-- --full`` for everything)."""
    session.install("-e", ".")
    session.run("snnbench", "bench", *session.posargs)


@nox.session(default=False)
def report(session: nox.Session) -> None:
    """Turn your runs (``runs/``) into a report (``-- --results results --out results``: the
    committed reference page)."""
    session.install("-e", ".")
    session.run("snnbench", "report", *session.posargs)


@nox.session(default=False)
def tradeoffs(session: nox.Session) -> None:
    """dt / precision trade-offs: fidelity vs time and a Pareto plot (``-- --full`` for more)."""
    session.install("-e", ".")
    session.run("snnbench", "tradeoffs", *session.posargs)


LINTED = ("snnbench", "bench", "tests", "scripts", "noxfile.py")


@nox.session(default=False)
def lint(session: nox.Session) -> None:
    """Check formatting (``ruff format --check``) and lint (``ruff check``)."""
    session.install("ruff")
    session.run("ruff", "format", "--check", *LINTED)
    session.run("ruff", "check", *LINTED)


@nox.session(default=False)
def profile(session: nox.Session) -> None:
    """Profile one configuration: compile stages, XLA analyses, memory, trace, SNN metrics."""
    session.install("-e", ".")
    session.run("snnbench", "profile", *session.posargs)


#: jaxley releases the history session runs; keep in step with
#: snnbench.task.spiking.SUPPORTED_JAXLEY (a test checks that they agree).
HISTORY_JAXLEY = ["0.13.0", "0.14.0"]
#: What each history run measures unless ``-- ARGS`` says otherwise.
HISTORY_DEFAULT_ARGS = (
    "--backend",
    "jaxley,dense",
    "--batch-sizes",
    "16",
    "--precision",
    "float32",
    "--device",
    "cpu",
    "--phases",
    "forward,grad_step,compile",
)


@nox.session(default=False)
def compare(session: nox.Session) -> None:
    """Compare two result sets: ``nox -s compare -- BASELINE CANDIDATE`` (1 on a regression)."""
    session.install("-e", ".")
    session.run("snnbench", "compare", *session.posargs)


@nox.session(default=False)
def ab(session: nox.Session) -> None:
    """A/B in one job: ``nox -s ab -- --a-spec jaxley==0.13.0 --b-spec jaxley==0.14.0``."""
    session.install("-e", ".")
    session.run("snnbench", "ab", *session.posargs)


@nox.session(default=False)
@nox.parametrize("jaxley", HISTORY_JAXLEY)
def history(session: nox.Session, jaxley: str) -> None:
    """Benchmark one jaxley release into results/history/ (then ``snnbench history --results
    results/history --out DIR --order-by jaxley``, or ``snnbench compare --by``)."""
    session.install("-e", ".", f"jaxley=={jaxley}")
    args = session.posargs or HISTORY_DEFAULT_ARGS
    session.run("snnbench", "bench", "--out", "results/history", "--no-progress", *args)


@nox.session(name="noise-study", default=False)
def noise_study(session: nox.Session) -> None:
    """Per-job false alarms and detections of ``snnbench ab`` here (the campaign: hours)."""
    session.install("-e", ".")
    session.run("snnbench", "noise-study", *session.posargs)
