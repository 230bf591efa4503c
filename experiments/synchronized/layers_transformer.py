"""Part D on the transformer: transformer_warmup's Pre-LN character model with one schedule per depth.

The model (``experiments.transformer_warmup.train``: a decoder-only character transformer on the King
James Bible) scans over its blocks, so every block's parameters sit in one array whose leading axis is
the layer; ``osd.per_layer`` gives each slice its own depth (``range(1, L + 1)``). Depths: the embedding
and positions 0, block i ``i + 1``, the final LayerNorm and head ``L + 1``. Every depth d follows
``warmup(cosine(peak_d, decay_steps_d - W), W)``: the same linear warmup of W steps at every depth, then
a cosine to 0 that ends after ``decay_steps_d`` steps. The arms are part D's (``layers.py``), with the
ramp over depths ``0 .. L + 1``:

- ``uniform``: every depth's cosine ends at the run's end T;
- ``deeper_slower``: depth d's ends at ``T (short + (1 - short) d / (L + 1))``;
- ``shallower_slower``: the mirror image;
- ``layerwise_constant``: ELECTRA / BEiT, ``peak decay ** (L + 1 - d)``, all ending at T.

Every (arm, seed) is one member of one sweep; a seed fixes the initialisation and the batches.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optasched as osd
from experiments.transformer_warmup import train as tr

from .layers import arm_peaks_and_ends

__all__ = ["depth_of", "make_train", "member", "setup_for"]


def setup_for(config) -> tr.Setup:
    """The transformer's static shapes from the study's ``layer_tf_*`` fields."""
    return tr.Setup(depth=config.layer_tf_depth, width=config.layer_tf_width, heads=config.layer_tf_heads,
                    mlp=4 * config.layer_tf_width, context=config.layer_tf_context,
                    batch_size=config.layer_tf_batch_size, steps=config.layer_tf_steps,
                    record_every=config.layer_tf_steps, eval_windows=config.layer_tf_eval_windows)  # fmt: skip


def depth_of(blocks: int):
    """``depth(path, leaf)`` for the transformer's parameters: stacked blocks get ``range(1, blocks + 1)``.

    Args:
      blocks: the number of scanned blocks L.
    """

    def depth(path: str, leaf):
        top = path.split("/")[0]
        if top in ("embed", "positions"):
            return 0
        if top == "layers":
            return range(1, blocks + 1)
        if top in ("final_ln", "head"):
            return blocks + 1
        raise ValueError(f"synchronized: no depth for transformer parameter {path!r}")

    return depth


def member(arm: str, seed: int, config) -> dict:
    """The per-depth peaks and cosine end steps of one arm (``[L + 2]`` arrays) and the seed.

    Args:
      arm: one of ``configs.default.LAYER_ARMS``.
      seed: the seed (initialisation and batches).
      config: the study's config (``layer_tf_*``, ``layer_short``, ``layer_decay``).
    """
    top = config.layer_tf_depth + 1
    peaks, ends = arm_peaks_and_ends(arm, top, config.layer_tf_peak_lr, config.layer_tf_steps, config,
                                     xp=np, depth_dtype=np.float64)  # fmt: skip
    if ends.min() <= config.layer_tf_warmup:
        raise ValueError(f"synchronized: every depth's cosine must end after the warmup "
                         f"({config.layer_tf_warmup} steps); the shortest ends at {ends.min():.0f}")  # fmt: skip
    return {"seed": jnp.int32(seed), "peaks": jnp.asarray(peaks, jnp.float32),
            "decay_steps": jnp.asarray(ends, jnp.int32)}  # fmt: skip


def make_train(config):
    """``train(member, key) -> {validation_loss, test_loss, diverged_at}`` (nats per character).

    Args:
      config: the study's config.
    """
    setup = setup_for(config)
    net, blocks = tr.model(setup), setup.depth
    corpus = jnp.asarray(tr.corpus().train)
    held_out = tr.evaluation_windows(setup.context, setup.eval_windows)
    evaluation = jnp.asarray(np.concatenate([held_out["validation"], held_out["test"]]), jnp.int32)
    post, warmup = jnp.bool_(False), config.layer_tf_warmup  # Pre-LN: trains at this peak without failing

    def losses(params, windows):
        logits = net.apply({"params": params}, windows[:, :-1], post, blocks)
        return optax.softmax_cross_entropy_with_integer_labels(logits, windows[:, 1:]).mean(axis=1)

    def train(m, key):
        init_key, data_key = jax.random.split(jax.random.fold_in(key, m["seed"]))
        dummy = jnp.zeros((1, setup.context), jnp.int32)
        params = net.init(init_key, dummy, post, blocks)["params"]
        schedules = [osd.warmup(osd.cosine(m["peaks"][d], m["decay_steps"][d] - warmup), warmup)
                     for d in range(blocks + 2)]  # fmt: skip
        optimizer = osd.per_layer(optax.adam(1.0, b1=setup.b1, b2=config.layer_tf_b2, eps=setup.eps),
                                  schedules, depths=depth_of(blocks), num_layers=blocks + 1)  # fmt: skip

        def step(state, t):
            params, opt_state = state
            starts = jax.random.randint(jax.random.fold_in(data_key, t), (setup.batch_size,), 0,
                                        corpus.shape[0] - setup.context - 1)  # fmt: skip
            windows = corpus[starts[:, None] + jnp.arange(setup.context + 1)[None, :]].astype(jnp.int32)
            loss, grads = jax.value_and_grad(lambda p: losses(p, windows).mean())(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), {"loss": loss}

        result = osd.train_loop(step, (params, optimizer.init(params)), setup.steps,
                                record_every=setup.steps)  # fmt: skip
        final = losses(result.state[0], evaluation)
        return {"diverged_at": result.diverged_at,
                "validation_loss": final[: setup.eval_windows].mean(),
                "test_loss": final[setup.eval_windows:].mean()}  # fmt: skip

    return train
