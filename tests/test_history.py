"""The history store, its change points and the ``history`` command, on synthetic run folders."""

from __future__ import annotations

import json
import math
import shlex
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from history_runs import (
    CASES,
    JAX_NEW,
    JAX_OLD,
    OTHER_MACHINE,
    base_medians,
    damage_run,
    noise_tree,
    step_tree,
    write_run,
)

from snnbench.cli import build_parser, main
from snnbench.errors import SnnbenchError
from snnbench.history import ChangeCriteria, build_history, find_changes, new_changes
from snnbench.history.series import Point
from snnbench.render import dashboard


class _Resources(HTMLParser):
    """Every script, stylesheet or image a page would fetch (script bodies are not parsed)."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag in ("script", "img", "iframe") and values.get("src"):
            self.found.append(values["src"])
        if tag == "link" and values.get("href"):
            self.found.append(values["href"])


def _external_resources(page: str) -> list[str]:
    parser = _Resources()
    parser.feed(page)
    return parser.found


def _parses(command: str) -> None:
    words = shlex.split(command)
    assert words[0] == "snnbench"
    build_parser(words[1]).parse_args(words[1:])


# ---------------------------------------------------------------- the store


def test_a_point_keeps_its_samples_and_derives_median_and_interval():
    run = None
    point = Point(run, (3.0, 1.0, 2.0, 5.0, 4.0))
    assert point.samples_s == (3.0, 1.0, 2.0, 5.0, 4.0)
    assert point.median_s == 3.0
    low, high = point.interval_s
    assert 1.0 <= low <= 3.0 <= high <= 5.0
    assert all(math.isnan(v) for v in Point(run, (2.0,)).interval_s)


def test_series_are_per_configuration_and_ordered_by_run_start(tmp_path):
    for day in (3, 1, 2):  # written out of order
        write_run(tmp_path, day, base_medians(), seed=day)
    history = build_history(tmp_path)
    assert len(history.series) == len(CASES)
    for series in history.series:
        starts = [p.run.started_utc for p in series.points]
        assert starts == sorted(starts) and len(starts) == 3
        assert len(series.points[0].samples_s) == 5
    run = history.runs[0]
    assert dict(run.versions)["jax"] == JAX_OLD and run.git_commit.startswith("0123")
    assert run.machine_id == history.machine


def test_damaged_incomplete_foreign_and_ab_runs_are_named_and_left_out(tmp_path):
    for day in (1, 2, 3):
        write_run(tmp_path, day, base_medians(), seed=day)
    damaged = damage_run(tmp_path, day=4)
    write_run(tmp_path, 5, base_medians(), status="running")
    write_run(tmp_path, 6, base_medians(), machine=OTHER_MACHINE)
    job = tmp_path / "ab" / "job1"
    write_run(job / "A", 7, base_medians())
    (job / "ab.json").write_text("{}")
    history = build_history(tmp_path)
    assert len(history.runs) == 3
    reasons = {e.where: e.reason for e in history.left_out}
    assert len(reasons) == 4
    damaged_reason = reasons[str(damaged.relative_to(tmp_path))]
    assert (
        damaged_reason == "damaged: benchmark.csv is not a readable CSV table (UnicodeDecodeError)"
    )
    assert any(r.startswith("incomplete run (status running") for r in reasons.values())
    assert any(r.startswith(f"other machine {OTHER_MACHINE}") for r in reasons.values())
    assert any("A/B job ab/job1" in r for r in reasons.values())
    assert len(build_history(tmp_path, "all").runs) == 4  # the other machine pooled in


def test_a_tree_without_usable_runs_or_an_unknown_machine_is_one_line(tmp_path):
    with pytest.raises(SnnbenchError, match="does not exist"):
        build_history(tmp_path / "nothing")
    damage_run(tmp_path)
    with pytest.raises(SnnbenchError, match="holds no usable benchmark run"):
        build_history(tmp_path)
    write_run(tmp_path, 2, base_medians())
    with pytest.raises(SnnbenchError, match="`machine` must be one of"):
        build_history(tmp_path, "elsewhere")


# ---------------------------------------------------------------- change points


def test_a_clear_3x_step_is_found_with_the_runs_either_side_and_what_changed(tmp_path):
    history = build_history(step_tree(tmp_path))
    (change,) = find_changes(history)
    assert change.series.label.startswith("jaxley-forward-b16-float32")
    assert change.before.run_id.endswith("20260104T000000Z")
    assert change.after.run_id.endswith("20260105T000000Z")
    assert (change.n_before, change.n_after) == (4, 4)
    low, high = change.interval
    assert low < 3.0 < high and 2.7 < change.ratio < 3.3 and change.slower
    assert change.environment_diff() == (("jax", JAX_OLD, JAX_NEW), ("jaxlib", JAX_OLD, JAX_NEW))
    assert change.machine_drift() == ""  # the yardstick held still: the code moved
    command = change.bisect_command()
    assert f"--a-spec jax=={JAX_OLD}" in command and f"--b-spec jaxlib=={JAX_NEW}" in command
    assert "--backend jaxley --phases forward --batch-sizes 16" in command
    _parses(command)


def test_a_step_the_yardstick_took_too_is_called_machine_drift(tmp_path):
    for day in range(1, 9):
        slow = 2.0 if day >= 5 else 1.0  # the whole machine: every case and the yardstick
        medians = {k: v * slow for k, v in base_medians().items()}
        write_run(tmp_path, day, medians, seed=day, yardstick_s=0.002 * slow)
    changes = find_changes(build_history(tmp_path))
    assert len(changes) == len(CASES)
    assert all(
        c.machine_drift().startswith("machine drift: the yardstick took 2.00x") for c in changes
    )
    assert all(c.environment_diff() == () for c in changes)


def test_a_speed_up_bisects_with_the_faster_side_as_good(tmp_path):
    history = build_history(step_tree(tmp_path, factor=1 / 3))
    (change,) = find_changes(history)
    assert not change.slower and change.ratio < 0.4
    assert f"--a-spec jax=={JAX_NEW}" in change.bisect_command()


def test_a_step_at_a_commit_bisects_the_commits(tmp_path):
    medians = base_medians()
    for day in range(1, 9):
        moved = day >= 5
        slow = {k: v * (2.0 if moved and k == CASES[1] else 1.0) for k, v in medians.items()}
        write_run(tmp_path, day, slow, commit=("b" if moved else "a") * 40, seed=day)
    (change,) = find_changes(build_history(tmp_path))
    assert change.environment_diff() == (("snnbench commit", "a" * 8, "b" * 8),)
    command = change.bisect_command()
    assert f"--good {'a' * 40} --bad {'b' * 40}" in command
    _parses(command)


def test_a_series_over_releases_can_be_ordered_by_version(tmp_path):
    """Releases measured newest first: by start the step is a speed-up, by jax a slowdown."""
    for day in range(1, 9):
        new = day <= 4  # the new jax measured first
        medians = {
            k: v * (3.0 if new and k == CASES[0] else 1.0) for k, v in base_medians().items()
        }
        write_run(tmp_path, day, medians, jax=JAX_NEW if new else JAX_OLD, seed=day)
    (by_start,) = find_changes(build_history(tmp_path))
    assert not by_start.slower
    history = build_history(tmp_path, order_by="jax")
    assert [dict(r.versions)["jax"] for r in history.runs] == [JAX_OLD] * 4 + [JAX_NEW] * 4
    (by_jax,) = find_changes(history)
    assert by_jax.slower and by_jax.environment_diff()[0] == ("jax", JAX_OLD, JAX_NEW)
    figure = dashboard.build_figure(history, (by_jax,))
    assert list(figure.layout.xaxis.ticktext[:1]) == [f"jax {JAX_OLD}"]
    with pytest.raises(SnnbenchError, match="`order_by` must be started or a recorded package"):
        build_history(tmp_path, order_by="torch")


def test_no_bisect_command_when_a_side_cannot_be_installed(tmp_path):
    """A dirty checkout has no commit to build, so only the commit moved means no command."""
    for day in range(1, 9):
        moved = day >= 5
        medians = {k: v * (2.0 if moved else 1.0) for k, v in base_medians().items()}
        folder = write_run(tmp_path, day, medians, commit=("b" if moved else "a") * 40, seed=day)
        if moved:
            info = json.loads((folder / "run.json").read_text())
            info["metadata"]["git_dirty"] = True
            (folder / "run.json").write_text(json.dumps(info))
    changes = find_changes(build_history(tmp_path))
    assert changes and all(c.bisect_command() is None for c in changes)
    assert changes[0].after.commit_label == "b" * 8 + "+dirty"


#: Three seeds run in the quick subset; all twenty in the full suite.
@pytest.mark.parametrize(
    "seed", [pytest.param(s, marks=pytest.mark.slow if s >= 3 else ()) for s in range(20)]
)
def test_pure_noise_makes_no_change_point(tmp_path, seed):
    """12 runs whose medians drift 5 % run to run (half the minimum effect), nothing changed."""
    history = build_history(noise_tree(tmp_path, runs=12, seed=seed))
    assert find_changes(history) == ()


def test_noise_below_the_minimum_effect_is_no_change_even_when_significant(tmp_path):
    medians = base_medians()
    for day in range(1, 9):
        shifted = {k: v * (1.05 if day >= 5 else 1.0) for k, v in medians.items()}
        write_run(tmp_path, day, shifted, noise=0.001, seed=day)
    history = build_history(tmp_path)
    assert find_changes(history) == ()
    assert len(find_changes(history, ChangeCriteria(min_change_pct=2.0))) == len(CASES)


def test_the_newest_run_can_bring_a_new_change_and_only_it_is_new(tmp_path):
    history = build_history(step_tree(tmp_path, runs=7, step_at=6))
    (change,) = find_changes(history)
    assert change.after == history.newest_run and change.n_after == 1
    assert new_changes(history) == (change,)
    assert find_changes(history.without_newest_run()) == ()
    older = build_history(step_tree(tmp_path / "older"))
    assert len(find_changes(older)) == 1 and new_changes(older) == ()


def test_criteria_reject_bad_values():
    with pytest.raises(SnnbenchError, match="`alpha`"):
        ChangeCriteria(alpha=1.5)
    with pytest.raises(SnnbenchError, match="`min_change_pct`"):
        ChangeCriteria(min_change_pct=-1)


# ---------------------------------------------------------------- the page and the command


def test_the_page_is_self_contained_reproducible_and_links_the_tree(tmp_path):
    root = step_tree(tmp_path / "results")
    (root / "REPORT.md").write_text("# report\n")
    (root / "report").mkdir()
    (root / "report" / "fig_time.png").write_bytes(b"\x89PNG fake")
    history = build_history(root)
    changes = find_changes(history)
    out = tmp_path / "site"
    links = dashboard.tree_links(root, out)
    assert [link.href for link in links] == [
        "../results/REPORT.md",
        "../results/report/fig_time.png",
    ]
    page = dashboard.build_page(history, changes, links)
    assert page == dashboard.build_page(history, changes, links)
    assert _external_resources(page) == []  # plotly.js is inline: nothing to fetch
    figure = dashboard.build_figure(history, changes)
    assert len(figure.data) == len(history.series) + 1
    assert [m["buttons"][0]["label"] for m in figure.layout.updatemenus] == ["all"] * 6
    assert "bisect --a-spec jax==0.4.31" in page


def test_the_command_writes_page_and_json_within_100_columns(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    root = step_tree(tmp_path / "results")
    damage_run(root)
    out = tmp_path / "site"
    assert main(["history", "--results", str(root), "--out", str(out), "--fail-on-new"]) == 0
    text = capsys.readouterr().out
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "8 runs used, 1 left out" in text and "damaged" in text
    assert (out / "index.html").stat().st_size > 1_000_000  # plotly.js included
    record = json.loads((out / "changes.json").read_text())
    assert record["new_changes"] == 0 and len(record["changes"]) == 1
    assert record["changes"][0]["changed"][0] == {
        "field": "jax",
        "before": JAX_OLD,
        "after": JAX_NEW,
    }


def test_fail_on_new_exits_1_when_the_newest_run_brought_a_change(tmp_path, capsys):
    root = step_tree(tmp_path / "results", runs=7, step_at=6)
    args = ["history", "--results", str(root), "--out", str(tmp_path / "site")]
    assert main([*args, "--fail-on-new"]) == 1
    assert main(args) == 0
    record = json.loads((tmp_path / "site" / "changes.json").read_text())
    assert record["new_changes"] == 1 and record["changes"][0]["new_in_newest_run"]
    assert "bisect jaxley-forward" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "flag"),
    [
        (["--results", "nowhere"], "--results"),
        (["--machine", "elsewhere"], "--machine"),
        (["--alpha", "2"], "--alpha"),
        (["--min-change", "-5"], "--min-change"),
        (["--order-by", "torch"], "--order-by"),
    ],
)
def test_bad_input_is_one_line_naming_the_flag(tmp_path, capsys, extra, flag):
    root = step_tree(tmp_path / "results", runs=3)
    args = ["history", "--results", str(root), "--out", str(tmp_path / "site"), *extra]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and flag in err


def test_noise_fixture_is_what_it_says():
    """The noise fixture's run-to-run drift is about 5 % (so the tests above mean something)."""
    rng = np.random.default_rng(0)
    drift = np.exp(rng.normal(0.0, 0.05, 10_000))
    assert 0.045 < float(np.std(np.log(drift))) < 0.055


# ---------------------------------------------------------------- the nightly example


def _workflow_commands(workflow: dict) -> list[list[str]]:
    """The snnbench command lines of every ``run:`` step of every job."""
    out = []
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            for line in step.get("run", "").splitlines():
                if line.strip().startswith(".venv/bin/snnbench "):
                    out.append(["snnbench", *shlex.split(line)[1:]])
    return out


def test_the_nightly_example_parses_and_names_commands_that_exist():
    yaml = pytest.importorskip("yaml")
    path = Path(__file__).resolve().parent.parent / "docs" / "examples" / "nightly-history.yml"
    workflow = yaml.safe_load(path.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["schedule"][0]["cron"]
    commands = _workflow_commands(workflow)
    assert [c[1] for c in commands] == ["bench", "report", "history"]
    for command in commands:
        _parses(shlex.join(command))
    assert "--fail-on-new" in commands[-1]
    steps = [s.get("uses", "") for job in workflow["jobs"].values() for s in job["steps"]]
    assert any(u.startswith("actions/deploy-pages") for u in steps)
    issue = [
        s for s in workflow["jobs"]["measure"]["steps"] if "gh issue create" in s.get("run", "")
    ]
    assert issue and "new_change" in issue[0]["if"]


def test_a_pinned_cpu_row_stands_for_its_cpu_time_and_never_mixes_with_wall_time():
    from snnbench.history import series

    pinned = {
        "pinned_cpu": "1",
        "platform": "cpu",
        "samples_json": "[0.5, 0.7]",
        "cpu_samples_json": "[0.2, 0.3]",
    }
    unpinned = {**pinned, "pinned_cpu": ""}
    assert series._metric(pinned) == "cpu" and series._metric(unpinned) == "wall"
    assert series._samples(pinned, "cpu") == (0.2, 0.3)
    assert series._samples(unpinned, "wall") == (0.5, 0.7)
    assert series._metric({**pinned, "platform": "gpu"}) == "wall"
    assert series._metric({**pinned, "cpu_samples_json": "[]"}) == "wall"
