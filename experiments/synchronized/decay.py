"""Part B's training program: Adam with a cosine LR and decoupled weight decay whose per-step
shrinkage follows the LR in one of three ways, on the zoo MLP.

``params <- params + adam_update - s(t) params`` with ``s(t) = lambda lr (a + b c(t))``, where
``lr`` is the peak and ``c(t)`` the cosine factor (1 -> 0) read at the optimizer's step
(``osd.schedule_values``). (a, b) = (0, 1) is optax's ``adamw`` (shrinkage ``lr(t) lambda``: coupled,
the AdamW default of Loshchilov & Hutter 2019), (1, 0) a constant shrinkage ``lr lambda`` while the LR
anneals, (2, -1) a shrinkage that rises to twice that as the LR falls (the mission's suggestion). The
three arms share one structure, so the whole (arm, lr, lambda, seed) grid is one sweep.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

import optasched as osd
from experiments.common.models import MLP

__all__ = ["SHRINKAGE_SHAPES", "member", "make_train", "steps_per_epoch"]

SHRINKAGE_SHAPES = {"coupled": (0.0, 1.0), "constant": (1.0, 0.0), "rising": (2.0, -1.0)}  # (a, b)


def steps_per_epoch(data, config) -> int:
    """Training examples over the batch size, rounded down."""
    return data["x_train"].shape[0] // config.batch_size


def member(arm: str, lr: float, lam: float, seed: int) -> dict:
    """One grid cell as a sweep member (every value a leaf).

    Args:
      arm: one of :data:`SHRINKAGE_SHAPES`.
      lr: Adam's peak LR.
      lam: the decay lambda (shrinkage per step ``lr * lam`` at the peak).
      seed: the seed (init and data order).
    """
    if arm not in SHRINKAGE_SHAPES:
        raise ValueError(f"synchronized: decay arm must be one of {sorted(SHRINKAGE_SHAPES)}, got {arm!r}")
    a, b = SHRINKAGE_SHAPES[arm]
    return {"seed": seed, "lr": lr, "lam": lam, "a": a, "b": b}


def make_train(config, data):
    """``train(member, key) -> {validation_accuracy, test_accuracy, diverged_at}`` after the last epoch.

    Args:
      config: the study's config.
      data: MNIST-1D arrays with a validation split.
    """
    model = MLP()
    x_train, y_train = jnp.asarray(data["x_train"]), jnp.asarray(data["y_train"])
    steps = config.wd_epochs * steps_per_epoch(data, config)
    factor = osd.cosine(1.0, steps)

    def accuracy(params, x, y):
        return jnp.mean(jnp.argmax(model.apply(params, jnp.asarray(x)), -1) == jnp.asarray(y))

    def train(m, key):
        init_key, data_key = jax.random.split(jax.random.fold_in(key, m["seed"]))
        params = model.init(init_key, x_train[:1])
        optimizer = osd.inject(optax.adam)(learning_rate=osd.cosine(m["lr"], steps))

        def step(state, t):
            params, opt_state = state
            c = osd.schedule_values(opt_state, {"c": factor})["c"]  # the step this update's LR uses
            shrink = m["lam"] * m["lr"] * (m["a"] + m["b"] * c)
            index = jax.random.randint(jax.random.fold_in(data_key, t), (config.batch_size,), 0,
                                       x_train.shape[0])  # fmt: skip

            def loss_fn(p):
                logits = model.apply(p, x_train[index])
                return optax.softmax_cross_entropy_with_integer_labels(logits, y_train[index]).mean()

            loss, grads = jax.value_and_grad(loss_fn)(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            params = jax.tree.map(lambda p, u: p + u - shrink * p, params, updates)
            return (params, opt_state), {"loss": loss, "shrink": shrink}

        def evaluate(state):
            return {"validation_accuracy": accuracy(state[0], data["x_val"], data["y_val"]),
                    "test_accuracy": accuracy(state[0], data["x_test"], data["y_test"])}  # fmt: skip

        result = osd.train_loop(step, (params, optimizer.init(params)), steps, record_every=steps,
                                evaluate=evaluate)  # fmt: skip
        evaluation = result.history["evaluation"]
        return {"diverged_at": result.diverged_at,
                "validation_accuracy": evaluation["validation_accuracy"][-1],
                "test_accuracy": evaluation["test_accuracy"][-1]}  # fmt: skip

    return train
