"""Hypergradient descent (osd.sgd_hd, osd.adam_hd, osd.hypergradient) and meta-gradients of a
schedule through a truncated unroll (osd.unrolled_loss, osd.meta_gradient, osd.meta_tune)."""

from __future__ import annotations

import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax import enable_x64

import optasched as osd

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _gradients(num_steps: int, size: int = 5, seed: int = 0) -> list[np.ndarray]:
    """A fixed sequence of float32 gradients (some correlated, some not)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=size)
    return [(base + rng.normal(size=size)).astype(np.float32) for _ in range(num_steps)]


def _run(opt, grads, params=None):
    """The updates and the states after each update (updates applied to params)."""
    params = jnp.zeros_like(grads[0]) if params is None else params
    state = opt.init(params)
    updates_seen, states = [], []
    for g in grads:
        updates, state = opt.update(jnp.asarray(g), state, params)
        params = optax.apply_updates(params, updates)
        updates_seen.append(np.asarray(updates))
        states.append(state)
    return updates_seen, states


# ---------------------------------------------------------------------------------------------
# hyper_lr = 0 is the plain optimizer


def test_sgd_hd_with_zero_hyper_lr_is_plain_sgd_bit_for_bit():
    grads = _gradients(6)
    ours, states = _run(osd.sgd_hd(0.03, hyper_lr=0.0), grads)
    plain, _ = _run(optax.sgd(0.03), grads)
    for a, b in zip(ours, plain):
        np.testing.assert_array_equal(a, b)
    assert all(float(s.learning_rate) == np.float32(0.03) for s in states)


def test_adam_hd_with_zero_hyper_lr_is_plain_adam_bit_for_bit():
    grads = _gradients(6)
    ours, _ = _run(osd.adam_hd(1e-2, hyper_lr=0.0), grads)
    plain, _ = _run(optax.adam(1e-2), grads)
    for a, b in zip(ours, plain):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# against hand-written references (float64 NumPy, Baydin et al. 2018, Algorithms 1 and 3)


def _reference_sgd_hd(grads, alpha, beta, multiplicative=False, lo=0.0, hi=np.inf):
    previous = np.zeros_like(grads[0], np.float64)
    updates, rates = [], []
    for g in grads:
        g = g.astype(np.float64)
        if multiplicative:
            norms = np.linalg.norm(g) * np.linalg.norm(previous)
            alpha = alpha * (1 + beta * (g @ previous / norms if norms > 0 else 0.0))
        else:
            alpha = alpha + beta * (g @ previous)  # alpha_t = alpha_{t-1} - beta h_t, h_t = -g_t . g_{t-1}
        alpha = min(max(alpha, lo), hi)
        updates.append(-alpha * g)
        rates.append(alpha)
        previous = g
    return updates, rates


def _reference_adam_hd(grads, alpha, beta, b1=0.9, b2=0.999, eps=1e-8):
    m = v = np.zeros_like(grads[0], np.float64)
    previous = np.zeros_like(m)
    updates, rates = [], []
    for t, g in enumerate(grads, start=1):
        g = g.astype(np.float64)
        # h_t = g_t . (-m_hat_{t-1} / (sqrt(v_hat_{t-1}) + eps))
        alpha = max(alpha + beta * (g @ previous), 0.0)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        direction = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        updates.append(-alpha * direction)
        rates.append(alpha)
        previous = direction
    return updates, rates


# float32 against float64 over 5 steps: relative error a few float32 ulps per step.
RTOL = 2e-5


@pytest.mark.parametrize("multiplicative", [False, True], ids=["additive", "multiplicative"])
def test_sgd_hd_matches_a_hand_written_reference(multiplicative):
    grads = _gradients(5)
    beta = 0.3 if multiplicative else 0.002
    ours, states = _run(osd.sgd_hd(0.05, beta, multiplicative=multiplicative), grads)
    expected, rates = _reference_sgd_hd(grads, 0.05, beta, multiplicative)
    for a, b in zip(ours, expected):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-9)
    np.testing.assert_allclose([float(s.learning_rate) for s in states], rates, rtol=RTOL)
    assert len(set(np.round(rates, 8))) == len(rates)  # the rate really moved every step after the first


def test_adam_hd_matches_a_hand_written_reference():
    grads = _gradients(5)
    ours, states = _run(osd.adam_hd(1e-2, 1e-3), grads)
    expected, rates = _reference_adam_hd(grads, 1e-2, 1e-3)
    for a, b in zip(ours, expected):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-9)
    np.testing.assert_allclose([float(s.learning_rate) for s in states], rates, rtol=RTOL)


def test_adam_hd_multiplicative_against_the_normalised_reference():
    grads = _gradients(5)
    ours, states = _run(osd.adam_hd(1e-2, 0.2, multiplicative=True), grads)
    alpha, previous, m, v = 1e-2, np.zeros(5), np.zeros(5), np.zeros(5)
    for t, (g, s, u) in enumerate(zip(grads, states, ours), start=1):
        g = g.astype(np.float64)
        norms = np.linalg.norm(g) * np.linalg.norm(previous)
        alpha *= 1 + 0.2 * (g @ previous / norms if norms > 0 else 0.0)
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        previous = (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose(float(s.learning_rate), alpha, rtol=RTOL)
        np.testing.assert_allclose(u, -alpha * previous, rtol=RTOL, atol=1e-9)


def test_momentum_direction_is_sgdn_hd():
    """Any direction works: with Nesterov momentum it is their SGDN-HD (d = g + mu v)."""
    grads = _gradients(4)
    mu = 0.9
    opt = osd.hypergradient(optax.trace(decay=mu, nesterov=True), 0.05, 0.01)
    ours, states = _run(opt, grads)
    alpha, v, previous = 0.05, np.zeros(5), np.zeros(5)
    for g, s, u in zip(grads, states, ours):
        g = g.astype(np.float64)
        alpha += 0.01 * (g @ previous)
        v = mu * v + g
        previous = g + mu * v
        np.testing.assert_allclose(float(s.learning_rate), alpha, rtol=RTOL)
        np.testing.assert_allclose(u, -alpha * previous, rtol=RTOL, atol=1e-9)


# ---------------------------------------------------------------------------------------------
# the safeguard


def _adversarial(num_steps: int) -> list[np.ndarray]:
    """Large aligned gradients (the rate climbs), then twice as many alternating ones (it falls)."""
    up = [np.full(3, 10.0, np.float32)] * (num_steps // 3)
    down = [np.full(3, 10.0 * (-1) ** i, np.float32) for i in range(num_steps - num_steps // 3)]
    return up + down


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "sgd multiplicative"])
def test_safeguard_holds_the_rate_within_its_range(optimizer):
    lo, hi = 1e-3, 0.5
    build = {
        "sgd": lambda r: osd.sgd_hd(0.1, 0.01, lr_range=r),
        "adam": lambda r: osd.adam_hd(0.1, 0.1, lr_range=r),
        "sgd multiplicative": lambda r: osd.sgd_hd(0.1, 0.9, lr_range=r, multiplicative=True),
    }[optimizer]
    grads = _adversarial(30)
    _, states = _run(build((lo, hi)), grads)
    rates = np.array([float(s.learning_rate) for s in states])
    assert np.all((rates >= np.float32(lo)) & (rates <= np.float32(hi)))
    assert rates.max() == np.float32(hi) and rates.min() == np.float32(lo)  # both ends were pushed against
    # without it the same sequence runs the rate away (60x hi); SGD-HD's additive rule turns it negative,
    # the multiplicative one collapses it by 16 orders of magnitude (lo > 0 matters there too)
    _, unguarded = _run(build(None), grads)
    free = np.array([float(s.learning_rate) for s in unguarded])
    assert free.max() > 40 * hi
    if optimizer == "sgd":
        assert free.min() < 0
    if optimizer == "sgd multiplicative":
        assert free[-1] < 1e-15


def test_default_range_keeps_the_rate_non_negative():
    _, states = _run(osd.sgd_hd(0.1, 0.01), _adversarial(20))
    rates = np.array([float(s.learning_rate) for s in states])
    assert rates.min() == 0.0 and np.all(np.isfinite(rates))


# ---------------------------------------------------------------------------------------------
# traced, swept and scheduled hyper_lr; logging


def _final_rate(hyper_lr, grads, learning_rate=0.05, hi=1.0):
    opt = osd.sgd_hd(learning_rate, hyper_lr, lr_range=(0.0, hi))
    params = jnp.zeros(5)
    state = opt.init(params)

    def body(carry, g):
        params, state = carry
        updates, state = opt.update(g, state, params)
        return (optax.apply_updates(params, updates), state), state.learning_rate

    (params, state), rates = jax.lax.scan(body, (params, state), grads)
    return params, rates


def test_vmap_over_hyper_lr_equals_a_loop():
    grads = jnp.asarray(np.stack(_gradients(8)))
    betas = jnp.array([0.0, 1e-3, 5e-3, 2e-2])
    params, rates = jax.jit(jax.vmap(_final_rate, in_axes=(0, None)))(betas, grads)
    for i, beta in enumerate(betas):
        p, r = jax.jit(_final_rate)(beta, grads)
        np.testing.assert_allclose(params[i], p, rtol=1e-6, atol=1e-7)  # one program against another
        np.testing.assert_allclose(rates[i], r, rtol=1e-6)
    assert len(set(np.asarray(rates[:, -1]).round(6))) == len(betas)


def test_vmap_over_the_initial_rate_and_the_range_equals_a_loop():
    grads = jnp.asarray(np.stack(_gradients(8)))
    rates0, highs = jnp.array([0.01, 0.05, 0.1]), jnp.array([0.011, 0.2, 1.0])
    params, rates = jax.vmap(_final_rate, in_axes=(None, None, 0, 0))(jnp.float32(1e-2), grads, rates0, highs)
    for i in range(3):
        p, r = _final_rate(jnp.float32(1e-2), grads, rates0[i], highs[i])
        np.testing.assert_allclose(params[i], p, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(rates[i], r, rtol=1e-6)
    assert float(rates[0].max()) == np.float32(0.011)  # the traced upper end clipped member 0


def test_bfloat16_params_keep_a_float32_rate():
    opt = osd.sgd_hd(0.05, 1e-3)
    params = jnp.zeros(3, jnp.bfloat16)
    state = opt.init(params)
    updates, state = opt.update(jnp.ones(3, jnp.bfloat16), state, params)
    updates, state = opt.update(jnp.ones(3, jnp.bfloat16), state, params)
    assert state.learning_rate.dtype == jnp.float32 and updates.dtype == jnp.bfloat16
    # a step that a bfloat16 rate would round away
    assert float(state.learning_rate) == np.float32(0.05) + np.float32(3e-3)


def test_hyper_lr_may_be_a_schedule_evaluated_at_the_count():
    schedule = osd.linear(0.0, 0.01, 4)
    grads = _gradients(6)
    _, states = _run(osd.sgd_hd(0.05, schedule), grads)
    for count, state in enumerate(states):
        assert float(state.hyper_lr) == float(schedule(count))
    expected_alpha = 0.05
    for count in range(1, 6):
        expected_alpha += float(schedule(count)) * float(grads[count].astype(np.float64) @ grads[count - 1])
    np.testing.assert_allclose(float(states[-1].learning_rate), expected_alpha, rtol=RTOL)


def test_hyperparams_logs_the_adapted_learning_rate():
    grads = _gradients(4)
    opt = osd.sgd_hd(0.05, 0.01)
    updates, states = _run(opt, grads)
    for g, u, state in zip(grads, updates, states):
        logged = osd.hyperparams(state)
        assert sorted(logged) == ["hyper_lr", "learning_rate"]
        assert float(logged["learning_rate"]) == float(state.learning_rate)
        # the rate this update used
        np.testing.assert_array_equal(u, -np.float32(logged["learning_rate"]) * g)
    assert float(osd.hyperparams(opt.init(jnp.zeros(5)))["learning_rate"]) == np.float32(0.05)


def test_hyperparams_beside_an_inject_state_in_a_chain():
    opt = optax.chain(
        osd.inject(optax.add_decayed_weights)(weight_decay=osd.linear(1e-2, 0.0, 10)), osd.adam_hd(1e-3, 1e-4)
    )
    params = jnp.ones(3)
    state = opt.init(params)
    _, state = opt.update(jnp.ones(3), state, params)
    logged = osd.hyperparams(state)
    assert sorted(logged) == ["hyper_lr", "learning_rate", "weight_decay"]
    assert float(logged["learning_rate"]) == float(state[1].learning_rate)


def test_update_jits_and_stays_finite_in_float64():
    with enable_x64():
        opt = osd.adam_hd(1e-2, 1e-3, lr_range=(0.0, 1.0))
        params = jnp.zeros(3, jnp.float64)
        state = opt.init(params)
        updates, state = jax.jit(opt.update)(jnp.ones(3, jnp.float64), state, params)
        assert state.learning_rate.dtype == jnp.float64 and updates.dtype == jnp.float64


# ---------------------------------------------------------------------------------------------
# meta-gradients through a truncated unroll


def _regression(dtype):
    """A noiseless linear regression: SGD steps on train batches, the loss on held-out data."""
    rng = np.random.default_rng(1)
    w_true = rng.normal(size=4)
    x_train = rng.normal(size=(12, 8, 4))
    x_val = rng.normal(size=(32, 4))
    batches = {"x": jnp.asarray(x_train, dtype), "y": jnp.asarray(x_train @ w_true, dtype)}

    def loss(w, x, y):
        return jnp.mean((x @ w - y) ** 2)

    def train_step(w, batch, lr):
        return w - lr * jax.grad(loss)(w, batch["x"], batch["y"])

    def val_loss(w):
        return loss(w, jnp.asarray(x_val, dtype), jnp.asarray(x_val @ w_true, dtype))

    return train_step, batches, val_loss, jnp.zeros(4, dtype)


def _central(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("leaf", ["peak", "warmup_steps"])
def test_meta_gradient_matches_central_differences(leaf):
    """Float64 so the difference quotient is exact to ~1e-8; warmup at 3.5 steps has no kink."""
    with enable_x64():
        train_step, batches, val_loss, w0 = _regression(jnp.float64)

        def build(peak, warmup_steps):
            return osd.warmup(osd.cosine(peak, 12), warmup_steps)

        peak, warmup_steps = jnp.float64(0.08), jnp.float64(3.5)

        def loss_at(x):
            args = (x, warmup_steps) if leaf == "peak" else (peak, x)
            return osd.unrolled_loss(train_step, build(*args), w0, batches, 10, val_loss)

        loss, grad = osd.meta_gradient(train_step, build(peak, warmup_steps), w0, batches, 10, val_loss)
        analytic = grad.schedule.init_value if leaf == "peak" else grad.warmup_steps
        numeric = _central(loss_at, peak if leaf == "peak" else warmup_steps, 1e-5)
        assert float(loss) == float(loss_at(peak if leaf == "peak" else warmup_steps))
        assert abs(float(analytic)) > 1e-4  # a derivative that says something
        np.testing.assert_allclose(float(analytic), float(numeric), rtol=1e-6)


def test_batches_may_be_a_function_of_the_step():
    train_step, batches, val_loss, w0 = _regression(jnp.float32)
    schedule = osd.constant(0.05)
    by_array = osd.unrolled_loss(train_step, schedule, w0, batches, 12, val_loss)
    by_function = osd.unrolled_loss(
        train_step, schedule, w0, lambda t: jax.tree.map(lambda x: x[t], batches), 12, val_loss
    )
    assert float(by_array) == float(by_function)


def test_meta_tune_lowers_the_loss_and_respects_bounds():
    train_step, batches, val_loss, w0 = _regression(jnp.float32)
    start = osd.warmup(osd.cosine(0.005, 12), 6)
    result = jax.jit(
        lambda s: osd.meta_tune(
            train_step, s, w0, batches, 12, val_loss,
            tune=["schedule.init_value", "warmup_steps"], meta_steps=25, meta_lr=0.2,
            bounds={"schedule.init_value": (1e-4, 0.06), "warmup_steps": (1.0, 8.0)},
        )
    )(start)
    assert result.losses.shape == (25,) and result.values["warmup_steps"].shape == (26,)
    assert float(result.losses[-1]) < 0.5 * float(result.losses[0])
    peaks = np.asarray(result.values["schedule.init_value"])
    warmups = np.asarray(result.values["warmup_steps"])
    assert np.all((peaks >= np.float32(1e-4)) & (peaks <= np.float32(0.06)))
    assert np.all((warmups >= 1.0) & (warmups <= 8.0))
    assert peaks[-1] > peaks[0] and warmups[-1] < warmups[0]  # too small a peak, too long a warmup: both move
    assert float(result.schedule.schedule.init_value) == peaks[-1]
    assert result.schedule.warmup_steps.dtype == jnp.float32  # an int leaf is tuned as a float


# ---------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: osd.sgd_hd(-0.1, 0.01), "learning_rate"),
        (lambda: osd.sgd_hd(float("nan"), 0.01), "learning_rate"),
        (lambda: osd.sgd_hd(0.1, -0.01), "hyper_lr"),
        (lambda: osd.sgd_hd(0.1, jnp.array([0.1, 0.2])), "hyper_lr"),
        (lambda: osd.sgd_hd(jnp.array([0.1, 0.2]), 0.01), "learning_rate"),
        (lambda: osd.adam_hd(0.1, 0.01, lr_range=(-1.0, 1.0)), "lr_range"),
        (lambda: osd.adam_hd(0.1, 0.01, lr_range=(1.0, 0.5)), "lr_range"),
        (lambda: osd.sgd_hd(0.1, 0.01, lr_range=0.5), "lr_range"),
    ],
)
def test_hypergradient_bad_input(build, match):
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"tune": ["peak_value"]}, r"tune names \['peak_value'\].*schedule\.init_value"),
        ({"tune": []}, "tune must name"),
        ({"tune": ["init_value"]}, "must start > 0"),
        ({"tune": ["warmup_steps"], "bounds": {"warmup_steps": (0.0, 4.0)}}, r"bounds\['warmup_steps'\]"),
        ({"tune": ["warmup_steps"], "bounds": {"schedule.init_value": (0.1, 1.0)}}, "bounds names"),
        ({"tune": ["warmup_steps"], "meta_steps": 0}, "meta_steps"),
        ({"tune": ["warmup_steps"], "horizon": 0}, "horizon"),
        ({"tune": ["warmup_steps"], "horizon": 13}, "horizon=13"),
    ],
)
def test_meta_tune_bad_input(kwargs, match):
    train_step, batches, val_loss, w0 = _regression(jnp.float32)
    horizon = kwargs.pop("horizon", 12)
    with pytest.raises(ValueError, match=match):
        start = osd.warmup(osd.cosine(0.01, 12), 3)
        osd.meta_tune(train_step, start, w0, batches, horizon, val_loss, **kwargs)


# ---------------------------------------------------------------------------------------------
# the README subsection runs


def test_readme_subsection_runs():
    section = README.read_text().split("\n### Hypergradients and meta-gradients of a schedule\n", 1)[1]
    section = re.split(r"\n#{2,3} ", section, maxsplit=1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "the README subsection has no python block"
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - the README's own examples
    assert namespace["tuned"].losses[-1] < namespace["tuned"].losses[0]
