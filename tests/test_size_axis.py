"""The network-size axis: case identity, the matrix, old rows, compare keys, the CLI."""

import json

import pandas as pd
import pytest

from snnbench import cli
from snnbench.cli.__init__ import build_parser
from snnbench.cli.bench_commands import matrix_from_args
from snnbench.measure import harness, storage
from snnbench.measure.matrix import FULL_MATRIX, QUICK_MATRIX, SIZE_SWEEP_MATRIX, Matrix
from snnbench.measure.phases import Phase
from snnbench.measure.records import TUTORIAL_SIZE, CaseSpec, Measurement
from snnbench.measure.schema import migrate
from snnbench.regress import compare

TUTORIAL = CaseSpec("jaxley", "forward", 16, "float32", "cpu", 1e-3)
WIDE = CaseSpec("jaxley", "forward", 16, "float32", "cpu", 1e-3, n_input=100, n_hidden=64)


def test_size_is_part_of_the_case_and_tutorial_ids_are_unchanged():
    assert TUTORIAL.case_id == "jaxley-forward-b16-float32-cpu-dt0.001"
    assert WIDE.case_id == "jaxley-forward-b16-float32-cpu-dt0.001-i100-h64"
    assert TUTORIAL.key != WIDE.key and TUTORIAL != WIDE
    assert (TUTORIAL.n_edges, WIDE.n_edges) == (408, 100 * 64 + 64 * 2)
    row = Measurement(WIDE, samples_s=(1.0,)).to_row({})
    assert (row["n_input"], row["n_hidden"], row["n_edges"]) == (100, 64, 6528)
    assert harness.config_for(WIDE).n_edges == 6528


@pytest.mark.parametrize("field", ["n_input", "n_hidden"])
def test_bad_sizes_are_one_line_errors(field):
    with pytest.raises(Exception, match=f"`{field}` must be a positive integer"):
        CaseSpec("dense", "forward", 1, "float32", "cpu", 1e-3, **{field: 0})


def test_sizes_run_at_every_batch_size_and_dts_at_the_first_size():
    matrix = Matrix(
        backends=("dense",),
        batch_sizes=(1, 16),
        precisions=("float32",),
        platforms=("cpu",),
        dts_ms=(1e-3, 2e-3),
        dt_batch_size=16,
        n_hiddens=(4, 64),
        phases=("forward",),
    )
    configs = {(c.batch_size, c.dt_ms, c.n_hidden) for c in matrix.cases()}
    assert configs == {(1, 1e-3, 4), (16, 1e-3, 4), (1, 1e-3, 64), (16, 1e-3, 64), (16, 2e-3, 4)}


def test_the_quick_matrix_stages_once_per_device_precision_and_size():
    cases = QUICK_MATRIX.cases()
    staging = [c for c in cases if c.phase.is_staging or c.phase is Phase.BUILD]
    assert {(c.batch_size, c.dt_ms) for c in staging} == {(QUICK_MATRIX.dt_batch_size, 1e-3)}
    steady = [c for c in cases if c.phase.is_steady and c.backend != "none"]
    assert {c.batch_size for c in steady} == set(QUICK_MATRIX.batch_sizes)
    assert {(c.n_input, c.n_hidden) for c in cases} == {(100, 4)}  # the tutorial's size
    full = FULL_MATRIX.cases()
    assert {c.batch_size for c in full if c.phase is Phase.GRAD_COMPILE} == set(
        FULL_MATRIX.batch_sizes
    )
    assert max(c.n_hidden for c in full) == 256
    assert {c.n_hidden for c in SIZE_SWEEP_MATRIX.cases()} == {4, 16, 64, 256, 1024}


def _args(*argv):
    return build_parser().parse_args(["bench", *argv])


def test_cli_size_flags_and_the_size_sweep_preset():
    matrix = matrix_from_args(_args("--n-hidden", "4,64,1024", "--n-input", "10"), {"cpu"})
    assert matrix.n_hiddens == (4, 64, 1024) and matrix.n_inputs == (10,)
    assert matrix.batch_sizes == QUICK_MATRIX.batch_sizes
    sweep = matrix_from_args(_args("--size-sweep", "--backend", "dense"), {"cpu"})
    assert sweep.n_hiddens == SIZE_SWEEP_MATRIX.n_hiddens and sweep.backends == ("dense",)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--n-hidden", "4,0"], "argument --n-hidden: expected a positive integer, got '0'"),
        (["--n-input", "many"], "argument --n-input: expected a positive integer, got 'many'"),
        (["--size-sweep", "--full"], "`--size-sweep` and `--full` are two presets"),
    ],
)
def test_bad_size_input_is_one_line_and_exit_2(argv, message, tmp_path, capsys, monkeypatch):
    from snnbench.measure import runner

    monkeypatch.setattr(runner, "probe_platforms", lambda: {"cpu"})
    assert cli.main(["bench", *argv, "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def _old_row(**changes):
    row = Measurement(TUTORIAL, samples_s=(0.1, 0.11, 0.12)).to_row({})
    for column in ("n_input", "n_hidden", "n_edges"):
        row.pop(column)
    row.update(changes, schema_version=1)
    return row


def test_rows_from_before_the_size_axis_read_as_the_tutorials_size():
    frame = migrate(
        pd.DataFrame([_old_row(), _old_row(backend="dense"), _old_row(platform="gpu")]), "old"
    )
    assert frame[["n_input", "n_hidden", "n_edges"]].drop_duplicates().values.tolist() == [
        [100, 4, 408]
    ]
    assert frame["matmul_precision"].tolist() == ["default"] * 3
    assert frame["effective_matmul_precision"].tolist() == ["none", "float32", "none"]
    dense_gpu = migrate(pd.DataFrame([_old_row(backend="dense", platform="gpu")]), "old")
    assert dense_gpu["effective_matmul_precision"].tolist() == ["unknown"]
    assert TUTORIAL_SIZE["n_edges"] == 408


def test_compare_matches_old_rows_with_new_tutorial_rows_and_keeps_sizes_apart():
    old = pd.DataFrame([_old_row()])
    new = pd.DataFrame(
        [
            Measurement(TUTORIAL, samples_s=(0.1, 0.11, 0.12)).to_row({}),
            Measurement(WIDE, samples_s=(0.5, 0.51, 0.52)).to_row({}),
        ]
    )
    result = compare.compare_frames(migrate(old, "old"), new)
    assert [r.spec for r in result.rows] == [TUTORIAL]
    assert list(result.only_candidate) == [WIDE]
    assert {"n_input", "n_hidden"} <= set(compare.KEY_COLUMNS)


def test_a_case_travels_to_a_child_as_its_fields():
    for case in (TUTORIAL, WIDE):
        assert CaseSpec(**json.loads(json.dumps(case.to_dict()))) == case


def test_a_size_run_end_to_end_through_storage(tmp_path):
    harness.prepare_process("float32")
    rows = [
        harness.measure_case(
            CaseSpec(b, "forward", 2, "float32", "cpu", 1e-3, 0.01, n_input=10, n_hidden=h)
        )
        for b in ("dense", "jaxley")
        for h in (2, 8)
    ]
    assert all(m.status == "ok" for m in rows), [m.reason for m in rows]
    frame = storage.rows_to_frame([m.to_row({"run_id": "r"}) for m in rows])
    ratio = frame[frame["backend"] == "jaxley"].set_index("n_hidden")["jaxley_over_dense"]
    assert ratio.notna().all() and len(ratio) == 2  # paired within each size
