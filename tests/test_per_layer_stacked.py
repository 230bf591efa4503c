"""Per-layer schedules and layer-wise decay on a stack of layers held in one array.

Models that scan over their blocks (``nn.scan``, ``nnx.scan``, ``lax.scan``) keep every block's
parameters in one leaf whose leading axis is the layer. Such a leaf takes a 1-D depth sequence, and
``osd.per_layer`` / ``osd.layerwise_decay`` must then equal the same optimizer on the unstacked tree
(one leaf per block). Adam and SGD are elementwise, so the two trees get the same arithmetic; the
comparisons allow float32 rounding (1e-6 relative) because the two programs differ in shape.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optasched as osd

LAYERS = 3
KEY = jax.random.key(0)


def _stacked():
    k = jax.random.split(KEY, 3)
    return {"embed": jax.random.normal(k[0], (4,)), "layers": {"w": jax.random.normal(k[1], (LAYERS, 2, 3))},
            "head": jax.random.normal(k[2], (3,))}  # fmt: skip


def _unstacked(tree):
    out = {"embed": tree["embed"], "head": tree["head"]}
    out.update({f"layer_{i}": {"w": tree["layers"]["w"][i]} for i in range(LAYERS)})
    return out


def _stacked_depth(path, leaf):
    if path.startswith("layers"):
        return np.arange(1, LAYERS + 1)  # block i is depth i + 1
    return 0 if path == "embed" else LAYERS + 1


def _unstacked_depth(path, leaf):
    if path.startswith("layer_"):
        return int(path.split("/")[0].removeprefix("layer_")) + 1
    return 0 if path == "embed" else LAYERS + 1


def _gradients(step, tree):
    """A deterministic gradient stream, different per step and per entry."""
    return jax.tree.map(lambda x: jnp.sin(x * (step + 1.0)) + 0.1 * step, tree)


def _train(optimizer, params, steps=6, transform=lambda g: g):
    state = optimizer.init(params)
    for step in range(steps):
        updates, state = optimizer.update(transform(_gradients(step, _stacked())), state, params)
        params = optax.apply_updates(params, updates)
    return params


def _schedules(depth):
    return osd.warmup(osd.cosine(0.1, decay_steps=4 * (depth + 1)), warmup_steps=depth)


@pytest.mark.parametrize("base", [optax.adam(1.0), optax.sgd(1.0, momentum=0.9)], ids=["adam", "sgd_momentum"])
def test_per_layer_on_stacked_layers_equals_the_unstacked_tree(base):
    num_layers = LAYERS + 1
    stacked = _train(osd.per_layer(base, _schedules, depths=_stacked_depth, num_layers=num_layers), _stacked())
    unstacked = _train(osd.per_layer(base, _schedules, depths=_unstacked_depth, num_layers=num_layers),
                       _unstacked(_stacked()), transform=_unstacked)  # fmt: skip
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), _unstacked(stacked), unstacked)
    # the layers really got different learning rates: block 0 and block 2 moved differently
    moved = np.abs(np.asarray(stacked["layers"]["w"] - _stacked()["layers"]["w"])).mean(axis=(1, 2))
    assert len(set(np.round(moved, 6))) == LAYERS


def test_layerwise_decay_on_stacked_layers_equals_the_unstacked_tree():
    stacked = _train(osd.layerwise_decay(optax.adam(0.1), 0.5, depths=_stacked_depth), _stacked())
    unstacked = _train(osd.layerwise_decay(optax.adam(0.1), 0.5, depths=_unstacked_depth),
                       _unstacked(_stacked()), transform=_unstacked)  # fmt: skip
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), _unstacked(stacked), unstacked)


def test_per_layer_on_a_flax_scan_model_sweeps_in_one_program():
    """A real ``nn.scan`` over blocks: the depth function sees ``layers/...`` leaves of shape ``[L, ...]``."""

    class Block(nn.Module):
        @nn.compact
        def __call__(self, x, _):
            return nn.tanh(nn.Dense(3)(x)), None

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x):
            x = nn.Dense(3, name="embed")(x)
            blocks = nn.scan(Block, variable_axes={"params": 0}, split_rngs={"params": True}, length=LAYERS)
            x, _ = blocks(name="layers")(x, None)
            return nn.Dense(1, name="head")(x)

    net = Net()
    x = jax.random.normal(KEY, (8, 2))
    params = net.init(KEY, x)["params"]
    assert params["layers"]["Dense_0"]["kernel"].shape == (LAYERS, 3, 3)

    def depth(path, leaf):
        top = path.split("/")[0]
        return {"embed": 0, "head": LAYERS + 1}.get(top, range(1, LAYERS + 1))  # as the README shows

    def final_loss(peak):  # peak: a traced per-member value; the schedules are built from it
        opt = osd.per_layer(optax.adam(1.0), lambda d: osd.cosine(peak, decay_steps=5 * (d + 1)), depth,
                            num_layers=LAYERS + 1)  # fmt: skip
        loss = lambda p: jnp.mean((net.apply({"params": p}, x) - 1.0) ** 2)  # noqa: E731

        def step(carry, _):
            p, s = carry
            updates, s = opt.update(jax.grad(loss)(p), s, p)
            return (optax.apply_updates(p, updates), s), None

        (p, _), _ = jax.lax.scan(step, (params, opt.init(params)), None, length=10)
        return loss(p)

    peaks = jnp.array([0.0, 1e-2, 3e-2])
    swept = jax.jit(jax.vmap(final_loss))(peaks)
    alone = [jax.jit(final_loss)(peak) for peak in peaks]
    np.testing.assert_allclose(swept, alone, rtol=1e-5)
    assert swept[0] == pytest.approx(float(jnp.mean((net.apply({"params": params}, x) - 1.0) ** 2)), rel=1e-6)
    assert swept[2] < swept[1] < swept[0]


@pytest.mark.parametrize(
    ("depth", "message"),
    [
        (np.arange(1, LAYERS), r"the depth of layers/w \(shape \(3, 2, 3\)\) must be an integer or, for stacked"),
        (np.ones((LAYERS, 2), int), r"1-D integer sequence as long as its leading axis"),
        (np.array([1.0, 2.0, 3.0]), r"1-D integer sequence"),
        ([1, 2, 9], r"the depth of layers/w must be in \[0, num_layers=4\], got \[1, 2, 9\]"),
        ([1, -1, 2], r"the depth of layers/w must be in \[0, num_layers=4\], got \[1, -1, 2\]"),
    ],
)
def test_bad_stacked_depths_are_refused_naming_the_path(depth, message):
    rule = lambda path, leaf: depth if path.startswith("layers") else 0  # noqa: E731
    with pytest.raises(ValueError, match=message):
        osd.per_layer(optax.sgd(1.0), [0.1] * (LAYERS + 2), depths=rule).init(_stacked())
    with pytest.raises(ValueError, match=message.replace("per_layer", "layerwise_decay")):
        osd.layerwise_decay(optax.sgd(1.0), 0.5, depths=rule, num_layers=LAYERS + 1).init(_stacked())
