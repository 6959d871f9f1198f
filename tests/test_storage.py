"""Result files: atomic, never overwritten, loadable, schema-checked."""

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from snnbench.errors import SnnbenchError
from snnbench.measure import storage
from snnbench.measure.records import SCHEMA_VERSION, CaseSpec, Measurement


def _row(backend, median, run_id="r1", status="ok"):
    spec = CaseSpec(backend, "grad_step", 16, "float64", "cpu", 1e-3)
    samples = () if status != "ok" else (median, median)
    row = Measurement(spec, status=status, samples_s=samples).to_row({"machine_id": "m"})
    row["run_id"] = run_id
    return row


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "t.csv"
    storage.atomic_write_text(target, "old\n")
    storage.atomic_write_text(target, "new\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "t.csv"
    storage.atomic_write_text(target, "old\n")

    def broken_replace(*_):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        storage.atomic_write_text(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_run_dirs_are_never_reused(tmp_path):
    first = storage.RunFolder.create(tmp_path, stamp="20260101T000000Z").path
    second = storage.RunFolder.create(tmp_path, stamp="20260101T000000Z").path
    assert first != second and first.exists() and second.exists()
    assert second.name == "20260101T000000Z-1"


def test_journal_survives_a_torn_last_line(tmp_path):
    journal = tmp_path / "rows.jsonl"
    storage.append_jsonl(journal, {"event": "done", "n": 1})
    with open(journal, "a") as handle:
        handle.write('{"event": "do')  # the process died mid-write
    assert storage.read_jsonl(journal) == [{"event": "done", "n": 1}]


def test_overhead_ratio_pairs_jaxley_with_dense():
    frame = storage.rows_to_frame([_row("dense", 0.01), _row("jaxley", 0.25)])
    ratio = frame.set_index("backend")["jaxley_over_dense"]
    assert ratio["jaxley"] == pytest.approx(25.0)
    assert pd.isna(ratio["dense"])


def test_no_ratio_without_an_ok_dense_row():
    frame = storage.rows_to_frame([_row("dense", 0.0, status="failed"), _row("jaxley", 0.25)])
    assert frame["jaxley_over_dense"].isna().all()


def test_load_results_from_run_folder_tree_and_journal(tmp_path):
    run_a = storage.RunFolder.create(tmp_path, stamp="a").path
    storage.write_table(run_a, [_row("dense", 0.01, "m/a")])
    run_b = storage.RunFolder.create(tmp_path, stamp="b").path  # died before its table was written
    storage.append_jsonl(
        run_b / storage.JOURNAL, {"event": "done", "row": _row("dense", 0.02, "m/b")}
    )
    assert len(storage.load_results(run_a)) == 1
    both = storage.load_results(tmp_path)
    assert sorted(both["run_id"]) == ["m/a", "m/b"]
    assert len(storage.load_results(run_a / storage.TABLE)) == 1


def test_load_results_errors_say_what_to_do(tmp_path):
    with pytest.raises(SnnbenchError, match="does not exist"):
        storage.load_results(tmp_path / "missing")
    with pytest.raises(SnnbenchError, match="run `snnbench bench`"):
        storage.load_results(tmp_path)
    old = storage.RunFolder.create(tmp_path, stamp="old").path
    row = _row("dense", 0.01)
    row["schema_version"] = 0
    with pytest.raises(SnnbenchError, match="rows of .* schema version"):
        storage.write_table(old, [row])
    pd.DataFrame([row]).to_csv(old / storage.TABLE, index=False)
    with pytest.raises(SnnbenchError, match="schema version"):
        storage.load_results(old)


def test_unwritable_output_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SnnbenchError, match="writable"):
        storage.check_writable(blocker / "results")
    storage.check_writable(tmp_path / "new" / "results")  # creatable: fine
    assert json.dumps(storage.read_jsonl(tmp_path / "none.jsonl")) == "[]"


def test_atomic_writes_are_readable_by_others(tmp_path):
    target = tmp_path / "shared.csv"
    storage.atomic_write_text(target, "x\n")
    previous = os.umask(0o022)
    try:
        storage.atomic_write_text(target, "y\n")
    finally:
        os.umask(previous)
    assert target.stat().st_mode & 0o777 == 0o644


def test_read_table_checks_the_schema_of_every_versioned_kind(tmp_path):
    folder = storage.RunFolder.create(tmp_path, kind="profile")
    for kind in storage.VERSIONED:
        folder.write_table(kind, pd.DataFrame({"schema_version": [1], "x": [2]}))
        if kind == "benchmark":  # rows of cases without a case's columns
            with pytest.raises(SnnbenchError, match="benchmark.csv is damaged: .* backend"):
                storage.read_table(folder.path, kind)
        else:
            assert storage.read_table(folder.path, kind)["x"].tolist() == [2]
        folder.write_table(kind, pd.DataFrame({"schema_version": [7], "x": [2]}))
        with pytest.raises(SnnbenchError, match=r"schema version \[7\], this snnbench reads"):
            storage.read_table(folder.path, kind)
    folder.write_table("memory_fit", pd.DataFrame({"quantity": ["peak_rss_bytes"]}))
    assert len(storage.read_table(folder.path / "memory_fit.csv", "memory_fit")) == 1
    with pytest.raises(SnnbenchError, match="`kind` must be one of"):
        storage.read_table(folder.path, "nonsense")
    with pytest.raises(SnnbenchError, match="must be a run folder holding tradeoffs.csv"):
        storage.read_table(tmp_path, "tradeoffs")


def test_run_folder_names_and_info(tmp_path):
    folder = storage.RunFolder.create(tmp_path, kind="tradeoffs", stamp="20260101T000000Z")
    assert folder.path.name == "20260101T000000Z-tradeoffs"
    assert folder.run_id == f"{folder.path.parent.name}/20260101T000000Z-tradeoffs"
    info = storage.start_info(folder, ["snnbench", "tradeoffs"], grid={"dts_ms": [1e-3]})
    assert info["status"] == "running" and folder.read_info()["grid"] == {"dts_ms": [1e-3]}
    assert storage.RunFolder(tmp_path / "missing").read_info() == {}


COMMITTED = Path(__file__).resolve().parent.parent / "results"


def test_every_committed_result_still_loads():
    frame = storage.load_results(COMMITTED)
    assert len(frame) > 100 and set(frame["schema_version"]) == {SCHEMA_VERSION}
    for kind in ("tradeoffs", "profile", "memory", "top_ops", "snn_metrics"):
        folders = storage.find_run_dirs(COMMITTED, kind)
        assert folders, kind
        for folder in folders:
            assert not storage.read_table(folder, kind).empty
