"""The full zoo: both MNIST-1D reference models at the paper's budget (about 50 min on 2 CPU cores)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Config:
    models: tuple[str, ...] = ("mlp", "cnn")  # MNIST-1D reference models (experiments.common.models)
    families: tuple[str, ...] = (
        "constant", "step", "multistep", "exponential", "inverse_time", "linear", "cosine", "sgdr",
        "cyclic", "one_cycle", "wsd", "rex", "plateau", "schedule_free",
    )  # schedule families compared (experiments/zoo/train.py:family_schedule)  # fmt: skip
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


def get_config() -> Config:
    return Config()
