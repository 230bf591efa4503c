"""The full zoo: both MNIST-1D reference models at the paper's budget (about 50 min on 2 CPU cores)."""

from __future__ import annotations

import dataclasses

from experiments.common.analysis import Question

BASELINES = ("constant", "cosine")  # every family is compared with each (one Holm family per baseline)


def family_questions(families: tuple[str, ...]) -> tuple[Question, ...]:
    """The declared analysis: each family against each baseline, paired over seeds, Holm per baseline."""
    return tuple(
        Question(
            name=f"{family}_vs_{baseline}",
            question=f"Does {family} reach a different test accuracy than {baseline}?",
            statistic=f"test accuracy of {family} minus {baseline} per seed, each family at its peak LR "
            "chosen on mean validation accuracy over the seeds (stats.select: a peak with a failed seed "
            "is never chosen)",
            test="paired_t",
            correction_family=f"vs_{baseline}",
        )
        for baseline in BASELINES
        if baseline in families
        for family in families
        if family != baseline
    )


FAMILIES = (
    "constant", "step", "multistep", "exponential", "inverse_time", "linear", "cosine", "sgdr",
    "cyclic", "one_cycle", "wsd", "rex", "plateau", "schedule_free",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Config:
    models: tuple[str, ...] = ("mlp", "cnn")  # MNIST-1D reference models (experiments.common.models)
    families: tuple[str, ...] = FAMILIES  # schedule families compared (experiments/zoo/train.py:family_schedule)
    steps: int = 6000  # training steps per run: the paper's budget
    warmup_fraction: float = 0.05  # linear warmup from 0 shared by EVERY family (the same for all: no confound)
    batch_size: int = 100  # minibatch (the paper's), drawn with replacement each step
    learning_rates: tuple[float, ...] = (
        1e-3,
        3e-3,
        1e-2,
        3e-2,
        1e-1,
    )  # peak-LR grid; chosen per family on validation
    seeds: int = 5  # seeds per (family, LR): init and data order, the same for every family
    validation_size: int = 500  # training sequences held out to choose the LR (test is only reported)
    eval_every: int = 100  # steps between test evaluations; also the plateau's epoch
    data_seed: int = 42  # MNIST-1D generator seed (42 is the paper's data)
    seed: int = 0  # master PRNG seed: results are deterministic for it
    analyses: tuple[Question, ...] = family_questions(FAMILIES)  # declared before the run (study checks them)


def get_config() -> Config:
    return Config()
