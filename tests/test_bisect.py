"""snnbench bisect: the search on made-up verdicts, the groups from real pip metadata,
and (slow) whole searches on environments built here."""

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from snnbench.errors import SnnbenchError
from snnbench.measure.matrix import Matrix
from snnbench.regress import bisect
from snnbench.regress.bisect import Judgement, Package, RowEffect
from snnbench.render import bisect_text

MATRIX = Matrix(
    backends=("jaxley",),
    batch_sizes=(2,),
    precisions=("float32",),
    platforms=("cpu",),
    dts_ms=(1e-3,),
    phases=("forward",),
    t_max_ms=0.02,
)


def row(verdict, ratio):
    return RowEffect(
        "jaxley b2 float32 cpu dt=0.001", "forward", verdict, ratio, ratio * 0.9, ratio * 1.1
    )


def judged(verdict, ratio=1.0):
    return Judgement(verdict, (row(verdict, ratio),), rounds=4)


class FakeGate:
    """Verdicts from the two sides' "speed" (an environment here is its label's cost)."""

    def __init__(self, cost, noisy=()):
        self.cost, self.noisy, self.calls = cost, set(noisy), []

    def __call__(self, matrix, a, b, options, out_root, say):
        self.calls.append((a.label, b.label))
        if b.label in self.noisy:
            return judged("inconclusive")
        ratio = self.cost(b.label) / self.cost(a.label)
        verdict = "slower" if ratio > 1.1 else "faster" if ratio < 0.9 else "no change"
        return judged(verdict, ratio)


@dataclass(frozen=True)
class Env:
    label: str
    side: str = "A"


COMMITS = [
    (hashlib.sha1(subject.encode()).hexdigest(), subject)
    for subject in ("good", "docs", "broken build", "fix build", "slow step", "docs again")
]


def commit_env(broken=("broken build",)):
    def make(side, rev):
        subject = dict(COMMITS)[rev]
        if subject in broken:
            raise SnnbenchError("`spec`: pip could not install jaxley: no setup")
        return Env(rev)

    return make


def commit_cost(slow_from=4, again_from=None, fast_from=None):
    index = {c: i for i, (c, _) in enumerate(COMMITS)}

    def cost(label):
        i = index[label]
        value = 2.0 if i >= slow_from else 1.0
        if again_from is not None and i >= again_from:
            value *= 2.0
        if fast_from is not None and i >= fast_from:
            value = 1.0
        return value

    return cost


def run_commits(tmp_path, gate, **kw):
    journal = bisect.Journal(tmp_path / "b")
    return bisect.bisect_commits(
        MATRIX, COMMITS, commit_env(**kw), bisect.BisectOptions(), journal, measure=gate
    )


def test_the_commit_search_names_the_slowing_commit_and_skips_the_broken_one(tmp_path):
    gate = FakeGate(commit_cost())
    result = run_commits(tmp_path, gate)
    assert result.outcome == bisect.FOUND
    assert result.culprits == (f"{COMMITS[4][0][:10]} slow step",)
    skipped = [s for s in result.steps if s.verdict == "skipped"]
    assert [s.change.split(" ", 1)[1] for s in skipped] == ["broken build"]
    assert "could not install" in skipped[0].judgement.reason
    kinds = [s.kind for s in result.steps]
    assert kinds[0] == "endpoints" and "confirm" in kinds and kinds[-1] == "after"
    assert result.notes == (
        "skipped "
        + COMMITS[2][0][:10]
        + " broken build: skipped `spec`: pip could not install jaxley: no setup",
    )


def test_a_second_regression_and_an_effect_that_comes_and_goes_are_reported(tmp_path):
    twice = run_commits(tmp_path / "1", FakeGate(commit_cost(slow_from=1, again_from=5)))
    assert any("second regression" in n for n in twice.notes)
    gone = run_commits(tmp_path / "2", FakeGate(commit_cost(slow_from=1, fast_from=5)))
    # the ends agree, so nothing is bisected: reported clean, never a culprit
    assert gone.outcome == bisect.CLEAN and gone.culprits == ()
    back = run_commits(tmp_path / "3", FakeGate(commit_cost(slow_from=1, again_from=None)))
    assert back.culprits[0].endswith("docs")


def test_an_interrupted_search_resumes_from_its_journal(tmp_path):
    first = FakeGate(commit_cost())
    run_commits(tmp_path, first)
    again = FakeGate(commit_cost())
    result = run_commits(tmp_path, again)
    assert again.calls == [] and result.outcome == bisect.FOUND
    lines = (tmp_path / "b" / bisect.JOURNAL).read_text().splitlines()
    assert len(lines) == len(first.calls) + 1  # + the skipped step, journalled too
    assert json.loads(lines[0])["kind"] == "endpoints"


def test_the_budget_stops_the_search_inconclusive(tmp_path):
    options = bisect.BisectOptions(budget_s=1e-9)
    journal = bisect.Journal(tmp_path)
    result = bisect.bisect_commits(
        MATRIX, COMMITS, commit_env(), options, journal, measure=FakeGate(commit_cost())
    )
    assert result.outcome == bisect.UNDECIDED and "budget ran out" in result.notes[0]


def _pkg(name, version, *requires):
    return Package(name, version, "", requires)


#: Requirement metadata as pip's report gives it for the jax 0.4.31 and 0.10.2 sides.
OLD = {
    "jax": _pkg("jax", "0.4.31", "jaxlib <=0.4.31,>=0.4.30", "ml-dtypes >=0.2.0", "numpy >=1.24"),
    "jaxlib": _pkg("jaxlib", "0.4.31", "numpy >=1.24", "ml-dtypes >=0.2.0"),
    "optax": _pkg("optax", "0.2.3", "jax>=0.4.27", "jaxlib>=0.4.27"),
    "numpy": _pkg("numpy", "2.0.2"),
    "scipy": _pkg("scipy", "1.14.1", "numpy<2.3,>=1.23.5", 'numpydoc; extra == "doc"'),
    "ml-dtypes": _pkg("ml-dtypes", "0.5.0", "numpy>=2.0.0"),
    "tabulate": _pkg("tabulate", "0.9.0"),
}
NEW = {
    "jax": _pkg("jax", "0.10.2", "jaxlib <=0.10.2,>=0.10.2", "ml-dtypes>=0.5.0", "numpy>=2.0"),
    "jaxlib": _pkg("jaxlib", "0.10.2", "numpy>=2.0", "ml-dtypes>=0.5.0"),
    "optax": _pkg("optax", "0.2.8", "jax>=0.5.3", "jaxlib>=0.5.3"),
    "numpy": _pkg("numpy", "2.4.6"),
    "scipy": _pkg("scipy", "1.17.1", "numpy<2.7,>=1.26.4"),
    "ml-dtypes": _pkg("ml-dtypes", "0.5.0", "numpy>=2.0.0"),
    "tabulate": _pkg("tabulate", "0.10.0"),
}


def test_packages_that_must_move_together_form_one_group():
    groups = bisect.package_groups(OLD, NEW)
    # jax pins jaxlib exactly; optax 0.2.8 needs a newer jax; scipy 1.14 refuses numpy 2.4
    assert groups == [("jax", "jaxlib", "optax"), ("numpy", "scipy"), ("tabulate",)]
    assert bisect.describe_group(("tabulate",), OLD, NEW) == "tabulate 0.9.0 -> 0.10.0"
    pins = bisect.mixed_specs(OLD, NEW, {"tabulate"})
    assert "tabulate==0.10.0" in pins and "jax==0.4.31" in pins


def run_packages(tmp_path, slow, noisy=()):
    def make_env(side, pins):
        return Env(",".join(pins))

    def cost(label):
        return 3.0 if all(p in label.split(",") for p in slow) else 1.0

    gate = FakeGate(cost, noisy)
    reports = {"A": OLD, "B": NEW}

    def report(specs):
        side = specs[0]
        return {
            "install": [
                {
                    "metadata": {
                        "name": p.name,
                        "version": p.version,
                        "requires_dist": list(p.requires),
                    }
                }
                for p in reports[side].values()
            ]
        }

    specs = {"A": ("A",), "B": ("B",)}
    return bisect.bisect_packages(
        MATRIX,
        specs,
        make_env,
        report,
        bisect.BisectOptions(),
        bisect.Journal(tmp_path),
        measure=gate,
    )


def test_the_package_search_names_the_group_and_its_effect(tmp_path):
    result = run_packages(tmp_path, slow=("jax==0.10.2",))
    assert result.outcome == bisect.FOUND
    assert result.culprits == (
        "jax 0.4.31 -> 0.10.2, jaxlib 0.4.31 -> 0.10.2, optax 0.2.3 -> 0.2.8",
    )
    step = next(s for s in result.steps if s.kind == "package" and s.verdict == "slower")
    assert step.worst().ratio == pytest.approx(3.0)
    text = bisect_text.render_text(result)
    assert text.startswith("culprit (package): jax 0.4.31") and "3.000x" in text
    assert max(len(line) for line in text.splitlines()) <= 100
    csv_lines = bisect_text.to_csv(result).splitlines()
    assert len(csv_lines) == 1 + len(result.steps)


def test_a_group_that_needs_an_earlier_one_is_tried_alone_and_said_so(tmp_path):
    result = run_packages(tmp_path, slow=("numpy==2.4.6", "jax==0.10.2"))
    assert [s.kind for s in result.steps].count("alone") == 1
    assert any("needs the groups moved before it" in n for n in result.notes)


def test_no_regression_between_the_ends_is_clean(tmp_path):
    result = run_packages(tmp_path, slow=("nothing==1",))
    assert result.outcome == bisect.CLEAN and len(result.steps) == 1


def test_the_text_fits_100_columns_at_its_widest():
    """Two-digit steps, the longest verdict, ratios and intervals over 10x, long changes,
    notes and skip reasons: every line within 100 columns, nothing cut from a reason
    (a single word longer than a line, a path, keeps a line of its own, unbroken)."""
    from pathlib import Path

    wide = RowEffect(
        "jaxley b256 float32 cpu dt=0.001", "grad_compile", "inconclusive", 12.3, 10.1, 14.6
    )
    change = "jax 0.4.31 -> 0.10.2, jaxlib 0.4.31 -> 0.10.2, optax 0.2.3 -> 0.2.8"
    reason = "`spec`: pip could not install " + "some-package==1.0.0 " * 20 + "end"
    steps = (
        *(
            bisect.Step(i, "endpoints", change, "A", "B", Judgement("inconclusive", (wide,), 32))
            for i in range(11)
        ),
        bisect.Step(11, "package", change, "A", "B", Judgement("skipped", reason=reason)),
    )
    result = bisect.BisectResult("package", "found", (change,), steps, ("n " * 120,), Path("."))
    text = bisect_text.render_text(result)
    assert max(len(line) for line in text.splitlines()) <= 100, text
    assert "end" in text.split("skipped step 11")[1]


def test_the_figure_is_drawn_for_every_step(tmp_path):
    from snnbench.render.plots import save_png

    result = run_packages(tmp_path, slow=("jax==0.10.2",))
    path = save_png(bisect_text.steps_figure(result), tmp_path / "steps.png")
    assert path.stat().st_size > 1000


def test_bisect_needs_two_sides_and_says_which_flags():
    from snnbench.cli import main

    assert main(["bisect", "--a-spec", "jaxley==0.14.0"]) == 2


def test_process_rounds_beyond_a_quarter_of_the_rounds_is_refused(tmp_path, capsys):
    from snnbench.cli import main

    argv = ["bisect", "--a-spec", "jaxley==0.14.0", "--b-spec", "jaxley==0.13.0"]
    argv += ["--rounds", "4", "--process-rounds", "2", "--out", str(tmp_path)]
    assert main(argv) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--process-rounds" in error and "at most rounds / 4 = 1" in error and "got 2" in error
    assert not any(tmp_path.iterdir())


# -- whole searches on real environments built here ----------------------------------------

SLOW_STEP = """    def _body_fun(state, externals):
        state = step_fn(state, all_params, externals, external_inds, delta_t)
        burned = jax.lax.fori_loop(
            0, 600, lambda _, y: jnp.tanh(0.9 * y + 0.3), state["v"] * 0.01
        )
        state = {**state, "v": jnp.where(burned > 2.0, burned, state["v"])}
"""
BODY = """    def _body_fun(state, externals):
        state = step_fn(state, all_params, externals, external_inds, delta_t)
"""
#: Small enough for the suite: one row (batch 1, a small network, the forward pass),
#: four rounds per step, each in a fresh pair of processes, pinned to one core (CPU time
#: decides). The slowdown (several times) is far beyond the threshold (2x); a harmless
#: step's interval has 3 degrees of freedom at its first look and 7 after the extension.
REAL_FLAGS = [
    "--backend",
    "jaxley",
    "--batch-size",
    "1",
    "--n-input",
    "4",
    "--n-hidden",
    "2",
    "--precision",
    "float32",
    "--device",
    "cpu",
    "--phases",
    "forward",
    "--rounds",
    "4",
    "--max-rounds",
    "4",
    "--threshold",
    "100",
    # The first core this process may use: ``auto`` (the last) is where timing campaigns pin.
    "--pin-cpu",
    str(min(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else "none",
]


def _git(repo, *args):
    import subprocess

    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture(scope="module")
def jaxley_source(tmp_path_factory):
    """jaxley 0.14.0's sdist, unpacked (skipped with the reason where pip cannot fetch it)."""
    import subprocess
    import sys
    import tarfile

    where = tmp_path_factory.mktemp("sdist")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--no-binary",
            ":all:",
            "jaxley==0.14.0",
            "-d",
            str(where),
        ],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"pip cannot download the jaxley 0.14.0 sdist here: {done.stderr[-200:]}")
    with tarfile.open(next(where.glob("jaxley-0.14.0.tar.gz"))) as tar:
        tar.extractall(where, filter="data")
    return where / "jaxley-0.14.0"


@pytest.fixture(scope="module")
def env_cache(tmp_path_factory):
    """One cache of environments for every real search (a revision is built once)."""
    return tmp_path_factory.mktemp("envs")


@pytest.fixture(scope="module")
def jaxley_repo(jaxley_source, tmp_path_factory):
    """A git history on jaxley 0.14.0: harmless commits, one that does not install, one
    that adds compiled work to every time step. Returns the repo and its commits."""
    import shutil

    repo = tmp_path_factory.mktemp("repo") / "jaxley"
    shutil.copytree(jaxley_source, repo)
    _git(repo, "init", "-q")
    integrate = repo / "jaxley" / "integrate.py"
    pyproject = repo / "pyproject.toml"
    good_pyproject = pyproject.read_text()
    note = lambda: (repo / "NOTE.md").write_text("a note\n")  # noqa: E731
    # The fewest commits that test both: the broken one is the first middle (skipped),
    # the harmless fix the next (no change), so the culprit is named against its parent.
    edits = [
        ("good", lambda: None),
        ("build: broken pyproject", lambda: pyproject.write_text("[project\nname =\n")),
        ("build: fixed, a note", lambda: (pyproject.write_text(good_pyproject), note())),
        (
            "integrate: more work per step",
            lambda: integrate.write_text(integrate.read_text().replace(BODY, SLOW_STEP)),
        ),
    ]
    commits = []
    for subject, edit in edits:
        edit()
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", subject)
        commits.append((_git(repo, "rev-parse", "HEAD"), subject))
    assert SLOW_STEP in integrate.read_text()
    return repo, commits


#: Each real search measures three steps (docs/regressions.md has what they cost);
#: ``nox -s tests`` runs both (it sets SNNBENCH_REAL_BISECT), a bare pytest leaves them out.
full_size = pytest.mark.skipif(
    not os.environ.get("SNNBENCH_REAL_BISECT"),
    reason="a real search takes minutes: `nox -s real-bisect` runs it (SNNBENCH_REAL_BISECT=1)",
)


@pytest.fixture
def cached_bytecode(monkeypatch):
    """The sides' processes write their bytecode into their environments, as Python does
    by default: where PYTHONDONTWRITEBYTECODE is set, every one of a step's processes
    would compile jax, jaxley and their imports from source again (seconds each)."""
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)


@pytest.mark.slow
@full_size
def test_a_real_commit_bisect_names_the_slowing_commit_and_skips_the_broken_one(
    jaxley_repo, env_cache, cached_bytecode, tmp_path, capsys
):
    from snnbench.cli import main

    repo, commits = jaxley_repo
    code = main(
        [
            "bisect",
            "--repo",
            str(repo),
            "--name",
            "jaxley",
            "--good",
            commits[0][0],
            "--bad",
            commits[-1][0],
            "--envs",
            str(env_cache),
            "--out",
            str(tmp_path),
            *REAL_FLAGS,
        ]
    )
    out, err = capsys.readouterr()
    assert code == 1, out + err[-3000:]
    assert out.startswith(f"culprit (commit): {commits[3][0][:10]} integrate: more work per step")
    folder = next((tmp_path / "bisect").rglob(bisect.JOURNAL)).parent
    steps = [json.loads(line) for line in (folder / bisect.JOURNAL).read_text().splitlines()]
    skipped = [s for s in steps if s["judgement"]["verdict"] == "skipped"]
    assert [s["change"].split(" ", 1)[1] for s in skipped] == ["build: broken pyproject"]
    assert "install" in skipped[0]["judgement"]["reason"]
    assert (folder / "steps.csv").exists() and (folder / "steps.png").exists()


@pytest.mark.slow
@full_size
def test_a_real_package_bisect_names_the_package_that_slows_the_task(
    jaxley_repo, env_cache, cached_bytecode, tmp_path, capsys
):
    """Two environments that differ in a local jaxley (slowed) and in tabulate (harmless)."""
    from snnbench.cli import main

    repo, commits = jaxley_repo
    fast, slow = tmp_path / "jaxley-fast", tmp_path / "jaxley-slow"
    for folder, commit in ((fast, commits[2][0]), (slow, commits[3][0])):
        _git(repo, "worktree", "add", "-q", "--detach", str(folder), commit)
    code = main(
        [
            "bisect",
            "--a-spec",
            str(fast),
            "--a-spec",
            "tabulate==0.9.0",
            "--b-spec",
            str(slow),
            "--b-spec",
            "tabulate==0.10.0",
            "--envs",
            str(env_cache),
            "--out",
            str(tmp_path),
            *REAL_FLAGS,
        ]
    )
    out, err = capsys.readouterr()
    assert code == 1, out + err[-3000:]
    assert out.startswith("culprit (package): jaxley 0.14.0 -> 0.14.0"), out
    # The harmless package is never blamed; on a noisy machine its step may stay
    # inconclusive rather than "no change", which is an honest answer too.
    assert "tabulate 0.9.0 -> 0.10.0" in out, out
    harmless = [line for line in out.splitlines() if "tabulate" in line]
    assert harmless and not any("slower" in line for line in harmless), out


# -- the CI recipe -------------------------------------------------------------------------

RECIPE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "ab-then-bisect.yml"


def _recipe_commands() -> list[list[str]]:
    """Every ``snnbench ...`` command of the recipe's run blocks, continuation lines
    joined and ``${VAR}`` / ``${{ ... }}`` stood in for by a word."""
    import re
    import shlex

    import yaml

    workflow = yaml.safe_load(RECIPE.read_text())
    (job,) = workflow["jobs"].values()
    commands = []
    for step in job["steps"]:
        script = re.sub(r"\\\n\s*", " ", step.get("run", ""))
        for line in script.splitlines():
            line = re.sub(r"\$\{\{[^}]*\}\}|\$\{?\w+\}?", "X", line.strip())
            if line.startswith("snnbench "):
                commands.append(shlex.split(line)[1:])
    return commands


def test_the_ci_recipe_parses_and_uses_only_flags_that_exist():
    from snnbench.cli import build_parser

    commands = _recipe_commands()
    assert [c[0] for c in commands] == ["ab", "bisect"]
    for argv in commands:
        build_parser().parse_args(argv)  # an unknown flag exits (argparse)
    assert "--job" in commands[1]
    text = RECIPE.read_text()
    assert "steps.ab.outputs.rc == '1'" in text and "gh pr comment" in text and "exit 1" in text
    docs = (RECIPE.parents[1] / "regressions.md").read_text()
    assert "examples/ab-then-bisect.yml" in docs


# -- environments built without resolving ---------------------------------------------------


def test_a_revision_whose_requirements_the_base_does_not_meet_is_resolved_on_its_own(
    tmp_path, monkeypatch
):
    from snnbench.regress import envs

    base = tmp_path / "base"
    base.mkdir()
    (base / "ready.json").write_text(json.dumps({"resolved": [["numpy", "2.0.0", ""]]}))
    installed, resolved = [], []
    monkeypatch.setattr(envs, "_new_venv", lambda folder: folder.mkdir(parents=True))
    monkeypatch.setattr(envs, "_pip", lambda python, *args, **kw: installed.append(args))
    monkeypatch.setattr(envs, "_check", lambda python: "mypkg 1.0 requires scipy, not installed")
    monkeypatch.setattr(envs, "prepare", lambda *args, **kw: resolved.append(args) or "resolved")
    source = tmp_path / "mypkg"
    source.mkdir()
    (source / "setup.py").write_text("")
    good = envs.Environment("A", (), base, base / "venv/bin/python", None, {})
    new = (envs.parse_spec(str(source), tmp_path),)
    assert envs.prepare_over(good, "B", new, tmp_path, tmp_path / "envs") == "resolved"
    assert ("--no-deps", "numpy==2.0.0") == installed[0][:1] + installed[0][-1:]
    assert installed[1] == ("--no-deps", str(source.resolve()))
    assert resolved[0][:2] == ("B", new)  # resolved as the side's own specs
    assert not any((tmp_path / "envs").iterdir())  # the unchecked environment is removed


def test_a_preflight_that_passed_is_not_run_again_until_the_environment_changes(tmp_path):
    from snnbench.regress import envs

    calls = tmp_path / "calls"
    fake = tmp_path / "venv" / "bin" / "python"
    fake.parent.mkdir(parents=True)
    # speaks the worker protocol: its ready line, then one answer per request
    fake.write_text(
        f"#!/bin/sh\necho run >> {calls}\necho '{{\"ready\": true}}'\n"
        'while read -r line; do echo \'{"result": {"cpu_count": 1}}\'; done\n'
    )
    fake.chmod(0o755)
    side = envs.Environment("A", (), tmp_path, fake, {})
    assert envs.preflight(side, ("dense",))["cpu_count"] == 1
    assert "load_avg_1m" in envs.preflight(side, ("dense",))  # now's load, not the first's
    assert calls.read_text().count("run") == 1
    envs._forget(tmp_path)  # what installing into it does
    envs.preflight(side, ("dense",))
    assert calls.read_text().count("run") == 2


def test_a_new_environment_gets_the_bytecode_compiled_for_its_very_files(tmp_path):
    """Only for a file that is one file on disk with the donor's (a link of the installer's
    cache); a module of another version is left for Python to compile."""
    import importlib.util

    from snnbench.regress import envs

    def site(name):
        folder = tmp_path / name / "venv" / "lib" / "python3.11" / "site-packages" / "pkg"
        folder.mkdir(parents=True)
        return folder

    donor, new = site("donor"), site("new")
    (tmp_path / "donor" / "ready.json").write_text("{}")
    for name in ("same", "other"):
        (donor / f"{name}.py").write_text(f"X = {name!r}\n")
    os.link(donor / "same.py", new / "same.py")
    (new / "other.py").write_text("X = 'another version'\n")
    for name in ("same", "other"):
        compiled = Path(importlib.util.cache_from_source(str(donor / f"{name}.py")))
        compiled.parent.mkdir(exist_ok=True)
        compiled.write_bytes(b"bytecode")
    assert envs.seed_bytecode(tmp_path / "new") == 1
    seeded = Path(importlib.util.cache_from_source(str(new / "same.py")))
    assert seeded.read_bytes() == b"bytecode" and seeded.stat().st_nlink == 2
    assert not Path(importlib.util.cache_from_source(str(new / "other.py"))).exists()
    assert envs.seed_bytecode(tmp_path / "new") == 0  # what is there already stays
