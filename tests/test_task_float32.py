"""The reference task in float32: the jaxley and dense backends agree to float32 roundoff.

JAX's x64 flag is process-global, so this module keeps float32 to itself and puts
float64 back when it is done.

Tolerances come from measurement (batch 16, seeds 1701, 1, 2 and 3, jax 0.10.2,
jaxley 0.14.0, CPU), with the arithmetic that bounds them:

- Output voltages (peaks of about 1.2-1.5 mV): max |jaxley - dense| measured
  8.3e-7 mV; each backend is within 9.7e-7 mV of a float64 run on the same float32
  data. One float32 ulp at 1 mV is 1.2e-7 mV; both backends round once or twice per
  step in a different order (per-edge scatter-add vs matmul) for 201 steps, with the
  leak damping old errors by 1/1.01 per step. jaxley also linearises the leak by a
  finite difference over 1e-3 mV, whose float32 slope error is up to
  eps32 * |v| / 1e-3 ~ 1.2e-4 relative; but implicit Euler only applies that slope to
  the step's change, so it costs at most g * 1.2e-4 * |dv| * dt / cm = 1.2e-6 * |dv| mV
  per step (<= 6e-7 mV on a 0.5 mV input step). Tolerance: 5e-6 mV, 6x the measured
  worst case and about 40 ulp at 1 mV.
- Spikes: identical in every one of 4 x 16 x 104 x 201 entries. Input cells peak at
  about 1.00096 mV (two 0.508 mV kernel steps, damped by the leak), 9.6e-4 mV over
  threshold; shifting the threshold by 1e-5 mV in a float64 run flips no spike for any
  of the four seeds (1e-4 flips at most 2). The closest crossings are thus more than
  10x the float32 voltage error from threshold, so exact agreement is expected.
- Gradient wrt the 408 weights: relative norm error measured <= 9.7e-7 (each backend
  <= 8.2e-7 from float64), 1 - cosine <= 4.7e-13. Tolerance: relative error 1e-5
  (10x, about 80 eps32). A relative error r bounds 1 - cosine by about r^2 / 2 = 5e-11;
  the cosine threshold 1 - 1e-10 sits just above that.
- Loss (about 0.67): |jaxley - dense| measured 0 for three seeds and 1.1e-7 (2 ulp)
  for the fourth. Tolerance: 1e-6.

Backends. These tolerances hold on every device because the dense twin computes
its matmuls at ``precision=HIGHEST`` (``TaskConfig.matmul_precision``), i.e. in
full float32 there too; jaxley has no matmul at all. At JAX's default precision
an NVIDIA GPU since Ampere would use TF32 (10-bit mantissa, relative error about
1e-3 per product): the issue's author measured 0.0147 mV between the backends and
a gradient cosine of 0.99999998 on an H200 that way, and 2.9e-6 mV at HIGHEST (2.6e-6
mV on CPU, batch 256). A GPU sums in another order than the CPU, but each sum still
rounds to float32, so the float32 round-off bounds above hold: one tolerance, every
backend. The CPU ignores the setting, so ``test_dense_matmuls_carry_the_declared_precision``
checks the attribute in the lowered program rather than the numbers.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import snnbench
from snnbench import TaskConfig, make_task
from snnbench.task import jaxley_net
from snnbench.task.dense import make_simulate
from snnbench.task.model import cross_entropy_of_max_voltage

CONFIG = TaskConfig(batch_size=16, precision="float32")
N_SPIKING = CONFIG.n_input + CONFIG.n_hidden
WEIGHT = "SpikeSynapse_gS"

VOLTAGE_TOL_MV = 5e-6
GRAD_REL_TOL = 1e-5
GRAD_COSINE_MIN = 1 - 1e-10
LOSS_TOL = 1e-6


pytestmark = pytest.mark.precision("float32")


@pytest.fixture(scope="module", autouse=True)
def float32():
    """Module-scoped fixtures build float32 tasks: switch before they run."""
    snnbench.set_precision("float32")


def voltages_loss_grad(task):
    def loss(params):
        voltages = task.forward(params, task.inputs)
        return cross_entropy_of_max_voltage(voltages, task.targets), voltages

    (loss_value, voltages), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(
        task.init_params()
    )
    return voltages, loss_value, grads[0][WEIGHT]


@pytest.fixture(scope="module")
def dense_task():
    return make_task(CONFIG, "dense")


@pytest.fixture(scope="module")
def jaxley_run():
    return voltages_loss_grad(make_task(CONFIG, "jaxley"))


@pytest.fixture(scope="module")
def dense_run(dense_task):
    return voltages_loss_grad(dense_task)


@pytest.fixture(scope="module")
def jaxley_spikes(dense_task):
    """Fire_spikes of all spiking cells from a jaxley network that also records them."""
    network = jaxley_net.build_network(CONFIG, dense_task.data.weights)
    network.net.cell(range(N_SPIKING)).record("Fire_spikes", verbose=False)
    forward = jax.jit(jaxley_net.make_forward(network, CONFIG))
    recorded = np.asarray(forward(jaxley_net.initial_params(network), dense_task.inputs))
    # Rows: the 2 output voltages recorded by build_network, then the spikes.
    return recorded[:, CONFIG.n_output :, 1:]


@pytest.fixture(scope="module")
def dense_spikes(dense_task):
    _, spikes_in, spikes_hidden = jax.jit(make_simulate(CONFIG))(
        dense_task.init_params(), dense_task.inputs
    )
    return np.concatenate([np.asarray(spikes_in), np.asarray(spikes_hidden)], axis=1)


def test_everything_is_float32(dense_task, jaxley_run, dense_run):
    assert dense_task.inputs.dtype == jnp.float32
    assert dense_task.init_params()[0][WEIGHT].dtype == jnp.float32
    for run in (jaxley_run, dense_run):
        assert all(x.dtype == jnp.float32 for x in run)


def test_voltages_agree_to_float32_roundoff(jaxley_run, dense_run):
    jaxley_v, dense_v = np.asarray(jaxley_run[0]), np.asarray(dense_run[0])
    assert jaxley_v.shape == dense_v.shape == (16, 2, 202)
    assert np.abs(jaxley_v).max() > 0.5  # the outputs really move
    assert np.abs(jaxley_v - dense_v).max() <= VOLTAGE_TOL_MV


def test_spike_trains_agree_exactly(jaxley_spikes, dense_spikes):
    assert jaxley_spikes.shape == dense_spikes.shape == (16, N_SPIKING, 201)
    assert jaxley_spikes[:, : CONFIG.n_input].sum() > 0
    assert jaxley_spikes[:, CONFIG.n_input :].sum() > 0
    assert np.array_equal(jaxley_spikes, dense_spikes)


def test_losses_agree(jaxley_run, dense_run):
    assert abs(float(jaxley_run[1]) - float(dense_run[1])) <= LOSS_TOL


def test_gradients_agree(jaxley_run, dense_run):
    jaxley_g = np.asarray(jaxley_run[2], dtype=np.float64)
    dense_g = np.asarray(dense_run[2], dtype=np.float64)
    assert jaxley_g.shape == dense_g.shape == (408,)
    cosine = jaxley_g @ dense_g / (np.linalg.norm(jaxley_g) * np.linalg.norm(dense_g))
    assert cosine >= GRAD_COSINE_MIN
    assert np.linalg.norm(jaxley_g - dense_g) / np.linalg.norm(dense_g) <= GRAD_REL_TOL


def _dots(lowered_text: str) -> list[str]:
    return [line for line in lowered_text.splitlines() if "stablehlo.dot_general" in line]


@pytest.mark.parametrize("setting", ["highest", "default"])
def test_dense_matmuls_carry_the_declared_precision(setting):
    """Checked in the lowered program (the same on every backend): the CPU ignores the
    precision, so agreement in numbers would not show that it is there."""
    task = make_task(CONFIG.replace(batch_size=2, matmul_precision=setting), "dense")
    params = task.init_params()
    args = (params, task.init_opt_state(params), task.inputs, task.targets)
    dots = _dots(jax.jit(task.raw_step).lower(*args).as_text())
    assert len(dots) == 5  # forward: 2; gradient: 3 transposed dots, which inherit it
    expected = f"precision = [{setting.upper()}, {setting.upper()}]"
    assert all(expected in dot for dot in dots), dots


def test_jaxley_has_no_matmul_to_set():
    task = make_task(CONFIG.replace(batch_size=2), "jaxley")
    text = jax.jit(task.raw_forward).lower(task.init_params(), task.inputs).as_text()
    assert _dots(text) == []


def test_float32_dense_training_lowers_the_loss(dense_task):
    result = dense_task.train(3, progress=False)
    assert result.losses[-1] < result.losses[0]
