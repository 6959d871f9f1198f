"""The CI workflow runs `snnbench ab` with the defaults the noise study measured."""

import re
import shlex
from pathlib import Path

from snnbench.cli import build_parser

WORKFLOW = Path(__file__).resolve().parent.parent / ".github" / "workflows" / "snnbench.yml"


def ab_command() -> list[str]:
    text = WORKFLOW.read_text()
    block = re.search(r"snnbench ab \\\n(.*?)\n\s*rc=", text, re.S).group(0)
    joined = re.sub(r"\\\n\s*", " ", block).split("\n")[0]
    return shlex.split(joined)


def test_the_workflow_uses_the_ab_defaults():
    argv = ab_command()
    assert argv[:2] == ["snnbench", "ab"]
    flags = {a for a in argv if a.startswith("--")}
    # specs and outputs only: the matrix, rounds, budget, pinning and verdicts are the defaults
    assert flags == {"--a-spec", "--b-spec", "--markdown", "--csv"}
    args = build_parser().parse_args(argv[1:])
    assert (args.rounds, args.budget_min, args.pin_cpu, args.on_inconclusive) == (
        8,
        12.0,
        "auto",
        "fail",
    )


def test_the_workflow_fails_on_a_regression_and_warns_when_inconclusive():
    text = WORKFLOW.read_text()
    assert "steps.ab.outputs.rc == '1'" in text
    assert "steps.ab.outputs.rc == '3'" in text and "::warning" in text
