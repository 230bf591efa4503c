"""Hypergradient descent (Baydin et al. 2018): Q4's SGD-HD with and without a safeguard, and Adam-HD as a
search in Q1 (``search``: every initial LR x hypergradient LR to the end, the best on validation).

One member is an initial learning rate, a hypergradient learning rate and a
seed; ``train(member, key)`` runs SGD-HD or Adam-HD (additive rule) for ``steps`` steps on
the same data, model and minibatches as the searches (the seed fixes init and
data order) and reports the adapted learning rate's range over the run, the
final validation loss and the test accuracy. The safeguard (``lr_range``) is
structure, not a leaf: with and without it are two programs.
"""

from __future__ import annotations

import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optasched as osd

from . import search as _search
from .search import Problem

__all__ = ["make_train", "members", "failed", "search"]

_OPTIMIZERS = {"sgd": osd.sgd_hd, "adam": osd.adam_hd}


def members(initial_lrs, hyper_lrs, seed: int) -> dict:
    """Every (initial LR, hypergradient LR) for one seed, as one stacked member tree (initial LR slowest).

    Args:
      initial_lrs: initial learning rates.
      hyper_lrs: hypergradient learning rates.
      seed: init and data-order seed of every member.
    """
    pairs = [(lr, beta) for lr in initial_lrs for beta in hyper_lrs]
    return {
        "learning_rate": np.asarray([p[0] for p in pairs], np.float32),
        "hyper_lr": np.asarray([p[1] for p in pairs], np.float32),
        "seed": np.full(len(pairs), seed, np.int32),
    }


@functools.lru_cache(maxsize=16)  # one function object per setting: osd.sweep's compiled programs are reused
def make_train(problem: Problem, steps: int, lr_range: tuple[float, float] | None, optimizer: str = "sgd"):
    """``train(member, key) -> metrics`` of SGD-HD or Adam-HD with ``lr_range`` as its safeguard.

    Args:
      problem: the model's problem (data, model, loss, accuracy).
      steps: training steps.
      lr_range: ``(lo, hi)`` the adapted LR is clipped to, or None for no safeguard.
      optimizer: ``"sgd"`` (osd.sgd_hd) or ``"adam"`` (osd.adam_hd).
    """
    if optimizer not in _OPTIMIZERS:
        raise ValueError(f"make_train: optimizer must be one of {sorted(_OPTIMIZERS)}, got {optimizer!r}")
    hd_optimizer = _OPTIMIZERS[optimizer]

    def train(member, key):
        opt = hd_optimizer(member["learning_rate"], member["hyper_lr"], lr_range=lr_range)
        init_key, data_key = jax.random.split(jax.random.fold_in(key, member["seed"]))
        params = problem.model.init(init_key, problem.x_train[:1])
        initial_loss = problem.loss(params, problem.x_val, problem.y_val)

        def step(carry, t):
            params, opt_state, low, high = carry
            batch = jax.random.randint(jax.random.fold_in(data_key, t), (100,), 0, problem.x_train.shape[0])
            grads = jax.grad(problem.loss)(params, problem.x_train[batch], problem.y_train[batch])
            updates, opt_state = opt.update(grads, opt_state, params)
            lr = osd.hyperparams(opt_state)["learning_rate"]
            return (optax.apply_updates(params, updates), opt_state, jnp.minimum(low, lr),
                    jnp.maximum(high, lr)), None  # fmt: skip

        start = (params, opt.init(params), jnp.float32(jnp.inf), jnp.float32(-jnp.inf))
        (params, opt_state, low, high), _ = jax.lax.scan(step, start, jnp.arange(steps))
        return {
            "initial_val_loss": initial_loss,
            "val_loss": problem.loss(params, problem.x_val, problem.y_val),
            "val_accuracy": problem.accuracy(params, problem.x_val, problem.y_val),
            "test_accuracy": problem.accuracy(params, problem.x_test, problem.y_test),
            "lr_min": low,
            "lr_max": high,
            "lr_final": osd.hyperparams(opt_state)["learning_rate"],
        }

    return train


def failed(metrics: dict) -> np.ndarray:
    """A run failed if its final validation loss is not finite or above its loss at initialisation.

    Args:
      metrics: a sweep's metrics (``val_loss``, ``initial_val_loss`` per member).
    """
    loss = np.asarray(metrics["val_loss"], np.float64)
    return ~np.isfinite(loss) | (loss > np.asarray(metrics["initial_val_loss"], np.float64))


def search(problem: Problem, config, seed: int) -> dict:
    """Adam-HD as a Q1 search: every (initial LR, hypergradient LR) of ``hd_search_*`` to the end with the
    safeguard ``hd_search_lr_range`` (one ``osd.sweep``), the best on validation (a failed run never).

    Args:
      problem: the model's problem (``Problem(config.steps, model)``).
      config: the study's config.
      seed: init and data-order seed of every member.
    """
    train = make_train(problem, problem.steps, tuple(config.hd_search_lr_range), "adam")
    batch = members(config.hd_search_initial_lrs, config.hd_search_hyper_lrs, seed)
    labels = [f"lr0 {lr:g}, hyper {beta:g}" for lr in config.hd_search_initial_lrs
              for beta in config.hd_search_hyper_lrs]  # fmt: skip
    start = time.perf_counter()
    metrics = jax.device_get(osd.sweep(train, batch, jax.random.key(0)).metrics)
    seconds = time.perf_counter() - start
    flags = failed(metrics)
    out = _search.choose(labels, metrics, problem.steps, seconds, failed=flags)
    out.update(failed=flags.tolist(), lr_final=np.asarray(metrics["lr_final"], np.float64).tolist())
    return out
