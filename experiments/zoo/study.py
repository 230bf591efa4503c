"""The schedule zoo: every schedule family on the MNIST-1D reference models at
one step budget, compared paired over seeds.

For each model, every family x peak LR x seed is one member of ONE sweep (one
compiled program): the family is a traced hyperparameter of the stacked
schedule. Each family's peak LR is chosen on validation accuracy (500 of the
4000 training sequences held out); test accuracy is only reported. Every family
sees the same initialisation and data order per seed, so families are compared
through per-seed differences against constant LR and against cosine, with 95%
intervals and Holm's correction over the families.
"""

from __future__ import annotations

import math

import jax
import numpy as np

import optasched as osd
from experiments.common import analysis, plotting, stats
from experiments.common.data import load_mnist1d, split_validation

from .configs.default import BASELINES, family_questions
from .train import FAMILIES, family_schedule, make_train, member, warmup_steps


def check(config) -> None:
    """Fail fast, before any training, on a config that cannot run."""
    unknown = [f for f in config.families if f not in FAMILIES]
    if unknown:
        raise ValueError(f"zoo: unknown families {unknown}; known: {', '.join(FAMILIES)}")
    if config.steps % config.eval_every:
        raise ValueError(
            f"zoo: steps ({config.steps}) must be a multiple of eval_every ({config.eval_every})"
        )
    if config.seeds < 2:
        raise ValueError(f"zoo: paired intervals need at least 2 seeds, got {config.seeds}")
    if tuple(config.analyses) != family_questions(tuple(config.families)):
        raise ValueError("zoo: analyses must be configs.default.family_questions(families): every family "
                         "against each baseline, declared before the run")


def run_grid(context, train, config, key, label: str) -> dict:
    """Train every family x LR x seed; metrics with leading axes [family, lr, seed]."""
    members = [
        member(family, lr, seed, config)
        for family in config.families
        for lr in config.learning_rates
        for seed in range(config.seeds)
    ]
    labels = [
        f"{family} lr={lr:g} seed={seed}"
        for family in config.families
        for lr in config.learning_rates
        for seed in range(config.seeds)
    ]
    grid = (len(config.families), len(config.learning_rates), config.seeds)
    # Members of different families stack into ONE sweep: the family is a traced index (osd.switch).
    result = context.sweep(train, osd.stack(members), key, labels=labels, label=label)
    context.log(
        f"  {len(members)} members, chunk {result.chunk_size}: compile {result.compile_seconds:.1f} s, "
        f"run {result.run_seconds:.1f} s"
    )
    return jax.tree.map(lambda x: np.asarray(x).reshape(grid + np.shape(x)[1:]), result.metrics)


def _mean_over_seeds(x: np.ndarray) -> np.ndarray:
    """Mean over axis 0 (seeds), ignoring NaN (a diverged member); NaN where every seed is."""
    finite = np.isfinite(x)
    count = finite.sum(axis=0)
    total = np.where(finite, x, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def summarise(config, metrics: dict) -> dict:
    """Per family: the LR chosen on validation, test accuracy and train loss at it, the declared comparisons.

    The peak LR is chosen by THE selection rule (``stats.select``): the best mean
    validation accuracy over the seeds among peaks where no seed diverged.
    """
    validation = metrics["validation_accuracy"]  # [family, lr, seed]
    failed = metrics["diverged_at"] >= 0
    families = {}
    test_at_choice = {}
    for f, family in enumerate(config.families):
        selection = stats.select(validation[f], failed=failed[f], labels=config.learning_rates)
        choice = selection.index
        if choice is None:  # every peak failed on some seed: the family is reported as failed
            test = loss = np.full(config.seeds, np.nan)
        else:
            test = metrics["test_accuracy"][f, choice]
            loss = metrics["train_loss"][f, choice]
        test_at_choice[family] = test
        families[family] = {
            "peak_lr": None if choice is None else config.learning_rates[choice],
            "lr_index": choice,
            # a choice on the grid's edge means the best peak may lie outside it: reported, never hidden
            "at_grid_edge": selection.at_edge,
            "validation_accuracy": selection.mean,
            "validation_accuracy_by_lr": list(selection.means),
            "test_accuracy": stats.mean_ci(test).as_dict(),
            "test_accuracies": test.tolist(),
            "train_loss": stats.mean_ci(loss).as_dict(),
            "diverged_seeds": 0 if choice is None else int(np.sum(failed[f, choice])),
            "diverged_runs_any_lr": int(np.sum(failed[f])),
        }
    declared = analysis.answer_all(
        config.analyses,
        {
            f"{family}_vs_{baseline}": (test_at_choice[family], test_at_choice[baseline])
            for baseline in BASELINES
            if baseline in test_at_choice
            for family in config.families
            if family != baseline
        },
    )
    comparisons = {
        f"vs_{baseline}": {
            family: declared[f"{family}_vs_{baseline}"] for family in config.families if family != baseline
        }
        for baseline in BASELINES
        if baseline in test_at_choice
    }
    eligible = [family for family in config.families if families[family]["lr_index"] is not None]
    chosen = max(eligible, key=lambda family: families[family]["validation_accuracy"]) if eligible else None
    curves = {
        name: {
            family: _mean_over_seeds(metrics["curves"][name][f, families[family]["lr_index"] or 0]).tolist()
            for f, family in enumerate(config.families)
        }
        for name in ("test_accuracy", "learning_rate")
    }
    return {
        "families": families,
        "declared": declared,
        "comparisons": comparisons,
        "validation_choice": analysis.exploratory(
            {"family": chosen, **(families[chosen]["test_accuracy"] if chosen else {})},
            "the family with the best validation accuracy; not a declared test",
        ),
        "curves": curves,
    }


def study(config, context) -> dict:
    check(config)
    data = split_validation(load_mnist1d(config.data_seed), config.validation_size)
    key = jax.random.key(config.seed)
    models = {}
    for model in config.models:
        train = make_train(model, config, data)
        metrics = run_grid(context, train, config, key, f"{model}: {len(config.families)} families")
        models[model] = summarise(config, metrics)
    results = {
        "models": models,
        "eval_steps": list(range(config.eval_every, config.steps + 1, config.eval_every)),
    }
    plot_learning_rates(config, results, context.path("lr_curves.png"))
    plot_accuracy_curves(config, results, context.path("test_accuracy.png"))
    plot_differences(config, results, context.path("paired_differences.png"))
    return results


# -- the report -----------------------------------------------------------------------------


def describe(report: dict) -> str:
    """The tables of the README: per family, the chosen LR, test accuracy and the paired differences."""
    config, results = report["config"], report["results"]
    lines = []
    for model, summary in results["models"].items():
        lines.append(
            f"\n{model.upper()}: test accuracy at each family's validation-chosen peak LR "
            f"(mean [95% CI] over {config['seeds']} seeds); declared tests: differences paired per seed, "
            "Student t, Holm over the families against each baseline"
        )
        lines.append(
            f"{'family':<14}{'peak lr':>8}{'val':>7}{'test acc %':>22}{'- constant':>28}{'- cosine':>28}"
            f"{'train loss':>12}"
        )
        for family, row in summary["families"].items():
            test = row["test_accuracy"]
            cells = []
            for baseline in BASELINES:
                comparison = summary["comparisons"].get(f"vs_{baseline}", {}).get(family)
                if comparison is None:
                    cells.append(f"{'—':>28}")
                    continue
                mark = "*" if comparison["significant"] else " "
                text = stats.format_interval(comparison["mean"], comparison["low"], comparison["high"], 100)
                cells.append(f"{text:>21} p={comparison['p_holm']:.2f}{mark}")
            diverged = f"  ({row['diverged_seeds']} diverged)" if row["diverged_seeds"] else ""
            diverged += "  (peak at the grid's edge)" if row.get("at_grid_edge") else ""
            lines.append(
                f"{family:<14}{'failed' if row['peak_lr'] is None else format(row['peak_lr'], 'g'):>8}"
                f"{100 * row['validation_accuracy']:>7.1f}"
                f"{stats.format_interval(test['mean'], test['low'], test['high'], 100):>22}"
                + "".join(cells)
                + f"{row['train_loss']['mean']:>12.4f}{diverged}"
            )
        choice = summary["validation_choice"]
        lines.append(
            f"(exploratory) validation picks {choice['family']}: test "
            f"{stats.format_interval(choice['mean'], choice['low'], choice['high'], 100)}%"
            "  (* = Holm-adjusted p < 0.05)"
        )
    return "\n".join(lines)


# -- plots ----------------------------------------------------------------------------------


def plot_learning_rates(config, results: dict, path) -> None:
    """Each family's LR curve at its chosen peak (first model); plateau as it ran (mean over seeds)."""
    plt = plotting.pyplot()
    model = config.models[0]
    families = results["models"][model]["families"]
    steps = np.arange(config.steps)
    drawn = [family for family in config.families if family != "plateau"]
    values = {}
    if drawn:  # every family's curve from one small program
        schedules = osd.stack(
            [
                family_schedule(family, families[family]["peak_lr"], config.steps, config.eval_every, warmup_steps(config))
                for family in drawn
            ]
        )
        values = dict(zip(drawn, np.asarray(jax.jit(jax.vmap(lambda s: s(steps)))(schedules)), strict=True))
    columns = 5
    rows = math.ceil(len(config.families) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 1.8 * rows), sharex=True, squeeze=False)
    for ax, family in zip(axes.flat, config.families, strict=False):
        peak = families[family]["peak_lr"]
        if family == "plateau":  # the reduction depends on the loss: draw the recorded rate
            ax.step(
                results["eval_steps"],
                results["models"][model]["curves"]["learning_rate"][family],
                where="post",
            )
        else:
            ax.plot(steps, values[family], lw=1.2)
        ax.set_title(f"{family} (peak {peak:g})", fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(config.families) :]:
        ax.axis("off")
    fig.suptitle(f"learning rate vs step ({model}, peak LR chosen on validation)", fontsize=9)
    plotting.save(fig, path, dpi=70)


def plot_accuracy_curves(config, results: dict, path) -> None:
    """Mean test accuracy over training per family, one panel per model (reported, never used to choose)."""
    plt = plotting.pyplot()
    fig, axes = plt.subplots(1, len(config.models), figsize=(6 * len(config.models), 4), squeeze=False)
    colors = plt.get_cmap("tab20")
    for ax, model in zip(axes.flat, config.models, strict=True):
        curves = results["models"][model]["curves"]["test_accuracy"]
        for i, family in enumerate(config.families):
            ax.plot(
                results["eval_steps"],
                100 * np.asarray(curves[family]),
                lw=1.1,
                color=colors(i % 20),
                label=family,
            )
        ax.set_title(f"MNIST-1D {model.upper()}: test accuracy (mean over seeds)", fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    axes.flat[-1].legend(fontsize=7, ncol=2, loc="lower right")
    plotting.save(fig, path, dpi=70)


def plot_differences(config, results: dict, path) -> None:
    """Paired per-seed differences in test accuracy against constant and cosine, 95% intervals."""
    plt = plotting.pyplot()
    baselines = [b for b in BASELINES if b in config.families]
    if not baselines:
        return
    fig, axes = plt.subplots(
        len(config.models), len(baselines), figsize=(4.5 * len(baselines), 0.3 * len(config.families) + 1.2),
        squeeze=False,
    )  # fmt: skip
    for r, model in enumerate(config.models):
        for c, baseline in enumerate(baselines):
            ax = axes[r, c]
            comparison = results["models"][model]["comparisons"][f"vs_{baseline}"]
            names = [f for f in config.families if f in comparison]
            for y, family in enumerate(names):
                row = comparison[family]
                low, high = row["low"], row["high"]
                color = "C3" if row["significant"] else "C0"
                if np.isfinite(low) and np.isfinite(high):
                    ax.plot([100 * low, 100 * high], [y, y], color=color, lw=2)
                ax.plot(100 * row["mean"], y, "o", color=color, ms=4)
            ax.axvline(0, color="0.5", lw=0.8)
            ax.set_yticks(range(len(names)), names, fontsize=7)
            ax.invert_yaxis()
            ax.set_xlabel(f"test accuracy − {baseline} (points)", fontsize=8)
            ax.set_title(f"{model.upper()} vs {baseline} (red: Holm p < 0.05)", fontsize=8)
            ax.grid(alpha=0.3, axis="x")
    plotting.save(fig, path, dpi=70)
