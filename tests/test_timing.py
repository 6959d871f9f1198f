"""The timing path: blocking, calibration, staging rounds, on workloads of known duration."""

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnbench.measure import timing

SLEEP_S = 0.01


def test_known_duration_gives_sensible_statistics():
    policy = timing.Sampling(min_round_s=0.02, min_rounds=5, max_rounds=8, target_s=0.1)
    timed = timing.time_steady(lambda: time.sleep(SLEEP_S), (), policy)
    samples = np.asarray(timed.samples_s)
    assert 5 <= samples.size <= 8
    # sleep() never returns early, so no per-call sample can be shorter than it.
    assert samples.min() >= SLEEP_S * 0.99
    assert np.median(samples) < SLEEP_S * 5
    # Two 10 ms calls fill a 20 ms round.
    assert timed.iterations == 2
    assert timed.first_s >= SLEEP_S * 0.99


def test_short_operations_are_averaged_over_many_iterations():
    policy = timing.Sampling(min_round_s=0.01, min_rounds=3, max_rounds=3, target_s=0.01)
    timed = timing.time_steady(lambda x: x, (1,), policy)
    assert timed.iterations > 100
    assert len(timed.samples_s) == 3


@jax.jit
def _matmuls(a):
    for _ in range(4):
        a = a @ a / a.shape[0]
    return a


def _min_time(fn, repeats=5):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


class _Pending:
    """An output leaf that is ready only after ``seconds`` (as a dispatched result is)."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def block_until_ready(self):
        time.sleep(self.seconds)
        return self


def test_asynchronous_work_is_waited_for():
    # jax.block_until_ready waits on every leaf with a block_until_ready method: a
    # harness that forgot to block would time ~0 s here, not the 20 ms of waiting.
    def dispatch():
        return {"array": jnp.ones(3), "pending": _Pending(0.02)}

    policy = timing.Sampling(min_round_s=0.0, min_rounds=5, max_rounds=5, warmup_calls=1)
    timed = timing.time_steady(dispatch, (), policy)
    assert len(timed.samples_s) == 5
    assert min(timed.samples_s) >= 0.02
    assert timed.first_s >= 0.02


def test_blocking_waits_for_every_leaf_of_the_output_tree():
    a = jnp.ones((600, 600))
    out = timing.blocking(lambda x: {"fast": x[0], "slow": [_matmuls(x)]})(a)
    assert out["slow"][0].is_ready()
    assert out["fast"].is_ready()


def test_staging_rounds_use_a_fresh_setup_each_round():
    built = []

    def setup():
        built.append(object())
        return (built[-1],)

    seen = []
    timed = timing.time_repeated(lambda obj: seen.append(obj), setup, rounds=3)
    assert len(timed.samples_s) == 3
    assert seen == built and len({id(o) for o in seen}) == 3
    assert timed.first_s == timed.samples_s[0]


def test_fresh_jit_retraces():
    traces = []

    def f(x):
        traces.append(1)
        return x + 1

    timing.fresh_jit(f)(1.0)
    timing.fresh_jit(f)(1.0)
    assert len(traces) == 2


def test_setup_needs_single_iteration():
    with pytest.raises(ValueError, match="iterations == 1"):
        timing.perf_counter_rounds(lambda: None, 1, iterations=2, setup=tuple)


def test_rounds_follow_the_policy_bounds():
    policy = timing.Sampling(min_rounds=5, max_rounds=30, target_s=1.5)
    assert policy.rounds_for(1.0) == 5
    assert policy.rounds_for(0.1) == 15
    assert policy.rounds_for(1e-6) == 30


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_cpu_time_is_recorded_per_round_next_to_wall_time():
    policy = timing.Sampling(min_round_s=0.02, min_rounds=4, max_rounds=4, target_s=0.0)
    timed = timing.time_steady(lambda: _spin(0.005), (), policy)
    assert len(timed.cpu_samples_s) == len(timed.samples_s) == 4
    # each call burns at least 5 ms of this process's CPU, and CPU time never exceeds wall
    # time by more than the other threads of the process could add
    assert min(timed.cpu_samples_s) >= 0.005
    slept = timing.time_steady(lambda: time.sleep(0.005), (), policy)
    assert max(slept.cpu_samples_s) < 0.5 * min(slept.samples_s)  # waiting is not work


def test_cpu_clock_follows_round_boundaries_and_drops_a_mismatch():
    clock = timing.CpuClock(iterations=3)
    call = clock.wrap(lambda: _spin(0.002))
    for _ in range(6):
        call()
    samples = clock.samples(rounds=2)
    assert len(samples) == 2 and min(samples) >= 0.002
    assert clock.samples(rounds=3) == ()  # a loop that ran other rounds: no CPU samples
    staged = timing.time_repeated(lambda x: _spin(0.002), lambda: (1,), rounds=3)
    assert len(staged.cpu_samples_s) == 3
