"""The study's questions, computed from per-seed cell values (no jax).

A run (one data set and model) stores ``cells[arm][schedule][noise][metric]``,
a list over seeds (the same index is the same seed, init and data order in
every arm). One function per question turns cells into the values its
declared test takes; :func:`analyse` answers the declared questions exactly
as the config states them (``analysis.answer_all``, Holm within each run) and
adds the exploratory tables, labelled so. ``study.py`` fills the cells from a
training run; a stored (compacted) results file holds the same cells, so it
can be re-analysed without training.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from experiments.common import analysis, stats

from .configs.default import PRIMARY_NOISE, run_questions

__all__ = [
    "values",
    "q1_help_and_cost",
    "q2_scheduled_rate",
    "q3_decaying_lr",
    "q4_margin",
    "declared_values",
    "arms_vs_uniform",
    "memorisation_gap",
    "label_precision",
    "cell_summary",
    "analyse",
]

Cells = Mapping[str, Any]  # cells[arm][schedule][noise][metric] -> per-seed list
FINAL = "final_test"  # the declared statistic: test accuracy after the last epoch


def values(cells: Cells, arm: str, schedule: str, noise: str, metric: str = FINAL) -> np.ndarray:
    """Per-seed values of one cell (None, a failed run, becomes NaN)."""
    raw = cells[arm][schedule][noise][metric]
    return np.asarray([np.nan if v is None else v for v in raw], dtype=np.float64)


def q1_help_and_cost(cells: Cells) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Q1: small-loss selection (ramped) against uniform CE, at 40% symmetric noise and at 0%, constant LR."""
    return {
        "q1_help": (values(cells, "small_loss_ramp", "constant", PRIMARY_NOISE),
                    values(cells, "uniform", "constant", PRIMARY_NOISE)),
        "q1_cost": (values(cells, "small_loss_ramp", "constant", "sym0"),
                    values(cells, "uniform", "constant", "sym0")),
    }  # fmt: skip


def q2_scheduled_rate(cells: Cells) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Q2: the ramped forget rate against the same rate from step 0 (sym40, constant LR)."""
    return {"q2_schedule": (values(cells, "small_loss_ramp", "constant", PRIMARY_NOISE),
                            values(cells, "small_loss_constant", "constant", PRIMARY_NOISE))}  # fmt: skip


def q3_decaying_lr(cells: Cells) -> dict[str, Any]:
    """Q3: cosine against constant LR for CE, and the interaction with small-loss selection (sym40)."""

    def gain(schedule):  # small-loss minus CE under one LR schedule, per seed
        return values(cells, "small_loss_ramp", schedule, PRIMARY_NOISE) - values(cells, "uniform", schedule,
                                                                                  PRIMARY_NOISE)  # fmt: skip

    return {
        "q3_decay": (values(cells, "uniform", "cosine", PRIMARY_NOISE),
                     values(cells, "uniform", "constant", PRIMARY_NOISE)),
        "q3_additive": gain("cosine") - gain("constant"),
    }  # fmt: skip


def q4_margin(cells: Cells) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Q4: the mission's margin-based step against small-loss selection and against uniform CE (sym40)."""
    margin = values(cells, "margin", "constant", PRIMARY_NOISE)
    return {
        "q4_margin_vs_small_loss": (margin, values(cells, "small_loss_ramp", "constant", PRIMARY_NOISE)),
        "q4_margin_vs_uniform": (margin, values(cells, "uniform", "constant", PRIMARY_NOISE)),
    }


def declared_values(run: str, cells: Cells) -> dict[str, Any]:
    """What every declared question of one run takes, keyed by its declared name."""
    out = {**q1_help_and_cost(cells), **q2_scheduled_rate(cells), **q3_decaying_lr(cells), **q4_margin(cells)}
    return {f"{run}_{name}": v for name, v in out.items()}


def arms_vs_uniform(cells: Cells, metric: str = FINAL) -> dict[str, dict[str, dict[str, dict]]]:
    """Exploratory: every arm minus uniform CE per seed, each schedule and noise (paired t, Holm per cell)."""
    out: dict[str, dict[str, dict[str, dict]]] = {}
    for schedule in cells["uniform"]:
        for noise in cells["uniform"][schedule]:
            arms = {arm: values(cells, arm, schedule, noise, metric) for arm in cells}
            out.setdefault(schedule, {})[noise] = analysis.exploratory(
                stats.compare_to(arms, "uniform"),
                "every arm against uniform CE; Holm over the arms of this cell")
    return out


def memorisation_gap(cells: Cells) -> dict[str, dict[str, dict[str, dict]]]:
    """Per arm, schedule and noise: validation-chosen minus final test accuracy (t interval over seeds).

    The issue's memorisation gap is this for plain CE (``uniform``); the epoch is chosen on the
    noisy validation labels (``stats.select`` over the epochs of each run).
    """
    out: dict = {}
    for arm in cells:
        for schedule in cells[arm]:
            for noise in cells[arm][schedule]:
                gap = values(cells, arm, schedule, noise, "chosen_test") - values(cells, arm, schedule, noise)
                out.setdefault(arm, {}).setdefault(schedule, {})[noise] = stats.mean_ci(gap).as_dict()
    return out


def label_precision(cells: Cells) -> dict[str, dict[str, dict[str, dict]]]:
    """Per arm, schedule and noise: the fraction of the weight mass on truly clean examples.

    ``last_epoch``: over the last epoch's batches; ``whole_run``: over every batch of the run.
    """
    out: dict = {}
    for arm in cells:
        for schedule in cells[arm]:
            for noise in cells[arm][schedule]:
                def interval(metric, arm=arm, schedule=schedule, noise=noise):
                    return stats.mean_ci(values(cells, arm, schedule, noise, metric)).as_dict()

                out.setdefault(arm, {}).setdefault(schedule, {})[noise] = {
                    "last_epoch": interval("precision_last"),
                    "whole_run": interval("precision_run"),
                }
    return out


def cell_summary(cells: Cells) -> dict:
    """Mean [95% CI] over seeds of the final and the validation-chosen test accuracy of every cell."""
    return {
        arm: {
            schedule: {
                noise: {metric: stats.mean_ci(values(cells, arm, schedule, noise, metric)).as_dict()
                        for metric in (FINAL, "chosen_test", "memorised_last")}
                for noise in cells[arm][schedule]
            }
            for schedule in cells[arm]
        }
        for arm in cells
    }  # fmt: skip


def analyse(runs: Mapping[str, Cells], questions=None) -> dict:
    """The declared answers (Holm within each run) and the exploratory tables of every run.

    Args:
      runs: ``{run key: cells}`` (run key ``"<data set>_<model>"``).
      questions: the declared questions (default: ``configs.default.run_questions`` of every run).
    """
    if questions is None:
        questions = tuple(q for run in runs for q in run_questions(run))
    inputs: dict[str, Any] = {}
    for run, cells in runs.items():
        inputs.update(declared_values(run, cells))
    declared = analysis.answer_all(questions, inputs)
    return {
        "declared": declared,
        "runs": {
            run: {
                "cells": cell_summary(cells),
                "memorisation_gap": memorisation_gap(cells),
                "label_precision": label_precision(cells),
                "vs_uniform_final": arms_vs_uniform(cells),
                "vs_uniform_chosen": arms_vs_uniform(cells, "chosen_test"),
            }
            for run, cells in runs.items()
        },
    }
