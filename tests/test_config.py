"""TaskConfig: the tutorial's defaults, jaxley's step counts, one-line validation errors."""

import dataclasses
import json
import math

import pytest

from snnbench import SnnbenchError, TaskConfig


def test_defaults_are_the_tutorials_values():
    config = TaskConfig()
    assert (config.n_input, config.n_hidden, config.n_output) == (100, 4, 2)
    assert config.dt_ms == 1e-3  # tutorial: dt = 1e-3
    assert config.t_max_ms == 0.2  # tutorial: T = 0.20
    assert config.batch_size == 256
    assert config.seed == 1701
    assert config.input_rate_hz == 5.0  # freq = 5, prob = freq * dt
    assert config.kernel_na == (508.0, 508.0)  # i_min = [508.0] * 2
    assert config.leak_conductance_s_per_cm2 == 10e-3  # tau_mem = 10e-3 used as Leak_gLeak
    assert config.leak_reversal_mv == 0.0
    assert config.threshold_mv == 1.0
    assert config.reset_mv == 0.0
    assert config.v_init_mv == 0.0
    assert config.synapse_decay == 10.0  # SpikeSynapse_s_decay default on jaxley 1.0.0
    assert (config.weight_mean, config.weight_std) == (0.0, 10.0)  # normal(subkey, 0.0, 10.0)
    assert config.learning_rate == 0.1  # optax.adam(learning_rate=0.1)
    assert config.precision == "float64"  # jax_enable_x64 = True


def test_step_counts_of_the_tutorial():
    config = TaskConfig()
    assert config.n_steps == 200  # int(T / dt) input bins
    # jaxley integrates int(t_max // dt + 1) steps: 0.2 // 0.001 == 200.0, plus one.
    assert config.n_integration_steps == 201
    assert config.n_edges == 100 * 4 + 4 * 2 == 408


@pytest.mark.parametrize(
    ("dt_ms", "t_max_ms", "n_steps", "n_integration_steps"),
    [
        (1e-3, 0.2, 200, 201),
        (0.01, 0.07, 7, 8),  # 0.07 // 0.01 == 7.0
        # Binary floating point makes 0.3 // 0.1 == 2.0 and 5.0 // 0.025 == 199.0, so
        # jaxley (and snnbench, which copies its formula) integrates only n_steps steps.
        (0.1, 0.3, 3, 3),
        (0.025, 5.0, 200, 200),
    ],
)
def test_integration_steps_follow_jaxleys_formula(dt_ms, t_max_ms, n_steps, n_integration_steps):
    config = TaskConfig(dt_ms=dt_ms, t_max_ms=t_max_ms)
    assert config.n_steps == n_steps
    assert config.n_integration_steps == n_integration_steps


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n_input", 0),
        ("n_hidden", -1),
        ("n_output", 0),
        ("batch_size", 0),
        ("batch_size", -4),
        ("batch_size", True),  # a bool is an int to Python, not to a config
        ("n_input", 2.0),
        ("seed", -1),
        ("seed", True),
        ("dt_ms", 0.0),
        ("dt_ms", -1e-3),
        ("dt_ms", True),
        ("dt_ms", 0.003),  # 0.2 / 0.003 is not a whole number of steps
        ("dt_ms", 0.3),  # larger than t_max_ms = 0.2
        ("t_max_ms", 0.0),
        ("t_max_ms", math.inf),
        ("learning_rate", 0.0),
        ("weight_std", -10.0),
        ("synapse_decay", 0.0),
        ("leak_conductance_s_per_cm2", -0.01),
        ("input_rate_hz", -5.0),
        ("input_rate_hz", 1001.0),  # 1001 Hz * 1e-3 ms = 1.001 > 1 per step
        ("threshold_mv", math.nan),
        ("reset_mv", math.inf),
        ("precision", "float16"),
        ("precision", "bfloat16"),
        ("surrogate", "per_second"),
        ("surrogate", None),
        ("kernel_na", ()),
        ("kernel_na", [508.0, 508.0]),
        ("kernel_na", (508.0, math.nan)),
        ("kernel_na", ("508",)),
        ("matmul_precision", "tf32"),
        ("matmul_precision", "HIGHEST"),
    ],
)
def test_invalid_value_raises_one_line_error_naming_the_field(field, value):
    with pytest.raises(SnnbenchError) as info:
        TaskConfig(**{field: value})
    message = str(info.value)
    assert f"`{field}`" in message
    assert "\n" not in message


def test_rate_of_one_spike_per_step_is_allowed():
    assert TaskConfig(input_rate_hz=1000.0).input_rate_hz * 1e-3 == 1.0


def test_config_is_frozen():
    config = TaskConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.batch_size = 4  # type: ignore[misc]


def test_replace_returns_a_validated_copy():
    config = TaskConfig()
    small = config.replace(batch_size=4, precision="float32")
    assert (small.batch_size, small.precision) == (4, "float32")
    assert (config.batch_size, config.precision) == (256, "float64")
    with pytest.raises(SnnbenchError) as info:
        config.replace(batch_size=0)
    assert "`batch_size`" in str(info.value) and "\n" not in str(info.value)


def test_replace_with_unknown_field_raises_one_line_error_naming_it():
    with pytest.raises(SnnbenchError) as info:
        TaskConfig().replace(batch_sz=4)
    message = str(info.value)
    assert "batch_sz" in message
    assert "\n" not in message


def test_to_dict_is_plain_json():
    out = TaskConfig(batch_size=4).to_dict()
    assert out["kernel_na"] == [508.0, 508.0]
    assert out["batch_size"] == 4
    assert json.loads(json.dumps(out)) == out
    assert TaskConfig(**{**out, "kernel_na": tuple(out["kernel_na"])}) == TaskConfig(batch_size=4)
