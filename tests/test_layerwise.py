"""Specification of per-layer schedules: layer-wise LR decay equals per-layer
learning rates, parameter groups equal optax.partition of per-group
optimizers, both on Flax parameter trees, and mismatched labels are errors."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import linen as nn
from flax import nnx

import optasched as osd


class Tower(nn.Module):
    """Embedding, two blocks, head: depths 0, 1, 2, 3."""

    @nn.compact
    def __call__(self, x):
        x = nn.Dense(8, name="embed")(x)
        for i in range(2):
            x = nn.tanh(nn.Dense(8, name=f"block_{i}")(x))
        return nn.Dense(2, name="head")(x)


MODEL = Tower()
PARAMS = MODEL.init(jax.random.key(0), jnp.ones((1, 4)))["params"]
INPUTS = jax.random.normal(jax.random.key(1), (20, 6, 4))
NUM_LAYERS = 3


def depth(path, leaf):
    """ELECTRA / BEiT depth of a parameter from its path."""
    del leaf
    module = path.split("/")[0]
    if module == "embed":
        return 0
    if module == "head":
        return NUM_LAYERS
    return int(re.fullmatch(r"block_(\d+)", module).group(1)) + 1


def loss_fn(params, x):
    return jnp.mean(MODEL.apply({"params": params}, x) ** 2)


def train(optimizer, params=PARAMS):
    def step(carry, x):
        params, state = carry
        updates, state = optimizer.update(jax.grad(loss_fn)(params, x), state, params)
        return (optax.apply_updates(params, updates), state), None

    return jax.lax.scan(step, (params, optimizer.init(params)), INPUTS)[0]


def test_layerwise_decay_equals_per_layer_learning_rates():
    lr, decay = osd.warmup(osd.cosine(1e-2, 20), 5), 0.7
    ours, state = jax.jit(
        lambda: train(
            osd.layerwise_decay(osd.inject(optax.adamw)(learning_rate=lr, weight_decay=0.05), decay, depth)
        )
    )()
    labels = jax.tree_util.tree_map_with_path(lambda p, x: depth(osd.bridge._layerwise.path_name(p), x), PARAMS)
    per_layer = optax.multi_transform(
        {k: optax.adamw(lr * decay ** (NUM_LAYERS - k), weight_decay=0.05) for k in range(NUM_LAYERS + 1)},
        labels,
    )
    theirs, _ = jax.jit(lambda: train(per_layer))()
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-7), ours, theirs)
    assert float(osd.hyperparams(state)["layer_decay"]) == pytest.approx(decay)


def test_a_sweep_over_the_decay_vmaps():
    decays = jnp.array([0.5, 0.8, 1.0])
    opt = osd.layerwise_decay(optax.sgd(0.1), decays, depth)
    states = opt.init(PARAMS)
    grads = jax.tree.map(jnp.ones_like, PARAMS)
    updates, _ = jax.jit(jax.vmap(opt.update, in_axes=(None, 0, None)))(grads, states, PARAMS)
    for i, decay in enumerate(np.asarray(decays)):
        np.testing.assert_allclose(updates["embed"]["kernel"][i], -0.1 * decay**3, rtol=1e-6)
        np.testing.assert_allclose(updates["block_1"]["bias"][i], -0.1 * decay, rtol=1e-6)
        np.testing.assert_allclose(updates["head"]["bias"][i], -0.1, rtol=1e-6)


def test_param_groups_equal_optax_partition_of_per_group_optimizers():
    def group(path, leaf):
        del leaf
        return "head" if path.startswith("head") else "body"

    body_lr, head_lr = osd.cosine(1e-3, 20), osd.warmup(osd.cosine(1e-2, 15), 5)
    ours, state = jax.jit(
        lambda: train(
            osd.param_groups(
                optax.adamw,
                group,
                {"body": dict(learning_rate=body_lr), "head": dict(learning_rate=head_lr, weight_decay=0.0)},
                b1=0.85,
                weight_decay=0.1,
            )
        )
    )()
    labels = jax.tree_util.tree_map_with_path(lambda p, x: group(osd.bridge._layerwise.path_name(p), x), PARAMS)
    theirs, _ = jax.jit(
        lambda: train(
            optax.partition(
                {
                    "body": optax.adamw(body_lr, b1=0.85, weight_decay=0.1),
                    "head": optax.adamw(head_lr, b1=0.85, weight_decay=0.0),
                },
                labels,
            )
        )
    )()
    jax.tree.map(np.testing.assert_array_equal, ours, theirs)
    logged = osd.hyperparams(state)
    assert {"body/learning_rate", "head/learning_rate"} <= set(logged)  # with every other hyperparameter
    np.testing.assert_allclose(logged["head/learning_rate"], head_lr(len(INPUTS) - 1), rtol=1e-5)


def test_labels_may_be_a_tree_or_a_function_of_the_tree():
    tree_labels = jax.tree.map(lambda _: "all", PARAMS)
    for labels in (tree_labels, lambda params: jax.tree.map(lambda _: "all", params)):
        opt = osd.param_groups(optax.sgd, labels, {"all": dict(learning_rate=osd.constant(0.1))})
        updates, _ = opt.update(PARAMS, opt.init(PARAMS), PARAMS)
        np.testing.assert_allclose(updates["head"]["bias"], -0.1 * PARAMS["head"]["bias"], rtol=1e-6)


def test_flax_nnx_parameter_trees():
    class Net(nnx.Module):
        def __init__(self, rngs):
            self.embed = nnx.Linear(4, 8, rngs=rngs)
            self.blocks = nnx.List([nnx.Linear(8, 8, rngs=rngs) for _ in range(2)])
            self.head = nnx.Linear(8, 2, rngs=rngs)

        def __call__(self, x):
            x = self.embed(x)
            for block in self.blocks:
                x = nnx.tanh(block(x))
            return self.head(x)

    def nnx_depth(path, leaf):
        del leaf
        parts = path.split("/")
        return {"embed": 0, "head": 3}.get(parts[0], int(parts[1]) + 1 if parts[0] == "blocks" else -1)

    model = Net(nnx.Rngs(0))
    tx = osd.layerwise_decay(
        osd.param_groups(
            optax.adamw,
            lambda path, leaf: "head" if path.startswith("head") else "body",
            {"body": dict(learning_rate=osd.cosine(1e-3, 10)), "head": dict(learning_rate=1e-2)},
        ),
        decay=0.75,
        depths=nnx_depth,
    )
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    x = jnp.ones((3, 4))
    before = model.embed.kernel[...]

    @nnx.jit
    def step(model, optimizer):
        grads = nnx.grad(lambda m: jnp.mean(m(x) ** 2))(model)
        optimizer.update(model, grads)

    step(model, optimizer)
    assert not np.allclose(model.embed.kernel[...], before)
    logged = osd.hyperparams(optimizer.opt_state)
    assert {"body/learning_rate", "layer_decay"} <= set(logged)


def test_mismatched_labels_and_depths_are_clear_errors():
    groups = {"body": dict(learning_rate=0.1), "head": dict(learning_rate=0.1)}
    typo = osd.param_groups(
        optax.sgd, lambda path, leaf: "haed" if path.startswith("head") else "body", groups
    )
    with pytest.raises(
        ValueError,
        match=r"param_groups: labels 'haed' \(at head/bias, head/kernel\) name no group; "
        r"groups are \['body', 'head'\]",
    ):
        typo.init(PARAMS)
    unused = osd.param_groups(optax.sgd, lambda path, leaf: "body", groups)
    with pytest.raises(ValueError, match=r"param_groups: groups \['head'\] label no parameter"):
        unused.init(PARAMS)
    wrong_tree = osd.param_groups(optax.sgd, {"embed": "body", "head": "head"}, groups)
    with pytest.raises(ValueError, match="param_groups: labels must have the structure of the parameters"):
        wrong_tree.init(PARAMS)
    with pytest.raises(
        ValueError, match=r"param_groups: group 'head': inject\(sgd\): unknown hyperparameter 'lr'"
    ):
        osd.param_groups(optax.sgd, lambda p, x: "head", {"head": dict(lr=0.1)})
    with pytest.raises(ValueError, match="param_groups: groups must be a non-empty dict"):
        osd.param_groups(optax.sgd, lambda p, x: "head", {})

    too_deep = osd.layerwise_decay(optax.sgd(0.1), 0.5, depth, num_layers=2)
    with pytest.raises(
        ValueError, match=r"layerwise_decay: the depth of head/bias must be in \[0, num_layers=2\], got 3"
    ):
        too_deep.init(PARAMS)
    not_int = osd.layerwise_decay(optax.sgd(0.1), 0.5, lambda path, leaf: 1.5)
    with pytest.raises(
        ValueError, match=r"layerwise_decay: the depth of block_0/bias must be an integer, got 1.5"
    ):
        not_int.init(PARAMS)
    with pytest.raises(ValueError, match="layerwise_decay: decay must be > 0, got -0.5"):
        osd.layerwise_decay(optax.sgd(0.1), -0.5, depth)
