"""Specification of hyperparameters synchronised with the learning rate.

Schedules of what lives outside the optimizer (a BatchNorm momentum, a dropout
rate, an augmentation strength, a temperature) are evaluated at the
optimizer's own count (``osd.schedule_values``): new values never retrace,
they resume with a checkpoint of the optimizer state and a sweep over them is
one program equal to separate runs. ``osd.dropout`` is Flax's dropout with a
traced rate; ``osd.overriding`` sets an NNX layer's attribute for one call.
Per-layer schedules (``osd.per_layer``) equal the hand-built ``param_groups``
with one group per depth. The README's examples run as written.
"""

import pathlib
import re

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import optasched as osd

README = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()


def readme_blocks(heading: str) -> list[str]:
    """The python blocks of one README subsection (up to the next heading)."""
    section = README.split(f"### {heading}\n", 1)[1]
    section = re.split(r"\n##+ ", section, maxsplit=1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


LR = osd.warmup(osd.cosine(0.1, decay_steps=18), warmup_steps=2)
X = jax.random.normal(jax.random.key(0), (16, 5))
Y = jnp.arange(16) % 3


class Net(nn.Module):
    """A linen net with a traced BatchNorm momentum and dropout rate (call arguments)."""

    @nn.compact
    def __call__(self, x, bn_momentum, dropout_rate, train=True):
        x = nn.Dense(8)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=bn_momentum)(x)
        x = osd.dropout(nn.relu(x), dropout_rate, self.make_rng("dropout"), deterministic=not train)
        return nn.Dense(3)(x)


NET = Net()
OPT = osd.inject(optax.sgd)(learning_rate=LR, momentum=0.9)


def initial():
    variables = NET.init(jax.random.key(1), X, 0.9, 0.0, train=False)
    return variables["params"], variables["batch_stats"], OPT.init(variables["params"])


def step(schedules, params, batch_stats, opt_state, key):
    """One training step with the model's hyperparameters at the optimizer's count."""
    values = osd.schedule_values(opt_state, schedules)

    def loss_fn(params):
        logits, new = NET.apply({"params": params, "batch_stats": batch_stats}, X, values["bn_momentum"],
                                values["dropout"], rngs={"dropout": key}, mutable=["batch_stats"])
        loss = optax.softmax_cross_entropy_with_integer_labels(logits / values["temperature"], Y).mean()
        return loss, new["batch_stats"]

    (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = OPT.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), batch_stats, opt_state, values


SCHEDULES = {
    "bn_momentum": osd.coupled_ema_decay(LR, min_decay=0.5, max_decay=0.99),
    "dropout": osd.linear(0.0, 0.4, transition_steps=20),
    "temperature": osd.coupled_temperature(LR, min_temperature=0.5, max_temperature=1.0),
}


# -- values at the optimizer's step, without retracing ---------------------------------------------


def test_scheduled_bn_momentum_and_dropout_change_without_retracing():
    train_step = jax.jit(chex.assert_max_traces(step, n=1))  # a second trace raises
    params, batch_stats, opt_state = initial()
    for t in range(6):
        old_mean = batch_stats["BatchNorm_0"]["mean"]
        key = jax.random.key(10 + t)
        params_before = params
        params, batch_stats, opt_state, values = train_step(SCHEDULES, params, batch_stats, opt_state, key)
        # the values are the schedules at the count the update's learning rate used
        assert int(osd.step_count(opt_state)) == t + 1
        for name, schedule in SCHEDULES.items():
            np.testing.assert_allclose(values[name], schedule(t), rtol=1e-6, err_msg=name)
        assert float(osd.hyperparams(opt_state)["learning_rate"]) == pytest.approx(float(LR(t)), rel=1e-6)
        # BatchNorm used this step's momentum: mean <- m * mean + (1 - m) * batch mean (Flax's rule)
        h = nn.Dense(8).apply({"params": params_before["Dense_0"]}, X)
        m = float(SCHEDULES["bn_momentum"](t))
        expected = m * old_mean + (1 - m) * h.mean(axis=0)
        # float32 EMA of a mean of 16 values: a few ulps of the O(1) statistics
        np.testing.assert_allclose(batch_stats["BatchNorm_0"]["mean"], expected, rtol=1e-5, atol=1e-6)
    momenta = [float(SCHEDULES["bn_momentum"](t)) for t in range(6)]
    assert len(set(momenta)) == 6  # six different values, one trace


def test_nnx_batchnorm_momentum_overridden_per_call_without_retracing():
    class NnxNet(nnx.Module):
        def __init__(self, rngs):
            self.bn = nnx.BatchNorm(5, momentum=0.99, rngs=rngs)

        def __call__(self, x, momentum):
            with osd.overriding(self.bn, momentum=momentum):
                return self.bn(x)

    model = NnxNet(nnx.Rngs(0))
    traces = []

    @nnx.jit
    def run(model, momentum):
        traces.append(1)
        model(X, momentum)

    mean = np.zeros(5, np.float32)
    for momentum in (0.9, 0.5, 0.1):
        run(model, jnp.float32(momentum))
        mean = momentum * mean + (1 - momentum) * np.asarray(X.mean(axis=0))
        np.testing.assert_allclose(model.bn.mean[...], mean, rtol=1e-5, atol=1e-6)  # float32 EMA
        assert model.bn.momentum == 0.99 and isinstance(model.bn.momentum, float)  # restored, no tracer
    assert len(traces) == 1


def test_values_follow_the_count_across_a_checkpoint_resume(tmp_path):
    train_step = jax.jit(step)
    keys = [jax.random.key(20 + t) for t in range(8)]

    def run(state, ts):
        seen = []
        for t in ts:
            *state, values = train_step(SCHEDULES, *state, keys[t])
            seen.append(values)
        return state, seen

    straight, straight_values = run(initial(), range(8))

    first, first_values = run(initial(), range(4))
    np.savez(tmp_path / "checkpoint.npz", *jax.tree.leaves(first))
    fresh = initial()  # a new process would rebuild the structure, then load the arrays
    with np.load(tmp_path / "checkpoint.npz") as saved:
        arrays = [jnp.asarray(saved[f"arr_{i}"]) for i in range(len(saved.files))]
    restored = jax.tree.unflatten(jax.tree.structure(fresh), arrays)
    assert int(osd.step_count(restored[2])) == 4  # the count came back with the optimizer state
    resumed, resumed_values = run(restored, range(4, 8))

    # the same compiled program on the same inputs: bit for bit
    for a, b in zip(straight_values, first_values + resumed_values):
        for name in SCHEDULES:
            np.testing.assert_array_equal(a[name], b[name])
    for a, b in zip(jax.tree.leaves(straight), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(a, b)


def test_a_sweep_over_a_coupled_bn_momentum_equals_separate_runs():
    batch = osd.grid(
        lambda min_decay: {**SCHEDULES, "bn_momentum": osd.coupled_ema_decay(LR, min_decay, 0.99)},
        min_decay=[0.3, 0.5, 0.7, 0.9],
    )

    def train(config, key):
        state = initial()
        for t in range(5):
            *state, _ = step(config, *state, jax.random.fold_in(key, t))
        params, batch_stats, _ = state
        return {"mean": batch_stats["BatchNorm_0"]["mean"], "head": params["Dense_1"]["kernel"]}

    swept = osd.sweep(train, batch, key=3)
    alone = jax.jit(train)
    for i in range(4):
        separate = alone(jax.tree.map(lambda x: x[i], batch.config), jax.random.key(3))
        # a vmapped program and the unbatched one may round differently (XLA fuses them differently):
        # float32 after 5 steps, a few ulps of O(1) values
        for name in ("mean", "head"):
            np.testing.assert_allclose(swept.metrics[name][i], separate[name], rtol=2e-5, atol=1e-6)
    means = swept.metrics["mean"]
    assert not np.allclose(means[0], means[3])  # the momentum made a difference


def test_time_constant_proportional_to_one_over_lr_is_pointnet_halving():
    lr = osd.multistep(0.4, jnp.array([3, 6]), 0.5)
    opt = osd.inject(optax.sgd)(learning_rate=lr)
    state = opt.init(jnp.zeros(2))
    pytorch_momenta = []
    for _ in range(8):
        decay = osd.schedule_values(state, {"bn_momentum": 1 - 0.25 * lr})["bn_momentum"]
        pytorch_momenta.append(round(1 - float(decay), 6))
        _, state = opt.update(jnp.ones(2), state)
    assert pytorch_momenta == [0.1] * 3 + [0.05] * 3 + [0.025] * 2  # halved at every LR drop


# -- osd.dropout and osd.overriding -------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.0, 0.25, 0.5, 0.9])
def test_dropout_is_flax_dropout_with_a_traced_rate(rate):
    x = jax.random.normal(jax.random.key(0), (64, 8))
    key = jax.random.key(5)
    expected = nn.Dropout(rate, deterministic=False).apply({}, x, rng=key)
    got = jax.jit(osd.dropout)(x, jnp.float32(rate), key)
    np.testing.assert_array_equal(got == 0, expected == 0)  # the same mask
    # Flax's 1 - rate is a Python float64 rounded once, ours float32 arithmetic on the rate: 1 ulp
    np.testing.assert_allclose(got, expected, rtol=2.5e-7, atol=0)


def test_dropout_edges_vmap_and_evaluation():
    x = jnp.ones((1000,))
    key = jax.random.key(1)
    assert not np.any(osd.dropout(x, 1.0, key))  # all dropped, no NaN
    np.testing.assert_array_equal(osd.dropout(x, 0.0, key), x)
    np.testing.assert_array_equal(osd.dropout(x, 0.5, key, deterministic=True), x)
    rates = jnp.array([0.1, 0.3, 0.6])
    batched = jax.vmap(osd.dropout, in_axes=(None, 0, None))(x, rates, key)
    for rate, row in zip(rates, batched):
        np.testing.assert_array_equal(row, osd.dropout(x, rate, key))
        # 1000 Bernoulli draws: the dropped fraction within 5 standard deviations of the rate
        assert abs(float(np.mean(row == 0)) - float(rate)) < 5 * np.sqrt(0.25 / 1000)
        assert np.allclose(row[row != 0], 1 / (1 - rate))
    grad = jax.grad(lambda r: osd.dropout(x, r, key).sum())(0.3)
    assert np.isfinite(grad)


def test_overriding_restores_even_after_an_error():
    class Layer:
        momentum = 0.99

    layer = Layer()
    with pytest.raises(RuntimeError):
        with osd.overriding(layer, momentum=0.5):
            assert layer.momentum == 0.5
            raise RuntimeError("inside")
    assert layer.momentum == 0.99


# -- per-layer schedules ---------------------------------------------------------------------------


PARAMS = {
    "embed": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3),
    "block_0": {"kernel": jnp.linspace(0.5, 1.5, 9).reshape(3, 3), "bias": jnp.zeros(3)},
    "block_1": {"kernel": jnp.linspace(-0.5, 0.5, 9).reshape(3, 3), "bias": jnp.ones(3)},
    "head": jnp.linspace(0.0, 2.0, 3),
}
DEPTHS = {"embed": 0, "block_0": 1, "block_1": 2, "head": 3}


def depth(path, leaf):
    return DEPTHS[path.split("/")[0]]


def per_depth(d):
    """Deeper layers decay more slowly, after a warmup."""
    return osd.warmup(osd.cosine(1e-2, decay_steps=8 * (1 + d), end_value=1e-4), warmup_steps=2)


def run(optimizer, steps=12, params=PARAMS):
    state = optimizer.init(params)
    history = []
    for t in range(steps):
        grads = jax.tree.map(lambda p: jnp.cos(p * (t + 1)), params)
        updates, state = optimizer.update(grads, state, params)
        history.append(updates)
        params = optax.apply_updates(params, updates)
    return params, history, state


def test_per_layer_equals_hand_built_param_groups():
    scaled = osd.per_layer(optax.adamw(1.0, weight_decay=1e-2), per_depth, depths=depth, num_layers=3)
    groups = osd.param_groups(
        optax.adamw,
        lambda path, leaf: f"depth_{depth(path, leaf)}",
        {f"depth_{d}": dict(learning_rate=per_depth(d)) for d in range(4)},
        weight_decay=1e-2,
    )
    _, history, state = run(scaled)
    _, expected, _ = run(groups)
    for t, (a, b) in enumerate(zip(history, expected)):
        # the same float32 products, the learning rate's sign applied at another point: exact up to
        # XLA's reassociation, 1 ulp
        chex.assert_trees_all_close(a, b, rtol=1e-6, atol=0, custom_message=f"update {t}")
    logged = osd.hyperparams(state)
    assert set(logged) == {"depth_0", "depth_1", "depth_2", "depth_3"}
    assert float(logged["depth_2"]) == pytest.approx(float(per_depth(2)(11)), rel=1e-6)


def test_per_layer_with_constant_multipliers_is_layerwise_decay():
    decay = 0.5
    constant = osd.per_layer(optax.sgd(0.1), [decay ** (3 - d) for d in range(4)], depths=depth)
    reference = osd.layerwise_decay(optax.sgd(0.1), decay, depths=depth, num_layers=3)
    _, history, _ = run(constant, steps=3)
    _, expected, _ = run(reference, steps=3)
    for a, b in zip(history, expected):
        chex.assert_trees_all_close(a, b, rtol=1e-6, atol=0)  # 2**-k is exact either way; 1 ulp


def test_per_layer_vmaps_over_its_hyperparameters_in_one_program():
    def final(base_steps, peak):
        opt = osd.per_layer(optax.sgd(1.0, momentum=0.9),
                            lambda d: osd.cosine(peak, decay_steps=base_steps * (1 + d)), depth, num_layers=3)
        return run(opt, steps=6)[0]

    bases, peaks = jnp.array([2, 4, 8]), jnp.array([0.1, 0.05, 0.02], jnp.float32)
    swept = jax.jit(jax.vmap(chex.assert_max_traces(final, n=1)))(bases, peaks)
    for i in range(3):
        separate = final(int(bases[i]), float(peaks[i]))
        # vmapped and eager float32 programs: the same operations, up to XLA's rounding
        chex.assert_trees_all_close(jax.tree.map(lambda x: x[i], swept), separate, rtol=1e-5, atol=1e-7)


def test_per_layer_takes_a_stacked_sweep_per_depth():
    members = [[osd.cosine(peak, 4 * (1 + d)) for d in range(4)] for peak in (0.1, 0.03)]
    stacked = [osd.stack([m[d] for m in members]) for d in range(4)]
    opt = osd.per_layer(optax.sgd(1.0), stacked, depths=depth)
    states = opt.init(PARAMS)
    grads = jax.tree.map(jnp.ones_like, PARAMS)
    updates, _ = jax.vmap(opt.update, in_axes=(None, 0))(grads, states)
    for i, member in enumerate(members):
        alone = osd.per_layer(optax.sgd(1.0), member, depths=depth)
        separate, _ = alone.update(grads, alone.init(PARAMS))
        chex.assert_trees_all_close(jax.tree.map(lambda x: x[i], updates), separate, rtol=1e-6)


# -- the README's examples -------------------------------------------------------------------------


def test_readme_linen_and_nnx_examples_run():
    linen, nnx_block = readme_blocks("Hyperparameters outside the optimizer")
    namespace = {"__name__": "readme_example"}
    exec(compile(linen, "README.md (linen)", "exec"), namespace)
    exec(compile(nnx_block, "README.md (nnx)", "exec"), namespace)
    ns = namespace
    assert ns["train_step"]._cache_size() == 1  # 100 steps, every value new, one trace
    assert int(osd.step_count(ns["opt_state"])) == 100 and int(osd.step_count(ns["optimizer"])) == 100
    for schedules_state in (ns["opt_state"], ns["optimizer"]):
        values = osd.schedule_values(schedules_state, ns["model_schedules"])
        assert float(values["bn_momentum"]) == pytest.approx(0.99, abs=1e-6)  # the LR has annealed
        assert float(values["temperature"]) == pytest.approx(0.5, abs=1e-6)
    assert np.isfinite(ns["loss"]) and np.isfinite(ns["nnx_loss"])
    assert ns["model"].bn.momentum == 0.99  # the Python default is back


def test_readme_per_layer_example_runs():
    (block,) = [b for b in readme_blocks("Per-layer schedules and parameter groups") if "per_layer" in b]
    namespace = {"__name__": "readme_example"}
    exec(compile(block, "README.md (per_layer)", "exec"), namespace)
    params, logged = namespace["sweep"]
    assert params["head"].shape == (3, 4)
    # deeper layers decay more slowly: at step 19 of base 10, depth 3 (decay 40) is above depth 0 (10)
    assert np.all(logged["depth_3"] > logged["depth_0"])
    assert float(logged["depth_0"][1]) == pytest.approx(float(osd.cosine(1e-2, 20)(19)), rel=1e-6)


# -- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s: osd.schedule_values(s, [LR]), "schedule_values: schedules must be a dict"),
        (lambda s: osd.schedule_values(s, {"dropout": "high"}), r"schedules\['dropout'\] must be a schedule"),
        (lambda s: osd.schedule_values(s, {"lr": osd.plateau(LR)}), r"schedules\['lr'\] is a stateful"),
        (lambda s: osd.schedule_values(optax.sgd(0.1).init(PARAMS), {}), "schedule_values: found no"),
        (lambda s: osd.step_count(optax.adam(0.1).init(PARAMS)), "step_count: found no optasched.inject"),
    ],
)
def test_schedule_values_bad_input(call, message):
    state = OPT.init(PARAMS)
    with pytest.raises(ValueError, match=message):
        call(state)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: osd.dropout(jnp.ones(3), 1.5, jax.random.key(0)),
         r"dropout: rate must be in \[0, 1\], got 1.5"),
        (lambda: osd.dropout(jnp.ones(3), -0.1, jax.random.key(0)), r"rate must be in \[0, 1\], got -0.1"),
        (lambda: osd.dropout(jnp.ones(3), jnp.ones(2), jax.random.key(0)), "rate must be a scalar"),
        (lambda: osd.overriding(nnx.BatchNorm(2, rngs=nnx.Rngs(0)), momentun=0.9).__enter__(),
         "overriding: BatchNorm has no attribute 'momentun'"),
        (lambda: osd.overriding(nnx.BatchNorm(2, rngs=nnx.Rngs(0))).__enter__(),
         "overriding: give at least one"),
    ],
)
def test_model_side_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(schedules=per_depth), "per_layer: schedules is a function of the depth, so num_layers"),
        (dict(schedules=LR, num_layers=3), r"per_layer: schedules is one schedule \(warmup\)"),
        (dict(schedules=[LR, LR], num_layers=3), "per_layer: schedules holds 2 schedules; num_layers=3"),
        (dict(schedules=[], num_layers=None), "per_layer: schedules must be a function depth -> schedule"),
        (dict(schedules=[LR, "x", LR, LR]), r"per_layer: schedules\[1\] must be a schedule"),
        (dict(schedules=per_depth, num_layers=-1), "per_layer: num_layers must be a non-negative integer"),
        (dict(schedules=per_depth, num_layers=True), "per_layer: num_layers must be a non-negative integer"),
        (dict(schedules=[LR, LR]), r"per_layer: the depth of block_1/bias must be in \[0, num_layers=1\]"),
    ],
)
def test_per_layer_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        osd.per_layer(optax.sgd(1.0), depths=depth, **kwargs).init(PARAMS)
