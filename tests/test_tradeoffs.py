"""The trade-off study: grid validation, metrics of controlled cases, selection, outputs, CLI."""

import numpy as np
import pandas as pd
import pytest

from snnbench import SnnbenchError, cli
from snnbench.measure import storage
from snnbench.measure.records import SCHEMA_VERSION
from snnbench.render import plots, tradeoffs_page
from snnbench.studies.tradeoffs import grid as G
from snnbench.studies.tradeoffs import metrics, selection, study
from snnbench.studies.tradeoffs import worker as W
from snnbench.task.config import TaskConfig
from snnbench.task.data import make_data


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"dts_ms": ()}, "`dts_ms` must be at least one dt"),
        ({"dts_ms": (0.3e-3,)}, "`dt_ms` must be a step that divides t_max_ms=0.2"),
        ({"dts_ms": (2e-3, 5e-3)}, "whole multiples of the reference step"),
        ({"dts_ms": (0.4e-3,)}, "whole multiple or divisor of the input grid"),
        ({"precisions": ("float32",)}, "includes float64"),
        ({"backends": ("torch",)}, "`backends` must be one of"),
        ({"weights_at": "final"}, "`weights_at`"),
        ({"weights_at": "trained", "epochs": 0}, "`epochs` must be > 0"),
        ({"surrogates": ("per_second",)}, "`surrogates` must be one of per_step, per_time"),
        ({"surrogates": ()}, "`surrogates` must be one or more of"),
        ({"scenarios": ("rerun",)}, "`scenarios` must be one of resampled, redrawn"),
        ({"scenarios": ("redrawn",)}, "`scenarios` must be a list that includes resampled"),
        ({"refinements": -1}, "`refinements` must be an integer >= 0"),
        ({"kernel_sweep_na": (508.0, 0.0)}, "`kernel_sweep_na` must be positive finite"),
        ({"kernel_na": (508.0, float("nan"))}, "`kernel_na` must be a non-empty tuple"),
    ],
)
def test_bad_grids_get_one_line_messages(changes, message):
    with pytest.raises(SnnbenchError, match=message) as info:
        G.TradeoffGrid(**changes)
    assert "\n" not in str(info.value)


def test_default_grid_and_its_benchmark_matrix():
    grid = G.TradeoffGrid()
    assert grid.reference_dt_ms == 0.25e-3
    assert grid.surrogates == ("per_step", "per_time") and grid.scenarios == ("resampled",)
    # Two halvings below the reported reference check it; the chain runs up the grid's dts.
    assert grid.refinement_dts_ms == (0.125e-3, 0.0625e-3)
    assert grid.chain_dts_ms == (2e-3, 1e-3, 0.5e-3, 0.25e-3, 0.125e-3, 0.0625e-3)
    assert G.point_id("dense", "float64", 1e-3) == "dense-float64-dt0.001"
    assert G.point_id("dense", "float64", 1e-3, "per_time") == "dense-float64-dt0.001-per_time"
    assert grid.common_step_ms == pytest.approx(10e-3)
    assert grid.window_ms == 5e-3
    matrix = grid.matrix()
    assert matrix.product and matrix.batch_sizes == (256,)
    cases = matrix.cases()
    assert len(cases) == 5 * 2 * 4  # dts x precisions x phases, dense only
    assert {c.phase for c in cases} == set(G.COST_PHASES)
    assert {c.batch_size for c in cases} == {256}


def test_the_kernel_and_surrogate_reach_every_points_task():
    grid = G.grid_from_options(kernel_na=(530.0, 530.0), surrogates=("per_time",))
    job = grid.job(precision="float64")
    assert job["reference"]["surrogate"] == "per_time"
    config = W.point_config(job, 2e-3, "float64", "per_time")
    assert config.kernel_na == (530.0, 530.0) and config.surrogate == "per_time"


def test_grid_options_turn_training_off_with_none():
    grid = G.grid_from_options(train_backends=("none",), dts_ms=(1e-3,))
    assert grid.train_backends == () and grid.epochs == 0
    full = G.grid_from_options(full=True)
    assert full.backends == ("jaxley", "dense") and full.train_backends == ("dense",)


def test_pareto_front_by_hand():
    frame = pd.DataFrame({"cost": [1.0, 2.0, 3.0, 2.5, 4.0], "error": [5.0, 1.0, 0.5, 2.0, 0.5]})
    assert selection.pareto_front(frame, "cost", "error").tolist() == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_budget_verdicts():
    budget = G.Budget(max_voltage_rmse_mv=0.1, min_grad_cosine=0.9, max_accuracy_drop=None)
    row = pd.Series(
        {"voltage_rmse_mv": 0.2, "grad_cosine": 0.95, "accuracy_drop": 0.5, "grad_step_s": 1.0}
    )
    assert budget.failures(row) == ["voltage_rmse_mv=0.2 (needs <= 0.1)"]
    assert budget.failures(row.replace(0.2, 0.05)) == []
    missing = pd.Series({"voltage_rmse_mv": 0.0, "grad_cosine": np.nan, "grad_step_s": np.nan})
    assert budget.failures(missing) == [
        "grad_cosine=nan (needs >= 0.9)",
        "grad_step_s not measured",
    ]
    with pytest.raises(SnnbenchError, match="`max_voltage_rmse_mv` must be a finite number"):
        G.Budget(max_voltage_rmse_mv=float("nan"))


def test_an_untrained_point_is_not_failed_for_its_missing_accuracy():
    budget = G.Budget(max_accuracy_drop=0.02)
    reference = pd.Series(
        {"voltage_rmse_mv": 0.0, "grad_cosine": 1.0, "accuracy_drop": np.nan, "grad_step_s": 1.0}
    )
    assert budget.failures(reference, trained=False) == []
    assert budget.failures(reference, trained=True) == ["accuracy_drop=nan (needs <= 0.02)"]
    frame = pd.DataFrame(
        {
            "backend": ["dense"],
            "is_reference": [True],
            "grad_step_s": [1.0],
            "voltage_rmse_mv": [0.0],
            "grad_rel_error": [0.0],
            "grad_cosine": [1.0],
            "accuracy_drop": [np.nan],
            "point_id": ["dense-float64-dt0.001"],
        }
    )
    chosen = selection.add_selection(frame, budget, trained_backends=())
    assert chosen["chosen"].tolist() == [True]
    text = tradeoffs_page.verdict(chosen, budget.describe(), budget.cost_column)
    assert "accuracy not judged (this backend was not trained)" in text
    with pytest.raises(SnnbenchError, match="`min_grad_cosine`"):
        G.Budget(min_grad_cosine=2.0)


def test_cost_frame_takes_medians_from_benchmark_rows():
    rows = [
        {
            "backend": "dense",
            "precision": "float64",
            "dt_ms": 1e-3,
            "phase": phase,
            "status": "ok",
            "median_s": seconds,
            "noisy": False,
            "reason": "",
        }
        for phase, seconds in (
            ("forward", 0.01),
            ("grad_step", 0.03),
            ("forward_compile", 0.2),
            ("grad_compile", 0.5),
        )
    ] + [
        {
            "backend": "dense",
            "precision": "float32",
            "dt_ms": 1e-3,
            "phase": "grad_step",
            "status": "failed",
            "median_s": None,
            "noisy": None,
            "reason": "boom",
        }
    ]
    cost = selection.cost_frame(pd.DataFrame(rows)).set_index("precision")
    assert cost.loc["float64", "grad_step_s"] == 0.03
    assert cost.loc["float64", "forward_compile_s"] == 0.2
    assert cost.loc["float32", "cost_failure"] == "boom"
    assert np.isnan(cost.loc["float32", "grad_step_s"])


@pytest.fixture(scope="module")
def controlled():
    """Dense, float64, batch 4, 0.2 ms: raw outputs at three dts, evaluated in this process."""
    grid = G.TradeoffGrid(
        dts_ms=(0.25e-3, 1e-3, 2e-3),
        precisions=("float64",),
        surrogates=("per_step",),
        batch_size=4,
        epochs=0,
    )
    data = make_data(TaskConfig(batch_size=4))
    shared = {
        "weights": np.asarray(data.weights),
        "spikes": np.asarray(data.spikes),
        "currents": np.asarray(data.inputs),
        "targets": np.asarray(data.targets),
    }
    shared["eval_weights"] = shared["weights"]
    job = grid.job(precision="float64")
    outputs = {
        G.point_id("dense", "float64", dt): W.evaluate_point(
            job, shared, {"dt_ms": dt, "backend": "dense"}
        )
        for dt in grid.dts_ms
    }
    return grid, outputs


def test_the_reference_has_zero_error_and_a_coarser_dt_a_larger_one(controlled):
    grid, outputs = controlled
    frame = metrics.fidelity_frame(grid, outputs).set_index("dt_ms")
    ref = frame.loc[0.25e-3]
    assert bool(ref["is_reference"])
    for column in (
        "voltage_rmse_mv",
        "voltage_max_abs_own_grid_mv",
        "loss_abs_diff",
        "grad_rel_error",
        "input_van_rossum",
        "hidden_count_abs_diff",
    ):
        assert ref[column] == 0.0, column
    assert ref["grad_cosine"] == 1.0 and ref["input_coincidence"] == 1.0
    assert (
        ref["voltage_rmse_mv"]
        < frame.loc[1e-3, "voltage_rmse_mv"]
        < frame.loc[2e-3, "voltage_rmse_mv"]
    )
    assert frame.loc[1e-3, "grad_rel_error"] < frame.loc[2e-3, "grad_rel_error"]
    assert frame.loc[1e-3, "input_spikes"] > 0


def test_outputs_cover_the_times_up_to_t_max(controlled):
    _, outputs = controlled
    assert outputs["dense-float64-dt0.001"]["v"].shape == (4, 2, 201)
    assert outputs["dense-float64-dt0.00025"]["v"].shape == (4, 2, 801)
    assert outputs["dense-float64-dt0.001"]["grad"].shape == (408,)


def _stub_cost(grid):
    rows = [
        {
            "backend": b,
            "precision": p,
            "dt_ms": d,
            "forward_s": 1e-6 / d,
            "grad_step_s": 3e-6 / d,
            "forward_compile_s": 0.1,
            "grad_compile_s": 0.2,
            "cost_noisy": False,
            "cost_failure": None,
        }
        for b in grid.backends
        for p in grid.precisions
        for d in grid.dts_ms
    ]
    return pd.DataFrame(rows), "stub"


def test_end_to_end_through_worker_processes(tmp_path):
    # float64 only: one worker process (the float32 worker adds a second; the committed
    # quick run exercises it).
    grid = G.TradeoffGrid(
        dts_ms=(1e-3, 2e-3),
        precisions=("float64",),
        t_max_ms=0.02,
        batch_size=2,
        epochs=1,
        kernel_sweep_na=(508.0,),
    )
    budget = G.Budget(max_voltage_rmse_mv=0.0, min_grad_cosine=1.0, max_accuracy_drop=0.0)
    result = study.run_tradeoffs(grid, budget, tmp_path, cost=_stub_cost, say=lambda _: None)
    names = {p.name for p in result.run_dir.iterdir()}
    assert {"tradeoffs.csv", "pareto.png", "summary.md", "run.json"} <= names
    assert result.run_dir.name.endswith("-tradeoffs")
    frame = storage.read_table(result.run_dir, "tradeoffs").set_index("point_id")
    assert (
        len(frame) == 4 and frame["schema_version"].eq(SCHEMA_VERSION).all()
    )  # 2 dts x 2 surrogates
    assert frame["surrogate"].tolist() == ["per_step"] * 2 + ["per_time"] * 2
    assert {"convergence.csv", "spike_loss.csv", "spike_loss.png", "accuracy.png"} <= names
    convergence = storage.read_table(result.run_dir, "tradeoffs_convergence")
    # Two refinements below the reference 1e-3: 0.5e-3 and 0.25e-3; the gradient per surrogate.
    gradient = convergence[convergence["quantity"] == "gradient"]
    assert sorted(gradient["surrogate"]) == ["per_step", "per_time"]
    assert set(gradient["dts_ms"]) == {"0.002;0.001;0.0005;0.00025"}
    assert frame["grad_cosine_reference_converged"].notna().all()
    assert not (result.run_dir / "redrawn.csv").exists()  # scenario (b) is opt-in
    ref = frame.loc["dense-float64-dt0.001"]
    assert ref["voltage_rmse_mv"] == 0.0 and ref["grad_rel_error"] == 0.0
    assert ref["accuracy_drop"] == 0.0 and bool(ref["meets_budget"])
    assert frame.loc["dense-float64-dt0.002", "trained"]
    assert {"machine_id", "jax_version", "git_commit", "bench_run_id"} <= set(frame.columns)
    # Only the reference meets an all-zero budget, and it is the slowest: it is chosen.
    assert result.chosen is not None and result.chosen["point_id"] == "dense-float64-dt0.001"
    assert "Fastest within the budget" in (result.run_dir / "summary.md").read_text()


def test_verdict_when_nothing_meets_the_budget():
    frame = pd.DataFrame({"chosen": [False]})
    budget = G.Budget(max_voltage_rmse_mv=0.0)
    text = tradeoffs_page.verdict(frame, budget.describe(), budget.cost_column)
    assert text.startswith("**No setting meets the budget** (voltage RMSE <= 0 mV")


def test_pareto_plot_writes_a_png(tmp_path):
    frame = pd.DataFrame(
        {
            "backend": ["dense"] * 3,
            "precision": ["float64", "float32", "float64"],
            "dt_ms": [1e-3, 1e-3, 2e-3],
            "grad_step_s": [3e-3, 2e-3, 1e-3],
            "voltage_rmse_mv": [0.0, 1e-4, 0.5],
            "grad_rel_error": [0.0, 1e-6, 0.3],
            "pareto_voltage": [True, True, True],
            "pareto_grad": [True, True, True],
            "batch_size": 8,
        }
    )
    path = plots.save_png(plots.fig_tradeoffs(frame), tmp_path / "p.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert [p.name for p in tmp_path.iterdir()] == ["p.png"]  # no temporary left behind


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dt-ms", "0.0003"], "`--dt-ms` must be a step that divides"),
        (["--dt-ms", ","], "expected a comma-separated list"),
        (["--precision", "float32"], "includes float64"),
        (["--max-accuracy-drop", "nan"], "`--max-accuracy-drop`"),
        (["--epochs", "-1"], "expected an integer >= 0"),
        (["--surrogate", "per_second"], "`--surrogate` must be one of per_step, per_time"),
        (["--scenario", "both"], "`--scenario` must be one of resampled, redrawn"),
        (["--kernel-sweep-na", "508,x"], "`--kernel-sweep-na` must be a comma list"),
        (["--kernel-sweep-na", "-5"], "`--kernel-sweep-na` must be positive finite"),
        (["--kernel-na", "0"], "argument --kernel-na: expected a positive number"),
        (["--kernel-na", "inf"], "`--kernel-na` must be a non-empty tuple of finite numbers"),
        (["--refinements", "-2"], "expected an integer >= 0"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path):
    assert cli.main(["tradeoffs", "--out", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []  # nothing written for bad input
