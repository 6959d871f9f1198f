"""Every supported jax: the compat layer, and a side that cannot run refused up front."""

import os
import sys
from pathlib import Path

import jax
import pytest

from snnbench import jax_compat
from snnbench.errors import SnnbenchError
from snnbench.measure.records import CaseSpec
from snnbench.regress import ab, envs
from snnbench.task import parallel

ROOT = Path(__file__).resolve().parent.parent


def test_the_declared_lower_bound_is_the_oldest_jax_tested():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'"jax>={jax_compat.OLDEST_JAX}"' in pyproject
    noxfile = (ROOT / "noxfile.py").read_text()
    assert f'"{jax_compat.OLDEST_JAX}"' in noxfile


def test_every_declared_floor_is_what_the_oldest_end_installs():
    import ast
    import re

    import tomllib
    from packaging.version import Version

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    floors = dict(re.fullmatch(r"([\w-]+)>=([\w.]+).*", d).groups() for d in declared)
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    ends = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "JAX_ENDS"
    )
    oldest = dict(pin.split("==") for pin in ends[jax_compat.OLDEST_JAX])
    assert {n: Version(v) for n, v in floors.items()} == {n: Version(oldest[n]) for n in floors}


def test_the_batch_mesh_has_auto_axes_on_every_jax():
    mesh = parallel.batch_mesh(1)
    assert mesh.axis_names == ("batch",) and mesh.size == 1
    if jax_compat.AxisType is not None:
        assert mesh.axis_types == (jax_compat.AxisType.Auto,)
        assert jax_compat.missing_feature("explicit_sharding") == ""
    else:
        assert "AxisType" in jax_compat.missing_feature("explicit_sharding")


def test_random_bits_are_the_partitionable_ones_on_every_jax():
    """The draws the golden values were made with: partitionable threefry (jax >= 0.5)."""
    key = jax.random.key(0)
    with jax_compat.same_random_bits():
        drawn = jax.random.uniform(key, (3,))
        assert jax.config.jax_threefry_partitionable
    again = jax.random.uniform(key, (3,))
    if jax.config.jax_threefry_partitionable:  # the default since jax 0.5
        assert (drawn == again).all()


def _side(python: Path, side: str = "A") -> envs.Environment:
    return envs.Environment(side, (), Path("."), python, {})


def test_a_side_that_cannot_import_is_refused_with_its_own_error(tmp_path):
    fake = tmp_path / "python"
    fake.write_text(
        "#!/bin/sh\necho \"ImportError: cannot import name 'AxisType' from 'jax.sharding'\" >&2\n"
        "exit 1\n"
    )
    fake.chmod(0o755)
    with pytest.raises(SnnbenchError, match=r"side A .* cannot run snnbench.*AxisType"):
        envs.preflight(_side(fake), ("dense",))


@pytest.mark.slow  # starts the side's interpreter
def test_the_preflight_reports_the_versions_of_the_side_that_ran_it():
    metadata = envs.preflight(_side(Path(sys.executable)), ("dense",), pin_cpu=None)
    assert metadata["jax_version"] == jax.__version__
    assert metadata["cpu_count"] == len(os.sched_getaffinity(0))


def test_a_row_the_worker_could_not_measure_carries_the_sides_versions(tmp_path, monkeypatch):
    """Not the driver's: the side's preflight metadata (its jax, its pinning)."""

    class Dead:
        def __init__(self, *args, **kwargs):
            raise ab.WorkerDied("measuring worker exited with code 3")

    monkeypatch.setattr(ab, "Worker", Dead)
    measured_by = {"jax_version": "0.4.31", "cpu_count": 1, "pinned_cpu": "1"}
    side = ab._Side(_side(Path(sys.executable)), tmp_path, "job", ab.AbOptions(), measured_by)
    side.measure_case(CaseSpec("dense", "forward", 2, "float32", "cpu", 1e-3), 0)
    row = ab.storage.journal_rows(side.journal)[0]
    assert row["status"] == "failed" and "code 3" in row["reason"]
    assert (row["jax_version"], row["cpu_count"], row["pinned_cpu"]) == ("0.4.31", 1, "1")
