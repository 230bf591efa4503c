"""Part A's training program: a BatchNorm CNN on MNIST-1D whose running statistics are kept by
every momentum arm at once.

The running statistics never enter a train-mode forward pass, so the weights' trajectory is the same
for every momentum rule: one member trains one network (per seed and LR schedule) and keeps one
set of running statistics per arm, each updated exactly as ``nn.BatchNorm(momentum=d)`` would
(``r <- d r + (1 - d) batch``; the batch statistics come from the same forward pass, run with
momentum 0). The decays are schedules evaluated at the optimizer's step (``osd.schedule_values``).
Every ``record_every`` steps: test loss in train mode (batch statistics of the test set) and in eval
mode with each arm's statistics and with PreciseBN's (Wu & Johnson 2021: recomputed with frozen
weights on ``precise_examples`` training examples in one batch), the statistics' error against
PreciseBN, and test accuracy. Every arm's statistics start from PreciseBN's at the initial weights.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

import optasched as osd
from experiments.common.models import Conv1D

from .configs.default import BN_ARMS

__all__ = ["BNCNN", "lr_schedule", "decay_schedules", "decays_at", "ema", "statistics_error", "make_train"]


class BNCNN(nn.Module):
    """The zoo CNN (three stride-2 convolutions of 25 channels) with BatchNorm before each ReLU."""

    @nn.compact
    def __call__(self, x, momentum, train: bool):
        x = x[..., None]
        for kernel in (5, 3, 3):
            x = Conv1D(25, kernel_size=kernel, stride=2, padding=1)(x)
            x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=momentum)(x))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))


def lr_schedule(name: str, config):
    """``"step"``: the peak, times ``bn_drop`` at 50% and again at 75% of the run; ``"warmup_cosine"``.

    Args:
      name: one of ``configs.default.BN_SCHEDULES``.
      config: the study's config.
    """
    steps = config.bn_steps
    if name == "step":
        return osd.multistep(config.bn_peak_lr, [steps // 2, 3 * steps // 4], config.bn_drop)
    if name == "warmup_cosine":
        warmup = int(round(config.bn_warmup_fraction * steps))
        return osd.warmup(osd.cosine(config.bn_peak_lr, steps - warmup), warmup)
    raise ValueError(f"synchronized: bn schedule must be 'step' or 'warmup_cosine', got {name!r}")


def decay_schedules(lr, config) -> dict:
    """The scheduled decays of part A, as schedules of the step (Flax convention).

    ``coupled``: ``osd.coupled_ema_decay`` from 0.9 at the peak LR to ``bn_coupled_max`` at LR 0,
    linear in the LR, so the EMA's time constant 1/(1 - d) is about proportional to 1/lr.
    ``pointnet_momentum``: PyTorch momentum ``bn_pointnet_start`` halved at each of the step
    schedule's drops (PointNet; its floor 0.01 is applied in :func:`decays_at`).
    """
    steps = config.bn_steps
    return {
        "coupled": osd.coupled_ema_decay(lr, min_decay=0.9, max_decay=config.bn_coupled_max, base_min=0.0,
                                         base_max=config.bn_peak_lr),  # fmt: skip
        "pointnet_momentum": osd.multistep(config.bn_pointnet_start, [steps // 2, 3 * steps // 4], 0.5),
    }


def decays_at(values: dict) -> dict:
    """Every arm's decay at one step, from ``osd.schedule_values`` of :func:`decay_schedules`."""
    return {
        "fixed_0.9": jnp.float32(0.9),
        "fixed_0.99": jnp.float32(0.99),
        "coupled": values["coupled"],
        "pointnet": 1.0 - jnp.maximum(values["pointnet_momentum"], 0.01),
    }


def ema(running, batch, decay):
    """``nn.BatchNorm``'s update of its running statistics: ``decay * running + (1 - decay) * batch``."""
    return jax.tree.map(lambda r, b: decay * r + (1.0 - decay) * b, running, batch)


def statistics_error(running, precise) -> jax.Array:
    """Mean over BN channels of |mean - precise mean| / precise std plus |log(var / precise var)| / 2."""
    errors = []
    for layer in precise:
        p, r = precise[layer], running[layer]
        std = jnp.sqrt(p["var"] + 1e-5)
        errors.append(jnp.mean(jnp.abs(r["mean"] - p["mean"]) / std
                               + 0.5 * jnp.abs(jnp.log((r["var"] + 1e-5) / (p["var"] + 1e-5)))))  # fmt: skip
    return jnp.mean(jnp.stack(errors))


def make_train(config, data):
    """``train(member, key) -> metrics`` for one seed and LR schedule (``member["lr"]``).

    Args:
      config: the study's config.
      data: MNIST-1D arrays (``x_train``, ``y_train``, ``x_test``, ``y_test``).
    """
    model = BNCNN()
    x_train, y_train = jnp.asarray(data["x_train"]), jnp.asarray(data["y_train"])
    x_test, y_test = jnp.asarray(data["x_test"]), jnp.asarray(data["y_test"])
    x_precise = x_train[: config.bn_precise_examples]
    every = config.bn_record_every

    def loss_and_accuracy(logits, y):
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, jnp.mean(jnp.argmax(logits, -1) == y)

    def train(member, key):
        init_key, data_key = jax.random.split(jax.random.fold_in(key, member["seed"]))
        variables = model.init(init_key, x_train[:2], 0.0, train=False)
        params = variables["params"]
        # every arm starts from PreciseBN's statistics of the initial weights, not Flax's (0, 1): a
        # mismatch is then the EMA's lag behind moving weights, never its start-up from arbitrary values
        _, start = model.apply(variables, x_precise, 0.0, train=True, mutable=["batch_stats"])
        stats = {arm: start["batch_stats"] for arm in BN_ARMS}
        optimizer = osd.inject(optax.sgd)(learning_rate=member["lr"], momentum=0.9)
        schedules = decay_schedules(member["lr"], config)

        def objective(params, x, y):
            logits, new = model.apply({"params": params, "batch_stats": stats["fixed_0.9"]}, x, 0.0,
                                      train=True, mutable=["batch_stats"])  # fmt: skip
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), new["batch_stats"]

        def step(state, t):
            params, opt_state, stats, block_max = state
            decays = decays_at(osd.schedule_values(opt_state, schedules))  # at this update's step
            index = jax.random.randint(jax.random.fold_in(data_key, t), (config.batch_size,), 0,
                                       x_train.shape[0])  # fmt: skip
            (loss, batch), grads = jax.value_and_grad(objective, has_aux=True)(params, x_train[index],
                                                                               y_train[index])  # fmt: skip
            stats = {arm: ema(stats[arm], batch, decays[arm]) for arm in BN_ARMS}
            updates, opt_state = optimizer.update(grads, opt_state, params)
            # the largest training loss of the block (the history keeps one record per block)
            block_max = jnp.where(t % every == 0, loss, jnp.maximum(block_max, loss))
            return (optax.apply_updates(params, updates), opt_state, stats, block_max), {
                "loss": loss, "block_max_loss": block_max, "learning_rate": osd.hyperparams(opt_state)[
                    "learning_rate"], **{f"decay_{arm}": d for arm, d in decays.items()}}  # fmt: skip

        def evaluate(state):
            params, _, stats, _ = state
            _, precise = model.apply({"params": params, "batch_stats": stats["fixed_0.9"]}, x_precise, 0.0,
                                     train=True, mutable=["batch_stats"])  # fmt: skip
            precise = precise["batch_stats"]
            train_logits, _ = model.apply({"params": params, "batch_stats": precise}, x_test, 0.0, train=True,
                                          mutable=["batch_stats"])  # fmt: skip
            out = {}
            out["train_mode_loss"], out["train_mode_accuracy"] = loss_and_accuracy(train_logits, y_test)
            for arm, batch_stats in {**stats, "precise": precise}.items():
                logits = model.apply({"params": params, "batch_stats": batch_stats}, x_test, 0.0, train=False)
                out[f"loss_{arm}"], out[f"accuracy_{arm}"] = loss_and_accuracy(logits, y_test)
                out[f"stats_error_{arm}"] = statistics_error(batch_stats, precise)
            return out

        state = (params, optimizer.init(params), stats, jnp.float32(0.0))
        result = osd.train_loop(step, state, config.bn_steps, record_every=every, evaluate=evaluate)
        return {"diverged_at": result.diverged_at, "train": result.history["train"],
                "evaluation": result.history["evaluation"]}  # fmt: skip

    return train
