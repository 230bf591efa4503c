"""Specification of reduce-on-plateau stepped per epoch, exactly as PyTorch's
``ReduceLROnPlateau.step(val_loss)`` at the end of each epoch: the learning rate
of every update equals torch's for that update's epoch, whichever way the value
arrives (``value=`` on every update with ``accumulation_size``, ``value=`` on an
epoch's last update only, or ``osd.plateau_step`` after the epoch); a reduction
takes effect from the first update that starts after the value.
Checked against the real torch scheduler on random metric sequences, jitted and
vmapped over configurations whose every hyperparameter (and ``mode``) differs,
one compiled program per recipe; the README's recipe runs as written."""

import pathlib
import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from jax import enable_x64

import optasched as osd

INITIAL_LR = 0.1
NUM_CONFIGS = 32
EPOCHS = 16
STEPS_PER_EPOCH = 3
UPDATES = EPOCHS * STEPS_PER_EPOCH

# inject's update reads every schedule from the state, so one template updates any stacked state
OPT = osd.inject(optax.sgd)(learning_rate=osd.plateau(INITIAL_LR))


def torch_step_rates(metrics, **kwargs):
    """``[initial lr, lr after scheduler.step(metrics[0]), after metrics[1], ...]``."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=INITIAL_LR)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **kwargs)
    rates = [INITIAL_LR]
    for metric in metrics:
        scheduler.step(float(metric))
        rates.append(optimizer.param_groups[0]["lr"])
    return np.asarray(rates)


def window_means(values, size):
    """Each complete window's mean, summed left to right as the plateau sums (bit-equal in float64)."""
    starts = range(0, len(values) - size + 1, size)
    return [sum(float(v) for v in values[i : i + size]) / size for i in starts]


def random_walk(rng, length):
    """A plateau-prone metric sequence: a random walk with many flat stretches."""
    signs = rng.choice([0.0, 0.0, 0.0, -1.0, 1.0], size=length)
    increments = signs * rng.choice([1e-5, 1e-3, 0.1], size=length)
    return rng.uniform(0.5, 2.0) + np.cumsum(increments)


def random_config(rng, accumulation_sizes):
    return dict(
        mode=str(rng.choice(["min", "max"])),
        threshold_mode=str(rng.choice(["rel", "abs"])),
        factor=float(rng.choice([0.1, 0.5, 0.9])),
        patience=int(rng.integers(0, 4)),
        threshold=float(rng.choice([1e-4, 1e-3, 1e-2])),
        cooldown=int(rng.integers(0, 3)),
        min_lr=float(rng.choice([0.0, 1e-3, 0.02])),
        eps=float(rng.choice([1e-8, 1e-3])),
        accumulation_size=int(rng.choice(accumulation_sizes)),
    )


def plateau_of(config):
    config = dict(config)
    return osd.plateau(INITIAL_LR, min_value=config.pop("min_lr"), **config)


def torch_kwargs(config):
    return {k: v for k, v in config.items() if k != "accumulation_size"}


def initial_states(configs):
    """One inject state per configuration (a switch over mode x threshold_mode: one structure)."""
    return osd.inject(optax.sgd)(learning_rate=osd.stack([plateau_of(c) for c in configs])).init(
        jnp.zeros(1, jnp.float64)
    )


def update(state, **value):
    params = jnp.zeros(1, state.applied["learning_rate"].dtype)
    return OPT.update(jnp.ones_like(params), state, params, **value)[1]


def learning_rate(state):
    return osd.hyperparams(state)["learning_rate"]


def plain_updates(state, length):
    """``length`` updates without a value: the plateau is untouched."""

    def step(state, _):
        state = update(state)
        return state, learning_rate(state)

    return jax.lax.scan(step, state, None, length=length)


@jax.jit
@jax.vmap
def value_on_every_update(state, values):
    def step(state, value):
        state = update(state, value=value)
        return state, learning_rate(state)

    return jax.lax.scan(step, state, values)


@jax.jit
@jax.vmap
def value_on_each_epochs_last_update(state, epoch_values):
    def epoch(state, value):
        state, rates = plain_updates(state, STEPS_PER_EPOCH - 1)
        state = update(state, value=value)
        return state, jnp.concatenate([rates, learning_rate(state)[None]])

    state, rates = jax.lax.scan(epoch, state, epoch_values)
    return state, rates.reshape(-1)


@jax.jit
@jax.vmap
def plateau_step_after_each_epoch(state, epoch_values):
    def epoch(state, value):
        state, rates = plain_updates(state, STEPS_PER_EPOCH)
        return osd.plateau_step(state, value), rates

    state, rates = jax.lax.scan(epoch, state, epoch_values)
    return state, rates.reshape(-1)


def test_the_users_example_reduces_from_the_next_epoch_as_torch():
    # issue 23: osd.plateau(0.1, factor=0.5, patience=1, accumulation_size=3), values [1.]*3 + [.5]*9
    opt = osd.inject(optax.sgd)(learning_rate=osd.plateau(0.1, factor=0.5, patience=1, accumulation_size=3))
    params = jnp.zeros(2)
    state = opt.init(params)
    rates = []
    for value in [1.0] * 3 + [0.5] * 9 + [0.5]:  # the 13th update is the first of epoch 4 (from 0)
        _, state = opt.update(jnp.ones(2), state, params, value=value)
        rates.append(float(osd.hyperparams(state)["learning_rate"]))
    torch_rates = torch_step_rates([1.0, 0.5, 0.5, 0.5], factor=0.5, patience=1)
    np.testing.assert_allclose(torch_rates, [0.1, 0.1, 0.1, 0.1, 0.05])  # lowered after epoch 3
    expected = np.repeat(torch_rates, 3)[:13]  # each epoch's updates use the rate torch's epoch uses
    np.testing.assert_allclose(rates, expected, rtol=1e-6)
    assert rates[11] == pytest.approx(0.1) and rates[12] == pytest.approx(0.05)


def test_value_on_every_update_with_accumulation_is_torch_stepped_per_epoch():
    # torch: one scheduler.step per epoch of `accumulation_size` updates, fed the epoch's mean value
    rng = np.random.default_rng(10)
    configs = [random_config(rng, [1, 2, 3, 4]) for _ in range(NUM_CONFIGS)]
    values = np.stack([random_walk(rng, UPDATES) for _ in configs])
    with enable_x64():
        _, got = value_on_every_update(initial_states(configs), jnp.asarray(values))
    reductions = 0
    for config, member_values, member_rates in zip(configs, values, np.asarray(got)):
        size = config["accumulation_size"]
        torch_rates = torch_step_rates(window_means(member_values, size), **torch_kwargs(config))
        expected = torch_rates[np.arange(UPDATES) // size]
        # rtol: torch multiplies the learning rate, we the scale of the base value (float64 rounding)
        np.testing.assert_allclose(member_rates, expected, rtol=1e-12, err_msg=str(config))
        reductions += int(np.sum(np.diff(torch_rates) != 0))
    assert reductions > 20  # the sequences do exercise the reductions
    assert {c["mode"] for c in configs} == {"min", "max"}
    assert {c["accumulation_size"] for c in configs} == {1, 2, 3, 4}


def test_one_value_per_epoch_is_torch_whether_given_to_the_last_update_or_to_plateau_step():
    rng = np.random.default_rng(11)
    configs = [random_config(rng, [1, 2]) for _ in range(NUM_CONFIGS)]
    epoch_values = np.stack([random_walk(rng, EPOCHS) for _ in configs])
    with enable_x64():
        states = initial_states(configs)
        values = jnp.asarray(epoch_values)
        last_update_state, last_update_rates = value_on_each_epochs_last_update(states, values)
        stepped_state, stepped_rates = plateau_step_after_each_epoch(states, values)
    # plateau_step after an epoch counts as the value given to its last update: the same state, bit for bit
    chex.assert_trees_all_equal(stepped_state, last_update_state)
    np.testing.assert_array_equal(stepped_rates, last_update_rates)
    reductions = 0
    epoch_of_update = np.arange(UPDATES) // STEPS_PER_EPOCH
    for config, values, rates in zip(configs, epoch_values, np.asarray(stepped_rates)):
        size = config["accumulation_size"]  # > 1: torch steps once per `size` epochs on their mean
        torch_rates = torch_step_rates(window_means(values, size), **torch_kwargs(config))
        expected = torch_rates[epoch_of_update // size]
        np.testing.assert_allclose(rates, expected, rtol=1e-12, err_msg=str(config))
        reductions += int(np.sum(np.diff(torch_rates) != 0))
    assert reductions > 20


def test_updates_without_a_value_leave_the_plateau_untouched():
    opt = osd.inject(optax.sgd)(learning_rate=osd.plateau(0.1, patience=0, accumulation_size=2))
    params = jnp.zeros(1)
    state = opt.init(params)
    _, state = opt.update(jnp.ones(1), state, params, value=1.0)
    before = state.schedule_states["learning_rate"]
    for _ in range(3):
        _, state = opt.update(jnp.ones(1), state, params)
    chex.assert_trees_all_equal(state.schedule_states["learning_rate"], before)
    assert int(before.accumulated_count) == 1  # the window waits for its second value


def test_plateau_step_is_jitted_once_and_steps_reduce_on_plateau_in_a_chain():
    opt = optax.chain(optax.sgd(1.0), osd.reduce_on_plateau(factor=0.5, patience=0))
    params = jnp.zeros(2)
    state = opt.init(params)
    step_epoch = jax.jit(chex.assert_max_traces(osd.plateau_step, n=1))
    scales = []
    for val_loss in [3.0, 2.0, 2.0, 2.5, 1.0]:
        for _ in range(2):  # an epoch of two updates
            updates, state = opt.update(jnp.ones(2), state, params)
            scales.append(-float(updates[0]))
        state = step_epoch(state, jnp.float32(val_loss))
    # the 3rd and 4th epochs' losses are bad (patience 0): each halves the scale from the next epoch
    np.testing.assert_allclose(scales, np.repeat([1.0, 1.0, 1.0, 0.5, 0.25], 2), rtol=1e-6)
    assert float(osd.hyperparams(state)["plateau_scale"]) == pytest.approx(0.25)  # the last update's


def test_plateau_step_on_a_sweep_state_train_state_and_nnx_optimizer():
    params = jnp.zeros(2)
    members = osd.stack([osd.plateau(0.1, factor=f, patience=0) for f in (0.5, 0.2)])
    opt = osd.inject(optax.sgd)(learning_rate=members)
    states = opt.init(params)
    states = osd.plateau_step(osd.plateau_step(states, 1.0), jnp.array([2.0, 0.5]))  # per member
    _, states = jax.vmap(opt.update, in_axes=(None, 0, None))(jnp.ones(2), states, params)
    np.testing.assert_allclose(osd.hyperparams(states)["learning_rate"], [0.05, 0.1], rtol=1e-6)

    multi = optax.MultiSteps(osd.inject(optax.sgd)(learning_rate=osd.plateau(0.1, factor=0.5, patience=0)), 2)
    multi_state = osd.plateau_step(osd.plateau_step(multi.init(params), 1.0), 2.0)
    assert float(multi_state.inner_opt_state.schedule_states["learning_rate"].scale) == pytest.approx(0.5)

    from flax import nnx
    from flax.training import train_state

    ts = train_state.TrainState.create(apply_fn=None, params={"w": params}, tx=osd.inject(optax.sgd)(
        learning_rate=osd.plateau(0.1, factor=0.5, patience=0)))  # fmt: skip
    ts = osd.plateau_step(osd.plateau_step(ts, 1.0), 2.0)
    ts = ts.apply_gradients(grads={"w": jnp.ones(2)})
    assert float(osd.hyperparams(ts)["learning_rate"]) == pytest.approx(0.05)

    model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, osd.inject(optax.adamw)(
        learning_rate=osd.plateau(0.1, factor=0.5, patience=0)), wrt=nnx.Param)  # fmt: skip
    count = optimizer.opt_state.count
    for val_loss in [1.0, 2.0]:
        assert osd.plateau_step(optimizer, val_loss) is optimizer  # in place, its variables kept
    assert optimizer.opt_state.count is count
    grads = nnx.grad(lambda m: jnp.sum(m(jnp.ones((1, 2))) ** 2))(model)
    optimizer.update(model, grads)
    assert float(osd.hyperparams(optimizer)["learning_rate"]) == pytest.approx(0.05)


def test_plateau_step_errors_name_what_is_wrong():
    params = jnp.zeros(1)
    with pytest.raises(ValueError, match="plateau_step: found no optasched.inject state"):
        osd.plateau_step(optax.adam(1e-3).init(params), 1.0)
    with pytest.raises(ValueError, match=r"plateau_step: the state holds no plateau .*\['learning_rate'\]"):
        osd.plateau_step(osd.inject(optax.sgd)(learning_rate=osd.cosine(0.1, 10)).init(params), 1.0)
    state = osd.inject(optax.sgd)(learning_rate=osd.plateau(0.1)).init(params)
    with pytest.raises(ValueError, match=r"plateau_step: value must be a scalar, got shape \(2,\)"):
        osd.plateau_step(state, jnp.ones(2))
    sweep = osd.inject(optax.sgd)(learning_rate=osd.stack([osd.plateau(0.1)] * 2)).init(params)
    with pytest.raises(ValueError, match=r"a scalar or one value per sweep member, shape \(2,\)"):
        osd.plateau_step(sweep, jnp.ones(3))


# -- the README's recipe, run as written -------------------------------------------------------------

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def readme_section_blocks(title):
    section = re.split(r"\n#{2,3} ", README.read_text().split(f"\n### {title}\n", 1)[1], maxsplit=1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_readmes_per_epoch_recipe_runs_and_reduces_from_the_next_epoch_as_torch():
    (block,) = readme_section_blocks("Reduce on plateau")
    namespace = {"__name__": "readme_example"}
    exec(compile(block, "README.md, Reduce on plateau", "exec"), namespace)
    rates = np.asarray(namespace["rates"])  # the rate of each update, one row per epoch
    assert rates.shape == (12, namespace["steps_per_epoch"])
    assert np.all(rates == rates[:, :1])  # constant within an epoch: the plateau steps between epochs
    torch_rates = torch_step_rates(namespace["val_losses"], factor=0.5, patience=1)[: len(rates)]
    np.testing.assert_allclose(rates[:, 0], torch_rates, rtol=1e-6)  # float32 rates
    assert len(set(torch_rates.tolist())) == 3  # it does reduce, twice
