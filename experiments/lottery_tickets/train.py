"""Masked training and iterative magnitude pruning (IMP) for ONE configuration.

Everything that differs between arms is a leaf of the config, so one compiled
program serves a whole sweep of arms and seeds (``osd.sweep`` vmaps it):

- ``params0``: the initial weights (the original init, or a fresh one for the
  reinit control);
- ``mask``: one boolean per weight and bias (True = kept);
- ``schedule``: the learning-rate schedule (an optasched pytree; constant
  learning rates are cosines whose end value equals their peak, so every arm
  has the same structure and stacks);
- ``data_index``: which MNIST-1D draw to train on (0 = the paper's data,
  1 = a fresh draw, for the transfer test);
- ``first_step``: rewinding to step k trains steps k..T-1 only (the schedule
  and the data order continue from k; Adam starts fresh at k).

The model is the lottery-ticket notebook's ``SparseMLP`` (Greydanus, mnist1d
repository): ``h = relu(W1 x + b1); h = h + relu(W2 h + b2); y = W3 h + b3``
with PyTorch's default ``nn.Linear`` initialisation, trained by Adam at batch
100 over fixed sequential batches. Pruned weights are held at exactly zero
after every update (``jnp.where``, not a multiplication, so nothing can leak
through a NaN or an infinity).

Iterative magnitude pruning (Frankle & Carbin, ICLR 2019) as in the notebook:
in round r every layer (its weights and bias pooled) keeps the weights of
largest magnitude after round r-1, dropping ``int(s_r * n_layer)`` of them; the
per-layer counts are config leaves (computed in float64 outside, exactly the
notebook's ``int(percent_sparse * len(scores))``), so the top-k thresholds are
traced and every chain of rounds is one ``lax.scan``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

LAYERS = ("layer1", "layer2", "layer3")
INPUTS = 40
CLASSES = 10

Params = dict[str, dict[str, jax.Array]]


# ----------------------------------------------------------------------------- model


def layer_sizes(hidden: int) -> tuple[tuple[int, int], ...]:
    """(fan_in, fan_out) of the three layers."""
    return ((INPUTS, hidden), (hidden, hidden), (hidden, CLASSES))


@functools.partial(jax.jit, static_argnums=1)
def init_params(key: jax.Array, hidden: int) -> Params:
    """PyTorch's ``nn.Linear`` default: weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    params = {}
    keys = jax.random.split(key, 2 * len(LAYERS))
    for i, (name, (fan_in, fan_out)) in enumerate(zip(LAYERS, layer_sizes(hidden))):
        bound = 1.0 / np.sqrt(fan_in)
        params[name] = {
            "w": jax.random.uniform(keys[2 * i], (fan_in, fan_out), jnp.float32, -bound, bound),
            "b": jax.random.uniform(keys[2 * i + 1], (fan_out,), jnp.float32, -bound, bound),
        }
    return params


def apply(params: Params, x: jax.Array) -> jax.Array:
    """Logits of the notebook's SparseMLP (its residual around the second layer)."""

    def dense(p, h):
        return h @ p["w"] + p["b"][None, :]

    h = jax.nn.relu(dense(params["layer1"], x))
    h = h + jax.nn.relu(dense(params["layer2"], h))
    return dense(params["layer3"], h)


def loss_and_accuracy(params: Params, x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    logits = apply(params, x)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    accuracy = (jnp.argmax(logits, axis=-1) == y).mean()
    return loss, accuracy


def apply_mask(params: Params, mask: Params) -> Params:
    """Pruned entries set to exactly 0."""
    return jax.tree.map(lambda p, m: jnp.where(m, p, jnp.zeros_like(p)), params, mask)


def dense_mask(hidden: int) -> Params:
    """All weights kept."""
    return {
        name: {"w": np.ones((fi, fo), bool), "b": np.ones((fo,), bool)}
        for name, (fi, fo) in zip(LAYERS, layer_sizes(hidden))
    }


# ----------------------------------------------------------------------------- pruning


def layer_size(fan_in: int, fan_out: int) -> int:
    return fan_in * fan_out + fan_out


def drop_counts(sparsities, hidden: int) -> np.ndarray:
    """``int(s * n_layer)`` per round and layer (float64, as the notebook computes it)."""
    sizes = np.array([layer_size(fi, fo) for fi, fo in layer_sizes(hidden)], dtype=np.float64)
    return np.floor(np.asarray(sparsities, np.float64)[..., None] * sizes).astype(np.int32)


def _flat(layer: Mapping[str, jax.Array]) -> jax.Array:
    return jnp.concatenate([layer["w"].reshape(-1), layer["b"]])


def _unflat(flat: jax.Array, like: Mapping[str, Any]) -> dict[str, jax.Array]:
    size = int(np.prod(like["w"].shape))
    return {"w": flat[:size].reshape(like["w"].shape), "b": flat[size:]}


def prune(scores: Params, drops: jax.Array) -> Params:
    """Per layer, drop the ``drops[layer]`` entries of lowest score (weights and bias pooled).

    Ties are broken by position (a stable sort), so already-pruned weights
    (score exactly 0) are dropped first and masks stay nested over rounds.
    """
    mask = {}
    for i, name in enumerate(LAYERS):
        flat = _flat(scores[name])
        order = jnp.argsort(flat, stable=True)
        rank = jnp.zeros(flat.shape, jnp.int32).at[order].set(jnp.arange(flat.shape[0], dtype=jnp.int32))
        mask[name] = _unflat(rank >= drops[i], scores[name])
    return mask


@functools.partial(jax.jit, static_argnums=2)
def random_mask(key: jax.Array, drops, hidden: int) -> Params:
    """Layer-matched random pruning: in every layer the same number dropped, uniformly at random."""
    like = dense_mask(hidden)
    keys = jax.random.split(key, len(LAYERS))
    scores = {
        name: _unflat(jax.random.uniform(k, (layer_size(fi, fo),)), like[name])
        for name, k, (fi, fo) in zip(LAYERS, keys, layer_sizes(hidden))
    }
    return prune(scores, jnp.asarray(drops))


def sparsity(mask: Params) -> jax.Array:
    """Fraction of pruned entries over the whole network."""
    leaves = jax.tree.leaves(mask)
    kept = sum(jnp.sum(m) for m in leaves)
    total = sum(m.size for m in leaves)
    return 1.0 - kept / total


def max_pruned_magnitude(params: Params, mask: Params) -> jax.Array:
    """Largest |weight| at a pruned position (0 exactly when the mask holds)."""
    return jnp.max(
        jnp.stack(
            [
                jnp.max(jnp.where(m, 0.0, jnp.abs(p)))
                for p, m in zip(jax.tree.leaves(params), jax.tree.leaves(mask))
            ]
        )
    )


# ----------------------------------------------------------------------------- one round of training

ADAM = optax.scale_by_adam()  # torch.optim.Adam defaults: b1 0.9, b2 0.999, eps 1e-8 outside the sqrt


def masked_adam_step(params: Params, opt_state, mask: Params, lr: jax.Array, x: jax.Array, y: jax.Array):
    """One Adam update of the kept weights; pruned ones stay exactly 0."""
    (loss, _), grads = jax.value_and_grad(loss_and_accuracy, has_aux=True)(params, x, y)
    grads = apply_mask(grads, mask)  # pruned weights carry no Adam statistics
    direction, opt_state = ADAM.update(grads, opt_state, params)
    params = jax.tree.map(
        lambda p, d, m: jnp.where(m, p - lr * d, jnp.zeros_like(p)), params, direction, mask
    )
    return params, opt_state, loss


def train_round(
    params: Params,
    mask: Params,
    schedule,
    data: Mapping[str, jax.Array],
    data_index: jax.Array,
    first_step: jax.Array,
    *,
    steps: int,
    batch_size: int,
    score_step: int,
    snapshot_step=None,
):
    """Train ``steps`` updates (steps before ``first_step`` are skipped) of a masked network.

    Batch t is ``x[(t * batch_size) % n : ... + batch_size]`` of draw
    ``data_index`` (the notebook's fixed sequential batches). Returns the final
    weights, the weights after ``score_step`` updates (the pruning scores: the
    notebook pruned on its step-1000 checkpoint), the weights after
    ``snapshot_step`` updates (the rewind point k) and the last training loss.
    """
    x_all, y_all = data["x_train"], data["y_train"]
    n = x_all.shape[1]
    params = apply_mask(params, mask)
    opt_state = ADAM.init(params)
    snapshot = params

    def step(carry, t):
        params, opt_state, scores, snapshot, last_loss = carry
        start = (t * batch_size) % n
        x = jax.lax.dynamic_slice(x_all, (data_index, start, 0), (1, batch_size, x_all.shape[2]))[0]
        y = jax.lax.dynamic_slice(y_all, (data_index, start), (1, batch_size))[0]
        new_params, new_state, loss = masked_adam_step(params, opt_state, mask, schedule(t), x, y)
        active = t >= first_step
        params, opt_state = jax.tree.map(
            lambda a, b: jnp.where(active, a, b), (new_params, new_state), (params, opt_state)
        )
        # snapshots by selection inside one loop body (one compiled step, not one per segment)
        if score_step < steps:
            scores = jax.tree.map(lambda a, b: jnp.where(t + 1 == score_step, a, b), params, scores)
        if snapshot_step is not None:
            snapshot = jax.tree.map(lambda a, b: jnp.where(t + 1 == snapshot_step, a, b), params, snapshot)
        return (params, opt_state, scores, snapshot, jnp.where(active, loss, last_loss)), None

    carry = (params, opt_state, params, params, jnp.float32(jnp.nan))
    (params, _, scores, snapshot, last_loss), _ = jax.lax.scan(step, carry, jnp.arange(steps))
    if score_step >= steps:
        scores = params
    return params, scores, snapshot, last_loss


def evaluate(params: Params, data: Mapping[str, jax.Array], data_index: jax.Array) -> dict[str, jax.Array]:
    """Loss and accuracy on the held-out splits of draw ``data_index`` (validation only when it exists)."""
    out = {}
    for split in ("val", "test", "train"):
        if f"x_{split}" not in data:
            continue
        x = data[f"x_{split}"][data_index]
        y = data[f"y_{split}"][data_index]
        loss, accuracy = loss_and_accuracy(params, x, y)
        out[f"{split}_loss"], out[f"{split}_acc"] = loss, accuracy
    return out


# ----------------------------------------------------------------------------- the two programs


def train(
    config: Mapping[str, Any], key: jax.Array, *, data: Mapping[str, jax.Array], steps: int, batch_size: int
) -> dict[str, jax.Array]:
    """Retrain ONE masked network: ``config = {params0, mask, schedule, data_index, first_step}``.

    Returns the final (last-step) metrics on validation, test and training
    data, the mask's sparsity and the largest pruned magnitude (exactly 0).
    """
    del key  # every random choice (init, random masks) is already in the config
    data = {k: jnp.asarray(v) for k, v in data.items()}
    params, _, _, last_loss = train_round(
        config["params0"],
        config["mask"],
        config["schedule"],
        data,
        config["data_index"],
        config["first_step"],
        steps=steps,
        batch_size=batch_size,
        score_step=steps,
    )
    return {
        **evaluate(params, data, config["data_index"]),
        "last_batch_loss": last_loss,
        "sparsity": sparsity(config["mask"]),
        "max_pruned": max_pruned_magnitude(params, config["mask"]),
    }


def find_ticket(
    config: Mapping[str, Any],
    key: jax.Array,
    *,
    data: Mapping[str, jax.Array],
    steps: int,
    batch_size: int,
    score_step: int,
    keep_rounds: tuple[int, ...],
    rewinding: bool,
) -> dict[str, Any]:
    """A chain of pruning rounds for ONE configuration (one ``lax.scan`` over rounds).

    ``config``:
      - ``params0``: the original init;
      - ``drops``: int32[rounds, 3], entries dropped per layer in each round (round 0 drops none);
      - ``first_schedule``: the schedule of round 0 (dense training);
      - ``schedule``: the schedule of every later round;
      - ``rewind_step``: k, the rewind point (0: the original init);
      - ``carry_weights``: 0 rewinds every round to the weights at k (IMP with weight
        rewinding); 1 continues from the previous round's final weights (LR rewinding
        when ``schedule`` replays the training schedule, fine-tuning when it is a small
        constant LR; Renda et al., ICLR 2020);
      - ``data_index``: the MNIST-1D draw.

    Returns per-round metrics (leading axis = rounds) and the masks of the
    rounds in ``keep_rounds`` (leading axis = len(keep_rounds)). ``rewinding``
    (static) records the weights at k in the dense round; without it k must be 0.
    """
    del key
    data = {k: jnp.asarray(v) for k, v in data.items()}
    params0 = config["params0"]
    data_index = config["data_index"]
    rounds = config["drops"].shape[0]
    kept = jax.tree.map(lambda m: jnp.zeros((len(keep_rounds),) + m.shape, bool), params0)

    def one_round(carry, inputs):
        scores, final, rewind, kept = carry
        r, drops = inputs
        first = r == 0
        mask = prune(jax.tree.map(jnp.abs, scores), drops)
        start = jax.tree.map(
            lambda f, w: jnp.where((config["carry_weights"] > 0) & ~first, f, w), final, rewind
        )
        schedule = jax.tree.map(
            lambda a, b: jnp.where(first, a, b), config["first_schedule"], config["schedule"]
        )
        first_step = jnp.where(first | (config["carry_weights"] > 0), 0, config["rewind_step"])
        final, scores, snapshot, last_loss = train_round(
            start,
            mask,
            schedule,
            data,
            data_index,
            first_step,
            steps=steps,
            batch_size=batch_size,
            score_step=score_step,
            snapshot_step=config["rewind_step"] if rewinding else None,
        )
        # the rewind point is taken from the dense round; k = 0 is the init itself
        rewind = jax.tree.map(
            lambda s, w: jnp.where(first & (config["rewind_step"] > 0), s, w), snapshot, rewind
        )
        for j, keep in enumerate(keep_rounds):
            kept = jax.tree.map(
                lambda K, m, j=j, keep=keep: K.at[j].set(jnp.where(r == keep, m, K[j])), kept, mask
            )
        metrics = {
            **evaluate(final, data, data_index),
            "last_batch_loss": last_loss,
            "sparsity": sparsity(mask),
            "max_pruned": max_pruned_magnitude(final, mask),
        }
        return (scores, final, rewind, kept), metrics

    carry = (params0, params0, params0, kept)
    (_, _, rewind, kept), metrics = jax.lax.scan(one_round, carry, (jnp.arange(rounds), config["drops"]))
    out = {"rounds": metrics, "masks": kept}
    if rewinding:
        out["rewind_weights"] = rewind
    return out
