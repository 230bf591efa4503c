"""The study's questions, computed from per-seed run records (no jax).

:class:`Outcomes` holds every trained run's final numbers; one function per
question turns them into the reported numbers (:func:`analyse` calls them
all). ``study.py`` trains and fills :class:`Outcomes`; ``reanalyse.py`` fills
it from a stored results file, so a stored run can be re-analysed with the
current analysis without training again.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from experiments.common import analysis, stats

from .configs.beta2 import rule_warmup
from .report import NAMES

__all__ = [
    "Arm",
    "Outcomes",
    "analyse",
    "run_records",
    "outcomes_from_runs",
    "noam_lr",
    "failure_maps",
    "criterion_check",
    "beta2_study",
    "tolerable_lr",
    "lr_sensitivity",
    "optimizer_arms",
]

MARGINS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5)  # margins of the sensitivity check on the failure criterion
RECORD_KEYS = ("validation_loss", "test_loss", "init_loss", "diverged_at")  # what the analyses read per run


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
                                str(w): _interval(outcomes.values(a, "validation_loss"))
                                for w, a in zip(warmups, cells)
                            },
                            "test_loss": {
                                str(w): _interval(outcomes.values(a, "test_loss"))
                                for w, a in zip(warmups, cells)
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
                raise ValueError(
                    f"transformer_warmup: declared analyses {sorted(unknown)} are not question 2's"
                )
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
                        **stats.paired(
                            outcomes.values(a, "test_loss"), outcomes.values(a0, "test_loss")
                        ).as_dict(),
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
                "with_warmup": _chosen(
                    outcomes, with_warmup, warmup=None if with_warmup is None else with_warmup.warmup
                ),
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
                peak = float(noam_lr(width, w, w))
                noam.append(
                    {
                        "warmup": w,
                        "peak": peak,
                        # the LR of the last step taken (steps - 1) over the peak: sqrt(W / (steps - 1))
                        "last_step_over_peak": float(noam_lr(width, w, config.steps - 1)) / peak,
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


def noam_lr(width: int, warmup: int, step) -> np.ndarray:
    """Vaswani et al.'s schedule, ``width**-0.5 * min(step**-0.5, step * warmup**-1.5)`` (0 at step 0).

    The closed form of ``osd.noam(width, warmup_steps=warmup)`` (a test checks they agree).
    """
    t = np.asarray(step, dtype=np.float64)
    safe = np.maximum(t, 1.0)
    return np.where(t > 0, width**-0.5 * np.minimum(safe**-0.5, t * float(warmup) ** -1.5), 0.0)


def analyse(config, outcomes: Outcomes, baselines: Mapping) -> dict[str, Any]:
    """Every question's numbers from the runs (question 6 excepted: it needs the models)."""
    return {
        "failure_map": failure_maps(config, outcomes),
        "failure_criterion": criterion_check(config, outcomes, baselines),
        "beta2": beta2_study(config, outcomes),
        "tolerable_lr": tolerable_lr(config, outcomes),
        "lr_sensitivity": lr_sensitivity(config, outcomes),
        "optimizers": optimizer_arms(config, outcomes),
    }


def run_records(outcomes: Outcomes) -> list[dict[str, Any]]:
    """One flat record per run (arm fields, seed, failed, its numbers), sorted: results.json's ``runs``."""
    return [
        {
            **dataclasses.asdict(arm),
            "seed": seed,
            "failed": bool(outcomes.failed(arm)[outcomes.seeds(arm).index(seed)]),
            **record,
        }
        for (arm, seed), record in sorted(outcomes.records.items())
    ]


def outcomes_from_runs(runs: Iterable[Mapping[str, Any]], threshold: float) -> Outcomes:
    """:class:`Outcomes` from stored run records (:func:`run_records`' format)."""
    fields = [f.name for f in dataclasses.fields(Arm)]
    outcomes = Outcomes(threshold)
    for run in runs:
        arm = Arm(**{k: run[k] for k in fields})
        record = {k: (float("nan") if run.get(k) is None else run[k]) for k in RECORD_KEYS}
        outcomes.add(arm, int(run["seed"]), record)
    return outcomes
