"""Equation counts into sub-jaxprs and the loop-aware flop model, against hand counts."""

import jax
import jax.numpy as jnp

from snnbench.measure.jaxpr_stats import count_eqns, count_flops


def _scan_program(length):
    def f(w, xs):
        def step(carry, x):
            carry = jnp.tanh(carry @ w + x)  # dot_general, add, tanh
            return carry, carry

        return jax.lax.scan(step, jnp.zeros(4), xs)[1].sum()  # scan, reduce_sum

    return jax.make_jaxpr(f)(jnp.ones((4, 4)), jnp.ones((length, 4)))


def test_eqns_recurse_into_the_scan_body_once():
    jaxpr = _scan_program(10)
    top = count_eqns(jaxpr, recursive=False)
    assert count_eqns(jaxpr) == top + 3  # the body's dot_general, add, tanh
    assert count_eqns(_scan_program(100)) == count_eqns(jaxpr)  # size, not work


def test_flops_multiply_scan_bodies_by_their_length():
    per_step = 2 * 4 * 4 + 4 + 4  # (4,)@(4,4): 2*4 outputs*4 contracted; add; tanh
    reduce = 10 * 4
    assert count_flops(_scan_program(10)).flops == 10 * per_step + reduce
    assert count_flops(_scan_program(10)).while_loops == 0


def test_matmul_flops_by_hand():
    jaxpr = jax.make_jaxpr(lambda a, b: a @ b)(jnp.ones((3, 4)), jnp.ones((4, 5)))
    assert count_flops(jaxpr).flops == 2 * 3 * 5 * 4


def test_while_loop_bodies_count_once_and_are_reported():
    def f(x):
        return jax.lax.while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, c[1] * 2.0), (0, x))[1]

    counted = count_flops(jax.make_jaxpr(f)(jnp.ones(3)))
    assert counted.while_loops == 1
    assert counted.flops == 1 + 1 + 3  # cond lt; body add (scalar) and mul (3 elements)
