"""Training programs of the noisy-labels study: one network (every arm but one), two networks (Co-teaching).

``make_single(model, config, data)`` and ``make_pair(model, config, data)``
return ``train(member, key)``, pure functions of ONE member that ``osd.sweep``
runs over a whole stacked sweep. Per seed, every arm gets the same
initialisation (network a of Co-teaching included) and the same minibatches:
``init_key, data_key = split(fold_in(key, seed))``.

Each epoch (``n_train // batch_size`` steps of batches drawn with
replacement) ends with an evaluation: test accuracy (clean labels),
validation accuracy (noisy labels: what a practitioner can measure), how
much of the noisy training labels the network reproduces (memorisation,
Arpit et al. 2017), and the running weight mass on truly clean examples
(label precision = clean mass / total mass of the per-sample weights).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optasched as osd
from experiments.common.models import MNIST1D_MODELS

__all__ = ["steps_per_epoch", "make_single", "make_pair"]


def steps_per_epoch(data: dict[str, np.ndarray], config) -> int:
    """Steps of one epoch: the training examples over the batch size, rounded down.

    Args:
      data: the data set's arrays (``x_train``).
      config: the study's config (``batch_size``).
    """
    return data["x_train"].shape[0] // config.batch_size


def _model(model_name: str):
    if model_name not in MNIST1D_MODELS:
        raise ValueError(f"noisy_labels: model must be one of {sorted(MNIST1D_MODELS)}, got {model_name!r}")
    return MNIST1D_MODELS[model_name]()


class _Data:
    """The arrays of one data set on the device, and the per-epoch evaluation of one network."""

    def __init__(self, data: dict[str, np.ndarray], model, config):
        self.model = model
        self.x_train = jnp.asarray(data["x_train"])
        self.y_noisy = jnp.asarray(data["y_train_noisy"])  # [noises, n_train]
        self.clean = jnp.asarray(data["clean_train"])  # [noises, n_train]
        self.x_val, self.y_val = jnp.asarray(data["x_val"]), jnp.asarray(data["y_val_noisy"])
        self.x_test, self.y_test = jnp.asarray(data["x_test"]), jnp.asarray(data["y_test"])
        self.num_train = self.x_train.shape[0]
        self.batch_size = config.batch_size

    def batch(self, data_key, step, noise):
        index = jax.random.randint(jax.random.fold_in(data_key, step), (self.batch_size,), 0, self.num_train)
        return self.x_train[index], self.y_noisy[noise][index], self.clean[noise][index]

    def evaluate(self, params, noise) -> dict:
        def accuracy(x, y):
            return jnp.mean(jnp.argmax(self.model.apply(params, x), -1) == y)

        train_hit = jnp.argmax(self.model.apply(params, self.x_train), -1) == self.y_noisy[noise]
        clean = self.clean[noise]
        noisy_count = jnp.maximum(jnp.sum(~clean), 1)
        return {
            "test_accuracy": accuracy(self.x_test, self.y_test),
            "validation_accuracy": accuracy(self.x_val, self.y_val[noise]),
            # fraction of the corrupted training examples predicted AS their wrong label (0 at 0% noise)
            "memorised": jnp.sum(train_hit & ~clean) / noisy_count,
            "clean_fit": jnp.sum(train_hit & clean) / jnp.maximum(jnp.sum(clean), 1),
        }


def _precision_sums(weights, clean):
    """Weight mass on clean examples and in all, for the running label precision."""
    weights = jax.lax.stop_gradient(weights)
    return jnp.stack([jnp.sum(weights * clean), jnp.sum(weights)])


def _run(step, state, epoch_steps: int, config, evaluate):
    """``config.epochs`` epochs, one record and one evaluation per epoch."""
    steps = config.epochs * epoch_steps
    return osd.train_loop(step, state, steps, record_every=epoch_steps, evaluate=evaluate)


def make_single(model_name: str, config, data: dict[str, np.ndarray]):
    """``train(member, key) -> metrics`` for the one-network arms (``arms.single_member``).

    The member's ``kind`` picks which weighting's loss is minimised; every
    weighting is evaluated on the same logits, so arms of different kinds are
    members of one program (per step the extra cost is a few [batch]-sized ops).

    Args:
      model_name: ``"mlp"`` or ``"cnn"`` (``experiments.common.models``).
      config: the study's config.
      data: the arrays of ``study.load``.
    """
    model = _model(model_name)
    arrays = _Data(data, model, config)
    epoch = steps_per_epoch(data, config)
    uniform = osd.uniform_weighting()

    def train(member, key):
        init_key, data_key = jax.random.split(jax.random.fold_in(key, member["seed"]))
        params = model.init(init_key, arrays.x_train[:1])
        optimizer = osd.inject(optax.adam)(learning_rate=member["learning_rate"])
        noise, kind = member["noise"], member["kind"]
        rules = (uniform, member["margin"], member["small_loss"], member["gce"], member["focal"])

        def objective(params, x, y, clean, step):
            logits = model.apply(params, x)
            # the order of arms.KINDS: uniform, margin, small_loss, gce, focal, then the oracle
            losses = [rule.loss(logits, y, step) for rule in rules]
            losses.append(uniform.loss(logits, y, step, mask=clean))
            weights = [rule.weights(logits, y, step) for rule in rules]
            weights.append(uniform.weights(logits, y, step, mask=clean))
            return jnp.stack(losses)[kind], jnp.stack(weights)[kind]

        def step(state, t):
            params, opt_state, sums = state
            x, y, clean = arrays.batch(data_key, t, noise)
            (loss, weights), grads = jax.value_and_grad(objective, has_aux=True)(params, x, y, clean, t)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            sums = sums + _precision_sums(weights, clean)
            rate = osd.hyperparams(opt_state)["learning_rate"]
            params = optax.apply_updates(params, updates)
            return (params, opt_state, sums), {"loss": loss, "learning_rate": rate}

        def evaluate(state):
            params, _, sums = state
            return {**arrays.evaluate(params, noise), "clean_mass": sums[0], "total_mass": sums[1]}

        state = (params, optimizer.init(params), jnp.zeros(2))
        result = _run(step, state, epoch, config, evaluate)
        return {"diverged_at": result.diverged_at, "curves": result.history["evaluation"],
                "loss": result.history["train"]["loss"]}  # fmt: skip

    return train


def make_pair(model_name: str, config, data: dict[str, np.ndarray]):
    """``train(member, key) -> metrics`` for Co-teaching (``arms.pair_member``): two networks in one member.

    Network a starts from the same initialisation as every one-network arm of
    the seed; network b from another. Each network is trained on the
    small-loss samples its PEER selects; the reported accuracy is network a's.
    The selections are constants of the gradient, so one gradient of
    ``loss_a + loss_b`` over the pair trains each network on its own loss.

    Args:
      model_name: ``"mlp"`` or ``"cnn"`` (``experiments.common.models``).
      config: the study's config.
      data: the arrays of ``study.load``.
    """
    model = _model(model_name)
    arrays = _Data(data, model, config)
    epoch = steps_per_epoch(data, config)

    def train(member, key):
        init_key, data_key = jax.random.split(jax.random.fold_in(key, member["seed"]))
        params = (model.init(init_key, arrays.x_train[:1]), model.init(jax.random.fold_in(init_key, 1),
                                                                        arrays.x_train[:1]))  # fmt: skip
        optimizer = osd.inject(optax.adam)(learning_rate=member["learning_rate"])
        noise, rule = member["noise"], member["co_teaching"]

        def objective(params, x, y, step):
            logits_a, logits_b = model.apply(params[0], x), model.apply(params[1], x)
            loss_a, loss_b = rule.loss_pair(logits_a, logits_b, y, step)
            keep_a, keep_b = rule.selections(logits_a, logits_b, y, step)
            return loss_a + loss_b, (loss_a, keep_a, keep_b)

        def step(state, t):
            params, opt_state, sums = state
            x, y, clean = arrays.batch(data_key, t, noise)
            (_, (loss_a, keep_a, _)), grads = jax.value_and_grad(objective, has_aux=True)(params, x, y, t)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            sums = sums + _precision_sums(keep_a.astype(jnp.float32), clean)
            rate = osd.hyperparams(opt_state)["learning_rate"]
            params = optax.apply_updates(params, updates)
            return (params, opt_state, sums), {"loss": loss_a, "learning_rate": rate}

        def evaluate(state):
            params, _, sums = state
            peer = arrays.evaluate(params[1], noise)
            return {**arrays.evaluate(params[0], noise), "clean_mass": sums[0], "total_mass": sums[1],
                    "peer_test_accuracy": peer["test_accuracy"]}  # fmt: skip

        state = (params, optimizer.init(params), jnp.zeros(2))
        result = _run(step, state, epoch, config, evaluate)
        return {"diverged_at": result.diverged_at, "curves": result.history["evaluation"],
                "loss": result.history["train"]["loss"]}  # fmt: skip

    return train
