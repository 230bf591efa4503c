"""Coupled schedules and a plateau on a small Flax NNX classifier.

Question: scheduling Adam's b1 and the weight decay together with the learning
rate (b1 cycled inversely to it, lr x wd held constant), and halving the
learning rate on a plateau of the epoch loss, is easy with ``osd.inject``; does
it change test accuracy over the learning-rate schedule alone? Three arms x
peak LRs x seeds run as ONE sweep (the arms' different structures stack into
switches); each arm's peak LR is chosen on validation, and the arms are
compared with ``lr_schedule`` paired over seeds (Holm over the two
comparisons). The scheduled values of every step are logged, and the study
checks what the schedules promise: b1 at its floor at the peak LR, lr x wd
constant through the cosine, the plateau's reductions only at epoch ends.
"""

from __future__ import annotations

import jax
import numpy as np

import optasched as osd
from experiments.common import plotting, stats
from experiments.common.data import load_digits, split_validation

from .train import ARMS, make_train, member, steps_per_epoch

BASELINE = "lr_schedule"


def check(config) -> None:
    unknown = [arm for arm in config.arms if arm not in ARMS]
    if unknown:
        raise ValueError(f"coupled_schedules: unknown arms {unknown}; known: {', '.join(ARMS)}")
    if config.seeds < 2:
        raise ValueError(f"coupled_schedules: paired intervals need at least 2 seeds, got {config.seeds}")


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

    arms, test_at_choice = {}, {}
    for a, arm in enumerate(config.arms):
        validation = metrics["validation_accuracy"][a].mean(axis=1)  # [peak]
        choice = int(np.argmax(validation))
        test = metrics["test_accuracy"][a, choice]
        test_at_choice[arm] = test
        arms[arm] = {
            "peak_lr": config.peak_lrs[choice],
            "lr_index": choice,
            "validation_accuracy": float(validation[choice]),
            "validation_accuracy_by_lr": validation.tolist(),
            "test_accuracy": stats.mean_ci(test).as_dict(),
            "test_accuracy_by_lr": metrics["test_accuracy"][a].mean(axis=1).tolist(),
            "train_loss": stats.mean_ci(metrics["train_loss"][a, choice]).as_dict(),
            "diverged_runs": int(np.sum(metrics["diverged_at"][a] >= 0)),
        }
    comparisons = stats.compare_to(test_at_choice, BASELINE) if BASELINE in test_at_choice else {}
    per_epoch = steps_per_epoch(config, num_train)
    promises = check_promises(config, metrics, per_epoch)
    trace_arm = "coupled_plateau" if "coupled_plateau" in config.arms else config.arms[-1]
    trace = trace_of(config, metrics, arms, trace_arm)
    plot_trace(config, trace, trace_arm, arms[trace_arm]["peak_lr"], per_epoch, context.path("schedules.png"))
    plot_accuracy_by_lr(config, arms, context.path("accuracy_by_lr.png"))
    return {
        "num_train": num_train,
        "steps_per_epoch": per_epoch,
        "total_steps": config.epochs * per_epoch,
        "arms": arms,
        "comparisons": {f"vs_{BASELINE}": comparisons},
        "promises": promises,
        "trace_arm": trace_arm,
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
            "runs_with_a_reduction": int(np.sum(first >= 0)),
            "reductions_per_run": float(drops.sum(axis=-1).mean()),
            "final_scale_mean": float(np.nanmean(scale[..., -1])),
            # An epoch's mean loss is complete once its last step's loss is known, before that step's
            # update: a reduction is first used by the update of an epoch's last step.
            "reductions_at_epoch_ends": bool(np.all((drop_steps - config.warmup_steps + 1) % per_epoch == 0)),
        }
    return out


def trace_of(config, metrics: dict, arms: dict, arm: str) -> dict:
    """Every step of seed 0 at the arm's chosen peak LR."""
    a, p = config.arms.index(arm), arms[arm]["lr_index"]
    return {name: np.asarray(values[a, p, 0]).tolist() for name, values in metrics["steps"].items()}


# -- the report -----------------------------------------------------------------------------


def describe(report: dict) -> str:
    config, results = report["config"], report["results"]
    lines = [
        (
            f"digits MLP, {results['total_steps']} steps "
            f"({config['epochs']} epochs of {results['steps_per_epoch']}); "
            f"test accuracy at each arm's validation-chosen peak LR, mean [95% CI] over {config['seeds']} seeds"
        ),
        f"{'arm':<17}{'peak lr':>8}{'val %':>7}{'test acc %':>20}{'- ' + BASELINE + ' (points)':>32}",
    ]
    comparisons = results["comparisons"][f"vs_{BASELINE}"]
    for arm, row in results["arms"].items():
        test = row["test_accuracy"]
        cell = "—"
        if arm in comparisons:
            c = comparisons[arm]
            cell = f"{stats.format_interval(c['mean'], c['low'], c['high'], 100)} p_holm={c['p_holm']:.2f}"
        lines.append(
            f"{arm:<17}{row['peak_lr']:>8g}{100 * row['validation_accuracy']:>7.1f}"
            f"{stats.format_interval(test['mean'], test['low'], test['high'], 100):>20}{cell:>32}"
        )
    lines.append("\nwhat the schedules promise (all runs of each arm):")
    for arm, p in results["promises"].items():
        low, high = p["base_lr_x_wd_over_value_at_peak_min_max"]
        lines.append(
            f"  {arm:<16} b1 at the peak {p['b1_at_peak']:.3f}, last step {p['b1_last_step']:.3f}; "
            f"lr x wd / its peak value in [{low:.4f}, {high:.4f}] after warmup; "
            f"{p['reductions_per_run']:.2f} plateau reductions per run, "
            f"final scale {p['final_scale_mean']:.3f}"
            + (", all at epoch ends" if p["runs_with_a_reduction"] and p["reductions_at_epoch_ends"] else "")
        )
    return "\n".join(lines)


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
    """Validation and test accuracy of each arm at every peak LR (mean over seeds)."""
    plt = plotting.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3), sharey=True)
    for ax, key, title in ((axes[0], "validation_accuracy_by_lr", "validation (chooses)"),
                           (axes[1], "test_accuracy_by_lr", "test (reported)")):  # fmt: skip
        for arm, row in arms.items():
            ax.plot(config.peak_lrs, 100 * np.asarray(row[key]), "o-", ms=3, lw=1, label=arm)
        ax.set_xscale("log")
        ax.set_xlabel("peak learning rate")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy (%)")
    axes[1].legend(fontsize=7)
    plotting.save(fig, path, dpi=80)
