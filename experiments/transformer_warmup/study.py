"""Transformer warmup: where Post-LN fails without warmup, and why.

Six questions (README.md), on a character-level decoder-only transformer
trained on the King James Bible:

1. the failure map over peak LR x warmup for Post-LN and Pre-LN (Xiong et al. 2020);
2. whether Ma & Yarats' (2021) untuned 2 / (1 - b2) warmup serves as a default (``configs/beta2.py``);
3. whether warmup's benefit is a larger tolerable LR (Kalra & Barkeshli 2024);
4. LR sensitivity (Wortsman et al. 2023) per architecture and warmup;
5. RAdam without warmup and the Noam schedule against Adam with warmup;
6. per-layer gradient norms at initialisation for depths 2 to 12 (Xiong et al.).

Every training run of every question (architectures, depths, warmups, peaks,
b2, Adam or RAdam, warmup-cosine or Noam, seeds) is one member of ONE sweep per
model width: one compiled program (``train.py``). A run fails when its final
validation loss stays at the unigram plateau (at or above the unigram
cross-entropy minus ``margin``) or it diverges. Arms share initialisation and
data order per seed and are compared paired over seeds, with 95% intervals
and Holm's correction where several arms are tested. Choices (the best LR, the
best warmup) are made on validation loss; test loss is only reported.

This module trains (one sweep per width) and draws; ``questions.py`` turns the
runs' numbers into every question's answer (no jax), ``report.py`` prints them.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import numpy as np

import optasched as osd
from experiments.common import plotting, text

from . import train as tr
from .configs.beta2 import rule_warmup
from .questions import (
    Arm,
    Outcomes,
    _grid_arms,
    _interval,
    _scales,
    analyse,
    run_records,
)
from .report import NAMES

__all__ = ["Arm", "Outcomes", "study", "check", "arms", "rule_warmup"]


def check(config) -> None:
    """Fail fast, before any training, on a config that cannot run."""
    for name in ("architectures", "beta2_architectures"):
        unknown = set(getattr(config, name)) - set(NAMES)
        if unknown:
            raise ValueError(
                f"transformer_warmup: {name} must be among {sorted(NAMES)}, got {sorted(unknown)}"
            )
    if config.seeds < 2:
        raise ValueError(f"transformer_warmup: paired intervals need at least 2 seeds, got {config.seeds}")
    used = [*config.warmups, *config.noam_warmups]
    used += list(config.beta2_warmups) if config.beta2_architectures else []
    used += [config.radam_adam_warmup] if config.radam_peaks else []
    longest = max(used)
    if longest >= config.steps:
        raise ValueError(
            f"transformer_warmup: every warmup must be shorter than steps={config.steps}, got {longest}"
        )
    if config.architectures and (0 not in config.warmups or len(config.warmups) < 2):
        raise ValueError(
            f"transformer_warmup: warmups must hold 0 and at least one warmup, got {config.warmups}"
        )
    if config.architectures and config.curve_peak not in config.peaks:
        raise ValueError(
            f"transformer_warmup: curve_peak {config.curve_peak} must be one of peaks {config.peaks}"
        )
    if config.analyses and not config.beta2_architectures:
        raise ValueError("transformer_warmup: analyses are question 2's; they need beta2_architectures")
    for b2 in config.beta2s if config.analyses else ():
        needed = {rule_warmup(b2) // 2, rule_warmup(b2), 2 * rule_warmup(b2)}
        if not needed <= set(config.beta2_warmups):
            raise ValueError(
                f"transformer_warmup: beta2_warmups {config.beta2_warmups} must hold half, once and twice "
                f"the rule's warmup {rule_warmup(b2)} for b2={b2:g}"
            )


def arms(config, width: int) -> list[Arm]:
    """Every cell trained at one model width, without duplicates, in a fixed order."""
    cells: list[Arm] = []
    for depth in config.depths:
        for arch in config.architectures:
            # questions 1, 3, 4: the warmup x peak grid
            cells += [Arm(arch, depth, width, w, p, config.b2) for w in config.warmups for p in config.peaks]
            # question 5: Adam at no warmup and at the rule's warmup, RAdam without warmup, Noam
            for p in config.radam_peaks:
                cells += [Arm(arch, depth, width, w, p, config.b2) for w in (0, config.radam_adam_warmup)]
                cells.append(Arm(arch, depth, width, 0, p, config.b2, optimizer="radam"))
            cells += [
                Arm(arch, depth, width, w, 0.0, config.b2, schedule="noam") for w in config.noam_warmups
            ]
        for arch in config.beta2_architectures:  # question 2
            cells += [
                Arm(arch, depth, width, w, p, b2)
                for b2 in config.beta2s
                for w in config.beta2_warmups
                for p in config.beta2_peaks
            ]
    return list(dict.fromkeys(cells))


def setup_for(config, width: int, depth: int, steps: int | None = None) -> tr.Setup:
    return tr.Setup(
        depth=depth,
        width=width,
        heads=config.heads,
        mlp=config.mlp_ratio * width,
        context=config.context,
        batch_size=config.batch_size,
        steps=steps or config.steps,
        record_every=config.record_every,
        eval_windows=config.eval_windows,
    )


def make_run(config, setup: tr.Setup, arm: Arm, seed: int) -> tr.Run:
    if arm.schedule == "noam":
        schedule = osd.noam(arm.width, warmup_steps=arm.warmup)
    else:
        schedule = tr.warmup_cosine(arm.peak, arm.warmup, config.steps, config.end_fraction)
    return tr.make_run(
        setup,
        schedule,
        seed=seed,
        post_ln=arm.architecture == "post",
        b2=arm.b2,
        rectified=arm.optimizer == "radam",
        depth=arm.depth,
    )


# -- the study ---------------------------------------------------------------------------------


def study(config, context) -> dict[str, Any]:
    check(config)
    corpus = tr.corpus()
    baselines = baseline_losses(config, corpus)
    threshold = baselines["validation"]["unigram"] - config.margin
    context.log(
        f"transformer_warmup: corpus {corpus.name} {corpus.sha256[:12]}, unigram {baselines['validation']['unigram']:.3f} "
        f"nats, failure threshold {threshold:.3f}"
    )
    key = jax.random.key(config.seed)
    outcomes = Outcomes(threshold)
    curves: dict[str, Any] = {}
    sweeps = []
    for width in config.widths:
        cells = arms(config, width)
        members = [(arm, seed) for arm in cells for seed in range(config.seeds)]
        setup = setup_for(config, width, max(config.depths))
        runs = tr.stack_runs([make_run(config, setup, arm, seed) for arm, seed in members])
        result = context.sweep(
            tr.train,
            runs,
            key,
            labels=[f"{arm.label()} seed={seed}" for arm, seed in members],
            label=f"width {width}: {len(members)} runs x {config.steps} steps",
            chunk_size=config.chunk_size,
        )
        context.log(
            f"  compile {result.compile_seconds:.1f} s, run {result.run_seconds:.1f} s, chunk {result.chunk_size}"
        )
        sweeps.append(
            {
                "width": width,
                "members": len(members),
                "chunk_size": result.chunk_size,
                "compile_seconds": result.compile_seconds,
                "run_seconds": result.run_seconds,
            }
        )
        m = result.metrics
        for i, (arm, seed) in enumerate(members):
            outcomes.add(
                arm,
                seed,
                {
                    "validation_loss": float(m["validation_loss"][i]),
                    "test_loss": float(m["test_loss"][i]),
                    "init_loss": float(m["init_loss"][i]),
                    "diverged_at": int(m["diverged_at"][i]),
                    "max_grad_norm": float(np.nanmax(m["grad_norm"][i]))
                    if np.isfinite(m["grad_norm"][i]).any()
                    else None,
                    "train_loss": m["train_loss"][i],
                    "init_grad_fc2": m["init_grad_fc2"][i],
                    "init_grad_block": m["init_grad_block"][i],
                },
            )
        curves[str(width)] = {
            "steps": (np.arange(config.steps // config.record_every) + 1) * config.record_every
        }

    gradients = gradient_norms(config, context, key, outcomes)
    results = {
        "corpus": corpus.describe(),
        "baselines": baselines,
        "failure_threshold": threshold,
        "sweeps": sweeps,
        **analyse(config, outcomes, baselines),
        "gradient_norms": gradients,
        "runs": run_records(outcomes),
        "curve_steps": curves,
    }
    results["figures"] = figures(config, context, outcomes, results)
    return results


def baseline_losses(config, corpus: text.CharCorpus) -> dict[str, dict[str, float]]:
    """Unigram and bigram cross-entropies on exactly the evaluation windows' targets."""
    windows = tr.evaluation_windows(config.context, config.eval_windows)
    out = {}
    for split, w in windows.items():
        targets = w[:, 1:].reshape(-1)
        out[split] = {
            "unigram": text.unigram_cross_entropy(corpus.train, targets, corpus.vocab_size),
            "bigram": float(
                np.mean([text.bigram_cross_entropy(corpus.train, row, corpus.vocab_size) for row in w])
            ),
            "uniform": math.log(corpus.vocab_size),
        }
    return out


# -- question 6 --------------------------------------------------------------------------------


def gradient_norms(config, context, key, outcomes: Outcomes) -> dict[str, Any]:
    """Question 6: per-layer gradient norms at initialisation, per architecture, width and depth.

    With ``gradient_depths`` set, a dedicated sweep (every architecture x depth
    x seed, one program per width: depth is traced) on the first training
    batch; otherwise the same numbers from the training runs' first step (the
    gradient at initialisation), at the trained depths.
    """
    samples: dict[
        tuple[str, int, int], dict[str, np.ndarray]
    ] = {}  # (arch, width, depth) -> [seed, layer] arrays
    depths = tuple(config.gradient_depths) or tuple(config.depths)
    for width in config.widths:
        if config.gradient_depths:
            setup = setup_for(config, width, max(depths))
            members = [
                (arch, depth, seed)
                for arch in ("post", "pre")
                for depth in depths
                for seed in range(config.gradient_seeds)
            ]
            runs = tr.stack_runs(
                [
                    tr.make_run(setup, osd.constant(0.0), seed=seed, post_ln=arch == "post", depth=depth)
                    for arch, depth, seed in members
                ]
            )
            result = context.sweep(
                tr.gradient_norms,
                runs,
                key,
                labels=[f"{a} d{d} seed={s}" for a, d, s in members],
                label=f"gradient norms at init, width {width}: {len(members)} models",
                chunk_size=config.chunk_size,
            )
            for arch in ("post", "pre"):
                for depth in depths:
                    rows = [i for i, (a, d, _) in enumerate(members) if a == arch and d == depth]
                    samples[(arch, width, depth)] = {
                        k: result.metrics[k][rows][:, :depth] for k in ("fc2", "block")
                    }
        else:
            for arch in config.architectures:
                for depth in depths:
                    # every arm of a seed shares its initialisation and first batch: take one arm per seed
                    arm = _grid_arms(config, arch, depth, width)[0][0]
                    samples[(arch, width, depth)] = {
                        k: np.stack(
                            [
                                np.asarray(outcomes.records[(arm, s)][f"init_grad_{k}"])[:depth]
                                for s in outcomes.seeds(arm)
                            ]
                        )
                        for k in ("fc2", "block")
                    }
    out = {
        "source": "dedicated sweep" if config.gradient_depths else "training runs (step 0)",
        "depths": list(depths),
    }
    for arch, width in sorted({(a, w) for a, w, _ in samples}):
        per_depth, last_by_depth = {}, []
        for depth in depths:
            fc2, block = samples[(arch, width, depth)]["fc2"], samples[(arch, width, depth)]["block"]
            last_by_depth.append(fc2[:, -1])
            per_depth[str(depth)] = {
                "fc2_per_layer": fc2.mean(axis=0),
                "block_per_layer": block.mean(axis=0),
                "last_fc2": _interval(fc2[:, -1]),
                "last_over_first_fc2": _interval(fc2[:, -1] / fc2[:, 0]),
            }
        # log-log slope of the last block's fc2 gradient norm against depth, one fit per seed
        logs = np.log(np.stack(last_by_depth))  # [depth, seed]
        x = np.log(np.asarray(depths, dtype=np.float64))
        slopes = np.polyfit(x, logs, 1)[0] if len(x) > 1 else np.full(logs.shape[1], np.nan)
        out[f"{arch}/w{width}"] = {"depths": per_depth, "last_fc2_slope_vs_depth": _interval(slopes)}
    return out


# -- figures and the summary -------------------------------------------------------------------


def figures(config, context, outcomes: Outcomes, results) -> list[str]:
    written = []
    unigram = results["baselines"]["validation"]["unigram"]
    vmin = results["baselines"]["validation"]["bigram"] - 0.6
    scales = _scales(config)
    if config.architectures:
        written += _failure_map_figure(config, context, results, vmin, unigram)
    written += _beta2_figures(config, context, outcomes, results, vmin, unigram)
    written += _histogram_figure(context, results, unigram)
    if config.architectures:
        written += _curves_figure(config, context, outcomes, results, scales, unigram)
    if any("/" in key for key in results["gradient_norms"]):
        written += _gradient_figures(config, context, results)
    return written


def _failure_map_figure(config, context, results, vmin, unigram) -> list[str]:
    plt = plotting.pyplot()
    maps = results["failure_map"]
    scales = _scales(config)
    fig, axes = plt.subplots(
        len(scales),
        len(config.architectures),
        figsize=(4.6 * len(config.architectures), 3.2 * len(scales)),
        squeeze=False,
    )
    for r, (depth, width) in enumerate(scales):
        for c, arch in enumerate(config.architectures):
            entry = maps[f"{arch}/d{depth}/w{width}"]
            ax = axes[r][c]
            plotting.heatmap(
                ax,
                entry["validation_loss"],
                [f"{p:g}" for p in config.peaks],
                config.warmups,
                xlabel="peak LR",
                ylabel="warmup steps",
                label="final val loss (nats/char)",
                marks=np.asarray(entry["failed_fraction"]) >= 0.5,
                vmin=vmin,
                vmax=unigram + 0.1,
            )
            ax.set_title(f"{NAMES[arch]}, depth {depth}, width {width}", fontsize=9)
    return [str(plotting.save(fig, context.path("failure_maps.png")))]


def _beta2_figures(config, context, outcomes, results, vmin, unigram) -> list[str]:
    plt = plotting.pyplot()
    written = []
    for key, entry in results["beta2"].items():
        arch, depth, width = key.split("/")
        fig, axes = plt.subplots(
            1, len(config.beta2s), figsize=(3.6 * len(config.beta2s), 3.0), squeeze=False
        )
        for c, b2 in enumerate(config.beta2s):
            grid = [
                [
                    outcomes.values(
                        Arm(arch, int(depth[1:]), int(width[1:]), w, p, b2), "validation_loss"
                    ).mean()
                    for p in config.beta2_peaks
                ]
                for w in config.beta2_warmups
            ]
            fails = [
                [
                    outcomes.failed(Arm(arch, int(depth[1:]), int(width[1:]), w, p, b2)).mean() >= 0.5
                    for p in config.beta2_peaks
                ]
                for w in config.beta2_warmups
            ]
            plotting.heatmap(
                axes[0][c],
                grid,
                [f"{p:g}" for p in config.beta2_peaks],
                config.beta2_warmups,
                xlabel="peak LR",
                ylabel="warmup steps",
                label="val loss",
                marks=fails,
                vmin=vmin,
                vmax=unigram + 0.1,
            )
            axes[0][c].set_title(f"{NAMES[arch]}, b2={b2:g} (rule {rule_warmup(b2)})", fontsize=9)
        written.append(str(plotting.save(fig, context.path(f"beta2_{arch}_{depth}_{width}.png"))))
    return written


def _histogram_figure(context, results, unigram) -> list[str]:
    """The failure criterion: every final validation loss against the threshold."""
    plt = plotting.pyplot()
    fig, ax = plt.subplots(figsize=(6, 3))
    losses = [r["validation_loss"] for r in results["runs"] if r["validation_loss"] is not None]
    ax.hist(losses, bins=40, color="0.4")
    for value, name, style in (
        (unigram, "unigram", "-"),
        (results["failure_threshold"], "threshold", "--"),
        (results["baselines"]["validation"]["bigram"], "bigram", ":"),
    ):
        ax.axvline(value, color="r", ls=style, lw=1, label=f"{name} {value:.2f}")
    ax.set_xlabel("final validation loss (nats/char)")
    ax.set_ylabel("runs")
    ax.legend(fontsize=7)
    return [str(plotting.save(fig, context.path("loss_histogram.png")))]


def _curves_figure(config, context, outcomes, results, scales, unigram) -> list[str]:
    """Training curves at curve_peak."""
    plt = plotting.pyplot()
    depth, width = scales[0]
    steps = np.asarray(results["curve_steps"][str(width)]["steps"])
    fig, axes = plt.subplots(
        1, len(config.architectures), figsize=(4.6 * len(config.architectures), 3.2), squeeze=False
    )
    for c, arch in enumerate(config.architectures):
        ax = axes[0][c]
        for w in config.warmups:
            arm = Arm(arch, depth, width, w, config.curve_peak, config.b2)
            curves = np.stack(
                [
                    np.asarray(outcomes.records[(arm, s)]["train_loss"], dtype=np.float64)
                    for s in outcomes.seeds(arm)
                ]
            )
            plotting.band(ax, steps, curves, label=f"warmup {w}")
        ax.axhline(unigram, color="k", ls=":", lw=1, label="unigram")
        ax.set_title(f"{NAMES[arch]}, peak {config.curve_peak:g}", fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylabel("training loss (EMA)")
        ax.legend(fontsize=7)
    return [str(plotting.save(fig, context.path("curves.png")))]


def _gradient_figures(config, context, results) -> list[str]:
    """Question 6: gradient norms at initialisation."""
    plt = plotting.pyplot()
    written = []
    for width in config.widths:
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
        depths = results["gradient_norms"]["depths"]
        for c, arch in enumerate(("post", "pre")):
            if f"{arch}/w{width}" not in results["gradient_norms"]:
                continue
            entry = results["gradient_norms"][f"{arch}/w{width}"]["depths"]
            for depth in depths:
                y = np.asarray(entry[str(depth)]["fc2_per_layer"])
                axes[c].plot(np.arange(1, depth + 1), y, marker="o", ms=3, label=f"depth {depth}")
            axes[c].set_yscale("log")
            axes[c].set_xlabel("layer")
            axes[c].set_ylabel("|grad W_fc2| at init")
            axes[c].set_title(f"{NAMES[arch]}", fontsize=9)
            axes[c].legend(fontsize=7)
        ax = axes[2]
        for arch, marker in (("post", "o"), ("pre", "s")):
            if f"{arch}/w{width}" not in results["gradient_norms"]:
                continue
            entry = results["gradient_norms"][f"{arch}/w{width}"]
            last = [entry["depths"][str(d)]["last_fc2"] for d in depths]
            mean = np.asarray([v["mean"] for v in last])
            err = np.asarray([[v["mean"] - v["low"], v["high"] - v["mean"]] for v in last]).T
            ax.errorbar(
                np.asarray(depths, dtype=np.float64),
                mean,
                yerr=np.nan_to_num(err),
                marker=marker,
                capsize=3,
                label=f"{NAMES[arch]} (slope {entry['last_fc2_slope_vs_depth']['mean']:.2f})",
            )
        grid = np.asarray(depths, dtype=np.float64)
        ax.plot(grid, mean[0] * (grid / grid[0]) ** -0.5, "k:", lw=1, label="1/sqrt(L)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("depth L")
        ax.set_ylabel("last block |grad W_fc2|")
        ax.legend(fontsize=7)
        written.append(str(plotting.save(fig, context.path(f"gradient_norms_w{width}.png"))))
    return written
