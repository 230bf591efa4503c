"""Per-sample weightings (issue 18): every family under vmap over its hyperparameters
equals a loop of single members; replace / grid / sample / the config round trip
agree with fresh constructions; checked mode and bad input name the argument;
small-loss keeps exactly the declared fraction; Co-teaching stacked equals two
networks exchanging selections; weightings train with SGD and Adam inside
osd.sweep; with SGD a weight is a per-sample learning rate."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optasched as osd

ROOT = Path(__file__).resolve().parent.parent
BATCH, CLASSES = 12, 4
LOGITS = jax.random.normal(jax.random.key(0), (BATCH, CLASSES)) * 2.0
LABELS = jnp.arange(BATCH) % CLASSES
MASK = jnp.arange(BATCH) < 10  # the last two are padding
PAIR = jnp.stack([LOGITS, jax.random.normal(jax.random.key(1), (BATCH, CLASSES)) * 2.0])
RAMP = osd.linear(0.0, 0.4, 10)

# family -> (one member, its grid axes: every hyperparameter, one of them inside a schedule)
FAMILIES = {
    "uniform_weighting": (osd.uniform_weighting(), {}),
    "margin_weighting": (
        osd.margin_weighting(temperature=osd.linear(0.5, 2.0, 10)),
        {"temperature.end_value": [0.5, 3.0], "floor": [0.0, 0.3]},
    ),
    "small_loss": (osd.small_loss(RAMP), {"forget_rate.end_value": [0.0, 0.3, 0.6]}),
    "self_paced": (osd.self_paced(osd.linear(0.5, 3.0, 10)), {"threshold.init_value": [0.2, 1.0, 4.0]}),
    "gce": (osd.gce(), {"q": [0.3, 1.0], "truncation": [0.0, 0.2]}),
    "focal": (osd.focal(gamma=osd.cosine(2.0, 10)), {"gamma.init_value": [0.0, 1.0, 3.0]}),
    "co_teaching": (osd.co_teaching(RAMP), {"forget_rate.end_value": [0.2, 0.5]}),
}
# Every numeric argument of every constructor, with another legal value (for replace and the round trip).
OTHER_VALUES = {
    "margin_weighting": {"temperature": 0.25, "floor": 0.5},
    "small_loss": {"forget_rate": 0.5},
    "self_paced": {"threshold": 0.7},
    "gce": {"q": 0.5, "truncation": 0.1},
    "focal": {"gamma": 0.5},
    "co_teaching": {"forget_rate": 0.25},
}


def logits_for(weighting):
    return PAIR if weighting.family == "co_teaching" else LOGITS


@jax.jit
def _evaluate(weighting, logits, step):
    """One member's loss, weights and loss gradient in the logits (compiled once per structure)."""
    loss, grad = jax.value_and_grad(lambda z: weighting.loss(z, LABELS, step, MASK))(logits)
    return loss, weighting.weights(logits, LABELS, step, MASK), grad


@jax.jit
def _evaluate_sweep(weightings, logits, step):
    return jax.vmap(lambda w: _evaluate(w, logits, step))(weightings)


def test_the_families_are_the_public_constructors():
    for name, (weighting, _) in FAMILIES.items():
        assert weighting.family == name and type(weighting) is getattr(osd, name)
        assert isinstance(weighting, osd.Weighting)
    assert not isinstance(osd.small_loss(0.1), osd.Schedule)  # a sibling, not a schedule of the step
    assert "small_loss" not in osd.schedules.families() and "small_loss" in osd.schedules.declared_families()


@pytest.mark.parametrize("name", [n for n, (_, axes) in FAMILIES.items() if axes])
def test_vmap_over_every_hyperparameter_equals_a_loop_of_single_members(name):
    weighting, axes = FAMILIES[name]
    batch = osd.grid(weighting, **axes)
    assert set(OTHER_VALUES[name]) == {a.split(".")[0] for a in axes}  # every hyperparameter swept
    logits = logits_for(weighting)
    for step in (0, 5, 20):
        swept = _evaluate_sweep(batch.config, logits, step)
        for i in range(len(batch)):
            single = _evaluate(batch.config[i], logits, step)
            for got, want in zip(swept, single):
                # The same float32 operations per member; vmap may reorder a reduction (1 ulp-ish).
                np.testing.assert_allclose(np.asarray(got[i]), np.asarray(want), rtol=1e-6, atol=1e-7)
    # A sweep applied directly (members' axes in front) agrees too.
    np.testing.assert_allclose(
        batch.config.loss(logits, LABELS, 5, MASK), _evaluate_sweep(batch.config, logits, 5)[0], rtol=1e-6
    )


def test_the_uniform_weighting_is_the_masked_mean_cross_entropy():
    w = osd.uniform_weighting()
    ce = optax.softmax_cross_entropy_with_integer_labels(LOGITS, LABELS)
    np.testing.assert_allclose(w.loss(LOGITS, LABELS, 0, MASK), ce[:10].mean(), rtol=1e-6)
    np.testing.assert_array_equal(w.weights(LOGITS, LABELS, 0, MASK), MASK.astype(np.float32))


def test_closed_forms_of_margin_gce_and_focal():
    logits = jnp.array([[2.0, 0.5, -1.0], [0.0, 1.0, 0.0]])
    labels = jnp.array([0, 0])
    p = np.asarray(jax.nn.softmax(logits))[[0, 1], [0, 0]]
    margins = np.array([1.5, -1.0])
    w = osd.margin_weighting(temperature=0.5, floor=0.2).weights(logits, labels, 0)
    np.testing.assert_allclose(w, 0.2 + 0.8 / (1 + np.exp(-margins / 0.5)), rtol=1e-6)
    np.testing.assert_allclose(osd.gce(q=0.7).loss(logits, labels, 0), np.mean((1 - p**0.7) / 0.7), rtol=1e-6)
    truncated = np.maximum(p, 0.3)
    np.testing.assert_allclose(
        osd.gce(q=0.7, truncation=0.3).loss(logits, labels, 0), np.mean((1 - truncated**0.7) / 0.7), rtol=1e-6
    )
    np.testing.assert_allclose(
        osd.focal(gamma=2.0).loss(logits, labels, 0), np.mean(-((1 - p) ** 2) * np.log(p)), rtol=1e-6
    )
    np.testing.assert_allclose(osd.focal(gamma=2.0).weights(logits, labels, 0), (1 - p) ** 2, rtol=1e-5)


def test_gce_gradient_is_its_weights_times_the_cross_entropy_gradient_and_focal_has_an_extra_term():
    ce_grad = jax.grad(lambda z: osd.uniform_weighting().loss(z, LABELS, 0, MASK))(LOGITS)
    per_example_ce_grad = jax.vmap(jax.grad(optax.softmax_cross_entropy_with_integer_labels))(LOGITS, LABELS)
    for gce in (osd.gce(q=0.7), osd.gce(q=0.7, truncation=0.2)):
        w = gce.weights(LOGITS, LABELS, 0, MASK)
        grad = jax.grad(lambda z: gce.loss(z, LABELS, 0, MASK))(LOGITS)
        np.testing.assert_allclose(grad, w[:, None] * per_example_ce_grad / 10, rtol=1e-5, atol=1e-7)
    focal = osd.focal(gamma=2.0)
    w = focal.weights(LOGITS, LABELS, 0, MASK)
    grad = jax.grad(lambda z: focal.loss(z, LABELS, 0, MASK))(LOGITS)
    assert not np.allclose(grad, w[:, None] * per_example_ce_grad / 10, atol=1e-4)  # the extra term
    grad0 = jax.grad(lambda z: osd.focal(gamma=0.0).loss(z, LABELS, 0, MASK))(LOGITS)
    np.testing.assert_allclose(grad0, ce_grad, rtol=1e-5, atol=1e-7)  # gamma 0 is the cross-entropy


# -- replace / grid / sample / the config round trip ----------------------------------------------


def _cases():
    for name, values in OTHER_VALUES.items():
        for argument, other in values.items():
            yield name, argument, other


@pytest.mark.parametrize("name,argument,other", list(_cases()))
def test_replace_grid_sample_and_config_equal_a_fresh_construction(name, argument, other):
    weighting = FAMILIES[name][0]
    fresh = type(weighting)(**{**{a: getattr(weighting, a) for a in weighting.fields}, argument: other})
    logits = logits_for(weighting)
    expected = [np.asarray(x) for x in _evaluate(fresh, logits, 7)]

    def same(candidate):
        for got, want in zip(_evaluate(candidate, logits, 7), expected):
            np.testing.assert_array_equal(np.asarray(got), want)

    replaced = weighting.replace(**{argument: other})
    same(replaced)
    assert repr(replaced) == repr(fresh)
    batch = osd.grid(weighting, **{argument: [other, other]})
    assert batch.labels[0] == f"{argument}={other:.4g}"
    same(batch.config[1])
    same(osd.sample(weighting, jax.random.key(0), 2, **{argument: osd.choice([other])}).config[0])
    config = json.loads(json.dumps(osd.to_config(replaced)))
    assert config["family"] == name
    rebuilt = osd.from_config(config)
    assert type(rebuilt) is type(weighting) and repr(rebuilt) == repr(fresh)
    same(rebuilt)


def test_a_config_takes_numbers_for_hyperparameters_and_defaults_for_the_rest():
    w = osd.from_config({"family": "gce", "q": 0.5})
    assert repr(w) == repr(osd.gce(q=0.5, truncation=0.0))
    ramp_config = {"family": "linear", "init_value": 0.0, "end_value": 0.4, "transition_steps": 10}
    ramp = osd.from_config({"family": "small_loss", "forget_rate": ramp_config})
    assert repr(ramp) == repr(osd.small_loss(RAMP))


def test_no_retrace_for_new_values_and_a_traced_step():
    traces = []

    @jax.jit
    def loss(weighting, step):
        traces.append(1)
        return weighting.loss(LOGITS, LABELS, step, MASK)

    for rate in (0.0, 0.25, 0.5):
        for step in (0, 3):
            loss(osd.small_loss(rate), jnp.asarray(step))
    assert len(traces) == 1


# -- checked mode and bad input ----------------------------------------------------------------------


def test_checked_mode_catches_a_bad_traced_value():
    built_inside = osd.checked(jax.jit(lambda rate: osd.small_loss(rate).loss(LOGITS, LABELS, 0)))
    assert np.isfinite(built_inside(0.5))
    inside = r"small_loss built inside the checked function: forget_rate must be < 1"
    with pytest.raises(ValueError, match=inside):
        built_inside(1.5)
    sweep = osd.stack([osd.margin_weighting(temperature=t) for t in (1.0, 2.0)])
    bad = jax.tree_util.tree_map_with_path(
        lambda path, x: x.at[1].set(-1.0) if "temperature" in jax.tree_util.keystr(path) else x, sweep
    )
    evaluate = osd.checked(jax.jit(lambda w: w.loss(LOGITS, LABELS, 0)))
    evaluate(sweep)
    named = r"margin_weighting at argument 0: temperature must be > 0, got -1.0 \(sweep member 1\)"
    with pytest.raises(ValueError, match=named):
        evaluate(bad)


def test_checked_mode_checks_a_schedule_valued_hyperparameter_at_the_step_it_is_applied():
    # from_function has no readable range: construction cannot check it, checked mode checks each value used.
    growing = osd.small_loss(osd.from_function(lambda t, p: p["rate"] * t, {"rate": 0.1}))
    evaluate = osd.checked(jax.jit(lambda w, step: w.loss(LOGITS, LABELS, step)))
    evaluate(growing, 5)
    at_step = "small_loss at the step it is applied: forget_rate must be < 1, got 1.2"
    with pytest.raises(ValueError, match=at_step):
        evaluate(growing, 12)


def test_checked_mode_refuses_an_empty_batch_for_a_quantile():
    for weighting in (osd.small_loss(0.2), osd.co_teaching(0.2)):
        logits = logits_for(weighting)
        evaluate = osd.checked(jax.jit(lambda w, mask, z=logits: w.loss(z, LABELS, 0, mask)))
        with pytest.raises(ValueError, match="mask excludes every example"):
            evaluate(weighting, jnp.zeros(BATCH, bool))
        # Unchecked, a traced empty batch keeps nothing: a finite zero loss.
        unchecked = jax.jit(lambda w, mask, z=logits: w.loss(z, LABELS, 0, mask))
        assert float(unchecked(weighting, jnp.zeros(BATCH, bool))) == 0


@pytest.mark.parametrize(
    "build,message",
    [
        (lambda: osd.margin_weighting(temperature=-1.0), "margin_weighting: temperature must be > 0, got -1"),
        (lambda: osd.margin_weighting(floor=1.5), "margin_weighting: floor must be <= 1, got 1.5"),
        (lambda: osd.margin_weighting(floor=-0.1), "margin_weighting: floor must be >= 0, got -0.1"),
        (lambda: osd.focal(gamma=-2.0), "focal: gamma must be >= 0, got -2.0"),
        (lambda: osd.gce(q=0.0), "gce: q must be > 0, got 0.0"),
        (lambda: osd.gce(q=1.5), "gce: q must be <= 1, got 1.5"),
        (lambda: osd.gce(truncation=1.0), "gce: truncation must be < 1, got 1.0"),
        (lambda: osd.small_loss(1.0), "small_loss: forget_rate must be < 1, got 1.0"),
        (lambda: osd.small_loss(-0.1), "small_loss: forget_rate must be >= 0, got -0.1"),
        (lambda: osd.co_teaching(1.2), "co_teaching: forget_rate must be < 1, got 1.2"),
        (lambda: osd.self_paced(-1.0), "self_paced: threshold must be >= 0, got -1.0"),
        (lambda: osd.small_loss(osd.linear(0.0, 1.2, 10)), r"forget_rate \(over its schedule's range\) must"),
        (lambda: osd.small_loss(jnp.array([0.1, 1.5])), r"forget_rate must be < 1, got 1.5 \(sweep member 1"),
        (lambda: osd.small_loss("0.2"), "small_loss: forget_rate must be a schedule or a number"),
        (lambda: osd.small_loss(0.2).replace(forget_rate=2.0), "forget_rate must be < 1, got 2.0"),
        (lambda: osd.from_config({"family": "focal", "gamma": -1}), "focal: gamma must be >= 0"),
    ],
)
def test_bad_hyperparameters_raise_naming_the_argument_and_value(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda w: w.loss(LOGITS[0], LABELS, 0), r"logits must be \[batch, classes\] floats"),
        (lambda w: w.loss(LOGITS[:, :1], LABELS, 0), "at least 2 classes"),
        (lambda w: w.loss(LABELS[:, None] * jnp.ones((1, 3), int), LABELS, 0), "logits must be"),
        (lambda w: w.loss(LOGITS, LABELS[:5], 0), r"labels must be \[batch\] = \(12,\) integers, got shape"),
        (lambda w: w.loss(LOGITS, LABELS.astype(float), 0), "labels must be"),
        (lambda w: w.loss(LOGITS, LABELS, jnp.arange(3)), "step must be a scalar"),
        (lambda w: w.loss(LOGITS, LABELS, 0, MASK[:4]), r"mask must be \[batch\]"),
        (lambda w: w.weights(LOGITS, LABELS, 0, MASK.astype(int)), r"mask must be \[batch\]"),
        (lambda w: w.loss(LOGITS, LABELS, 0, jnp.zeros(BATCH, bool)), "small_loss: mask excludes every"),
    ],
)
def test_bad_inputs_raise_naming_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call(osd.small_loss(0.2))


def test_co_teaching_takes_the_two_networks_logits_stacked():
    with pytest.raises(ValueError, match=r"co_teaching: logits must be \[2, batch, classes\]"):
        osd.co_teaching(0.2).loss(LOGITS, LABELS, 0)
    with pytest.raises(ValueError, match="stack the two networks"):
        osd.co_teaching(0.2).loss(jnp.stack([LOGITS] * 3), LABELS, 0)


def test_stacking_different_families_says_so():
    with pytest.raises(ValueError, match="gce weighting vs focal weighting"):
        osd.stack([osd.gce(), osd.focal()])


# -- small-loss selection keeps exactly the declared fraction ---------------------------------------


@jax.jit
def _kept(rate, logits, labels, mask):
    return osd.small_loss(rate).weights(logits, labels, 0, mask) > 0


@pytest.mark.parametrize("seed", range(4))
def test_small_loss_keeps_exactly_the_declared_fraction(seed):
    rng = np.random.default_rng(seed)
    for rate in (0.0, 0.1, 0.25, 0.4, 0.7, 0.95):
        logits = rng.normal(size=(16, 3)).astype(np.float32)
        logits[8:12] = logits[0]  # ties: equal rows with equal labels have equal losses
        labels = rng.integers(0, 3, 16)
        labels[8:12] = labels[0]
        mask = rng.random(16) < 0.8
        mask[0] = True
        kept = np.asarray(_kept(rate, logits, labels, mask))
        n = int(mask.sum())
        # The implementation's float32 arithmetic, then NumPy's rounding (halves to even).
        expected = int(np.round(np.float32(np.float32(1) - np.float32(rate)) * np.float32(n)))
        assert kept.sum() == expected, (rate, n)
        assert abs(expected - (1 - rate) * n) <= 0.5
        assert not (kept & ~mask).any()  # padding is never kept
        losses = np.asarray(osd.weightings.cross_entropy(jnp.asarray(logits), jnp.asarray(labels)))
        if kept.any() and (mask & ~kept).any():
            assert losses[kept].max() <= losses[mask & ~kept].min()  # the smallest ones
        tied_kept = kept[[0, 8, 9, 10, 11]][mask[[0, 8, 9, 10, 11]]]
        assert list(tied_kept) == sorted(tied_kept, reverse=True)  # ties broken by index


def test_small_loss_loss_is_the_mean_over_the_kept_and_its_weights_say_so():
    w = osd.small_loss(0.3)
    kept = np.asarray(w.weights(LOGITS, LABELS, 0, MASK)) > 0
    ce = np.asarray(osd.weightings.cross_entropy(LOGITS, LABELS))
    assert kept.sum() == 7  # round(0.7 * 10)
    np.testing.assert_allclose(w.loss(LOGITS, LABELS, 0, MASK), ce[kept].mean(), rtol=1e-6)
    np.testing.assert_allclose(w.weights(LOGITS, LABELS, 0, MASK)[kept], 10 / 7, rtol=1e-6)


def test_self_paced_keeps_the_examples_below_the_threshold_at_the_step():
    ce = np.asarray(osd.weightings.cross_entropy(LOGITS, LABELS))
    paced = osd.self_paced(osd.linear(0.5, 3.0, 10))
    for step, threshold in ((0, 0.5), (4, 1.5), (10, 3.0)):
        keep = (ce < threshold) & np.asarray(MASK)
        np.testing.assert_array_equal(paced.weights(LOGITS, LABELS, step, MASK), keep.astype(np.float32))
        np.testing.assert_allclose(paced.loss(LOGITS, LABELS, step, MASK), ce[keep].sum() / 10, rtol=1e-6)


# -- Co-teaching: stacked pair == two networks exchanging selections ----------------------------


def test_co_teaching_stacked_equals_two_networks_exchanging_selections():
    x = jax.random.normal(jax.random.key(2), (BATCH, 5))
    labels = jax.random.randint(jax.random.key(3), (BATCH,), 0, 3)
    init = jax.random.normal(jax.random.key(4), (2, 5, 3)) * 0.5  # two tiny linear models
    co, eta = osd.co_teaching(osd.linear(0.0, 0.5, 4)), 0.5
    apply = lambda w: x @ w  # noqa: E731

    @jax.jit
    def stacked_step(params, step):
        loss = lambda p: co.loss(jax.vmap(apply)(p), labels, step, MASK)  # noqa: E731
        return params - eta * jax.grad(loss)(params)

    def separate_step(params_a, params_b, step):
        # Each network ranks the batch by its own loss; the peer trains on its pick (by hand here).
        n = int(MASK.sum())
        k = int(np.round((1 - float(co.forget_rate(step))) * n))

        def pick(params):
            ce = np.asarray(optax.softmax_cross_entropy_with_integer_labels(apply(params), labels))
            order = np.argsort(np.where(MASK, ce, np.inf), kind="stable")
            return np.isin(np.arange(BATCH), order[:k])

        keep_for_a, keep_for_b = pick(params_b), pick(params_a)
        library_a, library_b = co.selections(apply(params_a), apply(params_b), labels, step, MASK)
        np.testing.assert_array_equal(library_a, keep_for_a)
        np.testing.assert_array_equal(library_b, keep_for_b)

        def own_loss(params, keep):
            ce = optax.softmax_cross_entropy_with_integer_labels(apply(params), labels)
            return jnp.sum(jnp.where(keep, ce, 0)) / keep.sum()

        loss_a, loss_b = co.loss_pair(apply(params_a), apply(params_b), labels, step, MASK)
        np.testing.assert_allclose(loss_a, own_loss(params_a, keep_for_a), rtol=1e-6)
        np.testing.assert_allclose(loss_b, own_loss(params_b, keep_for_b), rtol=1e-6)
        return (params_a - eta * jax.grad(own_loss)(params_a, keep_for_a),
                params_b - eta * jax.grad(own_loss)(params_b, keep_for_b))

    params, (params_a, params_b) = init, (init[0], init[1])
    for step in range(5):
        params = stacked_step(params, step)
        params_a, params_b = separate_step(params_a, params_b, step)
    # The same float32 arithmetic in another order (a stacked gradient vs two): a few ulps after 5 steps.
    np.testing.assert_allclose(params[0], params_a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(params[1], params_b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(params[0], init[0])


# -- training with optax inside osd.sweep -----------------------------------------------------------

X = jax.random.normal(jax.random.key(5), (32, 6))
Y = jnp.argmax(X[:, :3], axis=1)
NOISY = jnp.where(jnp.arange(32) % 5 == 0, (Y + 1) % 3, Y)  # 20% flipped labels


def _trainer(make_optimizer, traces):
    def train(config, key):
        traces.append(1)
        params = jax.random.normal(key, (6, 3)) * 0.1
        optimizer = make_optimizer(config["learning_rate"])
        state = optimizer.init(params)

        def step(carry, t):
            params, state = carry
            loss, grad = jax.value_and_grad(lambda p: config["weighting"].loss(X @ p, NOISY, t))(params)
            updates, state = optimizer.update(grad, state, params)
            return (optax.apply_updates(params, updates), state), loss

        (params, _), losses = jax.lax.scan(step, (params, state), jnp.arange(20))
        accuracy = jnp.mean(jnp.argmax(X @ params, axis=1) == Y)
        return {"first_loss": losses[0], "last_loss": losses[-1], "accuracy": accuracy}

    return train


@pytest.mark.parametrize("optimizer", [optax.sgd, optax.adam], ids=["sgd", "adam"])
def test_weightings_train_with_sgd_and_adam_inside_sweep_in_one_compile(optimizer):
    batch = osd.grid(
        lambda temperature, floor: {
            "weighting": osd.margin_weighting(temperature=temperature, floor=osd.linear(1.0, floor, 20)),
            "learning_rate": osd.cosine(0.5 if optimizer is optax.sgd else 0.05, 20),
        },
        temperature=[0.5, 2.0],
        floor=[0.1, 0.5],
    )
    traces: list = []
    result = osd.sweep(_trainer(optimizer, traces), batch, key=0, strategy="vmap")
    assert len(traces) == 1  # four members, one traced (and compiled) program
    metrics = result.metrics
    assert metrics["last_loss"].shape == (4,) and np.all(np.isfinite(metrics["last_loss"]))
    assert np.all(metrics["last_loss"] < metrics["first_loss"])
    # Each member equals training that configuration alone.
    alone = _trainer(optimizer, [])
    for i in (0, 3):
        single = jax.jit(alone)(jax.tree.map(lambda v: v[i], batch.config), jax.random.key(0))
        np.testing.assert_allclose(metrics["last_loss"][i], single["last_loss"], rtol=1e-5)


# -- a weight is a per-sample learning rate with plain SGD --------------------------------------------


@pytest.mark.parametrize(
    "weighting", [osd.margin_weighting(temperature=0.7, floor=0.2), osd.small_loss(0.3), osd.self_paced(1.5)],
    ids=lambda w: w.family,
)
def test_one_sgd_step_with_weights_is_the_sum_of_per_example_steps_at_eta_w_over_n(weighting):
    x = jax.random.normal(jax.random.key(6), (BATCH, 5))
    params = jax.random.normal(jax.random.key(7), (5, CLASSES))
    eta = 0.3
    optimizer = optax.sgd(eta)
    grad = jax.grad(lambda p: weighting.loss(x @ p, LABELS, 0, MASK))(params)
    updates, _ = optimizer.update(grad, optimizer.init(params), params)
    stepped = optax.apply_updates(params, updates)

    w = weighting.weights(x @ params, LABELS, 0, MASK)
    n = int(MASK.sum())
    per_example = jax.vmap(
        jax.grad(lambda p, xi, yi: optax.softmax_cross_entropy_with_integer_labels(xi @ p, yi)),
        in_axes=(None, 0, 0),
    )(params, x, LABELS)
    by_hand = params - jnp.sum((eta * w / n)[:, None, None] * per_example, axis=0)
    # float32 sums of 12 terms of size ~0.3: agreement to a few ulps of the parameters.
    np.testing.assert_allclose(stepped, by_hand, rtol=1e-5, atol=1e-6)


def test_adam_absorbs_a_global_scale_of_the_weights():
    x = jax.random.normal(jax.random.key(6), (BATCH, 5))
    params = jax.random.normal(jax.random.key(7), (5, CLASSES))
    optimizer = optax.adam(0.1, eps=1e-12)

    def step(scale):
        grad = jax.grad(lambda p: scale * osd.margin_weighting().loss(x @ p, LABELS, 0, MASK))(params)
        return optimizer.update(grad, optimizer.init(params), params)[0]

    np.testing.assert_allclose(step(1.0), step(10.0), rtol=1e-5)  # with SGD it would be ten times larger


# -- the README's example ------------------------------------------------------------------------


def readme_blocks():
    text = (ROOT / "README.md").read_text()
    if "## Per-sample weightings" not in text:
        return []
    section = text.split("## Per-sample weightings", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_readme_example_runs():
    blocks = readme_blocks()
    assert blocks, "README's Per-sample weightings section has no python block"
    namespace = {"__name__": "readme_weightings"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"README.md, Per-sample weightings block {i}", "exec"), namespace)  # noqa: S102
