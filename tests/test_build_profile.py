"""The build profile, and the tutorial-way build it compares against."""

import jax
import numpy as np

from snnbench import TaskConfig
from snnbench.studies.profile.build import build_tutorial_way, profile_build
from snnbench.task import jaxley_net
from snnbench.task.data import make_data

SMALL = TaskConfig(n_input=6, n_hidden=3, n_output=2, batch_size=2, t_max_ms=0.02)


def test_profile_attributes_staging_to_jaxley_calls():
    profile = profile_build(SMALL)
    assert profile.wall_s > 0
    assert list(profile.by_call.columns) == [
        "call",
        "n_compiles",
        "trace_s",
        "lower_s",
        "compile_s",
        "staging_s",
    ]
    assert (profile.by_call["staging_s"] >= 0).all()
    assert profile.by_call["staging_s"].is_monotonic_decreasing
    # Attribution names jaxley functions (or says when staging happened outside jaxley).
    assert profile.by_call["call"].str.match(r"jaxley\.|\(outside jaxley\)").all()


def test_tutorial_way_builds_the_same_network():
    data = make_data(SMALL)
    fast = jaxley_net.build_network(SMALL, data.weights)
    slow = build_tutorial_way(SMALL, data.weights)
    fast_params, slow_params = jaxley_net.initial_params(fast), jaxley_net.initial_params(slow)
    np.testing.assert_array_equal(
        fast_params[0]["SpikeSynapse_gS"], slow_params[0]["SpikeSynapse_gS"]
    )
    v_fast = jax.jit(jaxley_net.make_forward(fast, SMALL))(fast_params, data.inputs)
    v_slow = jax.jit(jaxley_net.make_forward(slow, SMALL))(slow_params, data.inputs)
    np.testing.assert_array_equal(np.asarray(v_fast), np.asarray(v_slow))
