"""Part D's training program: the zoo CNN with Adam and one cosine schedule per depth (``osd.per_layer``).

Depths: the three convolutions 0, 1, 2 and the head 3. Each depth d follows
``cosine(peak_d, decay_steps_d)`` (0 after its decay steps). The arms differ only in those leaves, so
every (arm, seed) member is one sweep:

- ``uniform``: every depth ``cosine(peak, T)`` (T the run's steps);
- ``deeper_slower``: depth d decays over ``T (short + (1 - short) d / 3)`` (the head over the whole run,
  the first convolution over ``short`` of it);
- ``shallower_slower``: the mirror image;
- ``layerwise_constant``: ELECTRA / BEiT, ``peak decay ** (3 - d)`` at every depth, all over T.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

import optasched as osd
from experiments.common.models import CNN

from .configs.default import LAYER_ARMS

__all__ = ["DEPTHS", "depth_of", "member", "make_train"]

DEPTHS = {"Conv1D_0": 0, "Conv1D_1": 1, "Conv1D_2": 2, "Dense_0": 3}
NUM_LAYERS = 3  # the deepest depth


def depth_of(path: str, leaf) -> int:
    """The depth of a CNN parameter from its ``"params/Conv1D_1/kernel"``-style path."""
    for name, depth in DEPTHS.items():
        if name in path.split("/"):
            return depth
    raise ValueError(f"synchronized: no depth for parameter {path!r}")


def arm_peaks_and_ends(arm: str, top: int, peak: float, steps: int, config, xp=jnp,
                       depth_dtype=jnp.float32):
    """Each depth's peak LR and cosine end step (``[top + 1]`` arrays of ``xp``) under a layer arm.

    ``uniform``: every depth over the run; ``deeper_slower``: depth d ends at
    T (short + (1 - short) d / top); ``shallower_slower``: the mirror image; ``layerwise_constant``:
    peak x decay ** (top - d), every depth over the run (ELECTRA/BEiT).

    Args:
      arm: one of ``configs.default.LAYER_ARMS``.
      top: the deepest depth (the head).
      peak: the peak LR.
      steps: the run's steps T.
      config: the study's config (``layer_short``, ``layer_decay``).
      xp, depth_dtype: the array module and the depth axis's dtype the caller computes in.
    """
    depth = xp.arange(top + 1, dtype=depth_dtype)
    peaks = xp.full(top + 1, peak)
    ends = xp.full(top + 1, float(steps))
    ramp = config.layer_short + (1 - config.layer_short) * depth / top
    if arm == "deeper_slower":
        ends = xp.round(steps * ramp)
    elif arm == "shallower_slower":
        ends = xp.round(steps * ramp[::-1])
    elif arm == "layerwise_constant":
        peaks = peak * config.layer_decay ** (top - depth)
    elif arm != "uniform":
        raise ValueError(f"synchronized: layer arm must be one of {LAYER_ARMS}, got {arm!r}")
    return peaks, ends


def member(arm: str, seed: int, config, steps: int) -> dict:
    """The per-depth peaks and decay steps of one arm (``[4]`` arrays) and the seed.

    Args:
      arm: one of ``configs.default.LAYER_ARMS``.
      seed: the seed (init and data order).
      config: the study's config (``layer_peak_lr``, ``layer_short``, ``layer_decay``).
      steps: the run's steps T.
    """
    peaks, lengths = arm_peaks_and_ends(arm, NUM_LAYERS, config.layer_peak_lr, steps, config)
    return {"seed": seed, "peaks": peaks, "decay_steps": lengths.astype(jnp.int32)}


def make_train(config, data, steps: int):
    """``train(member, key) -> {test_accuracy, validation_accuracy, diverged_at}`` after ``steps`` steps.

    Args:
      config: the study's config.
      data: MNIST-1D arrays with a validation split.
      steps: training steps.
    """
    model = CNN()
    x_train, y_train = jnp.asarray(data["x_train"]), jnp.asarray(data["y_train"])

    def accuracy(params, x, y):
        return jnp.mean(jnp.argmax(model.apply(params, jnp.asarray(x)), -1) == jnp.asarray(y))

    def train(m, key):
        init_key, data_key = jax.random.split(jax.random.fold_in(key, m["seed"]))
        params = model.init(init_key, x_train[:1])["params"]
        schedules = [osd.cosine(m["peaks"][d], m["decay_steps"][d]) for d in range(NUM_LAYERS + 1)]
        optimizer = osd.per_layer(optax.adam(learning_rate=1.0), schedules, depths=depth_of,
                                  num_layers=NUM_LAYERS)  # fmt: skip

        def step(state, t):
            params, opt_state = state
            index = jax.random.randint(jax.random.fold_in(data_key, t), (config.batch_size,), 0,
                                       x_train.shape[0])  # fmt: skip

            def loss_fn(p):
                logits = model.apply({"params": p}, x_train[index])
                return optax.softmax_cross_entropy_with_integer_labels(logits, y_train[index]).mean()

            loss, grads = jax.value_and_grad(loss_fn)(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), {"loss": loss}

        def evaluate(state):
            variables = {"params": state[0]}
            return {"validation_accuracy": accuracy(variables, data["x_val"], data["y_val"]),
                    "test_accuracy": accuracy(variables, data["x_test"], data["y_test"])}  # fmt: skip

        result = osd.train_loop(step, (params, optimizer.init(params)), steps, record_every=steps,
                                evaluate=evaluate)  # fmt: skip
        evaluation = result.history["evaluation"]
        return {"diverged_at": result.diverged_at,
                "validation_accuracy": evaluation["validation_accuracy"][-1],
                "test_accuracy": evaluation["test_accuracy"][-1]}  # fmt: skip

    return train
