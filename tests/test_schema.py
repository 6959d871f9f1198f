"""Schema versions: every older table read through one migrate(), unknown ones refused."""

from pathlib import Path

import pandas as pd
import pytest

from snnbench.errors import SnnbenchError
from snnbench.measure import storage
from snnbench.measure.records import SCHEMA_VERSION, CaseSpec, Measurement
from snnbench.measure.schema import OLDEST_SCHEMA, migrate

ROOT = Path(__file__).resolve().parent.parent
#: Every committed benchmark table: the reference runs and the test fixtures (schema 1).
COMMITTED_TABLES = sorted(
    p
    for folder in (ROOT / "results", ROOT / "tests" / "fixtures")
    for p in folder.rglob(storage.TABLE)
    if "old_schema" not in p.parts
)
CASE = CaseSpec("dense", "grad_step", 16, "float32", "cpu", 1e-3)
SHARDED = CaseSpec(
    "dense", "grad_step", 16, "float32", "cpu", 1e-3, devices=2, scaling="weak", data_parallel="jit"
)


def _cells(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(object).where(frame.notna(), "").astype(str)


def _v1_row(spec: CaseSpec = CASE, **changes) -> dict:
    """A row as snnbench wrote it before the device-count and size columns existed."""
    row = Measurement(spec, samples_s=(0.1, 0.2)).to_row({})
    for column in ("devices", "processes", "scaling", "data_parallel", "n_input", "n_hidden"):
        row.pop(column)
    row.pop("n_edges")
    return {**row, "schema_version": 1, **changes}


def test_schema_versions_are_ordered():
    assert OLDEST_SCHEMA == 1 < SCHEMA_VERSION == 2


@pytest.mark.parametrize("table", COMMITTED_TABLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_committed_table_migrates_to_rows_whose_case_is_their_id(table):
    raw = pd.read_csv(table)
    frame = migrate(raw, table)
    assert len(frame) == len(raw) and set(frame["schema_version"]) == {SCHEMA_VERSION}
    for row in frame.to_dict("records"):
        assert CaseSpec.from_row(row).case_id == row["case_id"]
    # migrate only adds: every cell a row had is still there (NaN text cells become "")
    kept = [c for c in raw if c != "schema_version"]
    pd.testing.assert_frame_equal(_cells(frame[kept]), _cells(raw[kept]))


def test_a_version_1_row_reads_as_one_device_and_the_tutorials_size():
    (row,) = migrate(pd.DataFrame([_v1_row()]), "old").to_dict("records")
    assert CaseSpec.from_row(row) == CASE
    assert (row["n_edges"], row["shard"], row["campaign"]) == (408, "", "")
    assert (row["matmul_precision"], row["effective_matmul_precision"]) == ("default", "float32")


def test_rows_of_both_versions_in_one_table_each_move_from_their_own():
    new = Measurement(SHARDED, samples_s=(0.1,)).to_row({})
    new["matmul_precision"] = "highest"
    frame = migrate(pd.DataFrame([_v1_row(), new]), "mixed")
    assert [CaseSpec.from_row(r) for r in frame.to_dict("records")] == [CASE, SHARDED]
    assert frame["matmul_precision"].tolist() == ["default", "highest"]


def test_migrate_is_idempotent_and_a_written_table_reads_back_the_same(tmp_path):
    once = migrate(pd.DataFrame([_v1_row(), _v1_row(backend="jaxley")]), "old")
    pd.testing.assert_frame_equal(migrate(once, "again"), once)
    frame = storage.write_table(tmp_path, once.to_dict("records"))
    back = storage.read_table(tmp_path, "benchmark")
    assert [CaseSpec.from_row(r) for r in back.to_dict("records")] == [
        CaseSpec.from_row(r) for r in frame.to_dict("records")
    ]


@pytest.mark.parametrize(
    ("versions", "message"),
    [
        ([SCHEMA_VERSION + 1], rf"schema version \[{SCHEMA_VERSION + 1}\], .* upgrade snnbench"),
        ([1, 99], r"schema version \[1, 99\], this snnbench reads versions 1 to"),
        ([0], r"schema version \[0\], .* rerun the command that wrote it"),
        ([None], "schema version none"),
        (["two"], "is damaged: its schema_version column holds something other"),
        ([1.5], "is damaged"),
    ],
)
def test_an_unreadable_version_is_refused_in_one_line_naming_the_file(versions, message):
    frame = pd.DataFrame([_v1_row(schema_version=v) for v in versions])
    with pytest.raises(SnnbenchError, match=message) as error:
        migrate(frame, "some/benchmark.csv")
    assert str(error.value).startswith("some/benchmark.csv ") and "\n" not in str(error.value)


def test_a_damaged_table_is_named_never_used(tmp_path):
    row = _v1_row()
    row.pop("platform")
    folder = storage.RunFolder.create(tmp_path, stamp="damaged").path
    pd.DataFrame([row]).to_csv(folder / storage.TABLE, index=False)
    with pytest.raises(SnnbenchError, match=r"benchmark.csv is damaged: .*platform"):
        storage.load_results(tmp_path)
    pd.DataFrame([{**_v1_row(), "devices": "two"}]).to_csv(folder / storage.TABLE, index=False)
    with pytest.raises(SnnbenchError, match=r"benchmark.csv is damaged \(.*'two'"):
        storage.load_results(tmp_path)
    (folder / storage.TABLE).write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SnnbenchError, match="benchmark.csv is not a readable CSV table"):
        storage.load_results(tmp_path)


def test_a_study_table_keeps_its_own_columns():
    convergence = pd.DataFrame({"schema_version": [1], "backend": ["dense"], "order": [2.0]})
    frame = migrate(convergence, "convergence.csv", kind="tradeoffs_convergence")
    assert frame.to_dict("records") == [{"schema_version": 2, "backend": "dense", "order": 2.0}]


def test_run_metadata_is_stored_once_in_run_json_and_joined_on_load(tmp_path):
    metadata = {
        "jax_version": "0.4.31",
        "jaxley_version": "0.13",
        "machine_id": "m-00000000",
        "git_dirty": False,
        "omp_num_threads": "",
        "pinned_cpu": "",
        "load_avg_1m": 0.5,
    }
    rows = [
        Measurement(CASE, samples_s=(0.1,)).to_row(metadata),
        Measurement(SHARDED, samples_s=(0.2,)).to_row({**metadata, "load_avg_1m": 0.7}),
    ]
    rows[1]["pinned_cpu"] = "3"  # one process pinned: the column stays on the rows
    once, every_row = (storage.RunFolder.create(tmp_path / n, stamp="s") for n in ("a", "b"))
    storage.start_info(once, ["snnbench", "bench"], metadata=metadata)
    storage.start_info(every_row, ["snnbench", "bench"])  # no metadata: nothing to fold
    in_memory = storage.write_table(once.path, rows)
    storage.write_table(every_row.path, rows)
    header = (once / storage.TABLE).read_text().splitlines()[0].split(",")
    assert not {"jax_version", "jaxley_version", "machine_id", "git_dirty"} & set(header)
    assert {"pinned_cpu", "load_avg_1m", "omp_num_threads"} - set(header) == {"omp_num_threads"}
    joined, full = (storage.load_results(f.path).drop(columns="run_id") for f in (once, every_row))
    assert set(joined.columns) == set(full.columns) == set(in_memory.columns)
    pd.testing.assert_frame_equal(joined[full.columns], full)
    assert joined["jaxley_version"].tolist() == [0.13, 0.13]  # as a CSV column reads back
