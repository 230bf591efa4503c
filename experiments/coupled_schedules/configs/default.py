"""The README's run: three arms x four peak LRs x 20 seeds on scikit-learn's digits."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Config:
    arms: tuple[str, ...] = (
        "lr_schedule",
        "coupled",
        "coupled_plateau",
    )  # experiments/coupled_schedules/train.py
    peak_lrs: tuple[float, ...] = (1e-3, 3e-3, 1e-2, 3e-2)  # peak-LR grid; chosen per arm on validation
    seeds: int = 20  # seeds per (arm, LR): init and shuffles, the same for every arm
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


def get_config() -> Config:
    return Config()
