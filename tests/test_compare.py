"""Verdicts on synthetic samples, and the compare CLI on checked-in result fixtures."""

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from snnbench.cli import main
from snnbench.errors import SnnbenchError
from snnbench.measure import storage
from snnbench.regress import compare
from snnbench.render import compare_text as compare_render

FIXTURES = Path(__file__).parent / "fixtures" / "results"
OLD = FIXTURES / "history" / "jaxley-0.13.0"
NEW = FIXTURES / "history" / "jaxley-0.14.0"
SEEDS = range(40)


def lognormal(seed: int, scale: float = 1.0, n: int = 20) -> np.ndarray:
    return scale * 2e-3 * np.random.default_rng(seed).lognormal(0.0, 0.15, size=n)


def verdicts(scale: float, threshold: float = 0.10) -> list[str]:
    return [
        compare.judge(lognormal(2 * s), lognormal(2 * s + 1, scale), threshold).verdict
        for s in SEEDS
    ]


def test_same_distribution_gives_no_verdict_in_95_percent_of_seeds():
    assert verdicts(1.0).count(compare.NO_CHANGE) >= 0.95 * len(SEEDS)


def test_shift_of_30_percent_is_detected():
    assert verdicts(1.3).count(compare.SLOWER) >= 0.95 * len(SEEDS)
    assert verdicts(1 / 1.3).count(compare.FASTER) >= 0.95 * len(SEEDS)


def test_significant_but_below_threshold_is_no_change():
    a = np.linspace(1.0, 1.1, 30) * 1e-3
    v = compare.judge(a, a * 1.05, threshold=0.10)
    assert v.verdict == compare.NO_CHANGE
    assert "significant but within 10 %" in v.detail
    assert compare.judge(a, a * 1.05, threshold=0.02).verdict == compare.SLOWER


def test_too_few_samples_is_never_a_verdict():
    v = compare.judge([1.0, 1.1, 1.2], [2.0, 2.1, 2.2], threshold=0.1)
    assert v.verdict == compare.NO_CHANGE
    assert v.detail.startswith("too few samples")


def test_policy_thresholds_per_phase():
    policy = compare.Policy(threshold_pct=10, phase_threshold_pct=(("grad_compile", 25),))
    assert policy.threshold_for("grad_compile") == 0.25
    assert policy.threshold_for("forward") == 0.10
    with pytest.raises(SnnbenchError, match="`phase_threshold_pct` must be one of"):
        compare.Policy(phase_threshold_pct=(("nonsense", 5),))
    with pytest.raises(SnnbenchError, match="`threshold_pct` must be a percentage"):
        compare.Policy(threshold_pct=-1)


def fixture_comparison() -> compare.Comparison:
    return compare.compare_frames(
        storage.load_results(OLD),
        storage.load_results(NEW),
        labels=("jaxley 0.13.0", "jaxley 0.14.0"),
    )


def test_fixture_verdicts():
    result = fixture_comparison()
    by_id = {r.spec.case_id: r.verdict for r in result.rows}
    assert by_id["dense-forward-b16-float32-cpu-dt0.001"].verdict == compare.SLOWER
    assert by_id["jaxley-forward-b16-float32-cpu-dt0.001"].verdict == compare.FASTER
    assert by_id["dense-grad_step-b16-float32-cpu-dt0.001"].verdict == compare.NO_CHANGE
    failed = by_id["jaxley-grad_step-b16-float32-cpu-dt0.001"]
    assert failed.verdict == compare.NOT_COMPARABLE and failed.ratio is None
    assert "candidate failed: out of memory" in failed.detail
    assert [s.case_id for s in result.only_baseline] == ["dense-forward-b64-float32-cpu-dt0.001"]
    exact = {(e.spec.phase, e.metric): (e.baseline, e.candidate) for e in result.exact}
    assert exact == {
        ("forward", "xla_flops"): (1000.0, 1000.0),
        ("grad_step", "xla_flops"): (4000.0, 5000.0),
    }


def test_markdown_matches_golden_text():
    golden = (FIXTURES / "golden_compare.md").read_text()
    assert compare_render.render_markdown(fixture_comparison()) == golden


def test_cli_exit_codes_and_outputs(tmp_path, capsys):
    md, csv = tmp_path / "c.md", tmp_path / "c.csv"
    assert main(["compare", str(OLD), str(NEW), "--markdown", str(md), "--csv", str(csv)]) == 1
    assert "1 slower, 1 faster, 2 no change, 2 not comparable" in capsys.readouterr().out
    assert md.read_text().startswith("### snnbench comparison: ❌ 1 regression")
    table = pd.read_csv(csv)
    assert sorted(table["kind"].value_counts().items()) == [("exact", 2), ("timing", 6)]
    assert (table["verdict"] == "slower").sum() == 1
    # a 40 % threshold on forward clears the regression; the flops increase fails only on request
    relaxed = ["compare", str(OLD), str(NEW), "--threshold-phase", "forward=40"]
    assert main(relaxed) == 0
    assert main([*relaxed, "--fail-on-exact"]) == 1


def test_cli_by_jaxley_version(capsys):
    assert main(["compare", "--by", "jaxley_version", str(FIXTURES / "history")]) == 1
    out = capsys.readouterr().out
    assert "0.13.0 → 0.14.0" in out
    assert "dense-forward-b16-float32-cpu-dt0.001       1.01 ms   1.31 ms   1.30x SLOWER" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["compare", str(FIXTURES / "old_schema"), str(NEW)],
            "`BASELINE`: .* schema version \\[0\\]",
        ),
        (["compare", "no/such/run", str(NEW)], "`BASELINE`: .* does not exist"),
        (["compare", str(OLD)], "needs BASELINE and CANDIDATE"),
        (["compare", "--by", "jaxley_version", str(OLD)], "at least two values"),
        (["compare", "--by", "nope", str(OLD), str(NEW)], "`--by` must name a column"),
    ],
)
def test_cli_bad_input_exits_2(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert pytest.importorskip("re").search(message, err)


def test_no_overlap_and_schema_mismatch(tmp_path, capsys):
    frame = pd.read_csv(NEW / "benchmark.csv")
    frame["batch_size"] = 999
    frame.to_csv(tmp_path / "other.csv", index=False)
    assert main(["compare", str(OLD), str(tmp_path / "other.csv")]) == 2
    assert "share no configuration" in capsys.readouterr().err
    frame.drop(columns=["samples_json"]).to_csv(tmp_path / "bare.csv", index=False)
    assert main(["compare", str(OLD), str(tmp_path / "bare.csv")]) == 2
    assert "lacks columns samples_json" in capsys.readouterr().err


def test_version_order():
    assert sorted(["0.14.0", "0.9.1", "0.13.0"], key=compare.version_key) == [
        "0.9.1",
        "0.13.0",
        "0.14.0",
    ]


def test_history_session_matches_supported_jaxley():
    from snnbench.task.spiking import SUPPORTED_JAXLEY

    tree = ast.parse((Path(__file__).parent.parent / "noxfile.py").read_text())
    value = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "HISTORY_JAXLEY"
    )
    assert tuple(ast.literal_eval(value)) == SUPPORTED_JAXLEY


def test_runs_that_disagree_are_not_a_verdict():
    fast, slow = list(np.linspace(1.0, 1.05, 10)), list(np.linspace(1.6, 1.7, 10))
    a_runs, b_runs = [fast, fast], [fast, slow]  # one slow round on B only: drift, not code
    v = compare.judge(fast + fast, fast + slow, 0.1, None, a_runs, b_runs)
    assert v.verdict == compare.NO_CHANGE
    assert "runs disagree" in v.detail
