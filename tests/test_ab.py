"""A/B planning: spec parsing, cache keys, interleaving, pip arguments (no venvs made)."""

import subprocess
from pathlib import Path

import pytest

from snnbench.errors import SnnbenchError
from snnbench.regress import ab, envs

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


def test_env_key_depends_on_what_is_installed_not_order():
    a = envs.Requirement("pip", "jaxley==0.13.0", "", "jaxley==0.13.0")
    b = envs.Requirement("pip", "optax==0.2.8", "", "optax==0.2.8")
    assert envs.env_key((a, b), "3.11.7") == envs.env_key((b, a), "3.11.7")
    assert envs.env_key((a,), "3.11.7") != envs.env_key((a,), "3.12.0")
    assert len(envs.env_key((a,), "3.11.7")) == 16


def test_interleaved_order_balances_drift():
    assert ab.interleaved_order(3) == ["A", "B", "B", "A", "A", "B"]
    order = ab.interleaved_order(4)
    assert order.count("A") == order.count("B") == 4
    # mean position of each side is equal: a linear drift adds the same to both
    assert sum(i for i, s in enumerate(order) if s == "A") == sum(
        i for i, s in enumerate(order) if s == "B"
    )


def test_install_arguments_keep_this_checkout_unless_replaced(tmp_path):
    pip = envs.Requirement("pip", "jaxley==0.13.0", "", "jaxley==0.13.0")
    assert envs.install_arguments((pip,), {}, Path("/co")) == ["-e", "/co", "jaxley==0.13.0"]
    rev = envs.Requirement("git", "snnbench@abc", "snnbench", "abc" * 13 + "a")
    src = tmp_path / "src"
    assert envs.install_arguments((rev,), {"snnbench@abc": src}, Path("/co")) == [str(src)]


def test_export_revision_writes_that_commit(tmp_path):
    req = envs.parse_spec("snnbench@HEAD", REPO)
    target = envs._export_revision(REPO, req, tmp_path)
    assert (target / "pyproject.toml").exists()
    assert (target / ".exported").read_text() == head()


def test_an_environment_benches_with_its_own_snnbench(tmp_path):
    new = tmp_path / "new"
    (new / "snnbench" / "measure").mkdir(parents=True)
    (new / "snnbench" / "measure" / "bench_cases.py").write_text("")
    assert envs.bench_target(new).args[-1] == "snnbench.measure.bench_cases"
    old = tmp_path / "old"  # a revision from before the plugin: its own bench/ and conftest
    (old / "bench").mkdir(parents=True)
    (old / "bench" / "bench_matrix.py").write_text("")
    target = envs.bench_target(old)
    assert "-p" not in target.args and target.args[-1].endswith("bench_matrix.py")
