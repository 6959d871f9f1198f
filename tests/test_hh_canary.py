"""The HH canary: shapes, its data, its gradient, and where it may be used."""

import jax
import jax.numpy as jnp
import jaxley as jx
import numpy as np
import pytest

import snnbench
from snnbench import SnnbenchError, TaskConfig, make_task
from snnbench.measure.matrix import Matrix
from snnbench.task import hh_canary
from snnbench.task.model import CANARY, effective_matmul_precision

CONFIG = TaskConfig(batch_size=2, t_max_ms=0.01)


@pytest.fixture(scope="module", autouse=True)
def float64():
    snnbench.set_precision("float64")


@pytest.fixture(scope="module")
def task():
    return make_task(CONFIG, CANARY)


def test_the_canary_drives_one_cell_per_input_and_reads_the_outputs(task):
    voltages = task.forward(task.init_params(), task.inputs)
    assert task.inputs.shape == (2, hh_canary.N_CELLS, CONFIG.n_steps)
    assert voltages.shape == (2, CONFIG.n_output, CONFIG.n_integration_steps + 1)
    assert [list(p) for p in task.init_params()] == [[hh_canary.CONDUCTANCE]]
    assert task.init_params()[0][hh_canary.CONDUCTANCE].shape == (hh_canary.N_CELLS,)
    assert np.array_equal(task.inputs, make_task(CONFIG, "dense").inputs[:, : hh_canary.N_CELLS])


def test_the_batched_forward_equals_one_integration_per_sample(task):
    net = hh_canary.build_network(CONFIG)
    params = task.init_params()
    batched = task.forward(params, task.inputs)
    for i in range(CONFIG.batch_size):
        stimuli = net.cell("all").data_stimulate(task.inputs[i], None)
        alone = jx.integrate(
            net, params=params, data_stimuli=stimuli, delta_t=CONFIG.dt_ms, t_max=CONFIG.t_max_ms
        )
        np.testing.assert_allclose(batched[i], alone, rtol=1e-12, atol=1e-9)


def test_the_gradient_agrees_with_finite_differences(task):
    params = task.init_params()
    analytic = task.grad(params)[0][hh_canary.CONDUCTANCE][0]

    def loss_at(delta):
        moved = [{hh_canary.CONDUCTANCE: params[0][hh_canary.CONDUCTANCE].at[0].add(delta)}]
        return float(task.loss(moved))

    step = 1e-4
    numeric = (loss_at(step) - loss_at(-step)) / (2 * step)
    assert analytic != 0.0
    assert float(analytic) == pytest.approx(numeric, rel=1e-4)


def test_too_few_inputs_are_refused_naming_the_argument():
    with pytest.raises(SnnbenchError, match="n_input.*at least 20.*got 10"):
        make_task(TaskConfig(n_input=10), CANARY)


def test_the_canary_is_measured_on_request_only():
    assert CANARY not in Matrix().backends
    assert Matrix(backends=(CANARY,)).backends == (CANARY,)
    assert effective_matmul_precision(CONFIG, CANARY, "cpu") == "none"
    assert jnp.asarray(0.0).dtype == jnp.float64  # the module ran in float64
    assert jax.config.jax_enable_x64
