"""make_data against the tutorial's own construction, written out literally here."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import snnbench
from snnbench import TaskConfig, jax_compat
from snnbench.task import data as data_module
from snnbench.task.data import make_data, spikes_to_currents

BATCH = 4  # the tutorial's per-(sample, input) convolve loop is slow; 4 x 100 calls


@pytest.fixture(scope="module", autouse=True)
def float64():
    snnbench.set_precision("float64")


def tutorial_data(seed, batch_size):
    """The tutorial's code, line for line (float64, its layer sizes, dt and T), with the
    random bits of jax >= 0.5 on every supported jax (as make_data draws them)."""
    with jax_compat.same_random_bits():
        return _tutorial_data(seed, batch_size)


def _tutorial_data(seed, batch_size):
    dt = 1e-3
    T = 0.20
    key = jax.random.key(seed)
    n_input, n_hidden, n_output = 100, 4, 2

    def normal(subkey, mean, std, shape):
        return mean + (jax.random.normal(subkey, shape) * std)

    l1_edges = n_input * n_hidden
    l2_edges = n_hidden * n_output
    key, subkey = jax.random.split(key)
    gs_l1 = normal(subkey, 0.0, 10.0, (l1_edges))
    key, subkey = jax.random.split(key)
    gs_l2 = normal(subkey, 0.0, 10.0, (l2_edges))

    i_min = jnp.array([508.0] * 2)
    freq = 5  # Hz
    prob = freq * dt
    key, subkey = jax.random.split(key)
    mask = jax.random.uniform(subkey, (batch_size, n_input, int(T / dt)))
    x_data = jnp.where(mask < prob, 1.0, 0.0)
    current_batches = jnp.array(
        [
            [jnp.convolve(i_min, x_data[i][j], "same") for j in range(n_input)]
            for i in range(batch_size)
        ]
    )
    key, subkey = jax.random.split(key)
    targets = jnp.where(
        jax.random.uniform(subkey, (batch_size), minval=0.0, maxval=1.0) < 0.5, 1, 0
    )
    return jnp.concatenate([gs_l1, gs_l2]), x_data, current_batches, targets


@pytest.fixture(scope="module")
def data():
    return make_data(TaskConfig(batch_size=BATCH))


@pytest.fixture(scope="module")
def tutorial():
    return tutorial_data(1701, BATCH)


def test_shapes(data):
    assert data.weights.shape == (408,)
    assert data.spikes.shape == (BATCH, 100, 200)
    assert data.inputs.shape == (BATCH, 100, 200)
    assert data.targets.shape == (BATCH,)
    assert data.weights.dtype == jnp.float64
    assert data.inputs.dtype == jnp.float64


def test_weights_equal_the_tutorials(data, tutorial):
    assert np.array_equal(np.asarray(data.weights), np.asarray(tutorial[0]))


def test_input_spikes_equal_the_tutorials(data, tutorial):
    assert np.array_equal(np.asarray(data.spikes), np.asarray(tutorial[1]))


def test_input_currents_equal_the_tutorials(data, tutorial):
    assert np.array_equal(np.asarray(data.inputs), np.asarray(tutorial[2]))


def test_targets_equal_the_tutorials(data, tutorial):
    assert np.array_equal(np.asarray(data.targets), np.asarray(tutorial[3]))


def test_another_seed_also_matches():
    ours = make_data(TaskConfig(batch_size=1, seed=7))
    weights, spikes, currents, targets = tutorial_data(7, 1)
    assert np.array_equal(np.asarray(ours.weights), np.asarray(weights))
    assert np.array_equal(np.asarray(ours.spikes), np.asarray(spikes))
    assert np.array_equal(np.asarray(ours.inputs), np.asarray(currents))
    assert np.array_equal(np.asarray(ours.targets), np.asarray(targets))


def test_spikes_are_binary_and_present(data):
    spikes = np.asarray(data.spikes)
    assert set(np.unique(spikes)) <= {0.0, 1.0}
    # 5 Hz * 1e-3 ms per step: about 0.005 * 4 * 100 * 200 = 400 spikes expected.
    assert 200 < spikes.sum() < 600


def test_currents_are_multiples_of_the_kernel_height(data):
    inputs = np.asarray(data.inputs)
    assert set(np.unique(inputs)) <= {0.0, 508.0, 1016.0}
    assert np.all(np.mod(inputs, 508.0) == 0.0)
    assert inputs.max() >= 508.0


def test_targets_are_class_labels(data):
    assert set(np.unique(np.asarray(data.targets))) <= {0, 1}


def test_same_mode_convolution_by_hand():
    # "same" with a length-2 kernel keeps the first n points of the full convolution,
    # so out[t] = 508 * (x[t] + x[t - 1]): each spike drives its own step and the next.
    spikes = jnp.array([[[0.0, 1.0, 0.0, 0.0, 1.0, 1.0]]])
    currents = spikes_to_currents(spikes, (508.0, 508.0))
    expected = [[[0.0, 508.0, 508.0, 0.0, 508.0, 1016.0]]]
    assert np.array_equal(np.asarray(currents), expected)


def test_float32_task_draws_the_same_instance_as_float64():
    config = TaskConfig(batch_size=2)
    float64_data = make_data(config)
    snnbench.set_precision("float32")
    try:
        float32_data = make_data(config.replace(precision="float32"))
    finally:
        snnbench.set_precision("float64")
    assert float32_data.weights.dtype == np.float32 and float32_data.inputs.dtype == np.float32
    assert np.array_equal(np.asarray(float32_data.targets), np.asarray(float64_data.targets))
    assert np.array_equal(np.asarray(float32_data.spikes), np.asarray(float64_data.spikes))
    np.testing.assert_allclose(
        np.asarray(float32_data.weights), np.asarray(float64_data.weights), rtol=1e-6
    )


def test_float32_draw_is_the_float64_draw_cast_as_jax_casts_it():
    """Bit for bit what an eager ``astype`` of the float64 draw gives, also for a kernel
    whose currents are not exact in float32 and weights off the tutorial's scale."""
    configs = [
        TaskConfig(batch_size=2),
        TaskConfig(batch_size=2, seed=7, kernel_na=(0.1, 0.7, 1.3), weight_mean=0.3),
    ]
    fields = ("weights", "spikes", "inputs", "targets")
    expected = []
    for config in configs:
        draw = make_data(config)
        cast = [jnp.float32, jnp.float32, jnp.float32, jnp.int32]
        expected.append(
            [np.asarray(getattr(draw, f).astype(t)) for f, t in zip(fields, cast, strict=True)]
        )
    snnbench.set_precision("float32")
    try:
        drawn = [make_data(config.replace(precision="float32")) for config in configs]
    finally:
        snnbench.set_precision("float64")
    for data, arrays in zip(drawn, expected, strict=True):
        for field, array in zip(fields, arrays, strict=True):
            ours = np.asarray(getattr(data, field))
            assert ours.dtype == array.dtype and np.array_equal(ours, array), field


@pytest.mark.parametrize(
    "config",
    [
        TaskConfig(batch_size=8),
        TaskConfig(batch_size=3, seed=11, kernel_na=(0.1, 0.7, 1.3), n_hidden=9),
    ],
    ids=["tutorial-layers", "other"],
)
def test_the_draws_compile_options_keep_every_bit(config):
    """The draw compiled with data.CPU_DRAW_OPTIONS gives what jax's default compile gives."""
    device = data_module._default_device()
    with jax_compat.same_random_bits():
        ours = data_module._compiled_draw(config, device)()
        default = data_module._draw(config)
    for a, b in zip(ours, default, strict=True):
        assert a.dtype == b.dtype and np.array_equal(np.asarray(a), np.asarray(b))
