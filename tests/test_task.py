"""The reference task in float64: jaxley backend vs jaxley 1.0.0's golden run, dense vs jaxley.

The golden fixture is the tutorial run on jaxley's 1.0.0 development branch (native
surrogate ``Fire`` and ``SpikeSynapse``) at batch 16, float64, seed 1701.
"""

from pathlib import Path

import jax
import numpy as np
import pytest

import snnbench
from snnbench import SnnbenchError, TaskConfig, make_task
from snnbench.task import dense
from snnbench.task.dense import make_simulate
from snnbench.task.model import cross_entropy_of_max_voltage

CONFIG = TaskConfig(batch_size=16)
N_SPIKING = CONFIG.n_input + CONFIG.n_hidden
GOLDEN = dict(np.load(Path(__file__).parent / "fixtures" / "jaxley_1.0.0_tutorial_b16.npz"))
WEIGHT = "SpikeSynapse_gS"


@pytest.fixture(scope="module", autouse=True)
def float64():
    snnbench.set_precision("float64")


@pytest.fixture(scope="module")
def jaxley_task():
    return make_task(CONFIG, "jaxley")


@pytest.fixture(scope="module")
def dense_task():
    return make_task(CONFIG, "dense")


def voltages_loss_grad(task):
    """Output voltages, loss and gradient at the initial weights, from one jitted call.

    Task.grad is not jitted; one jitted value_and_grad with the voltages as auxiliary
    output compiles the jaxley network once instead of three times.
    """

    def loss(params):
        voltages = task.forward(params, task.inputs)
        return cross_entropy_of_max_voltage(voltages, task.targets), voltages

    (loss_value, voltages), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(
        task.init_params()
    )
    return np.asarray(voltages), float(loss_value), np.asarray(grads[0][WEIGHT])


@pytest.fixture(scope="module")
def jaxley_run(jaxley_task):
    return voltages_loss_grad(jaxley_task)


@pytest.fixture(scope="module")
def jaxley_voltages(jaxley_run):
    return jaxley_run[0]


@pytest.fixture(scope="module")
def jaxley_loss_grad(jaxley_run):
    return jaxley_run[1:]


@pytest.fixture(scope="module")
def jaxley_history(jaxley_task):
    return jaxley_task.train(3, progress=False)


@pytest.fixture(scope="module")
def dense_simulation(dense_task):
    v_out, spikes_in, spikes_hidden = jax.jit(make_simulate(CONFIG))(
        dense_task.init_params(), dense_task.inputs
    )
    return np.asarray(v_out), np.asarray(spikes_in), np.asarray(spikes_hidden)


def cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def relative_error(a, reference):
    return float(np.linalg.norm(a - reference) / np.linalg.norm(reference))


# --- jaxley backend vs the golden run -------------------------------------------------


def test_jaxley_initial_weights_are_the_datas(jaxley_task):
    params = jaxley_task.init_params()
    assert np.array_equal(np.asarray(params[0][WEIGHT]), np.asarray(jaxley_task.data.weights))


def test_jaxley_voltages_match_golden(jaxley_voltages):
    # batch x outputs x (n_integration_steps + 1 recorded points, initial state first)
    assert jaxley_voltages.shape == (16, 2, CONFIG.n_integration_steps + 1) == (16, 2, 202)
    assert np.all(jaxley_voltages[:, :, 0] == CONFIG.v_init_mv)
    assert np.abs(jaxley_voltages - GOLDEN["voltages"]).max() <= 1e-12


def test_jaxley_loss_matches_golden(jaxley_loss_grad):
    loss, _ = jaxley_loss_grad
    assert GOLDEN["loss"] == pytest.approx(1.0191150610517523, abs=1e-15)
    assert abs(loss - GOLDEN["loss"]) <= 1e-12


def test_jaxley_gradient_matches_golden(jaxley_loss_grad):
    _, grad = jaxley_loss_grad
    assert grad.shape == (408,)
    assert cosine(grad, GOLDEN["grad"]) >= 0.999999
    assert relative_error(grad, GOLDEN["grad"]) <= 1e-6


def test_jaxley_training_history_matches_golden(jaxley_history):
    assert jaxley_history.epochs == 3
    np.testing.assert_allclose(jaxley_history.losses, GOLDEN["loss_hist"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(jaxley_history.accuracies, GOLDEN["acc_hist"], rtol=0, atol=1e-9)
    assert jaxley_history.final_loss == pytest.approx(GOLDEN["loss_hist"][-1], abs=1e-9)
    # Task.step's loss at the initial weights is the golden loss (jitted Task path).
    assert abs(jaxley_history.losses[0] - GOLDEN["loss"]) <= 1e-12


def test_jaxley_training_lowers_the_loss(jaxley_history):
    # The golden losses fall 1.0191 -> 1.0010 -> 0.9542 over these three Adam steps.
    assert np.all(np.diff(jaxley_history.losses) < 0)


# --- dense backend vs jaxley backend --------------------------------------------------


def test_dense_voltages_match_jaxley(dense_task, jaxley_task, jaxley_voltages):
    params = jaxley_task.init_params()  # the same parameters and inputs for both
    assert np.array_equal(np.asarray(dense_task.inputs), np.asarray(jaxley_task.inputs))
    dense_voltages = np.asarray(dense_task.forward(params, jaxley_task.inputs))
    assert dense_voltages.shape == jaxley_voltages.shape
    assert np.abs(dense_voltages - jaxley_voltages).max() <= 1e-9


def test_dense_simulate_voltages_equal_its_forward(dense_task, dense_simulation):
    forward = np.asarray(dense_task.forward(dense_task.init_params(), dense_task.inputs))
    assert np.array_equal(dense_simulation[0], forward)


def test_dense_spike_trains_match_jaxleys(dense_simulation):
    _, spikes_in, spikes_hidden = dense_simulation
    assert spikes_in.shape == (16, CONFIG.n_input, CONFIG.n_integration_steps)
    assert spikes_hidden.shape == (16, CONFIG.n_hidden, CONFIG.n_integration_steps)
    golden = GOLDEN["spikes_sample0"]
    assert golden.shape == (N_SPIKING, CONFIG.n_integration_steps + 1)
    assert np.all(golden[:, 0] == 0.0)  # the recorded initial state: no spike yet
    dense_sample0 = np.concatenate([spikes_in[0], spikes_hidden[0]])
    assert np.array_equal(dense_sample0, golden[:, 1:])
    # Both layers spike, so the comparison covers the surrogate path end to end.
    assert dense_sample0[: CONFIG.n_input].sum() > 0
    assert dense_sample0[CONFIG.n_input :].sum() > 0


def test_dense_spikes_are_binary(dense_simulation):
    for spikes in dense_simulation[1:]:
        assert set(np.unique(spikes)) <= {0.0, 1.0}


def test_dense_gradient_matches_jaxley(dense_task, jaxley_loss_grad):
    _, jaxley_grad = jaxley_loss_grad
    dense_grad = np.asarray(dense_task.grad(dense_task.init_params())[0][WEIGHT])
    assert dense_grad.shape == (408,)
    assert cosine(dense_grad, jaxley_grad) >= 0.999999
    assert relative_error(dense_grad, jaxley_grad) <= 1e-6
    assert relative_error(dense_grad, GOLDEN["grad"]) <= 1e-6


def test_dense_loss_matches_jaxley(dense_task, jaxley_loss_grad):
    jaxley_loss, _ = jaxley_loss_grad
    assert abs(float(dense_task.loss(dense_task.init_params())) - jaxley_loss) <= 1e-9


def test_dense_training_lowers_the_loss_and_follows_golden(dense_task):
    result = dense_task.train(5, progress=False)
    assert result.epochs == 5
    assert result.losses.shape == result.accuracies.shape == (5,)
    assert result.losses[-1] < result.losses[0]
    assert np.all(np.diff(result.losses) < 0)
    np.testing.assert_allclose(result.losses[:3], GOLDEN["loss_hist"], rtol=0, atol=1e-9)
    assert np.all((0.0 <= result.accuracies) & (result.accuracies <= 1.0))
    assert result.wall_s > 0


# --- API edges -----------------------------------------------------------------------


def test_train_zero_epochs_returns_empty_history(dense_task):
    result = dense_task.train(0, progress=False)
    assert result.epochs == 0
    assert result.losses.shape == result.accuracies.shape == (0,)
    assert np.isnan(result.final_loss) and np.isnan(result.final_accuracy)
    assert np.array_equal(np.asarray(result.params[0][WEIGHT]), np.asarray(dense_task.data.weights))


def test_train_bool_epochs_raises(dense_task):
    with pytest.raises(SnnbenchError, match="`epochs`"):
        dense_task.train(True, progress=False)


def test_train_negative_epochs_raises(dense_task):
    with pytest.raises(SnnbenchError, match="`epochs`"):
        dense_task.train(-1, progress=False)


def test_make_task_rejects_unknown_backend():
    with pytest.raises(SnnbenchError, match="`backend`") as info:
        make_task(CONFIG, "torch")
    assert "torch" in str(info.value)


def test_make_task_rejects_a_config_that_is_not_a_task_config():
    with pytest.raises(SnnbenchError, match="`config`"):
        make_task({"batch_size": 16}, "dense")


def test_float64_task_refuses_to_run_after_precision_moved(dense_task):
    params = dense_task.init_params()
    snnbench.set_precision("float32")
    try:
        for call in (dense_task.loss, dense_task.accuracy, dense_task.grad):
            with pytest.raises(SnnbenchError, match="float64") as info:
                call(params)
            assert "\n" not in str(info.value)
        with pytest.raises(SnnbenchError):
            dense_task.train(1, progress=False)
    finally:
        snnbench.set_precision("float64")
    assert np.isfinite(float(dense_task.loss(params)))


# --- the surrogate's dt scaling on both backends ------------------------------------


@pytest.mark.parametrize(
    ("surrogate", "dt_ms", "amplitude"),
    [("per_step", 0.5e-3, 1.0), ("per_time", 0.5e-3, 0.5), ("per_time", 2e-3, 2.0)],
)
def test_dense_fire_scales_its_surrogate_by_hand(surrogate, dt_ms, amplitude):
    # v = 0.95 (threshold 1, reset 0): dv_new/dv = 1 + a (0 - 0.95) / (10 * 0.05 + 1)^2.
    fire = dense.make_fire(TaskConfig(dt_ms=dt_ms, surrogate=surrogate))
    grad = float(jax.grad(lambda v: fire(v)[0])(0.95))
    assert grad == pytest.approx(1.0 - amplitude * 0.95 / 2.25, rel=1e-12)


def _loss_and_grad(config, backend):
    task = make_task(config, backend)
    loss, grads = jax.jit(jax.value_and_grad(task.loss))(task.init_params())
    return float(loss), np.asarray(grads[0][WEIGHT])


@pytest.mark.slow
def test_per_time_surrogate_dense_and_jaxley_agree():
    # dt 0.5e-3: the per-time gradient differs from the per-step one (checked below).
    config = TaskConfig(batch_size=4, dt_ms=0.5e-3, surrogate="per_time")
    dense_loss, dense_grad = _loss_and_grad(config, "dense")
    jaxley_loss, jaxley_grad = _loss_and_grad(config, "jaxley")
    assert abs(dense_loss - jaxley_loss) <= 1e-12
    assert relative_error(dense_grad, jaxley_grad) <= 1e-10
    per_step = _loss_and_grad(config.replace(surrogate="per_step"), "dense")
    assert per_step[0] == dense_loss  # the forward pass does not see the scaling
    assert cosine(per_step[1], dense_grad) < 0.99


def test_both_surrogates_are_bit_identical_at_the_tutorials_dt():
    config = TaskConfig(batch_size=4)
    per_step = _loss_and_grad(config, "dense")
    per_time = _loss_and_grad(config.replace(surrogate="per_time"), "dense")
    assert per_step[0] == per_time[0]
    np.testing.assert_array_equal(per_step[1], per_time[1])
