"""The synchronized study: one function per part, each ONE sweep (one compiled program) of every
arm x seed (part A: x LR schedule; part B: x lr x lambda), reduced to per-seed numbers that
``questions.py`` (no jax) answers.
"""

from __future__ import annotations

import jax
import numpy as np

import optasched as osd
from experiments.common import plotting
from experiments.common.data import load_mnist1d, split_validation

from . import augment, bn, decay, layers, layers_transformer, questions, temperature
from .configs.default import (ANALYSES, AUG_ARMS, BN_ARMS, BN_SCHEDULES, DECAY_ARMS, LAYER_ARMS,
                              TEMPERATURE_RUNS)

# DT: part D on transformer_warmup's character transformer; EL: part E with a peak LR chosen per arm
PARTS = ("A", "B", "C", "D", "DT", "E", "EL")

__all__ = ["PARTS", "check", "part_a", "part_b", "part_c", "part_d", "part_dt", "part_e", "part_el", "study"]


def check(config) -> None:
    """Fail fast, before any training, on a config that cannot answer its questions."""
    if tuple(config.analyses) != ANALYSES:
        raise ValueError("synchronized: analyses must be configs.default.ANALYSES, declared before the run")
    if config.seeds < 2:
        raise ValueError(f"synchronized: paired intervals need at least 2 seeds, got {config.seeds}")
    unknown = sorted(set(config.parts) - set(PARTS))
    if unknown or not config.parts:
        raise ValueError(f"synchronized: parts must be a non-empty subset of {PARTS}, got {config.parts}")
    if config.bn_steps % config.bn_record_every:
        raise ValueError(f"synchronized: bn_steps ({config.bn_steps}) must be a multiple of bn_record_every "
                         f"({config.bn_record_every})")
    if len(config.wd_lrs) < 2 or len(config.wd_lambdas) < 2:
        raise ValueError("synchronized: wd_lrs and wd_lambdas need at least two values each (tau diagonals)")
    for name in ("wd_lrs", "wd_lambdas"):
        grid = np.asarray(getattr(config, name))
        if not np.allclose(grid[1:] / grid[:-1], 2.0):
            raise ValueError(f"synchronized: {name} must be a factor 2 apart (equal-tau pairs), "
                             f"got {tuple(grid)}")
    _check_part_c(config)
    _check_part_e(config)


def _check_part_c(config) -> None:
    """Part C's fields (see configs/default.py)."""
    if config.aug_seeds < 2:
        raise ValueError(f"synchronized: paired intervals need at least 2 aug_seeds, got {config.aug_seeds}")
    if config.aug_epochs % config.aug_record_epochs:
        raise ValueError(f"synchronized: aug_epochs ({config.aug_epochs}) must be a multiple of "
                         f"aug_record_epochs ({config.aug_record_epochs})")
    means = np.asarray(config.aug_means, dtype=np.float64)
    if means.size == 0 or not (means > 0).all():
        raise ValueError(f"synchronized: aug_means must be positive strengths, got {config.aug_means}")
    if 2 * means.max() * config.aug_max_shift >= 20:  # the rising and falling arms reach twice the mean
        raise ValueError(f"synchronized: aug_means reach shifts of 2 x {means.max()} x aug_max_shift "
                         f"({config.aug_max_shift}) positions; keep them under half of the 40")


def _check_part_e(config) -> None:
    """Part E's fields (see configs/default.py)."""
    if config.temp_records < 1 or config.temp_steps % config.temp_records:
        raise ValueError(f"synchronized: temp_steps ({config.temp_steps}) must be a multiple of temp_records "
                         f"({config.temp_records})")
    if config.temp_period < 2 or config.temp_period % 2:
        raise ValueError(f"synchronized: temp_period must be an even number of steps >= 2, "
                         f"got {config.temp_period}")
    declared = {(schedule, arm) for schedule, arms in TEMPERATURE_RUNS for arm in arms}
    runs = {(schedule, arm) for schedule, arms in config.temp_runs for arm in arms}
    if not declared <= runs:
        raise ValueError(f"synchronized: temp_runs must include the declared runs {TEMPERATURE_RUNS}, "
                         f"got {config.temp_runs}")
    grid = np.asarray(config.temp_lr_grid, dtype=np.float64)
    if "EL" in config.parts and (grid.size < 2 or not (grid > 0).all()):
        raise ValueError(f"synchronized: temp_lr_grid needs at least two positive peak LRs, "
                         f"got {config.temp_lr_grid}")
    if not 0 < config.temp_tau_min <= config.temp_tau_max:
        raise ValueError(f"synchronized: need 0 < temp_tau_min <= temp_tau_max, got {config.temp_tau_min}, "
                         f"{config.temp_tau_max}")


def _reshape(metrics, shape):
    return jax.tree.map(lambda x: np.asarray(x).reshape(shape + np.shape(x)[1:]), metrics)


def _bn_numbers(evaluation: dict, config) -> dict[str, dict[str, float]]:
    """Per-arm numbers of one trained BN run (one seed and LR schedule)."""
    every, steps = config.bn_record_every, config.bn_steps
    checkpoints = np.arange(1, steps // every + 1) * every
    drops = (steps // 2, 3 * steps // 4)
    after_drop = np.zeros(len(checkpoints), bool)
    for drop in drops:  # the tenth of the run after each drop
        after_drop |= (checkpoints > drop) & (checkpoints <= drop + steps // 10)
    precise = np.asarray(evaluation["loss_precise"], float)
    out = {}
    for arm in BN_ARMS:
        mismatch = np.asarray(evaluation[f"loss_{arm}"], float) - precise
        spikes = mismatch > config.bn_spike_threshold
        out[arm] = {
            "mismatch_mean": float(mismatch.mean()),
            "mismatch_max": float(mismatch.max()),
            "max_step": int(checkpoints[int(np.argmax(mismatch))]),
            "spikes": int(spikes.sum()),
            "spikes_after_drops": int((spikes & after_drop).sum()),
            "stats_error_mean": float(np.mean(evaluation[f"stats_error_{arm}"])),
            "final_accuracy": float(evaluation[f"accuracy_{arm}"][-1]),
            "final_loss": float(evaluation[f"loss_{arm}"][-1]),
        }
    out["precise"] = {"final_accuracy": float(evaluation["accuracy_precise"][-1]),
                      "final_loss": float(precise[-1])}  # fmt: skip
    return out


def part_a(config, context, data, key) -> tuple[dict, dict]:
    """BN running statistics: every momentum arm in every member, members = LR schedule x seed."""
    members = [{"seed": seed, "lr": bn.lr_schedule(name, config)} for name in BN_SCHEDULES
               for seed in range(config.seeds)]  # fmt: skip
    result = context.sweep(bn.make_train(config, data), osd.stack(members), key,
                           label=f"A: BN CNN, {len(members)} members")  # fmt: skip
    metrics = _reshape(result.metrics, (len(BN_SCHEDULES), config.seeds))
    numbers, curves = {}, {}
    for s, name in enumerate(BN_SCHEDULES):
        runs = [_bn_numbers(jax.tree.map(lambda x, s=s, i=i: x[s, i], metrics["evaluation"]), config)
                for i in range(config.seeds)]  # fmt: skip
        every = config.bn_record_every
        numbers[name] = {arm: {m: [run[arm][m] for run in runs] for m in runs[0][arm]} for arm in runs[0]}
        evaluation, train = metrics["evaluation"], metrics["train"]
        curves[name] = {
            "step": (np.arange(1, config.bn_steps // every + 1) * every).tolist(),
            "learning_rate": train["learning_rate"][s, 0].tolist(),
            "block_max_train_loss": train["block_max_loss"][s].mean(0).tolist(),
            "train_mode_test_loss": evaluation["train_mode_loss"][s].mean(0).tolist(),
            **{f"mismatch_{arm}": (evaluation[f"loss_{arm}"][s]
                                   - evaluation["loss_precise"][s]).mean(0).tolist() for arm in BN_ARMS},
            **{f"decay_{arm}": train[f"decay_{arm}"][s, 0].tolist() for arm in BN_ARMS},
        }  # fmt: skip
    numbers["diverged"] = np.asarray(result.metrics["diverged_at"]).tolist()
    _plot_bn(curves, context.path("bn_mismatch.png"))
    return {k: v for k, v in numbers.items() if k != "diverged"}, {"curves": curves,
                                                                   "diverged_at": numbers["diverged"]}


def part_b(config, context, data, key) -> dict:
    """Weight decay: the (arm, lr, lambda, seed) grid of AdamW-style decay on the MLP, one sweep."""
    cells = [(arm, lr, lam, seed) for arm in DECAY_ARMS for lr in config.wd_lrs for lam in config.wd_lambdas
             for seed in range(config.seeds)]  # fmt: skip
    members = osd.stack([decay.member(*cell) for cell in cells])
    result = context.sweep(decay.make_train(config, data), members, key,
                           label=f"B: MLP decay grid, {len(cells)} members")  # fmt: skip
    shape = (len(DECAY_ARMS), len(config.wd_lrs), len(config.wd_lambdas), config.seeds)
    m = _reshape(result.metrics, shape)
    grid = {arm: {"validation_accuracy": m["validation_accuracy"][a].tolist(),
                  "test_accuracy": m["test_accuracy"][a].tolist(),
                  "diverged": (m["diverged_at"][a] >= 0).tolist()}
            for a, arm in enumerate(DECAY_ARMS)}  # fmt: skip
    return {"grid": grid, "lrs": list(config.wd_lrs), "lambdas": list(config.wd_lambdas)}


def _aug_cells(config) -> list[tuple[str, float]]:
    """Part C's (arm, mean strength) cells: ``none`` once, every other arm at every ``aug_means``."""
    return [("none", 0.0)] + [(arm, mean) for arm in AUG_ARMS if arm != "none" for mean in config.aug_means]


def part_c(config, context, data, key) -> tuple[dict, dict]:
    """Augmentation: every (arm, mean strength, seed) of the MLP with shift + noise, one sweep."""
    epoch = decay.steps_per_epoch(data, config)
    steps, record_every = config.aug_epochs * epoch, config.aug_record_epochs * epoch
    cells = _aug_cells(config)
    members = osd.stack([augment.member(arm, mean, seed) for arm, mean in cells
                         for seed in range(config.aug_seeds)])  # fmt: skip
    result = context.sweep(augment.make_train(config, data, steps, record_every), members, key,
                           label=f"C: MLP augmentation, {len(cells) * config.aug_seeds} members")  # fmt: skip
    m = _reshape(result.metrics, (len(cells), config.aug_seeds))
    arms, curves = {}, {}
    for arm in AUG_ARMS:
        rows = [c for c, (name, _) in enumerate(cells) if name == arm]
        arms[arm] = {"means": [cells[c][1] for c in rows],  # [mean strength] x [seed] below
                     **{f"{metric}_accuracy": [m[f"{metric}_accuracy"][c, :, -1].tolist() for c in rows]
                        for metric in ("train", "validation", "test")},
                     "diverged": [(m["diverged_at"][c] >= 0).tolist() for c in rows]}  # fmt: skip
        # mean over seeds per block, and the strength read at each block's last step (seed 0)
        curves[arm] = {"test_accuracy": [m["test_accuracy"][c].mean(0).tolist() for c in rows],
                       "strength": [m["strength"][c, 0].tolist() for c in rows]}  # fmt: skip
    # the mean strength each arm actually spends over steps 0..T-1 (the declared equality, to 1/T)
    spent = {arm: [float(augment.strengths(arm, mean, steps).mean()) for mean in arms[arm]["means"]]
             for arm in AUG_ARMS}  # fmt: skip
    curves["epoch"] = (np.arange(1, config.aug_epochs // config.aug_record_epochs + 1)
                       * config.aug_record_epochs).tolist()  # fmt: skip
    return {"arms": arms, "spent_mean_strength": spent}, {"curves": curves}


def part_d(config, context, data, key) -> dict:
    """Per-layer schedules: every (arm, seed) of the zoo CNN with a cosine per depth, one sweep."""
    steps = config.layer_epochs * decay.steps_per_epoch(data, config)
    members = osd.stack([layers.member(arm, seed, config, steps) for arm in LAYER_ARMS
                         for seed in range(config.seeds)])  # fmt: skip
    result = context.sweep(layers.make_train(config, data, steps), members, key,
                           label=f"D: CNN per-layer, {len(LAYER_ARMS) * config.seeds} members")  # fmt: skip
    m = _reshape(result.metrics, (len(LAYER_ARMS), config.seeds))
    return {arm: {"test_accuracy": m["test_accuracy"][a].tolist(),
                  "validation_accuracy": m["validation_accuracy"][a].tolist(),
                  "diverged": (m["diverged_at"][a] >= 0).tolist()}
            for a, arm in enumerate(LAYER_ARMS)}  # fmt: skip


def part_e(config, context, data, key) -> dict:
    """Temperature: every (LR schedule, arm, seed) of the contrastive CNN on long-tailed data, one sweep."""
    data = temperature.long_tail(data, config.temp_n_max, config.temp_imbalance)
    runs = [(schedule, arm) for schedule, arms in config.temp_runs for arm in arms]
    members = osd.stack([temperature.member(arm, schedule, seed, config) for schedule, arm in runs
                         for seed in range(config.seeds)])  # fmt: skip
    result = context.sweep(temperature.make_train(config, data, config.temp_steps), members, key,
                           label=f"E: temperature, {len(runs) * config.seeds} members")  # fmt: skip
    m = _reshape(result.metrics, (len(runs), config.seeds))
    out = {"train_counts": np.bincount(data["y_train"], minlength=temperature.NUM_CLASSES).tolist()}
    for r, (schedule, arm) in enumerate(runs):
        out.setdefault(schedule, {})[arm] = {
            "test_per_class": m["test_per_class"][r].tolist(),  # [seed, class]
            "validation_per_class": m["validation_per_class"][r].tolist(),
            "tau": m["tau"][r, 0].tolist(),  # seed 0, the last step of each record block
            "final_loss": m["loss"][r, :, -1].tolist(),
            "diverged": (m["diverged_at"][r] >= 0).tolist(),
        }
    return out


def part_el(config, context, data, key) -> dict:
    """Part E's declared runs at every peak LR of ``temp_lr_grid``, one sweep (the same init and
    batches per seed as part E: the same key)."""
    data = temperature.long_tail(data, config.temp_n_max, config.temp_imbalance)
    runs = [(schedule, arm) for schedule, arms in TEMPERATURE_RUNS for arm in arms]
    lrs = [float(lr) for lr in config.temp_lr_grid]
    members = osd.stack([temperature.member(arm, schedule, seed, config, peak_lr=lr) for schedule, arm in runs
                         for lr in lrs for seed in range(config.seeds)])  # fmt: skip
    result = context.sweep(temperature.make_train(config, data, config.temp_steps), members, key,
                           label=f"EL: temperature x peak LR, {len(runs) * len(lrs) * config.seeds} members")  # fmt: skip
    m = _reshape(result.metrics, (len(runs), len(lrs), config.seeds))
    counts = np.bincount(data["y_train"], minlength=temperature.NUM_CLASSES).tolist()
    out = {"train_counts": counts, "lrs": lrs}
    for r, (schedule, arm) in enumerate(runs):
        out.setdefault(schedule, {})[arm] = {
            "test_per_class": m["test_per_class"][r].tolist(),  # [lr, seed, class]
            "validation_per_class": m["validation_per_class"][r].tolist(),
            "final_loss": m["loss"][r, :, :, -1].tolist(),  # [lr, seed]
            "diverged": (m["diverged_at"][r] >= 0).tolist(),
        }
    return out


def part_dt(config, context, key) -> dict:
    """Part D on the transformer: every (arm, seed) of the per-depth schedules, one sweep."""
    members = osd.stack([layers_transformer.member(arm, seed, config) for arm in LAYER_ARMS
                         for seed in range(config.seeds)])  # fmt: skip
    result = context.sweep(layers_transformer.make_train(config), members, key,
                           label=f"DT: transformer per-layer, {len(LAYER_ARMS) * config.seeds} members")  # fmt: skip
    m = _reshape(result.metrics, (len(LAYER_ARMS), config.seeds))
    return {arm: {"test_loss": m["test_loss"][a].tolist(),
                  "validation_loss": m["validation_loss"][a].tolist(),
                  "diverged": (m["diverged_at"][a] >= 0).tolist()}
            for a, arm in enumerate(LAYER_ARMS)}  # fmt: skip


def study(config, context) -> dict:
    """Run the configured parts and answer the declared questions."""
    check(config)
    data = split_validation(load_mnist1d(config.data_seed), config.validation_size)
    key = jax.random.key(config.seed)
    parts, extra = {}, {}
    if "A" in config.parts:
        parts["A"], extra["bn"] = part_a(config, context, data, jax.random.fold_in(key, 0))
    if "B" in config.parts:
        parts["B"] = part_b(config, context, data, jax.random.fold_in(key, 1))
    if "C" in config.parts:
        parts["C"], extra["augment"] = part_c(config, context, data, jax.random.fold_in(key, 2))
    if "D" in config.parts:
        parts["D"] = part_d(config, context, data, jax.random.fold_in(key, 3))
    if "E" in config.parts:
        parts["E"] = part_e(config, context, data, jax.random.fold_in(key, 4))
    if "DT" in config.parts:
        parts["DT"] = part_dt(config, context, jax.random.fold_in(key, 5))
    if "EL" in config.parts:  # part E's key: the same init and data order per seed
        parts["EL"] = part_el(config, context, data, jax.random.fold_in(key, 4))
    epoch_steps = decay.steps_per_epoch(data, config)
    return {"parts": parts, "extra": extra, "epoch_steps": epoch_steps,
            **questions.analyse(parts, config.analyses, epoch_steps)}  # fmt: skip


def _plot_bn(curves: dict, path) -> None:
    plt = plotting.pyplot()
    fig, axes = plt.subplots(2, len(curves), figsize=(5 * len(curves), 6), squeeze=False)
    for c, (name, curve) in enumerate(curves.items()):
        for arm in BN_ARMS:
            axes[0, c].plot(curve["step"], curve[f"mismatch_{arm}"], lw=1.1, label=arm)
        axes[0, c].set_title(f"{name}: eval loss, running minus PreciseBN statistics", fontsize=8)
        axes[1, c].plot(curve["step"], curve["block_max_train_loss"], lw=1.1, label="max train loss / block")
        axes[1, c].plot(curve["step"], curve["train_mode_test_loss"], lw=1.1, label="test loss, train mode")
        axes[1, c].set_xlabel("step")
        for ax in axes[:, c]:
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6)
    plotting.save(fig, path, dpi=70)
