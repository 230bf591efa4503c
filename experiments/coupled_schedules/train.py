"""One training run: a Flax NNX MLP on scikit-learn's digits, AdamW with every
hyperparameter scheduled through ``osd.inject``, for ONE configuration.

A member is ``{"learning_rate", "b1", "weight_decay", "base", "seed"}``: the
first three are the schedules given to ``osd.inject(optax.adamw)`` (an arm
without coupling has constants there, an arm without plateau a plain
schedule), ``base`` is the warmup + cosine every arm starts from (logged, so
the plateau's scale can be read off as ``learning_rate / base``). Stacking arms
of different structures gives switches (``osd.stack``), so every arm x peak LR
x seed is one compiled program.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

import optasched as osd

ARMS = ("lr_schedule", "coupled", "coupled_plateau")


class MLP(nnx.Module):
    """64-128-10 ReLU MLP."""

    def __init__(self, rngs: nnx.Rngs, hidden: int = 128):
        self.hidden = nnx.Linear(64, hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, 10, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.relu(self.hidden(x)))


def steps_per_epoch(config, num_train: int) -> int:
    return num_train // config.batch_size


def schedules(arm: str, peak_lr: float, config, num_train: int) -> dict:
    """The arm's schedules at peak LR ``peak_lr``.

    - ``lr_schedule``: warmup + cosine to peak / 50; Adam's b1 and the weight
      decay constant (AdamW shrinks by lr x wd, so the shrinkage anneals too);
    - ``coupled``: b1 cycled inversely to the LR (``osd.cycled_momentum``,
      PyTorch's ``cycle_momentum``) and the weight decay coupled so that
      lr x wd stays at its value at the peak (``osd.coupled_weight_decay``);
    - ``coupled_plateau``: and the LR halved when the mean training loss of an
      epoch stops improving (``osd.plateau``, counted after the warmup).
    """
    if arm not in ARMS:
        raise ValueError(f"coupled_schedules: unknown arm {arm!r}; known: {', '.join(ARMS)}")
    total = config.epochs * steps_per_epoch(config, num_train)
    base = osd.warmup(
        osd.cosine(peak_lr, total - config.warmup_steps, end_value=peak_lr * config.end_fraction),
        config.warmup_steps,
    )
    if arm == "lr_schedule":
        return {
            "learning_rate": base,
            "b1": osd.constant(config.b1),
            "weight_decay": osd.constant(config.weight_decay),
            "base": base,
        }
    learning_rate = base
    if arm == "coupled_plateau":
        learning_rate = osd.plateau(
            base, factor=config.plateau_factor, patience=config.plateau_patience,
            threshold=config.plateau_threshold, accumulation_size=steps_per_epoch(config, num_train),
            begin_step=config.warmup_steps,
        )  # fmt: skip
    return {
        "learning_rate": learning_rate,
        "b1": osd.cycled_momentum(base, base_momentum=config.b1_low, max_momentum=config.b1_high),
        "weight_decay": osd.coupled_weight_decay(base, config.weight_decay),
        "base": base,
    }


def member(arm: str, peak_lr: float, seed: int, config, num_train: int) -> dict:
    return {**schedules(arm, peak_lr, config, num_train), "seed": np.int32(seed)}


def make_train(config, data: dict[str, np.ndarray]):
    """``train(member, key) -> metrics``: final accuracies, and every step's loss and scheduled values."""
    x_train, y_train = jnp.asarray(data["x_train"]), jnp.asarray(data["y_train"])
    x_val, y_val = jnp.asarray(data["x_val"]), jnp.asarray(data["y_val"])
    x_test, y_test = jnp.asarray(data["x_test"]), jnp.asarray(data["y_test"])
    num_train = x_train.shape[0]
    per_epoch = steps_per_epoch(config, num_train)
    total = config.epochs * per_epoch

    def train(member, key):
        # Common random numbers: the seed fixes the init and every epoch's shuffle, whatever the arm.
        init_key, data_key = jax.random.split(jax.random.fold_in(key, member["seed"]))
        graphdef, params = nnx.split(MLP(nnx.Rngs(params=init_key), config.hidden), nnx.Param)
        orders = jax.vmap(lambda k: jax.random.permutation(k, num_train))(
            jax.random.split(data_key, config.epochs)
        )

        def loss_fn(params, x, y):
            return optax.softmax_cross_entropy_with_integer_labels(nnx.merge(graphdef, params)(x), y).mean()

        def accuracy(params, x, y):
            return jnp.mean(jnp.argmax(nnx.merge(graphdef, params)(x), -1) == y)

        optimizer = osd.inject(optax.adamw)(
            learning_rate=member["learning_rate"], b1=member["b1"], weight_decay=member["weight_decay"]
        )

        def step(state, t):
            params, opt_state = state
            batch = jax.lax.dynamic_slice_in_dim(orders[t // per_epoch], (t % per_epoch) * config.batch_size,
                                                 config.batch_size)  # fmt: skip
            loss, grads = jax.value_and_grad(loss_fn)(params, x_train[batch], y_train[batch])
            updates, opt_state = optimizer.update(
                grads, opt_state, params, value=loss
            )  # value feeds the plateau
            values = osd.hyperparams(opt_state)  # the values this update used
            logged = {"loss": loss, **values, "base_learning_rate": member["base"](t)}
            return (optax.apply_updates(params, updates), opt_state), logged

        result = osd.train_loop(step, (params, optimizer.init(params)), total)
        params = result.state[0]
        return {
            "test_accuracy": accuracy(params, x_test, y_test),
            "validation_accuracy": accuracy(params, x_val, y_val),
            "train_loss": loss_fn(params, x_train, y_train),
            "diverged_at": result.diverged_at,
            "steps": result.history,  # every step: loss, learning_rate, b1, weight_decay, base_learning_rate
        }

    return train
