"""The ready-to-run GPU check: its plan is valid on a GPU, and its dry run works on the CPU."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from snnbench.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "gpu_check.py"


def _module():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_gpu_plan_parses_targets_the_gpu_and_fits_its_budget(tmp_path):
    check = _module()
    plan = check.steps(tmp_path, dry_run=False)
    names = [s.name for s in plan]
    assert names[:3] == ["environment", "tests", "bench"]  # most important first
    for step in plan:
        argv = list(step.argv)
        if argv[1:3] == ["-m", "snnbench"]:
            build_parser().parse_args(argv[3:])  # every snnbench command line is valid
            assert argv[3] == "report" or argv[argv.index("--device") + 1] == "gpu"
        if argv[1:3] == ["-m", "pytest"]:
            assert all((ROOT / t).exists() for t in argv if t.startswith("tests/"))
    essential = [s for s in plan if s.name != "all_tests"]  # the last step runs if time is left
    assert sum(s.estimate_s for s in essential) <= 570  # the default budget, ~10 device-minutes
    assert names[-1] == "all_tests"
    assert (ROOT / "scripts" / "gpu_check.sh").stat().st_mode & 0o111  # executable


def test_a_dry_run_on_the_cpu_writes_steps_and_summary(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path), "--dry-run", "--only",
         "environment,build_on_host,size_sweep"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    outcomes = json.loads((tmp_path / "steps.json").read_text())
    assert [(o["name"], o["status"]) for o in outcomes] == [
        ("environment", "ok"),
        ("size_sweep", "ok"),
        ("build_on_host", "ok"),
    ]
    page = (tmp_path / "SUMMARY.md").read_text()
    assert "dry run on the CPU" in page and '"default_backend": "cpu"' in page
    assert "## Benchmark" in page and '"where": "host"' in page


def test_a_step_that_does_not_fit_the_budget_is_skipped_with_why(tmp_path):
    check = _module()
    outcomes = check.run_steps(tmp_path, dry_run=True, budget_s=1.0, only=("bench",))
    assert outcomes[0].status == "skipped" and "left of the budget" in outcomes[0].note
