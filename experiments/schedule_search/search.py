"""The four searches of Q1 on one of the zoo's MNIST-1D models, for one seed, each returning what it selected.

Every search trains members of ``experiments.benchmarks.bench_search.Problem``
(the zoo's MLP or CNN, Adam, batch 100; a member's init and data order are fixed by
its ``seed``, so every member of every search sees the same init and the same
minibatches: common random numbers). A search selects on validation accuracy
and reports its selection's test accuracy, its member-steps and its seconds.
"""

from __future__ import annotations

import time

import jax
import numpy as np

import optasched as osd
from experiments.benchmarks.bench_search import Problem
from experiments.common import stats
from experiments.zoo.train import family_schedule

__all__ = ["Problem", "choose", "grid", "random_search", "halving", "pbt", "replay", "member", "grid_member"]


def member(config, family: str, peak: float, seed: int) -> dict:
    """One configuration: the zoo family's schedule (shared warmup) and the seed."""
    warmup = int(config.warmup_fraction * config.steps)
    schedule = family_schedule(family, float(peak), config.steps, 100, warmup)
    return {"schedule": schedule, "seed": np.int32(seed)}


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def choose(labels: list, metrics: dict, steps: int, seconds: float, failed=None) -> dict:
    """THE selection rule (stats.select) on one seed's validation accuracies; the choice's test accuracy.

    Args:
      labels: one label per member.
      metrics: the members' ``val_accuracy`` and ``test_accuracy``.
      steps: steps of every member (member-steps = members x steps).
      seconds: the search's wall time.
      failed: per-member failure flags (never chosen), or None.
    """
    validation = np.asarray(metrics["val_accuracy"], dtype=np.float64)
    test = np.asarray(metrics["test_accuracy"], dtype=np.float64)
    flags = None if failed is None else np.asarray(failed)[:, None]
    choice = stats.select(validation[:, None], labels=labels, failed=flags)
    index = choice.index
    return {
        "selected": choice.label,
        "index": index,
        "val_accuracy": choice.mean,
        "test_accuracy": float("nan") if index is None else float(test[index]),
        "member_steps": len(labels) * steps,
        "seconds": seconds,
        "at_edge": choice.at_edge,
        "members_val": validation.tolist(),
        "members_test": test.tolist(),
    }


def grid(problem: Problem, config, seed: int) -> dict:
    """Every family x peak trained to the end (osd.sweep, one program); the best on validation.

    Args:
      problem: the model's problem (``Problem(config.steps, model)``).
      config: the study's config.
      seed: init and data-order seed of every member.
    """
    batch = osd.grid(lambda family, peak: member(config, family, peak, seed),
                     family=list(config.grid_families), peak=list(config.grid_peaks))  # fmt: skip
    result, seconds = _timed(lambda: osd.sweep(problem.train, batch, jax.random.key(0)))
    return choose(batch.labels, result.metrics, problem.steps, seconds)


def random_search(problem: Problem, config, seed: int) -> dict:
    """``random_samples`` members over the grid's space (family uniform, peak log-uniform), to the end.

    Also the best-so-far curve: the selection among the first k draws for k = 1, 2, 4, ...
    (quality against compute at k full runs).

    Args:
      problem: the model's problem (``Problem(config.steps, model)``).
      config: the study's config.
      seed: init and data-order seed of every member.
    """
    draws = jax.random.fold_in(jax.random.key(config.seed), seed)
    batch = osd.sample(lambda family, peak: member(config, family, peak, seed), draws, config.random_samples,
                       family=osd.choice(list(config.grid_families)),
                       peak=osd.log_uniform(min(config.grid_peaks), max(config.grid_peaks)))  # fmt: skip
    result, seconds = _timed(lambda: osd.sweep(problem.train, batch, jax.random.key(0)))
    out = choose(batch.labels, result.metrics, problem.steps, seconds)
    validation = np.asarray(result.metrics["val_accuracy"], dtype=np.float64)
    curve = []
    k = 1
    while k <= len(batch):
        index = stats.select(validation[:k, None]).index
        curve.append({"members": k, "member_steps": k * problem.steps,
                      "test_accuracy": float("nan") if index is None else out["members_test"][index]})
        k *= 2
    out["best_so_far"] = curve
    return out


def halving(problem: Problem, config, seed: int) -> dict:
    """Successive halving over the 4x larger space (eta and first rung from the config).

    Args:
      problem: the model's problem (``Problem(config.steps, model)``).
      config: the study's config.
      seed: init and data-order seed of every member.
    """
    batch = osd.grid(lambda family, peak: member(config, family, peak, seed),
                     family=list(config.halving_families), peak=list(config.halving_peaks))  # fmt: skip
    result, seconds = _timed(lambda: osd.successive_halving(
        problem.init, problem.advance, batch, jax.random.key(0), metric="val_accuracy", mode="max",
        min_steps=config.halving_first_rung, max_steps=problem.steps, eta=config.halving_eta))  # fmt: skip
    best = result.best().index
    position = result.survivors.tolist().index(best)  # the survivors' metrics are in this order
    return {
        "selected": batch.labels[best],
        "val_accuracy": float(result.scores[-1, best]),
        "test_accuracy": float(np.asarray(result.metrics["test_accuracy"])[position]),
        "member_steps": int(result.member_steps),
        "seconds": seconds,
        "rungs": [int(r) for r in result.rungs],
        "sizes": [int(s) for s in result.sizes],
    }


def pbt(problem: Problem, config, seed: int, weight_decay: bool = False) -> tuple[dict, osd.PBTResult]:
    """PBT over a constant LR (population, ready and fraction from config), explored x0.8 / x1.25.

    With ``weight_decay``, AdamW's weight decay too: drawn log-uniformly over
    ``config.pbt_weight_decay_range`` and explored like the LR (x0.8 / x1.25, clipped to that range).

    Args:
      problem: the model's problem (``Problem(config.steps, model)``).
      config: the study's config.
      seed: init and data-order seed of every member.
      weight_decay: explore AdamW's weight decay beside the LR.
    """
    low, high = min(config.grid_peaks), max(config.grid_peaks)
    draws = jax.random.fold_in(jax.random.key(config.seed + 1), seed)
    space = {"lr": osd.log_uniform(low, high)}
    hyperparams = {"schedule.value": osd.explore(low, high)}
    if weight_decay:
        space["weight_decay"] = osd.log_uniform(*config.pbt_weight_decay_range)
        hyperparams["weight_decay"] = osd.explore(*config.pbt_weight_decay_range)

    def build(lr, weight_decay=None):
        extra = {} if weight_decay is None else {"weight_decay": weight_decay}
        return {"schedule": osd.constant(lr), "seed": np.int32(seed), **extra}

    batch = osd.sample(build, draws, config.pbt_population, **space)
    result, seconds = _timed(lambda: osd.pbt(
        problem.init, problem.advance, batch, jax.random.fold_in(jax.random.key(config.seed), seed),
        hyperparams=hyperparams, steps=problem.steps, ready=config.pbt_ready,
        metric="val_accuracy", mode="max", fraction=config.pbt_fraction))  # fmt: skip
    winner = result.best().index
    trajectory = np.asarray(result.trajectory(winner, "schedule.value"), dtype=np.float64)
    extra = {}
    if weight_decay:
        decay = np.asarray(result.trajectory(winner, "weight_decay"), dtype=np.float64)
        extra = {"weight_decay_trajectory": decay.tolist()}
    return {
        "selected": f"member {winner}",
        "val_accuracy": float(result.scores[-1, winner]),
        "test_accuracy": float(np.asarray(result.metrics["test_accuracy"])[winner]),
        "member_steps": int(result.member_steps),
        "seconds": seconds,
        "lr_trajectory": trajectory.tolist(),
        "log10_last_over_first": float(np.log10(trajectory[-1] / trajectory[0])),
        **extra,
    }, result


def grid_member(config, index: int, seed: int) -> dict:
    """The grid's member ``index`` (osd.grid's order: the peak varies fastest) with another seed."""
    family, peak = divmod(index, len(config.grid_peaks))
    return member(config, config.grid_families[family], config.grid_peaks[peak], seed)


def replay(train, schedule, seed: int) -> float:
    """Test accuracy of one member trained from ``seed`` (a fresh init and data order) with ``schedule``.

    Args:
      train: ``jax.jit(problem.train)``.
      schedule: the learning-rate schedule.
      seed: the member's seed.
    """
    metrics = train({"schedule": schedule, "seed": np.int32(seed)}, jax.random.key(0))
    return float(metrics["test_accuracy"])
