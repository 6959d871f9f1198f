"""The package a user installs from a wheel can bench: the benchmark ships inside it."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_carries_the_benchmark_and_its_plugin(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("snnbench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in ("measure/bench_cases.py", "measure/pytest_plugin.py", "cli/__init__.py"):
        assert f"snnbench/{module}" in names
    assert not any(name.startswith(("tests/", "bench/", "results/")) for name in names)
