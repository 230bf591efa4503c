"""The noisy-labels study: MNIST-1D (MLP, CNN) and sklearn digits (MLP) under label noise
(about 20 min on 2 quiet CPU cores).

Every arm of a (data set, model) pair sees the same initialisation and data order per seed;
the declared analysis below is fixed before the run (``experiments.common.analysis``).
"""

from __future__ import annotations

import dataclasses

from experiments.common.analysis import Question

from ..noise import Noise

# One-network arms (one compiled program per data set and model) and the two-network arm.
SINGLE_ARMS = (
    "uniform", "margin", "small_loss_ramp", "small_loss_constant", "small_loss_misspecified", "gce", "focal",
    "oracle",
)  # fmt: skip
ARMS = (*SINGLE_ARMS, "co_teaching")
SCHEDULES = ("constant", "cosine")  # the LR schedules crossed with every arm
NOISES = (Noise("symmetric", 0.0), Noise("symmetric", 0.2), Noise("symmetric", 0.4), Noise("pairflip", 0.4))
PRIMARY_NOISE = "sym40"  # where Q1-Q4 are asked (Q1's cost: at sym0)
STATISTIC = "final test accuracy (after the last epoch; clean test labels)"


def run_questions(run: str) -> tuple[Question, ...]:
    """Q1-Q4 of issue 18 for one (data set, model) run key such as ``"mnist1d_mlp"``; Holm within the run."""

    def q(name, question, statistic, test="paired_t"):
        return Question(name=f"{run}_{name}", question=question, statistic=f"{STATISTIC}: {statistic}",
                        test=test, correction_family=run)  # fmt: skip

    return (
        q("q1_help", "Q1: does down-weighting hard samples (small-loss selection, ramped forget rate) help "
          "at 40% symmetric noise?", "small_loss_ramp minus uniform CE per seed, sym40, constant LR"),
        q("q1_cost", "Q1: what does small-loss selection cost at 0% noise (forget rate ramped to the assumed "
          "0.2)?", "small_loss_ramp minus uniform CE per seed, sym0, constant LR"),
        q("q2_schedule", "Q2: must the forget rate be scheduled, or is R constant from step 0 as good?",
          "small_loss_ramp minus small_loss_constant per seed, sym40, constant LR"),
        q("q3_decay", "Q3: how much does a decaying LR alone give plain CE?",
          "uniform CE under cosine minus under constant LR per seed, sym40"),
        q("q3_additive", "Q3: do the decaying LR and small-loss selection add (interaction contrast 0)?",
          "(small_loss_ramp - uniform | cosine) - (small_loss_ramp - uniform | constant) per seed, sym40",
          test="one_sample_t"),
        q("q4_margin_vs_small_loss", "Q4: is the mission's margin-based step (high on easy, low on hard) as "
          "good as small-loss selection?", "margin minus small_loss_ramp per seed, sym40, constant LR"),
        q("q4_margin_vs_uniform", "Q4: does the margin-based step help at all over uniform CE?",
          "margin minus uniform CE per seed, sym40, constant LR"),
    )


def questions(runs: tuple[tuple[str, str], ...]) -> tuple[Question, ...]:
    """The declared analysis of a config: Q1-Q4 for every (data set, model) run, Holm within each run."""
    return tuple(question for data, model in runs for question in run_questions(f"{data}_{model}"))


RUNS = (("mnist1d", "mlp"), ("mnist1d", "cnn"), ("digits", "mlp"))


@dataclasses.dataclass(frozen=True)
class Config:
    runs: tuple[tuple[str, str], ...] = RUNS  # (data set, model) pairs; one program per pair and arm kind
    arms: tuple[str, ...] = ARMS  # every arm (configs.default.ARMS); the questions need them all
    schedules: tuple[str, ...] = SCHEDULES  # LR schedules crossed with the arms
    noises: tuple[Noise, ...] = NOISES  # label-noise settings (noise.Noise); sym40 is where Q1-Q4 are asked
    seeds: int = 4  # seeds per cell: init and data order, the same for every arm
    epochs: int = 40  # training epochs (n_train // batch_size steps each, batches drawn with replacement)
    batch_size: int = 100  # minibatch
    learning_rate: float = 1e-2  # Adam peak LR (MNIST-1D's reference constant LR); cosine decays it to 0
    ramp_epochs: int = 10  # Co-teaching's ramp of the forget rate 0 -> R (Han et al.: 10 epochs)
    assumed_rate_at_zero: float = 0.2  # the forget rate small-loss arms assume at 0% noise (Q1's cost)
    misspecified_fraction: float = 0.5  # the misspecified arm's rate: this times the true rate (0.2 at 40%)
    margin_temperature: float = 1.0  # margin weighting: temperature of the sigmoid of the margin
    margin_floor: float = 0.1  # margin weighting: the smallest weight (hard samples)
    gce_q: float = 0.7  # GCE's q (Zhang & Sabuncu 2018)
    focal_gamma: float = 2.0  # focal's gamma (Lin et al. 2017)
    validation_size: int = 500  # training examples held out (noisy labels too) to choose the epoch
    digits_validation_size: int = 237  # the digits' held-out examples (1438 train -> 1201 + 237)
    data_seed: int = 42  # MNIST-1D generator seed (42 is the paper's data)
    digits_split_seed: int = 0  # sklearn digits train/test split seed
    noise_seed: int = 0  # label-corruption seed (fixed: the same corrupted labels for every training seed)
    seed: int = 0  # master PRNG seed: results are deterministic for it
    analyses: tuple[Question, ...] = questions(RUNS)  # declared before the run (study checks them)


def get_config() -> Config:
    return Config()
