"""The noisy-labels study: per-sample weightings (optasched) against label noise.

For each (data set, model) run, every one-network arm x LR schedule x noise
setting x seed is one member of ONE sweep (one compiled program; the arm is a
traced index, its hyperparameters traced leaves), and Co-teaching's two-network
members a second sweep with the same initialisation (network a) and data order
per seed. Each run's cells are reduced to per-seed numbers here (final and
validation-chosen test accuracy, label precision, memorisation); the questions
are answered from those in ``questions.py`` (no jax).
"""

from __future__ import annotations

import jax
import numpy as np

import optasched as osd
from experiments.common import plotting, stats
from experiments.common.data import load_digits, load_mnist1d, split_validation

from . import questions
from .arms import pair_member, single_member
from .configs.default import ARMS, SINGLE_ARMS, questions as declared_questions
from .noise import noisy_splits
from .train import make_pair, make_single, steps_per_epoch

__all__ = ["check", "load", "train_run", "cells_of", "study", "plot_curves"]

NUM_CLASSES = 10


def check(config) -> None:
    """Fail fast, before any training, on a config that cannot run or answer its questions."""
    if tuple(config.arms) != ARMS:
        raise ValueError(f"noisy_labels: arms must be configs.default.ARMS {ARMS}, got {config.arms}")
    names = [n.name for n in config.noises]
    if "sym0" not in names or "sym40" not in names:
        raise ValueError(f"noisy_labels: noises must include sym0 and sym40 (Q1-Q4), got {names}")
    if tuple(config.schedules) != ("constant", "cosine"):
        raise ValueError(f"noisy_labels: schedules must be ('constant', 'cosine'), got {config.schedules}")
    if config.seeds < 2:
        raise ValueError(f"noisy_labels: paired intervals need at least 2 seeds, got {config.seeds}")
    if tuple(config.analyses) != declared_questions(tuple(config.runs)):
        raise ValueError("noisy_labels: analyses must be configs.default.questions(runs), "
                         "declared before the run")
    for data, model in config.runs:
        if data not in ("mnist1d", "digits") or (data == "digits" and model != "mlp"):
            raise ValueError(f"noisy_labels: runs must be (mnist1d, mlp|cnn) or (digits, mlp), "
                             f"got {(data, model)}")


def load(name: str, config) -> dict[str, np.ndarray]:
    """One data set with a validation split and every noise setting (``noise.noisy_splits``).

    Args:
      name: ``"mnist1d"`` or ``"digits"``.
      config: the study's config (seeds of the data, the split and the noise).
    """
    if name == "mnist1d":
        data = split_validation(load_mnist1d(config.data_seed), config.validation_size)
    else:
        data = split_validation(load_digits(config.digits_split_seed), config.digits_validation_size)
    return noisy_splits(data, config.noises, NUM_CLASSES, config.noise_seed)


def train_run(context, config, data_name: str, model: str, data: dict, key) -> dict[str, dict]:
    """Train every arm of one run; per-arm metrics with leading axes [schedule, noise, seed].

    Args:
      context: the runner's context (progress, sweeps).
      config: the study's config.
      data_name: the data set's name (for progress lines).
      model: ``"mlp"`` or ``"cnn"``.
      data: :func:`load`'s arrays.
      key: the PRNG key every member gets (the seed is folded in inside ``train``).
    """
    epoch = steps_per_epoch(data, config)
    steps, ramp = config.epochs * epoch, config.ramp_epochs * epoch
    grid = (len(config.schedules), len(config.noises), config.seeds)
    cells = [(s, k, seed) for s in config.schedules for k in range(len(config.noises))
             for seed in range(config.seeds)]  # fmt: skip
    single = [single_member(arm, s, k, seed, config, steps, ramp)
              for arm in SINGLE_ARMS for s, k, seed in cells]  # fmt: skip
    pair = [pair_member(s, k, seed, config, steps, ramp) for s, k, seed in cells]
    out = {}
    for label, train, members, arms in (
        ("one-network arms", make_single(model, config, data), single, SINGLE_ARMS),
        ("co_teaching", make_pair(model, config, data), pair, ("co_teaching",)),
    ):
        name = f"{data_name} {model}: {len(members)} {label}"
        result = context.sweep(train, osd.stack(members), key, label=name)
        context.log(f"  compile {result.compile_seconds:.1f} s, run {result.run_seconds:.1f} s, "
                    f"chunk {result.chunk_size}")  # fmt: skip
        shape = (len(arms), *grid)
        metrics = jax.tree.map(lambda x, shape=shape: np.asarray(x).reshape(shape + np.shape(x)[1:]),
                               result.metrics)  # fmt: skip
        for a, arm in enumerate(arms):
            out[arm] = jax.tree.map(lambda x, a=a: x[a], metrics)
    return out


def _per_seed(curves: dict, diverged_at: int, epoch_steps: int) -> dict[str, float | int | None]:
    """The numbers of one trained run: final, validation-chosen epoch (``stats.select``), precision."""
    test = np.asarray(curves["test_accuracy"], float)
    validation = np.asarray(curves["validation_accuracy"], float)
    epochs = len(test)
    ends = np.arange(1, epochs + 1) * epoch_steps  # the step after each epoch's evaluation
    failed = ends > diverged_at if diverged_at >= 0 else np.zeros(epochs, bool)
    choice = stats.select(validation[:, None], failed=failed[:, None]).index  # the first best epoch
    clean, total = np.asarray(curves["clean_mass"], float), np.asarray(curves["total_mass"], float)
    last_total = total[-1] - (total[-2] if epochs > 1 else 0.0)
    last_clean = clean[-1] - (clean[-2] if epochs > 1 else 0.0)
    nan = float("nan")
    return {
        "final_test": nan if diverged_at >= 0 else float(test[-1]),
        "final_validation": nan if diverged_at >= 0 else float(validation[-1]),
        "chosen_test": nan if choice is None else float(test[choice]),
        "chosen_epoch": -1 if choice is None else choice + 1,
        "precision_last": last_clean / last_total if last_total > 0 else nan,
        "precision_run": clean[-1] / total[-1] if total[-1] > 0 else nan,
        "memorised_last": float(curves["memorised"][-1]),
        "diverged_at": int(diverged_at),
    }


def cells_of(config, metrics: dict[str, dict], epoch_steps: int) -> tuple[dict, dict]:
    """``(cells, curves)``: per-seed numbers ``cells[arm][schedule][noise][metric]``, mean curves.

    Args:
      config: the study's config.
      metrics: :func:`train_run`'s per-arm metrics.
      epoch_steps: steps per epoch (to place a divergence among the epochs).
    """
    cells: dict = {}
    curves: dict = {}
    for arm, m in metrics.items():
        for s, schedule in enumerate(config.schedules):
            for k, noise in enumerate(config.noises):
                runs = [_per_seed(jax.tree.map(lambda x, seed=seed: x[s, k, seed], m["curves"]),
                                  int(m["diverged_at"][s, k, seed]), epoch_steps)
                        for seed in range(config.seeds)]  # fmt: skip
                cells.setdefault(arm, {}).setdefault(schedule, {})[noise.name] = {
                    key: [r[key] for r in runs] for key in runs[0]
                }
                clean = m["curves"]["clean_mass"][s, k]  # [seed, epoch], running sums
                total = m["curves"]["total_mass"][s, k]
                per_epoch = np.diff(clean, axis=-1, prepend=0.0) / np.diff(total, axis=-1, prepend=0.0)
                curves.setdefault(arm, {}).setdefault(schedule, {})[noise.name] = {
                    "test_accuracy": m["curves"]["test_accuracy"][s, k].mean(0).tolist(),
                    "memorised": m["curves"]["memorised"][s, k].mean(0).tolist(),
                    "label_precision": per_epoch.mean(0).tolist(),
                }
    return cells, curves


def study(config, context) -> dict:
    check(config)
    key = jax.random.key(config.seed)
    runs, curves, noise_realised = {}, {}, {}
    for data_name in dict.fromkeys(data for data, _ in config.runs):
        data = load(data_name, config)
        realised = data["noise_rate_realised"].tolist()
        noise_realised[data_name] = dict(zip([n.name for n in config.noises], realised, strict=True))
        for model in [m for d, m in config.runs if d == data_name]:
            run = f"{data_name}_{model}"
            metrics = train_run(context, config, data_name, model, data, key)
            runs[run], curves[run] = cells_of(config, metrics, steps_per_epoch(data, config))
    results = {
        **questions.analyse(runs, config.analyses),
        "cells": runs,  # per-seed numbers: what the questions read (a stored file can be re-analysed)
        "curves": curves,  # mean over seeds, per epoch
        "noise_rate_realised": noise_realised,
    }
    plot_curves(config, curves, context.path("curves.png"))
    return results


def plot_curves(config, curves: dict, path) -> None:
    """Test accuracy and label precision per epoch at 40% symmetric noise, every arm, constant LR."""
    plt = plotting.pyplot()
    fig, axes = plt.subplots(2, len(curves), figsize=(4.5 * len(curves), 6), squeeze=False)
    colors = plt.get_cmap("tab10")
    for c, (run, arms) in enumerate(curves.items()):
        for i, (arm, by_schedule) in enumerate(arms.items()):
            cell = by_schedule["constant"]["sym40"]
            epochs = np.arange(1, len(cell["test_accuracy"]) + 1)
            accuracy = 100 * np.asarray(cell["test_accuracy"])
            axes[0, c].plot(epochs, accuracy, color=colors(i), lw=1.1, label=arm)
            axes[1, c].plot(epochs, 100 * np.asarray(cell["label_precision"]), color=colors(i), lw=1.1)
        axes[0, c].set_title(f"{run}: test accuracy (sym40, constant LR)", fontsize=8)
        axes[1, c].set_title(f"{run}: label precision of the weights (%)", fontsize=8)
        axes[1, c].set_xlabel("epoch")
        for ax in axes[:, c]:
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=6, ncol=2)
    plotting.save(fig, path, dpi=70)
