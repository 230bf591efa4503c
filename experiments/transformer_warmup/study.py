"""Transformer warmup: where Post-LN fails without warmup, and why.

Six questions (README.md), on a character-level decoder-only transformer
trained on the King James Bible:

1. the failure map over peak LR x warmup for Post-LN and Pre-LN (Xiong et al. 2020);
2. whether the critical warmup is 2 / (1 - b2) steps (Ma & Yarats 2021);
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
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any

import jax
import numpy as np

import optasched as osd
from experiments.common import analysis, plotting, stats, text

from . import train as tr
from .configs.beta2 import rule_warmup
from .report import NAMES

__all__ = ["Arm", "Outcomes", "study", "check", "arms", "rule_warmup"]
MARGINS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5)  # margins of the sensitivity check on the failure criterion


@dataclasses.dataclass(frozen=True, order=True)
class Arm:
    """One cell of the study (all seeds of it are members of the sweep)."""

    architecture: str  # "post" or "pre"
    depth: int  # blocks
    width: int  # model width
    warmup: int  # warmup steps (the Noam schedule's W for "noam")
    peak: float  # peak learning rate (0 for "noam": its peak follows from W)
    b2: float  # Adam's b2
    optimizer: str = "adam"  # "adam" or "radam"
    schedule: str = "warmup_cosine"  # "warmup_cosine" or "noam"

    def label(self) -> str:
        opt = "" if self.optimizer == "adam" else f" {self.optimizer}"
        lr = f"noam W={self.warmup}" if self.schedule == "noam" else f"peak={self.peak:g} W={self.warmup}"
        return f"{NAMES[self.architecture]} d{self.depth} w{self.width}{opt} {lr} b2={self.b2:g}"


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


class Outcomes:
    """Per-seed results of every trained cell."""

    def __init__(self, margin_threshold: float):
        self.records: dict[tuple[Arm, int], dict[str, Any]] = {}
        self.threshold = margin_threshold

    def add(self, arm: Arm, seed: int, record: dict[str, Any]) -> None:
        self.records[(arm, seed)] = record

    def seeds(self, arm: Arm) -> list[int]:
        return sorted(s for a, s in self.records if a == arm)

    def values(self, arm: Arm, key: str) -> np.ndarray:
        """``key`` over the arm's seeds (ascending seed: the same index is the same seed in every arm)."""
        return np.asarray([self.records[(arm, s)][key] for s in self.seeds(arm)], dtype=np.float64)

    def failed(self, arm: Arm, threshold: float | None = None) -> np.ndarray:
        """Per seed: diverged, or final validation loss at the unigram plateau."""
        threshold = self.threshold if threshold is None else threshold
        loss = self.values(arm, "validation_loss")
        return (self.values(arm, "diverged_at") >= 0) | ~np.isfinite(loss) | (loss >= threshold)

    def trains(self, arm: Arm) -> bool:
        """Every seed trained."""
        return not self.failed(arm).any()


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
        "failure_map": failure_maps(config, outcomes),
        "failure_criterion": criterion_check(config, outcomes, baselines),
        "beta2": beta2_study(config, outcomes),
        "tolerable_lr": tolerable_lr(config, outcomes),
        "lr_sensitivity": lr_sensitivity(config, outcomes),
        "optimizers": optimizer_arms(config, outcomes),
        "gradient_norms": gradients,
        "runs": [
            {
                **dataclasses.asdict(arm),
                "seed": seed,
                "failed": bool(outcomes.failed(arm)[outcomes.seeds(arm).index(seed)]),
                **{k: v for k, v in record.items()},
            }
            for (arm, seed), record in sorted(outcomes.records.items())
        ],
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


def _grid_arms(config, arch: str, depth: int, width: int) -> list[list[Arm]]:
    return [[Arm(arch, depth, width, w, p, config.b2) for p in config.peaks] for w in config.warmups]


def _interval(values) -> dict:
    return stats.mean_ci(values).as_dict()


def _scales(config) -> Iterable[tuple[int, int]]:
    return [(d, w) for w in config.widths for d in config.depths]


def failure_maps(config, outcomes: Outcomes) -> dict[str, Any]:
    """Question 1: final validation loss and failures over warmup x peak, per architecture (and scale)."""
    maps = {}
    for depth, width in _scales(config):
        for arch in config.architectures:
            grid = _grid_arms(config, arch, depth, width)
            cells = []
            for row in grid:
                for arm in row:
                    failed = outcomes.failed(arm)
                    cells.append(
                        {
                            "warmup": arm.warmup,
                            "peak": arm.peak,
                            "validation_loss": _interval(outcomes.values(arm, "validation_loss")),
                            "test_loss": _interval(outcomes.values(arm, "test_loss")),
                            "failed_seeds": int(failed.sum()),
                            "diverged_seeds": int((outcomes.values(arm, "diverged_at") >= 0).sum()),
                            "seeds": len(failed),
                        }
                    )
            maps[f"{arch}/d{depth}/w{width}"] = {
                "architecture": arch,
                "depth": depth,
                "width": width,
                "warmups": list(config.warmups),
                "peaks": list(config.peaks),
                "validation_loss": [
                    [outcomes.values(a, "validation_loss").mean() for a in row] for row in grid
                ],
                "failed_fraction": [[outcomes.failed(a).mean() for a in row] for row in grid],
                "cells": cells,
            }
    return maps


def criterion_check(config, outcomes: Outcomes, baselines) -> dict[str, Any]:
    """How much the failure classification depends on the margin, and the gap it sits in."""
    cosine_arms = {a for a, _ in outcomes.records if a.schedule == "warmup_cosine"}
    losses = np.concatenate([outcomes.values(a, "validation_loss") for a in sorted(cosine_arms)])
    diverged = np.concatenate([outcomes.values(a, "diverged_at") >= 0 for a in sorted(cosine_arms)])
    unigram = baselines["validation"]["unigram"]
    finite = losses[np.isfinite(losses) & ~diverged]
    counts = {f"{m:g}": int((finite >= unigram - m).sum()) for m in MARGINS}
    threshold = unigram - config.margin
    above, below = finite[finite >= threshold], finite[finite < threshold]
    return {
        "runs": len(losses),
        "diverged_runs": int(diverged.sum()),
        "plateau_runs_by_margin": counts,
        "lowest_failed_loss": float(above.min()) if len(above) else None,
        "highest_failed_loss": float(above.max()) if len(above) else None,
        "highest_failed_loss_all_schedules": max(
            (float(np.nanmax(outcomes.values(a, "validation_loss")[outcomes.failed(a)]))
             for a in {a for a, _ in outcomes.records} if outcomes.failed(a).any()),
            default=None,
        ),  # Noam included
        "highest_trained_loss": float(below.max()) if len(below) else None,
        "runs_within_0.1_of_threshold": int((np.abs(finite - threshold) < 0.1).sum()),
    }


def _critical_warmups(failed: np.ndarray, warmups: list[int]) -> list[int | None]:
    """Per seed, the shortest warmup from which every longer warmup trains; None where the longest fails.

    Args:
      failed: ``[warmup, seed]`` failure flags, warmups ascending.
      warmups: the warmups of the rows.
    """
    out = []
    for seed in range(failed.shape[1]):
        shortest = None
        for row in reversed(range(len(warmups))):
            if failed[row, seed]:
                break
            shortest = warmups[row]
        out.append(shortest)
    return out


def beta2_study(config, outcomes: Outcomes) -> dict[str, Any]:
    """Question 2: Ma & Yarats' untuned warmup 2 / (1 - b2) against half and twice it, per b2.

    The declared tests (``config.analyses``, built by ``configs.beta2.questions``)
    are answered with :func:`analysis.answer_all`: test loss at half the rule
    minus at the rule, and at the rule minus at twice it, paired over seeds
    (Holm over the b2 values and both directions); and the per-seed growth of
    the shortest warmup that trains from the smallest to the largest b2.
    Failure counts per warmup and the critical warmups are descriptive.
    """
    out = {}
    warmups = sorted(config.beta2_warmups)
    for depth, width in _scales(config):
        for arch in config.beta2_architectures:
            rows, values = [], {}
            critical_index: dict[float, np.ndarray] = {}
            for b2 in config.beta2s:
                for peak in config.beta2_peaks:
                    cells = [Arm(arch, depth, width, w, peak, b2) for w in warmups]
                    failed = np.stack([outcomes.failed(a) for a in cells])  # [warmup, seed]
                    critical = _critical_warmups(failed, warmups)
                    rows.append(
                        {
                            "b2": b2,
                            "peak": peak,
                            "rule_warmup": rule_warmup(b2),
                            "failed_seeds": {str(w): int(f.sum()) for w, f in zip(warmups, failed)},
                            "critical_warmup_per_seed": critical,
                            "critical_warmup_all_seeds": None if None in critical else max(critical),
                            "validation_loss": {
                                str(w): _interval(outcomes.values(a, "validation_loss")) for w, a in zip(warmups, cells)
                            },
                            "test_loss": {
                                str(w): _interval(outcomes.values(a, "test_loss")) for w, a in zip(warmups, cells)
                            },
                        }
                    )
                    if peak == config.beta2_peaks[0]:
                        rule = rule_warmup(b2)
                        test = {w: outcomes.values(a, "test_loss") for w, a in zip(warmups, cells)}
                        if {rule // 2, rule, 2 * rule} <= set(test):
                            values[f"half_minus_rule_b2_{b2:g}"] = (test[rule // 2], test[rule])
                            values[f"rule_minus_double_b2_{b2:g}"] = (test[rule], test[2 * rule])
                        critical_index[b2] = np.asarray(
                            [np.nan if c is None else warmups.index(c) for c in critical], dtype=np.float64
                        )
            low, high = min(config.beta2s), max(config.beta2s)
            values["critical_warmup_growth"] = critical_index[high] - critical_index[low]
            declared = {q.name for q in config.analyses}
            unknown = declared - set(values)
            if unknown:
                raise ValueError(f"transformer_warmup: declared analyses {sorted(unknown)} are not question 2's")
            answers = analysis.answer_all(config.analyses, {k: v for k, v in values.items() if k in declared})
            out[f"{arch}/d{depth}/w{width}"] = {
                "warmups": warmups,
                "seeds": config.seeds,
                "steps": config.steps,
                "rows": rows,
                "declared": answers,
                "critical_index_growth_predicted": math.log2(rule_warmup(high) / rule_warmup(low)),
            }
    return out


def _select(outcomes: Outcomes, candidates: list[Arm]) -> Arm | None:
    """THE validation-selection rule (``stats.select``): lowest mean validation loss, no failed seed."""
    choice = stats.select(
        [outcomes.values(a, "validation_loss") for a in candidates],
        higher_is_better=False,
        failed=[outcomes.failed(a) for a in candidates],
    )
    return None if choice.index is None else candidates[choice.index]


def _chosen(outcomes: Outcomes, arm: Arm | None, **extra) -> dict[str, Any] | None:
    if arm is None:
        return None
    return {"peak": arm.peak, **extra, "test_loss": _interval(outcomes.values(arm, "test_loss"))}


def tolerable_lr(config, outcomes: Outcomes) -> dict[str, Any]:
    """Question 3: the largest peak that trains, the best loss with and without warmup, warmup at one peak."""
    out = {}
    for depth, width in _scales(config):
        for arch in config.architectures:
            grid = _grid_arms(config, arch, depth, width)
            largest = {}
            for w, row in zip(config.warmups, grid):
                trained = [a.peak for a in row if outcomes.trains(a)]
                largest[str(w)] = max(trained) if trained else None
            without = _select(outcomes, grid[0])
            with_warmup = _select(outcomes, [a for row in grid[1:] for a in row])
            both = without is not None and with_warmup is not None
            diff = stats.paired(
                outcomes.values(with_warmup, "test_loss"), outcomes.values(without, "test_loss")
            ) if both else None
            same_peak = {
                str(row[0].warmup): {
                    f"{a.peak:g}": {
                        **stats.paired(outcomes.values(a, "test_loss"), outcomes.values(a0, "test_loss")).as_dict(),
                        "failed_seeds_without": int(outcomes.failed(a0).sum()),
                        "failed_seeds_with": int(outcomes.failed(a).sum()),
                    }
                    for a, a0 in zip(row, grid[0])
                }
                for row in grid[1:]
            }
            out[f"{arch}/d{depth}/w{width}"] = {
                "largest_trained_peak": largest,
                "without_warmup": _chosen(outcomes, without),
                "with_warmup": _chosen(outcomes, with_warmup, warmup=None if with_warmup is None else with_warmup.warmup),
                "with_minus_without": None if diff is None else diff.as_dict(),
                "best_peak_fails_without_warmup": None if with_warmup is None else not outcomes.trains(
                    Arm(arch, depth, width, 0, with_warmup.peak, config.b2)
                ),
                "same_peak_minus_no_warmup": same_peak,
            }
    return out


def _sensitivity(outcomes: Outcomes, row: list[Arm]) -> np.ndarray:
    """Wortsman et al.'s LR sensitivity per seed: mean over LRs of min(loss, loss at init) - best loss."""
    losses = np.stack([outcomes.values(a, "validation_loss") for a in row])  # [lr, seed]
    init = np.stack([outcomes.values(a, "init_loss") for a in row])
    diverged = np.stack([outcomes.values(a, "diverged_at") >= 0 for a in row])
    losses = np.where(diverged | ~np.isfinite(losses), init, losses)  # a diverged run counts as no progress
    capped = np.minimum(losses, init)
    return capped.mean(axis=0) - losses.min(axis=0)


def lr_sensitivity(config, outcomes: Outcomes) -> dict[str, Any]:
    """Question 4: LR sensitivity per architecture and warmup, paired against no warmup (Holm) and across architectures."""
    out = {}
    for depth, width in _scales(config):
        per_arch = {}
        for arch in config.architectures:
            grid = _grid_arms(config, arch, depth, width)
            values = {str(w): _sensitivity(outcomes, row) for w, row in zip(config.warmups, grid)}
            per_arch[arch] = values
            out[f"{arch}/d{depth}/w{width}"] = {
                "lr_range": [min(config.peaks), max(config.peaks)],
                "sensitivity": {w: _interval(v) for w, v in values.items()},
                "against_no_warmup": stats.compare_to(values, "0"),
            }
        if {"post", "pre"} <= set(per_arch):
            out[f"post_minus_pre/d{depth}/w{width}"] = {
                w: stats.paired(per_arch["post"][w], per_arch["pre"][w]).as_dict() for w in per_arch["post"]
            }
    return out


def optimizer_arms(config, outcomes: Outcomes) -> dict[str, Any]:
    """Question 5: RAdam without warmup against Adam without and with the rule's warmup; Noam."""
    out = {}
    rule = config.radam_adam_warmup
    for depth, width in _scales(config):
        for arch in config.architectures:
            rows, p_vs_rule, p_vs_none = [], [], []
            for peak in config.radam_peaks:
                adam0 = Arm(arch, depth, width, 0, peak, config.b2)
                adam_rule = Arm(arch, depth, width, rule, peak, config.b2)
                radam = Arm(arch, depth, width, 0, peak, config.b2, optimizer="radam")
                vs_rule = stats.paired(
                    outcomes.values(radam, "test_loss"), outcomes.values(adam_rule, "test_loss")
                )
                vs_none = stats.paired(
                    outcomes.values(radam, "test_loss"), outcomes.values(adam0, "test_loss")
                )
                p_vs_rule.append(vs_rule.p_value)
                p_vs_none.append(vs_none.p_value)
                rows.append(
                    {
                        "peak": peak,
                        "test_loss": {
                            name: _interval(outcomes.values(a, "test_loss"))
                            for name, a in (
                                ("adam", adam0),
                                (f"adam_warmup_{rule}", adam_rule),
                                ("radam", radam),
                            )
                        },
                        "failed_seeds": {
                            name: int(outcomes.failed(a).sum())
                            for name, a in (
                                ("adam", adam0),
                                (f"adam_warmup_{rule}", adam_rule),
                                ("radam", radam),
                            )
                        },
                        "radam_minus_adam_warmup": vs_rule.as_dict(),
                        "radam_minus_adam": vs_none.as_dict(),
                    }
                )
            for row, a, b in zip(rows, stats.holm(p_vs_rule), stats.holm(p_vs_none)):
                row["radam_minus_adam_warmup"]["p_holm"] = float(a)
                row["radam_minus_adam"]["p_holm"] = float(b)
            best = _select(outcomes, [a for row in _grid_arms(config, arch, depth, width)[1:] for a in row])
            noam = []
            for w in config.noam_warmups:
                arm = Arm(arch, depth, width, w, 0.0, config.b2, schedule="noam")
                schedule = osd.noam(width, warmup_steps=w)
                peak = float(schedule(w))
                noam.append(
                    {
                        "warmup": w,
                        "peak": peak,
                        # the LR of the last step taken (steps - 1) over the peak: sqrt(W / (steps - 1))
                        "last_step_over_peak": float(schedule(config.steps - 1)) / peak,
                        "test_loss": _interval(outcomes.values(arm, "test_loss")),
                        "failed_seeds": int(outcomes.failed(arm).sum()),
                        "minus_best_adam_warmup": None if best is None else stats.paired(
                            outcomes.values(arm, "test_loss"), outcomes.values(best, "test_loss")
                        ).as_dict(),
                    }
                )
            out[f"{arch}/d{depth}/w{width}"] = {
                "rule_warmup": rule,
                "radam": rows,
                "noam": noam,
                "best_adam_warmup": _chosen(outcomes, best, warmup=None if best is None else best.warmup),
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
