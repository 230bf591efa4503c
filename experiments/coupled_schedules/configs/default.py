"""The README's run: three arms x four peak LRs x 25 seeds on scikit-learn's digits.

Each arm's peak LR is chosen on the validation accuracy of the first
``selection_seeds`` seeds (``stats.held_out``); the declared analyses compare
the arms' test accuracy on the other 20 seeds, paired per seed.
"""

from __future__ import annotations

import dataclasses

from experiments.common.analysis import Question

_CHOICE = "each arm at the peak LR chosen on the validation accuracy of the selection seeds (stats.held_out)"

ANALYSES = (
    Question(
        name="coupled_vs_lr_schedule",
        question="Does scheduling b1 and the weight decay with the LR change test accuracy over the LR "
        "schedule alone?",
        statistic=f"test accuracy of coupled minus lr_schedule on each held-out seed, {_CHOICE}",
        test="paired_t",
        correction_family="arms",
    ),
    Question(
        name="coupled_plateau_vs_lr_schedule",
        question="Do the coupled schedules plus a plateau LR halving change test accuracy over the LR "
        "schedule alone?",
        statistic=f"test accuracy of coupled_plateau minus lr_schedule on each held-out seed, {_CHOICE}",
        test="paired_t",
        correction_family="arms",
    ),
    Question(
        name="plateau_over_coupled",
        question="Does the plateau add anything to the coupled schedules?",
        statistic=f"test accuracy of coupled_plateau minus coupled on each held-out seed, {_CHOICE}",
        test="paired_t",
        correction_family="arms",
    ),
)


@dataclasses.dataclass(frozen=True)
class Config:
    arms: tuple[str, ...] = (
        "lr_schedule",
        "coupled",
        "coupled_plateau",
    )  # experiments/coupled_schedules/train.py
    peak_lrs: tuple[float, ...] = (1e-3, 3e-3, 1e-2, 3e-2)  # peak-LR grid; chosen per arm on validation
    seeds: int = 25  # seeds per (arm, LR): init and shuffles, the same for every arm
    selection_seeds: int = 5  # seeds 0..4 choose each arm's peak LR; the other 20 are reported
    epochs: int = 30  # passes over the training split
    batch_size: int = 64  # minibatch; an epoch is num_train // batch_size steps
    hidden: int = 128  # hidden units of the MLP
    warmup_steps: int = 50  # linear warmup from 0 to the peak LR
    end_fraction: float = 0.02  # the cosine ends at peak x end_fraction
    b1: float = 0.9  # Adam's b1 when it is not scheduled (lr_schedule)
    b1_low: float = 0.85  # b1 at the peak LR (cycled arms)
    b1_high: float = 0.95  # b1 at the lowest LR (cycled arms)
    weight_decay: float = 5e-3  # AdamW's decay (at the peak LR for the coupled arms)
    plateau_factor: float = 0.5  # LR multiplier at a plateau
    plateau_patience: int = 2  # epochs without improvement tolerated
    plateau_threshold: float = 0.02  # relative improvement of the epoch's mean loss that counts
    test_fraction: float = 0.2  # of the 1797 digits, held out as the reported test set
    validation_size: int = 288  # training digits held out to choose the peak LR
    data_seed: int = 0  # seed of the train/test split
    seed: int = 0  # master PRNG seed: results are deterministic for it
    analyses: tuple[Question, ...] = ANALYSES  # declared before the run; study.py computes exactly these


def get_config() -> Config:
    return Config()
