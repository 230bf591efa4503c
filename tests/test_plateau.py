"""Specification of reduce-on-plateau: PyTorch ReduceLROnPlateau semantics
(driven against the real torch scheduler on random metric sequences; a value
given to update t lowers the rate from update t + 1, as scheduler.step(loss)
after optimizer.step()), every
hyperparameter traced and vmappable, correct for negative losses, composable
with a warmup, and sharing the machinery of every schedule (checked mode, configs,
sweeps)."""

import itertools
import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from jax import enable_x64

import optasched as osd

NUM_SEQUENCES = 64
LENGTH = 60
INITIAL_LR = 0.1


def torch_learning_rates(metrics, **kwargs):
    """The learning rate after each ``scheduler.step(metric)``."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=INITIAL_LR)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **kwargs)
    learning_rates = []
    for metric in metrics:
        scheduler.step(float(metric))
        learning_rates.append(optimizer.param_groups[0]["lr"])
    return np.asarray(learning_rates)


def torch_learning_rates_used(metrics, **kwargs):
    """The learning rate of each epoch when ``scheduler.step(metric)`` ends it (the first is the initial)."""
    return np.concatenate([[INITIAL_LR], torch_learning_rates(metrics, **kwargs)[:-1]])


def run_plateau(plateau, metrics):
    """The value each update uses when it receives ``value=metric`` (one scan; vmappable over both
    arguments): a reduction the metric triggers takes effect from the next update."""

    def step(state, inputs):
        t, metric = inputs
        state = plateau.update_state(state, t, value=metric)
        return state, plateau.evaluate(state, t)

    _, values = jax.lax.scan(step, plateau.init_state(metrics.dtype), (jnp.arange(metrics.shape[0]), metrics))
    return values


run_sweep = jax.jit(jax.vmap(run_plateau))


def random_case(rng):
    """A plateau-prone metric sequence (a random walk with many flat stretches) and a config."""
    increments = rng.choice([0.0, 0.0, 0.0, -1.0, 1.0], size=LENGTH) * rng.choice(
        [1e-5, 1e-3, 0.1], size=LENGTH
    )
    metrics = rng.uniform(0.5, 2.0) + np.cumsum(increments)
    config = dict(
        mode=str(rng.choice(["min", "max"])),
        threshold_mode=str(rng.choice(["rel", "abs"])),
        factor=float(rng.choice([0.1, 0.5, 0.9])),
        patience=int(rng.integers(0, 5)),
        threshold=float(rng.choice([1e-4, 1e-3, 1e-2])),
        cooldown=int(rng.integers(0, 4)),
        min_lr=float(rng.choice([0.0, 1e-3, 0.02])),
        eps=float(rng.choice([1e-8, 1e-3])),
    )
    return metrics, config


def ours(config):
    config = dict(config)
    return osd.plateau(INITIAL_LR, min_value=config.pop("min_lr"), **config)


def test_equivalent_to_torch_reduce_lr_on_plateau_on_random_sequences():
    rng = np.random.default_rng(0)
    cases = [random_case(rng) for _ in range(NUM_SEQUENCES)]
    reductions = 0
    with enable_x64():
        for mode, threshold_mode in itertools.product(["min", "max"], ["rel", "abs"]):
            group = [(m, c) for m, c in cases if c["mode"] == mode and c["threshold_mode"] == threshold_mode]
            assert group
            # one compiled program for the whole group: every numeric hyperparameter is a traced leaf
            stacked = osd.stack([ours(config) for _, config in group])
            got = np.asarray(run_sweep(stacked, jnp.asarray(np.stack([m for m, _ in group]))))
            for i, (metrics, config) in enumerate(group):
                expected = torch_learning_rates_used(metrics, **config)
                # rtol: torch multiplies the learning rate, we the scale of the base value (float64)
                np.testing.assert_allclose(got[i], expected, rtol=1e-12, err_msg=str(config))
                reductions += int(np.sum(np.diff(torch_learning_rates(metrics, **config)) != 0))
    assert reductions > 100  # the sequences do exercise the reductions


def test_through_inject_the_logged_learning_rate_is_torchs():
    # dyadic metrics and an absolute threshold: exact in float32 and in Python floats
    rng = np.random.default_rng(1)
    metrics = 4.0 + np.cumsum(rng.choice([0.0, 0.0, -0.25, 0.125], size=40))
    expected = torch_learning_rates_used(
        metrics, patience=2, factor=0.5, threshold=1 / 16, threshold_mode="abs", cooldown=1
    )
    opt = osd.inject(optax.sgd)(
        learning_rate=osd.plateau(
            INITIAL_LR, patience=2, factor=0.5, threshold=1 / 16, threshold_mode="abs", cooldown=1
        ),
        momentum=0.9,
    )
    params = jnp.zeros(3)

    def step(state, metric):
        updates, state = opt.update(jnp.ones(3), state, params, value=metric)
        return state, (osd.hyperparams(state)["learning_rate"], updates)

    _, (learning_rates, _) = jax.jit(lambda m: jax.lax.scan(step, opt.init(params), m))(
        jnp.asarray(metrics, jnp.float32)
    )
    np.testing.assert_allclose(learning_rates, expected, rtol=1e-6)


def test_accumulation_averages_each_window_like_one_torch_step_per_epoch():
    rng = np.random.default_rng(2)
    metrics = 1.0 + np.cumsum(rng.choice([0.0, 0.0, -0.25, 0.5], size=48))
    size = 4
    per_epoch = torch_learning_rates(
        metrics.reshape(-1, size).mean(axis=1), patience=1, factor=0.5, threshold=0.01
    )
    with enable_x64():
        got = np.asarray(
            run_plateau(
                osd.plateau(INITIAL_LR, patience=1, factor=0.5, threshold=0.01, accumulation_size=size),
                jnp.asarray(metrics),
            )
        )
    # the epoch's mean is complete with its last update's value; the next epoch uses the new rate
    expected = np.concatenate([[INITIAL_LR] * size, np.repeat(per_epoch, size)])[: len(metrics)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("mode", ["min", "max"])
def test_a_constant_negative_metric_plateaus(mode):
    metrics = np.full(20, -1.0)
    # PyTorch's relative margin best * (1 - threshold) has the wrong sign for a negative best,
    # so a constant negative loss "improves" forever and never reduces (also optax.contrib's).
    assert np.all(torch_learning_rates(metrics, mode=mode, patience=2) == INITIAL_LR)
    got = np.asarray(
        jax.jit(run_plateau)(
            osd.plateau(INITIAL_LR, patience=2, mode=mode), jnp.asarray(metrics, jnp.float32)
        )
    )
    np.testing.assert_allclose(got[:4], INITIAL_LR)
    np.testing.assert_allclose(got[4], INITIAL_LR * 0.1, rtol=1e-6)  # 3 bad steps > patience 2, then used
    assert got[-1] < INITIAL_LR * 1e-3
    # the same for the update-scaling transformation, where optax.contrib's never reduces
    theirs = optax.contrib.reduce_on_plateau(patience=2)
    scale = osd.reduce_on_plateau(patience=2, mode=mode)
    params = jnp.zeros(1)

    def run(opt):
        def step(state, metric):
            return opt.update(params, state, params, value=metric)[1], None

        return jax.lax.scan(step, opt.init(params), jnp.asarray(metrics, jnp.float32))[0]

    their_state, our_state = jax.jit(lambda: (run(theirs), run(scale)))()
    assert float(their_state.scale) == 1.0
    assert float(osd.hyperparams(our_state)["plateau_scale"]) < 1e-3


def test_reduce_on_plateau_scales_the_updates():
    opt = optax.chain(optax.sgd(1.0), osd.reduce_on_plateau(factor=0.5, patience=0, min_scale=0.2))
    params = jnp.zeros(2)
    state = opt.init(params)
    scales = []
    for loss in [3.0, 2.0, 2.0, 2.0, 2.0, 1.0]:
        updates, state = opt.update(jnp.ones(2), state, params, value=loss)
        scales.append(-float(updates[0]))
    # the 3rd, 4th and 5th losses are bad (patience 0): each lowers the scale from the next update
    np.testing.assert_allclose(scales, [1.0, 1.0, 1.0, 0.5, 0.25, 0.2], rtol=1e-6)
    assert float(osd.hyperparams(state)["plateau_scale"]) == pytest.approx(0.2)


def test_warmup_then_plateau():
    warmup_steps = 10
    schedule = osd.plateau(
        osd.warmup(osd.constant(0.1), warmup_steps), factor=0.5, patience=2, begin_step=warmup_steps
    )
    losses = jnp.concatenate([jnp.linspace(5.0, 1.0, warmup_steps), jnp.full(10, 1.0)])
    got = np.asarray(jax.jit(run_plateau)(schedule, losses))
    np.testing.assert_allclose(
        got[:warmup_steps], osd.warmup(osd.constant(0.1), warmup_steps)(np.arange(warmup_steps)), rtol=1e-6
    )
    # steps before begin_step are not judged: step 10 sets the best, 11..13 are bad, 13 reduces,
    # and update 14 is the first to use the reduced rate
    np.testing.assert_allclose(got[warmup_steps : warmup_steps + 4], 0.1, rtol=1e-6)
    np.testing.assert_allclose(got[warmup_steps + 4], 0.05, rtol=1e-6)


def test_sweep_over_plateau_hyperparameters_in_inject():
    patience = jnp.array([0, 1, 3])
    factor = jnp.array([0.5, 0.2, 0.1])
    opt = osd.inject(optax.sgd)(learning_rate=osd.plateau(INITIAL_LR, patience=patience, factor=factor))
    params = jnp.zeros(2)
    states = opt.init(params)
    assert states.count.shape == (3,)
    update = jax.jit(jax.vmap(lambda s, v: opt.update(jnp.ones(2), s, params, value=v), in_axes=(0, None)))
    for loss in [1.0] * 6:
        _, states = update(states, loss)
    swept = osd.hyperparams(states)["learning_rate"]
    for i in range(3):
        alone = osd.inject(optax.sgd)(
            learning_rate=osd.plateau(INITIAL_LR, patience=int(patience[i]), factor=float(factor[i]))
        )
        state = alone.init(params)
        for loss in [1.0] * 6:
            _, state = alone.update(jnp.ones(2), state, params, value=loss)
        np.testing.assert_allclose(swept[i], osd.hyperparams(state)["learning_rate"], rtol=1e-6)
    assert len(set(np.asarray(swept).tolist())) == 3


def test_bad_plateau_arguments_raise():
    with pytest.raises(ValueError, match=r"plateau: factor must be in \[0, 1\), got 1.0"):
        osd.plateau(0.1, factor=1.0)
    with pytest.raises(ValueError, match="plateau: patience must be >= 0, got -1"):
        osd.plateau(0.1, patience=-1)
    with pytest.raises(ValueError, match=r"plateau: mode must be one of \('min', 'max'\), got 'avg'"):
        osd.plateau(0.1, mode="avg")
    with pytest.raises(ValueError, match="plateau: threshold_mode must be one of"):
        osd.reduce_on_plateau(threshold_mode="relative")
    with pytest.raises(ValueError, match=r"plateau: accumulation_size must be >= 1, got 0"):
        osd.plateau(0.1, accumulation_size=0)
    with pytest.raises(ValueError, match=r"plateau: cooldown must be >= 0, got -2 \(sweep member 1\)"):
        osd.plateau(0.1, cooldown=jnp.array([0, -2]))
    with pytest.raises(ValueError, match="plateau: schedule must be a schedule or a number"):
        osd.plateau("0.1")
    opt = osd.inject(optax.sgd)(learning_rate=osd.plateau(0.1))
    with pytest.raises(ValueError, match=r"plateau: value must be a scalar, got shape \(2,\)"):
        opt.update(jnp.ones(1), opt.init(jnp.zeros(1)), jnp.zeros(1), value=jnp.ones(2))


# -- a stateful schedule shares the machinery of the others ----------------------------------------


def test_checked_mode_sees_a_traced_plateau_factor():
    checked = osd.checked(jax.jit(lambda plateau: plateau.factor * 1.0))
    with pytest.raises(ValueError, match=r"plateau at argument 0: factor must be in \[0, 1\), got 2.0"):
        checked(_plateau_with_factor(2.0))
    assert float(checked(_plateau_with_factor(0.5))) == 0.5


def _plateau_with_factor(factor):
    """A plateau whose factor was set by editing its leaves (as a traced sweep would), unvalidated."""
    plateau = osd.plateau(osd.cosine(0.1, 10))
    leaves, treedef = jax.tree.flatten(plateau)
    names = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(plateau)]
    leaves[names.index(".factor")] = jnp.float32(factor)
    return jax.tree.unflatten(treedef, leaves)


def test_plateau_round_trips_through_a_config_and_sweeps():
    plateau = osd.plateau(osd.warmup(osd.constant(1e-3), 10), factor=0.5, patience=3, accumulation_size=5)
    config = osd.to_config(plateau)
    assert config["family"] == "plateau" and config["factor"] == 0.5 and config["patience"] == 3
    rebuilt = osd.from_config(json.loads(json.dumps(config)))
    chex.assert_trees_all_equal(rebuilt, plateau)
    swept = osd.grid(plateau, patience=[1, 2, 5])
    assert swept.config.patience.tolist() == [1, 2, 5]
