"""Specification of the LR range test: the exponential ramp, the debiased
smoothed loss, the stop at divergence inside jit, fastai's suggestions, vmap
over seeds and the plot."""

import functools

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
import pytest

import optasched as osd
from optasched.bridge._range_test import suggestions

matplotlib.use("Agg")

NUM_STEPS = 80
FEATURES = 6


def fastai_valley(lrs, losses):
    """fastai.callback.schedule.valley, line for line (index clipped at 0)."""
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):  # noqa: PIE808  (fastai's own line)
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return lrs[max(max_start + int(sections) + int(sections / 2), 0)]


def fastai_suggestions(lrs, smoothed, num_run, num_steps):
    """fastai's lr_find: the recorded window [num_it // 10, -5), then steep, valley, minimum / 10."""
    lrs, losses = lrs[:num_run][num_steps // 10 : -5], smoothed[:num_run][num_steps // 10 : -5]
    slopes = (losses[1:] - losses[:-1]) / (np.log(lrs[1:]) - np.log(lrs[:-1]))
    return lrs[np.argmin(slopes)], fastai_valley(lrs, losses), lrs[np.argmin(losses)] / 10


def test_suggestions_match_fastai_on_random_curves():
    rng = np.random.default_rng(0)
    n = 100
    lrs = np.geomspace(1e-6, 10.0, n).astype(np.float32)
    x = np.linspace(-1, 1, n)
    curves, runs = [], []
    for _ in range(40):
        bowl = rng.uniform(0.5, 3.0) * (x - rng.uniform(-0.3, 0.6)) ** 2
        curves.append((bowl + rng.normal(0, rng.choice([1e-3, 0.05, 0.3]), n)).astype(np.float32))
        runs.append(int(rng.integers(25, n + 1)))
    ours = jax.jit(jax.vmap(suggestions, in_axes=(None, 0, 0, None)), static_argnums=3)(
        lrs, jnp.asarray(np.stack(curves)), jnp.asarray(runs), n
    )
    for i, (curve, run) in enumerate(zip(curves, runs)):
        expected = fastai_suggestions(lrs, curve, run, n)
        np.testing.assert_allclose([float(s[i]) for s in ours], expected, rtol=1e-6, err_msg=f"curve {i}")


def make_problem(key):
    """Linear regression: initial weights and batches, from a seed."""
    k_true, k_init, k_data, k_noise = jax.random.split(key, 4)
    w_true = jax.random.normal(k_true, (FEATURES,))
    inputs = jax.random.normal(k_data, (NUM_STEPS, 16, FEATURES))
    targets = inputs @ w_true + 0.1 * jax.random.normal(k_noise, (NUM_STEPS, 16))
    return 0.1 * jax.random.normal(k_init, (FEATURES,)), (inputs, targets)


def loss_fn(w, batch):
    inputs, targets = batch
    return jnp.mean((inputs @ w - targets) ** 2)


def range_test(key):
    w, batches = make_problem(key)
    return osd.lr_range_test(
        loss_fn,
        w,
        functools.partial(optax.sgd, momentum=0.9),
        batches,
        min_lr=1e-5,
        max_lr=10.0,
        num_steps=NUM_STEPS,
    )


RANGE_TEST = jax.jit(range_test)


def test_ramp_smoothing_and_stop_at_divergence_inside_jit():
    result = RANGE_TEST(jax.random.key(0))
    run = int(result.num_steps_run)
    assert 30 < run < NUM_STEPS  # diverged and stopped inside the compiled loop
    np.testing.assert_allclose(
        result.learning_rates, 1e-5 * (1e6) ** (np.arange(NUM_STEPS) / (NUM_STEPS - 1)), rtol=1e-5
    )
    losses = np.asarray(result.losses)
    assert np.all(np.isfinite(losses[:run])) and np.all(np.isnan(losses[run:]))
    # the same training, step by step in Python
    w, (inputs, targets) = make_problem(jax.random.key(0))
    opt = optax.sgd(osd.exponential(1e-5, NUM_STEPS - 1, 1e6), momentum=0.9)
    state = opt.init(w)
    for i in range(run):
        loss, grads = jax.value_and_grad(loss_fn)(w, (inputs[i], targets[i]))
        np.testing.assert_allclose(losses[i], loss, rtol=1e-4)
        updates, state = opt.update(grads, state, w)
        w = optax.apply_updates(w, updates)
    average, smoothed = 0.0, []
    for i, loss in enumerate(losses[:run].astype(np.float64)):
        average = 0.98 * average + 0.02 * loss
        smoothed.append(average / (1 - 0.98 ** (i + 1)))
    np.testing.assert_allclose(result.smoothed_losses[:run], smoothed, rtol=1e-5)
    best = np.minimum.accumulate(smoothed)
    assert smoothed[-1] > 4 * best[-1] and np.all(np.asarray(smoothed[:-1]) <= 4 * best[:-1])
    # suggestions are learning rates below the divergence, in fastai's order
    diverged_at = float(result.learning_rates[run - 1])
    for suggestion in (result.steepest, result.valley, result.minimum_over_10):
        assert 1e-5 < float(suggestion) < diverged_at
    expected = fastai_suggestions(
        np.asarray(result.learning_rates), np.asarray(result.smoothed_losses), run, NUM_STEPS
    )
    np.testing.assert_allclose([result.steepest, result.valley, result.minimum_over_10], expected, rtol=1e-6)


def test_vmap_over_seeds_equals_separate_runs_and_plots():
    keys = jax.random.split(jax.random.key(1), 3)
    swept = jax.jit(jax.vmap(range_test))(keys)
    assert swept.losses.shape == (3, NUM_STEPS)
    for i in range(3):
        alone = RANGE_TEST(keys[i])
        assert int(swept.num_steps_run[i]) == int(alone.num_steps_run)
        np.testing.assert_allclose(swept.smoothed_losses[i], alone.smoothed_losses, rtol=1e-5)
        np.testing.assert_allclose(swept.valley[i], alone.valley, rtol=1e-6)
    ax = osd.plot_range_test(swept)
    assert ax.get_xscale() == "log" and len(ax.lines) >= 6
    matplotlib.pyplot.close("all")


def test_batches_as_a_function_of_the_step_and_no_batches():
    w, (inputs, targets) = make_problem(jax.random.key(2))
    as_tree = osd.lr_range_test(loss_fn, w, optax.sgd, (inputs, targets), num_steps=NUM_STEPS)
    as_function = osd.lr_range_test(
        loss_fn, w, optax.sgd, lambda step: (inputs[step], targets[step]), num_steps=NUM_STEPS
    )
    np.testing.assert_allclose(as_tree.losses, as_function.losses, rtol=1e-6)
    full_batch = osd.lr_range_test(
        lambda v: jnp.sum((v - 1.0) ** 2), w, optax.sgd, min_lr=1e-3, max_lr=100.0, num_steps=50
    )
    assert int(full_batch.num_steps_run) < 50 and np.isfinite(full_batch.losses[0])


def test_bad_range_test_arguments_raise():
    w, batches = make_problem(jax.random.key(0))
    with pytest.raises(
        ValueError, match=r"lr_range_test: min_lr must be < max_lr, got min_lr=1.0, max_lr=0.1"
    ):
        osd.lr_range_test(loss_fn, w, optax.sgd, batches, min_lr=1.0, max_lr=0.1)
    with pytest.raises(ValueError, match=r"lr_range_test: min_lr must be a positive finite number, got 0.0"):
        osd.lr_range_test(loss_fn, w, optax.sgd, batches, min_lr=0.0)
    with pytest.raises(ValueError, match=r"leading axis of num_steps=100, got leading sizes \[80\]"):
        osd.lr_range_test(loss_fn, w, optax.sgd, batches, num_steps=100)
    with pytest.raises(ValueError, match=r"lr_range_test: smoothing must be in \[0, 1\), got 1.0"):
        osd.lr_range_test(loss_fn, w, optax.sgd, batches, num_steps=NUM_STEPS, smoothing=1.0)
