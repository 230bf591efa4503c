"""Q3 on the MLP: the SGD learning rate that meta-gradients through an H-step unroll choose (osd.meta_tune)
against the best constant learning rate for the full run.

From the seed's init, ``osd.meta_tune`` moves ``log lr`` of a constant schedule by Adam on the
validation loss after ``horizon`` SGD steps (the unroll differentiated by ``jax.grad``); the full
run's best learning rate is chosen from a log-spaced grid on validation accuracy (``stats.select``)
after ``steps`` steps. Same model, data and minibatches as the searches (the seed fixes both).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import optasched as osd

from .search import Problem

__all__ = ["make_sgd", "meta_lr_choice"]


def _batch(problem: Problem, data_key, step):
    index = jax.random.randint(jax.random.fold_in(data_key, step), (100,), 0, problem.x_train.shape[0])
    return problem.x_train[index], problem.y_train[index]


def _start(problem: Problem, seed):
    init_key, data_key = jax.random.split(jax.random.fold_in(jax.random.key(0), seed))
    return problem.model.init(init_key, problem.x_train[:1]), data_key


def make_sgd(problem: Problem, steps: int):
    """``train(member, key) -> metrics``: plain SGD at a constant ``member["lr"]`` for ``steps`` steps.

    Args:
      problem: the MLP problem.
      steps: training steps.
    """

    def train(member, key):
        del key  # the seed fixes init and data order, as in the searches
        params, data_key = _start(problem, member["seed"])

        def step(params, t):
            x, y = _batch(problem, data_key, t)
            grads = jax.grad(problem.loss)(params, x, y)
            return jax.tree.map(lambda p, g: p - member["lr"] * g, params, grads), None

        params, _ = jax.lax.scan(step, params, jnp.arange(steps))
        return {
            "val_accuracy": problem.accuracy(params, problem.x_val, problem.y_val),
            "test_accuracy": problem.accuracy(params, problem.x_test, problem.y_test),
        }

    return train


def meta_lr_choice(problem: Problem, seed: int, horizon: int, initial_lr: float, meta_steps: int,
                   meta_lr: float, bounds: tuple[float, float]) -> float:
    """The constant SGD learning rate ``osd.meta_tune`` chooses with an ``horizon``-step unroll from init.

    Args:
      problem: the MLP problem.
      seed: init and data-order seed.
      horizon: unrolled SGD steps per meta-gradient.
      initial_lr: the starting learning rate.
      meta_steps: Adam steps on log lr.
      meta_lr: Adam's step size in log units.
      bounds: ``(lo, hi)`` the learning rate is kept in.
    """
    params, data_key = _start(problem, seed)

    def train_step(params, batch, lr):
        grads = jax.grad(problem.loss)(params, *batch)
        return jax.tree.map(lambda p, g: p - lr * g, params, grads)

    result = osd.meta_tune(
        train_step, osd.constant(initial_lr), params, lambda t: _batch(problem, data_key, t), horizon,
        lambda params: problem.loss(params, problem.x_val, problem.y_val), tune=["value"],
        meta_steps=meta_steps, meta_lr=meta_lr, bounds={"value": bounds},
    )  # fmt: skip
    return float(np.asarray(result.schedule.value))
