"""Coupled schedules and a plateau on a small Flax NNX classifier.

Question: scheduling Adam's b1 and the weight decay together with the learning
rate (b1 cycled inversely to it, lr x wd held constant), and halving the
learning rate on a plateau of the epoch loss, is easy with ``osd.inject``; does
it change test accuracy over the learning-rate schedule alone? Three arms x
peak LRs x seeds run as ONE sweep (the arms' different structures stack into
switches); each arm's peak LR is chosen on the validation accuracy of the first
``selection_seeds`` seeds, and the questions the config declares
(``config.analyses``: paired t over the other seeds, Holm over the family) are
answered exactly as declared. The scheduled values of every step are logged, and the study
checks what the schedules promise: b1 at its floor at the peak LR, lr x wd
constant through the cosine, the plateau's reductions only at epoch ends.
"""

from __future__ import annotations

import jax
import numpy as np

import optasched as osd
from experiments.common import analysis, plotting, stats
from experiments.common.data import load_digits, split_validation

from .train import ARMS, make_train, member, steps_per_epoch

BASELINE = "lr_schedule"
# The declared questions (config.analyses) this study knows how to answer: name -> (arm a, arm b), a - b.
CONTRASTS = {
    "coupled_vs_lr_schedule": ("coupled", BASELINE),
    "coupled_plateau_vs_lr_schedule": ("coupled_plateau", BASELINE),
    "plateau_over_coupled": ("coupled_plateau", "coupled"),
}


def check(config) -> None:
    unknown = [arm for arm in config.arms if arm not in ARMS]
    if unknown:
        raise ValueError(f"coupled_schedules: unknown arms {unknown}; known: {', '.join(ARMS)}")
    if not 1 <= config.selection_seeds <= config.seeds - 2:
        raise ValueError(
            f"coupled_schedules: selection_seeds must leave at least 2 reported seeds, got "
            f"selection_seeds={config.selection_seeds} of seeds={config.seeds}"
        )
    for question in config.analyses:
        if question.name not in CONTRASTS:
            raise ValueError(f"coupled_schedules: no contrast for declared question {question.name!r}; "
                             f"known: {', '.join(CONTRASTS)}")  # fmt: skip
        missing = [arm for arm in CONTRASTS[question.name] if arm not in config.arms]
        if missing:
            raise ValueError(f"coupled_schedules: question {question.name!r} needs arms {missing}")


def study(config, context) -> dict:
    check(config)
    data = split_validation(load_digits(config.data_seed, config.test_fraction), config.validation_size)
    num_train = len(data["x_train"])
    grid = (len(config.arms), len(config.peak_lrs), config.seeds)
    members = [
        member(arm, peak, seed, config, num_train)
        for arm in config.arms
        for peak in config.peak_lrs
        for seed in range(config.seeds)
    ]
    labels = [
        f"{arm} lr={peak:g} seed={seed}"
        for arm in config.arms
        for peak in config.peak_lrs
        for seed in range(config.seeds)
    ]
    label = f"{len(config.arms)} arms x {len(config.peak_lrs)} LRs x {config.seeds} seeds"
    # Arms of different structures (plateau or not, coupled or constant) stack into switches: one program.
    train = make_train(config, data)
    result = context.sweep(train, osd.stack(members), jax.random.key(config.seed), labels=labels, label=label)
    metrics = jax.tree.map(lambda x: np.asarray(x).reshape(grid + np.shape(x)[1:]), result.metrics)

    k = config.selection_seeds
    arms, reported = {}, {}
    for a, arm in enumerate(config.arms):
        failed = metrics["diverged_at"][a] >= 0  # [peak, seed]
        # The one selection rule (a peak LR with a failed selection seed is never chosen; ties: the
        # smaller peak LR), on seeds 0..k-1 only, so the reported seeds' luck cannot steer the choice.
        held = stats.held_out(metrics["validation_accuracy"][a], metrics["test_accuracy"][a], k,
                              failed=failed, labels=list(config.peak_lrs))  # fmt: skip
        choice = held.selection.index
        reported[arm] = held.values
        arms[arm] = {
            "selection": held.selection.as_dict(),
            "peak_lr": held.selection.label,
            "lr_index": choice,
            "validation_accuracy": held.selection.mean,
            "test_accuracy": stats.mean_ci(held.values).as_dict(),  # over the reported seeds
            "test_accuracy_per_seed": held.values.tolist(),
            "validation_accuracy_by_lr": metrics["validation_accuracy"][a, :, :k].mean(axis=1).tolist(),
            "test_accuracy_by_lr": metrics["test_accuracy"][a, :, k:].mean(axis=1).tolist(),
            "train_loss": (None if choice is None
                           else stats.mean_ci(metrics["train_loss"][a, choice, k:]).as_dict()),  # fmt: skip
            "diverged_runs": int(np.sum(failed)),
        }
    analyses = analysis.answer_all(
        config.analyses,
        {q.name: (reported[CONTRASTS[q.name][0]], reported[CONTRASTS[q.name][1]]) for q in config.analyses},
    )
    per_epoch = steps_per_epoch(config, num_train)
    promises = check_promises(config, metrics, per_epoch)
    trace_arm = "coupled_plateau" if "coupled_plateau" in config.arms else config.arms[-1]
    trace = trace_of(config, metrics, arms, trace_arm)
    trace_peak = config.peak_lrs[arms[trace_arm]["lr_index"] or 0]
    plot_trace(config, trace, trace_arm, trace_peak, per_epoch, context.path("schedules.png"))
    plot_accuracy_by_lr(config, arms, context.path("accuracy_by_lr.png"))
    return {
        "grid": {"arms": len(config.arms), "peak_lrs": len(config.peak_lrs), "seeds": config.seeds,
                 "members": len(members), "selection_seeds": k, "reported_seeds": config.seeds - k},
        "data": {"train": num_train, "validation": len(data["x_val"]), "test": len(data["x_test"])},
        "steps_per_epoch": per_epoch,
        "total_steps": config.epochs * per_epoch,
        "arms": arms,
        "analyses": analyses,  # exactly the config's declared questions
        "promises": promises,  # checks of what the schedules do, not tests of a hypothesis
        "trace_arm": trace_arm,
        "trace": trace,  # every step of one run (compact copies drop it)
    }


def check_promises(config, metrics: dict, per_epoch: int) -> dict:
    """What the coupled schedules promise, measured over every run of each arm."""
    steps = metrics["steps"]
    out = {}
    t = np.arange(config.epochs * per_epoch)
    cosine = t >= config.warmup_steps
    for a, arm in enumerate(config.arms):
        lr, base = steps["learning_rate"][a], steps["base_learning_rate"][a]  # [peak, seed, step]
        wd, b1 = steps["weight_decay"][a], steps["b1"][a]
        peaks = np.asarray(config.peak_lrs)[:, None, None]
        scale = lr / np.where(base > 0, base, np.nan)
        reduced = np.isfinite(scale) & (scale < 1 - 1e-6)
        first = np.where(reduced.any(axis=-1), reduced.argmax(axis=-1), -1)  # first reduced step per run
        drops = np.diff(np.where(np.isfinite(scale), scale, 1.0), axis=-1) < -1e-6
        drop_steps = np.nonzero(drops)[-1] + 1  # the step whose update first used the lower rate
        product = (base * wd) / (peaks * config.weight_decay)  # lr x wd relative to its value at the peak
        out[arm] = {
            "b1_at_peak": float(np.mean(b1[..., config.warmup_steps])),
            "b1_last_step": float(np.mean(b1[..., -1])),
            "base_lr_x_wd_over_value_at_peak_min_max": [
                float(np.min(product[..., cosine])),
                float(np.max(product[..., cosine])),
            ],
            "runs": int(first.size),
            "runs_with_a_reduction": int(np.sum(first >= 0)),
            "reductions_per_run": float(drops.sum(axis=-1).mean()),
            "final_scale_mean": float(np.nanmean(scale[..., -1])),
            # An epoch's mean loss is complete with its last step's loss; a reduction it triggers is
            # first used by the next epoch's first update (as PyTorch's scheduler.step(loss) per epoch).
            "reductions_at_epoch_ends": bool(np.all((drop_steps - config.warmup_steps) % per_epoch == 0)),
        }
    return out


def trace_of(config, metrics: dict, arms: dict, arm: str) -> dict:
    """Every step of seed 0 at the arm's chosen peak LR."""
    a, p = config.arms.index(arm), arms[arm]["lr_index"] or 0  # no eligible peak LR: show the first
    return {name: np.asarray(values[a, p, 0]).tolist() for name, values in metrics["steps"].items()}


# -- plots ----------------------------------------------------------------------------------


def plot_trace(config, trace: dict, arm: str, peak: float, per_epoch: int, path) -> None:
    """Every scheduled value of one run, step by step."""
    plt = plotting.pyplot()
    steps = np.arange(len(trace["loss"]))
    lr, base = np.asarray(trace["learning_rate"]), np.asarray(trace["base_learning_rate"])
    wd = np.asarray(trace["weight_decay"])
    panels = [
        ("learning rate", [(lr, "used"), (base, "base (warmup + cosine)")], "log"),
        ("Adam b1", [(np.asarray(trace["b1"]), None)], "linear"),
        ("weight decay", [(wd, None)], "log"),
        ("lr x wd", [(lr * wd, "used"), (base * wd, "base x wd")], "linear"),
        ("training loss (minibatch)", [(np.asarray(trace["loss"]), None)], "log"),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 2.6))
    for ax, (title, curves, scale) in zip(axes, panels, strict=True):
        for values, label in curves:
            ax.plot(steps, values, lw=1.0, label=label)
        ax.set_yscale(scale)
        if scale == "linear" and title == "lr x wd":  # constant by design: show it against zero
            ax.set_ylim(0, 1.3 * np.nanmax([np.nanmax(values) for values, _ in curves]))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.axvline(config.warmup_steps, color="0.7", lw=0.6)
        if any(label for _, label in curves):
            ax.legend(fontsize=6)
    fig.suptitle(
        f"{arm}, peak LR {peak:g}, seed 0 (epochs of {per_epoch} steps; grey: end of warmup)", fontsize=9
    )
    plotting.save(fig, path, dpi=80)


def plot_accuracy_by_lr(config, arms: dict, path) -> None:
    """Validation (selection seeds) and test (reported seeds) accuracy of each arm at every peak LR."""
    plt = plotting.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3), sharey=True)
    for ax, key, title in ((axes[0], "validation_accuracy_by_lr", "validation, selection seeds (chooses)"),
                           (axes[1], "test_accuracy_by_lr", "test, held-out seeds (reported)")):  # fmt: skip
        for arm, row in arms.items():
            ax.plot(config.peak_lrs, 100 * np.asarray(row[key]), "o-", ms=3, lw=1, label=arm)
        ax.set_xscale("log")
        ax.set_xlabel("peak learning rate")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy (%)")
    axes[1].legend(fontsize=7)
    plotting.save(fig, path, dpi=80)
