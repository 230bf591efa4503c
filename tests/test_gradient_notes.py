"""What the README says of gradients (issue 23, point 6): at an integer warmup
length the derivative is one-sided (the kink of the piecewise schedule), and
Adam's hypergradient through constant-zero features is NaN, as in plain optax,
unless ``eps_root`` is given."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optasched as osd

STEPS = jnp.arange(100)
PEAK, WARMUP = 0.1, 20.0


def total_lr(warmup_steps):
    """The README's example: the learning rates of 100 steps summed, a function of the warmup length."""
    return osd.warmup(osd.cosine(PEAK, 80), warmup_steps)(STEPS).sum()


def test_at_an_integer_warmup_length_the_derivative_is_the_left_one():
    at = jax.grad(total_lr)(WARMUP)
    # Each side is smooth (second derivative ~5e-3): 1e-3 beside the kink, the gradient is that side's
    # derivative to ~5e-6, 1e-4 relative.
    left, right = jax.grad(total_lr)(WARMUP - 1e-3), jax.grad(total_lr)(WARMUP + 1e-3)
    np.testing.assert_allclose(at, left, rtol=1e-3)
    # The kink: at step == warmup_steps the decay is active (the boundary rule); a longer warmup puts
    # that step on the ramp, whose value peak * t / w falls with w by peak / w there.
    np.testing.assert_allclose(left - right, PEAK / WARMUP, rtol=4e-3)  # the two are 2e-3 apart: ~1e-5
    # A central difference averages the two sides (float32: h = 0.05 keeps rounding below 1e-4).
    h = 0.05
    central = (total_lr(WARMUP + h) - total_lr(WARMUP - h)) / (2 * h)
    np.testing.assert_allclose(central, (left + right) / 2, rtol=1e-3)
    # The figures the README quotes: 0.0525 against 0.0500, 5% apart.
    assert (round(float(at), 4), round(float(central), 4)) == (0.0525, 0.05)
    assert abs(at / central - 1) == pytest.approx(0.05, abs=0.001)


X = jnp.array([[1.0, 0.0], [2.0, 0.0], [-1.0, 0.0]])  # the second feature is always zero
Y = jnp.array([1.0, 2.0, -1.0])


def loss(params):
    return jnp.mean((X @ params - Y) ** 2)


def loss_after_training(schedule, optimizer_factory, eps_root):
    optimizer = optimizer_factory(learning_rate=schedule, eps_root=eps_root)
    params = jnp.zeros(2)
    state = optimizer.init(params)
    for _ in range(3):
        updates, state = optimizer.update(jax.grad(loss)(params), state)
        params = optax.apply_updates(params, updates)
    return loss(params)


@pytest.mark.parametrize("factory", [optax.adam, osd.inject(optax.adam)], ids=["optax.adam", "inject(adam)"])
def test_adams_hypergradient_through_zero_features_needs_eps_root(factory):
    schedule = osd.warmup(osd.cosine(0.1, 80), 2)
    hypergradient = jax.grad(loss_after_training, allow_int=True)
    # sqrt(v) at v = 0 (a zero gradient, every step) has an infinite derivative: 0 * inf = NaN.
    assert np.isnan(hypergradient(schedule, factory, 0.0).schedule.init_value)
    fixed = hypergradient(schedule, factory, 1e-8).schedule.init_value
    assert np.isfinite(fixed) and fixed < 0  # a larger peak learning rate lowers this loss
