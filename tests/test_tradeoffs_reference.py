"""The reference checks on synthetic outputs with known behaviour, and how the page labels them.

No JAX: the outputs are built by hand so that each quantity converges (or does not)
in a known way, as the real study's do (first-order voltages, a per-step gradient
that grows as dt shrinks, a per-time one that converges).
"""

import numpy as np
import pandas as pd
import pytest

from snnbench.render import plots, tradeoffs_page, tradeoffs_plots
from snnbench.studies.tradeoffs import grid as G
from snnbench.studies.tradeoffs import metrics, reference_check, selection, study

GRID = G.TradeoffGrid(
    dts_ms=(0.25e-3, 0.5e-3, 1e-3),
    precisions=("float64",),
    batch_size=2,
    t_max_ms=0.01,
    epochs=0,
)
RNG = np.random.default_rng(7)
G0, G1 = RNG.normal(size=12), 0.1 * RNG.normal(size=12)


def _output(dt: float, surrogate: str) -> dict:
    times = np.arange(round(GRID.t_max_ms / dt) + 1) * dt
    v = np.sin(1e3 * times) + 2 * dt  # converges like dt: first order
    grad = G0 / (dt / 1e-3) if surrogate == "per_step" else G0 + (dt / 1e-3) * G1
    return {
        "v": np.broadcast_to(v, (2, 2, times.size)).copy(),
        "loss": np.asarray(0.9 + dt),
        "grad": grad,
        "input_rows": np.zeros(100, dtype=int),  # 100 input spikes at every dt
        "input_bins": np.zeros(100, dtype=int),
        "input_trains": np.asarray(400),
        "hidden_rows": np.zeros(10, dtype=int),
        "hidden_bins": np.zeros(10, dtype=int),
        "hidden_trains": np.asarray(8),
    }


@pytest.fixture(scope="module")
def checked():
    dts = set(GRID.dts_ms) | set(GRID.chain_dts_ms)
    outputs = {
        G.point_id("dense", "float64", dt, s): _output(dt, s) for dt in dts for s in GRID.surrogates
    }
    verdicts = reference_check.run_checks(GRID, outputs)
    frame = reference_check.label_metrics(metrics.fidelity_frame(GRID, outputs), verdicts)
    return outputs, verdicts, frame


def test_check_points_are_the_refinements_and_untrained():
    points = reference_check.check_points(GRID)
    assert {p["dt_ms"] for p in points} == {0.125e-3, 0.0625e-3}
    assert {p["surrogate"] for p in points} == {"per_step", "per_time"}
    assert not any(p["train"] for p in points)
    jaxley_only = G.TradeoffGrid(backends=("jaxley",), train_backends=(), surrogates=("per_step",))
    # Without dense points the whole chain runs on the dense twin.
    assert [p["dt_ms"] for p in reference_check.check_points(jaxley_only)] == list(
        jaxley_only.chain_dts_ms
    )


def test_verdicts_follow_the_known_behaviour(checked):
    _, verdicts, _ = checked
    assert not verdicts["gradient", "per_step"].converged  # grows like 1 / dt
    assert "grow" in verdicts["gradient", "per_step"].reason
    per_time = verdicts["gradient", "per_time"]
    assert per_time.order == pytest.approx(1.0) and not per_time.converged  # 1 % tolerance
    assert verdicts["input_spikes", "any"].converged  # identical counts
    assert verdicts["voltage_common", "any"].order == pytest.approx(1.0)


def test_every_checked_metric_is_labelled_per_surrogate(checked):
    _, _, frame = checked
    by = frame.set_index("surrogate")
    assert not by.loc["per_step", "grad_cosine_reference_converged"].any()
    assert by.loc["per_step", "input_coincidence_reference_converged"].all()
    assert set(frame["grad_cosine_vs_limit_low"][frame["surrogate"] == "per_step"]) == {-1.0}
    ref = frame[frame["is_reference"] & (frame["surrogate"] == "per_time")].iloc[0]
    # The reference's own gradient is within its relative error of the limit.
    assert ref["grad_cosine_vs_limit_low"] < 1.0 == ref["grad_cosine_vs_limit_high"]
    assert ref["voltage_rmse_mv_reference_error"] > 0


def test_convergence_table_has_the_evidence(checked):
    outputs, verdicts, _ = checked
    table = reference_check.convergence_frame(GRID, outputs, verdicts).set_index(
        ["quantity", "surrogate"]
    )
    gradient = table.loc["gradient", "per_time"]
    assert gradient["dts_ms"] == "0.001;0.0005;0.00025;0.000125;6.25e-05"
    assert gradient["reference_vs_limit_cosine"] > 0.99
    assert len(gradient["cosines"].split(";")) == 4
    step = table.loc["gradient", "per_step"]
    assert step["norm_ratios"].split(";") == ["0.5"] * 4 and not step["converged"]


def _selected(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.assign(grad_step_s=1e-6 / frame["dt_ms"], forward_s=0.5e-6 / frame["dt_ms"])
    frame = selection.add_selection(frame, G.Budget(max_accuracy_drop=None), ())
    meta = {"run_id": "m/x", "machine_id": "m", "cpu_model": "cpu", "cpu_count": 2}
    meta |= {"jax_version": "j", "jaxley_version": "x", "git_commit": "abc", "git_dirty": False}
    meta |= {"bench_run_id": "m/y", "trained": False, "batch_size": 2, "t_max_ms": 0.01}
    meta |= {"common_step_ms": GRID.common_step_ms, "source_dt_ms": 1e-3, "epochs": 0}
    meta |= {"weights_at": "initial", "platform": "cpu", "kernel_na": "508;508"}
    meta |= {"refinement_dts_ms": "0.000125;6.25e-05"}
    return frame.assign(**meta)


def test_page_marks_unconverged_metrics_and_the_budget_caveat(checked):
    _, _, frame = checked
    frame = _selected(frame)
    assert frame.loc[frame["surrogate"] == "per_step", "budget_caveats"].eq("grad_cosine").all()
    table = tradeoffs_page.summary_table(frame)
    step_rows = [line for line in table.splitlines() if "per_step" in line]
    assert all(tradeoffs_page.NOT_CONVERGED in line for line in step_rows)
    page = tradeoffs_page.summary_markdown(frame, "b", "grad_step_s")
    assert "RMSE** = root-mean-square output-voltage difference over 2 samples" in page
    assert "checked by halving its step to 0.125e-3, 0.0625e-3 ms" in page


def test_page_of_a_table_from_before_the_checks_has_no_marks(checked):
    _, _, frame = checked
    old = frame.drop(columns=[c for c in frame if "reference_" in c or c == "surrogate"])
    table = tradeoffs_page.summary_table(old.assign(grad_step_s=1.0, meets_budget=True))
    assert tradeoffs_page.NOT_CONVERGED not in table and tradeoffs_page.NOT_CHECKED not in table


def test_figures_write_pngs(checked, tmp_path):
    _, _, frame = checked
    frame = _selected(frame)
    sweep = pd.DataFrame(
        {
            "kernel_na": [508.0, 508.0, 530.0, 530.0],
            "dt_ms": [1e-3, 2e-3, 1e-3, 2e-3],
            "implicit_euler": [99, 31, 99, 99],
            "continuous_time": [100, 100, 100, 100],
        }
    )
    redrawn = pd.DataFrame(
        {
            "dt_ms": [1e-3, 2e-3] * 2,
            "surrogate": ["per_step"] * 2 + ["per_time"] * 2,
            "drawn": [100] * 4,
            "input_spikes": [99, 98] * 2,
            "continuous_time": [100, 200] * 2,
            "train_accuracy": [0.6, 0.7, 0.6, 0.72],
        }
    )
    frame = frame.assign(train_accuracy_on_reference=0.6, train_accuracy=0.61)
    figures = {
        "pareto.png": plots.fig_tradeoffs(frame),
        "spike_loss.png": tradeoffs_plots.fig_spike_loss(sweep, redrawn),
        "accuracy.png": tradeoffs_plots.fig_accuracy(frame, redrawn),
    }
    for name, figure in figures.items():
        assert plots.save_png(figure, tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    titles = [ax.get_title() for ax in figures["pareto.png"].axes]
    assert "per_step surrogate: reference not converged" in titles


def test_redrawn_rows_come_from_their_own_outputs():
    outputs = {
        "redrawn-float64-dt6.25e-05-per_time": {
            "dt_ms": np.asarray(6.25e-5),
            "surrogate": np.asarray("per_time"),
            "drawn": np.asarray(200),
            "input_spikes": np.asarray(50),
        },
        "dense-float64-dt0.001": {"loss": np.asarray(1.0)},
    }
    frame = study.redrawn_frame(outputs)
    assert frame[["dt_ms", "surrogate"]].values.tolist() == [[6.25e-5, "per_time"]]
    assert frame["input_spike_loss"].tolist() == [0.75]
