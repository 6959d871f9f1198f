"""A/B: specs, cache keys from pip's resolution (pip mocked), the environment refusal,
the balanced order, the converging loop (measurements faked), and the real worker."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from snnbench.errors import SnnbenchError
from snnbench.measure import storage
from snnbench.measure.matrix import Matrix
from snnbench.measure.records import CaseSpec, Measurement
from snnbench.measure.worker import Worker, WorkerDied
from snnbench.regress import ab, envs
from snnbench.regress.compare import CLEAN, REGRESSION, UNDECIDED
from snnbench.regress.verdict import Criteria

REPO = Path(__file__).resolve().parent.parent


def head() -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_pip_spec():
    req = envs.parse_spec("jaxley==0.13.0", REPO)
    assert (req.kind, req.location, req.is_snnbench) == ("pip", "jaxley==0.13.0", False)


def test_git_spec_resolves_to_full_commit():
    req = envs.parse_spec("snnbench@HEAD", REPO)
    assert (req.kind, req.name, req.location) == ("git", "snnbench", head())
    assert req.is_snnbench


def test_unknown_revision_says_what_to_do():
    with pytest.raises(SnnbenchError, match="not a commit .*git fetch origin no-such-rev"):
        envs.parse_spec("snnbench@no-such-rev", REPO)


def test_path_spec(tmp_path):
    assert envs.parse_spec(str(REPO), REPO).is_snnbench
    with pytest.raises(SnnbenchError, match="pyproject.toml or setup.py"):
        envs.parse_spec(str(tmp_path), REPO)


REPORT = {
    "install": [
        {"metadata": {"name": "Jax", "version": "0.10.2"}, "download_info": {"url": "x"}},
        {
            "metadata": {"name": "snnbench", "version": "0.2.0"},
            "is_direct": True,
            "download_info": {"url": "file:///envs/src/snnbench-0123456789ab"},
        },
    ]
}


def test_cache_key_is_what_pip_resolved():
    resolved = envs.resolved_set(REPORT)
    assert resolved == [
        ("jax", "0.10.2", ""),  # an index package: its name and version say it all
        ("snnbench", "0.2.0", "file:///envs/src/snnbench-0123456789ab"),
    ]
    key = envs.env_key(resolved, "3.11.7")
    assert len(key) == 16 and key == envs.env_key(list(reversed(resolved)), "3.11.7")
    newer = json.loads(json.dumps(REPORT))
    newer["install"][0]["metadata"]["version"] = "0.10.3"  # a new jax release: a new env
    assert envs.env_key(envs.resolved_set(newer), "3.11.7") != key
    assert envs.env_key(resolved, "3.12.0") != key
    assert envs.env_key(resolved, "3.11.7", tag="noise-study-B") != key


def test_prepare_keys_the_cache_by_the_resolution(tmp_path, monkeypatch):
    calls = []

    def fake_pip(python, *args, quiet=True):
        calls.append(args)
        return json.dumps(REPORT)

    monkeypatch.setattr(envs, "_pip", fake_pip)
    monkeypatch.setattr(envs, "installed_packages", lambda python: {"jax": "0.10.2"})
    monkeypatch.setattr(envs.subprocess, "run", lambda *a, **k: None)  # no venv is made
    req = envs.parse_spec("jaxley==0.14.0", REPO)
    env = envs.prepare("A", (req,), REPO, tmp_path, checkout=REPO)
    assert env.folder.name == envs.env_key(envs.resolved_set(REPORT))
    assert calls[0][:3] == ("--dry-run", "--ignore-installed", "--report")
    assert calls[1] == ("-e", str(REPO), "jaxley==0.14.0")  # then installed for real
    ready = json.loads((env.folder / "ready.json").read_text())
    assert ready["resolved"][0] == ["jax", "0.10.2", ""]
    envs.prepare("A", (req,), REPO, tmp_path, checkout=REPO)
    assert len(calls) == 3  # reused: resolved again, not installed again


def test_packages_under_test_are_named_by_the_specs(tmp_path):
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "pyproject.toml").write_text('[project]\nname = "My_Pkg"\n')
    specs = ("jaxley[extra]>=0.13", "snnbench@HEAD", str(folder))
    assert envs.under_test(tuple(envs.parse_spec(s, REPO) for s in specs)) == {
        "jaxley",
        "snnbench",
        "my-pkg",
    }


def environment(side, specs, packages):
    requirements = tuple(envs.parse_spec(s, REPO) for s in specs)
    return envs.Environment(side, requirements, Path("."), Path(sys.executable), packages)


def test_environments_that_differ_besides_what_is_under_test_are_refused():
    a = environment("A", ["jaxley==0.13.0"], {"jaxley": "0.13.0", "jax": "0.10.2", "pip": "23"})
    b = environment("B", ["jaxley==0.14.0"], {"jaxley": "0.14.0", "jax": "0.10.2", "pip": "24"})
    envs.check_same_besides(a, b, set())  # jaxley is under test; pip is tooling
    b_jax = environment("B", ["jaxley==0.14.0"], {"jaxley": "0.14.0", "jax": "0.10.3"})
    with pytest.raises(
        SnnbenchError, match=r"jax 0.10.2 \(A\) vs 0.10.3 \(B\).*--allow-difference jax"
    ):
        envs.check_same_besides(a, b_jax, set())
    envs.check_same_besides(a, b_jax, {"jax"})
    envs.check_same_besides(a, b_jax, {"all"})
    assert envs.differences({"numpy": "2.0"}, {}, set()) == [("numpy", "2.0", "not installed")]


def test_thue_morse_order_cancels_linear_and_quadratic_drift():
    assert "".join(ab.schedule(4)) == "ABBABAAB"
    assert "".join(ab.schedule(8)) == "ABBABAABBAABABBA"
    for rounds in (4, 8, 12, 16):
        slots = ab.schedule(rounds)
        for power in (0, 1, 2):
            moment = sum((t**power) * (1 if s == "A" else -1) for t, s in enumerate(slots))
            assert moment == 0, (rounds, power)
    # the old order, A B B A A B, leaves a linear drift on B
    old = "ABBAAB"
    assert sum(t * (1 if s == "A" else -1) for t, s in enumerate(old)) != 0


def test_options_are_checked():
    with pytest.raises(SnnbenchError, match="`rounds` must be a positive multiple of 4"):
        ab.AbOptions(rounds=3)
    with pytest.raises(SnnbenchError, match="`max_rounds` must be >= rounds"):
        ab.AbOptions(rounds=8, max_rounds=4)
    with pytest.raises(SnnbenchError, match="`budget_min`"):
        ab.AbOptions(budget_s=0)
    # The process pair is the unit: the first look needs 4 of them.
    with pytest.raises(SnnbenchError, match=r"`process_rounds` must be at most rounds / 4 = 2"):
        ab.AbOptions(rounds=8, process_rounds=4)
    assert ab.AbOptions(rounds=16, process_rounds=4).process_rounds == 4


CASE = CaseSpec("dense", "forward", 16, "float32", "cpu", 1e-3)
TINY = Matrix(
    backends=("dense",),
    batch_sizes=(16,),
    precisions=("float32",),
    platforms=("cpu",),
    dts_ms=(1e-3,),
    phases=("forward",),
)


def fake_run(monkeypatch, b_over_a, noise):
    """``run_ab`` with measurements made up: B/A = ``b_over_a``, per-round noise given."""
    order = []

    def measure_case(self, case, round_index):
        order.append(self.env.side)
        jitter = noise[round_index % len(noise)] if self.env.side == "B" else 0.0
        seconds = 1e-3 * (b_over_a if self.env.side == "B" else 1.0) * math.exp(jitter)
        meta = {"machine_id": "m", "pinned_cpu": "1", "yardstick_wall_s": 0.003}
        row = Measurement(case, samples_s=(seconds,) * 5, cpu_samples_s=(seconds,) * 5).to_row(meta)
        self.record(row | self.fields(round_index))

    monkeypatch.setattr(ab._Side, "measure_case", measure_case)
    monkeypatch.setattr(ab.envs, "preflight", lambda *args, **kwargs: {"machine_id": "m"})
    return order


def run(tmp_path, **options):
    sides = {s: environment(s, ["snnbench@HEAD"], {"jax": "0.10.2"}) for s in ab.SIDES}
    return ab.run_ab(TINY, sides, ab.AbOptions(**options), tmp_path)


def test_the_loop_stops_once_every_row_is_conclusive(tmp_path, monkeypatch):
    order = fake_run(monkeypatch, 1.0, [0.01, -0.01])
    result = run(tmp_path, rounds=4)
    assert (result.rounds, result.looks) == (4, 1)
    assert result.comparison.outcome() == CLEAN and result.stopped == "every row is conclusive"
    assert "".join(order) == "ABBABAAB"
    info = json.loads((result.folder / "ab.json").read_text())
    assert info["rounds"] == 4 and len(info["rounds_log"]) == 4
    rows = storage.load_results(result.folder / "B")
    assert sorted(rows["ab_round"]) == [0, 1, 2, 3] and set(rows["ab_side"]) == {"B"}
    assert sorted(rows["ab_process"]) == [0, 1, 2, 3]  # a fresh process pair per round
    assert result.comparison.rows[0].verdict.design == "process pairs"


def test_the_loop_adds_rounds_while_a_row_is_inconclusive(tmp_path, monkeypatch):
    fake_run(monkeypatch, 1.0, [0.3, -0.25, 0.2, -0.3])  # too noisy to decide
    result = run(tmp_path, rounds=4, max_rounds=12)
    # 12 rounds in 3 looks, then one automatic extension block before giving up.
    assert result.rounds == 16 and result.looks == 4
    assert result.comparison.outcome() == UNDECIDED
    assert result.comparison.criteria.look == 4
    assert result.stopped == "the round limit (12) is reached"
    info = json.loads((result.folder / "ab.json").read_text())
    assert info["extended"] == "the round limit (12) is reached"


def test_the_loop_stops_at_a_regression_and_within_its_budget(tmp_path, monkeypatch):
    fake_run(monkeypatch, 1.5, [0.01, -0.01])
    result = run(tmp_path)  # the default first look: 8 rounds
    assert result.comparison.outcome() == REGRESSION and result.rounds == 8
    fake_run(monkeypatch, 1.0, [0.3, -0.25, 0.2, -0.3])
    result = run(tmp_path, rounds=4, budget_s=1e-9)
    assert result.rounds == 8 and "overrun the budget" in result.stopped  # 4 + extension


def test_ab_refuses_environments_that_differ(tmp_path):
    sides = {
        "A": environment("A", ["snnbench@HEAD"], {"jax": "0.10.2"}),
        "B": environment("B", ["snnbench@HEAD"], {"jax": "0.10.3"}),
    }
    with pytest.raises(SnnbenchError, match="differ besides what is under test"):
        ab.run_ab(TINY, sides, ab.AbOptions(criteria=Criteria()), tmp_path)
    assert not (tmp_path / "ab").exists()


def test_the_worker_measures_a_case_and_reports_its_death(tmp_path):
    case = CaseSpec("dense", "forward", 2, "float32", "cpu", 1e-3, 0.01)
    env = {"JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"}
    worker = Worker(sys.executable, "float32", env, None, tmp_path / "w.log")
    try:
        row = worker.measure(case.to_dict(), {"ab_round": 7}, sampling="ab")
    finally:
        worker.close()
    assert row["status"] == "ok" and row["ab_round"] == 7
    assert len(json.loads(row["cpu_samples_json"])) == row["n_samples"] >= 5
    assert row["yardstick_wall_s"] > 0 and row["pinned_cpu"] == ""
    with pytest.raises(WorkerDied, match="measuring worker exited with code"):
        Worker(sys.executable, "float16", env, None, tmp_path / "bad.log")


def test_a_side_whose_snnbench_has_no_worker_is_refused_before_any_round(tmp_path):
    """The preflight runs in a worker of the side's snnbench: one without it is named."""
    older = tmp_path / "older" / "snnbench" / "measure"
    older.mkdir(parents=True)
    (older.parent / "__init__.py").write_text("")
    (older / "__init__.py").write_text("")
    python = tmp_path / "python"
    # `python -m` puts the working folder first on the path: the older snnbench wins
    python.write_text(f'#!/bin/sh\ncd {older.parent.parent} && exec {sys.executable} "$@"\n')
    python.chmod(0o755)
    side = envs.Environment("B", (), Path("."), python, {})
    with pytest.raises(SnnbenchError, match="side B .* cannot run snnbench") as error:
        envs.preflight(side, ("dense",))
    assert "snnbench.measure.worker" in str(error.value) and "\n" not in str(error.value)


def test_a_crashed_case_is_retried_once_in_a_fresh_process(tmp_path, monkeypatch):
    from snnbench.measure.worker import WorkerDied

    tries = []

    def once(self, case, fields):
        tries.append(fields["ab_round"])
        if len(tries) == 1:
            raise WorkerDied("killed by signal 9")
        return {"status": "ok", **fields}

    monkeypatch.setattr(ab._Side, "_measure_once", once)
    side = ab._Side(environment("A", [], {}), tmp_path / "A", "job", ab.AbOptions())
    side.measure_case(TINY.cases()[0], 0)
    assert tries == [0, 0] and side.rows[0]["status"] == "ok"
