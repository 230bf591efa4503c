"""The default run: 8 seeds of every search on the MLP at 2048 steps and the CNN at 1024, the NQM at 10000."""

from __future__ import annotations

import dataclasses

from experiments.common.analysis import Question

SEARCHES = ("random", "halving", "pbt")  # each compared with the grid at (at most) the grid's member-steps
MODELS = ("mlp", "cnn")  # the zoo's MNIST-1D models of Q1; the CNN's question names start with "cnn_"


def _prefix(model: str) -> str:
    return "" if model == "mlp" else f"{model}_"


def search_questions(model: str = "mlp") -> tuple[Question, ...]:
    """Q1: each search's selected configuration against the grid's, paired over seeds, Holm over the three.

    Args:
      model: ``"mlp"`` (names ``random_vs_grid`` ..., family ``vs_grid``) or ``"cnn"`` (``cnn_random_vs_grid``
        ..., family ``vs_grid_cnn``).
    """
    family = "vs_grid" if model == "mlp" else f"vs_grid_{model}"
    return tuple(
        Question(
            name=f"{_prefix(model)}{search}_vs_grid",
            question=f"Does {search} select a configuration with a different test accuracy than the grid, "
            f"at no more member-steps ({model.upper()})?",
            statistic=f"test accuracy of the configuration {search} selects on validation minus the grid's "
            "(stats.select on one seed's validation accuracies), per seed",
            correction_family=family,
        )
        for search in SEARCHES
    )


def hd_search_questions() -> tuple[Question, ...]:
    """Q1, hypergradients as a search: Adam-HD's validation choice against the grid's, on each model."""
    return tuple(
        Question(
            name=f"{_prefix(model)}hd_vs_grid",
            question="Does Adam-HD (the safeguard on), run from every initial LR x hypergradient LR of the "
            "config and chosen on validation, reach a different test accuracy than the grid "
            f"({model.upper()})?",
            statistic="test accuracy of the Adam-HD run chosen on validation (stats.select; a failed run is "
            "never chosen) minus the grid's choice, per seed, at the grid's member-steps",
            correction_family="hd_vs_grid",
        )
        for model in MODELS
    )


def pbt_questions() -> tuple[Question, ...]:
    """Q2: does PBT's winning LR trajectory decay, and does its schedule transfer to a fresh init."""
    return (
        Question(
            name="pbt_decays",
            question="Does PBT's winning learning-rate trajectory decay?",
            statistic="log10(last / first learning rate) of the winner's lineage, per seed",
            test="one_sample_t",
            correction_family="pbt_schedule",
        ),
        Question(
            name="replay_vs_pbt",
            question="Does PBT's exported schedule, replayed from a fresh init and data order, reach PBT's "
            "test accuracy?",
            statistic="test accuracy of result.schedule(best) trained from a fresh seed minus PBT's winner, "
            "per seed",
            correction_family="pbt_schedule",
        ),
        Question(
            name="replay_vs_grid",
            question="Does the replayed PBT schedule differ from the grid's choice from the same fresh seed?",
            statistic="test accuracy of the replayed PBT schedule minus the grid's selected configuration, "
            "both trained from the same fresh seed, per seed",
            correction_family="pbt_schedule",
        ),
    )


def horizon_questions(horizons: tuple[int, ...]) -> tuple[Question, ...]:
    """Q3: the LR horizon-H meta-gradients choose, and the loss it ends at, against the best constant LR."""
    loss = tuple(
        Question(
            name=f"horizon_{h}_loss",
            question=f"Does the run whose LR is chosen online by {h}-step meta-gradients end at a different "
            "expected loss than the best constant LR for the full run?",
            statistic=f"log10(final expected loss with horizon {h} / final expected loss at the best "
            "constant LR), per seed (a random initial point of the NQM)",
            test="one_sample_t",
            correction_family="short_horizon",
        )
        for h in horizons
    )
    return loss + tuple(
        Question(
            name=f"horizon_{h}",
            question=f"Do meta-gradients with a {h}-step horizon choose a different learning rate than the "
            "best constant one for the full run?",
            statistic=f"log10(geometric mean over the run of the LR chosen online with horizon {h} / the "
            "best constant LR for the full run), per seed (a random initial point of the NQM)",
            test="one_sample_t",
            correction_family="short_horizon",
        )
        for h in horizons
    )


def mlp_horizon_questions(horizons: tuple[int, ...]) -> tuple[Question, ...]:
    """Q3 on the MLP: the SGD LR meta-gradients through an H-step unroll choose, against the full run's."""
    return tuple(
        Question(
            name=f"mlp_horizon_{h}",
            question=f"Does a meta-gradient with a {h}-step unroll choose a different SGD learning rate for "
            "the MLP than the best constant one for the full run?",
            statistic=f"log10(LR osd.meta_tune chooses from init with horizon {h} / the full run's LR chosen "
            "on validation accuracy from the config's grid), per seed",
            test="one_sample_t",
            correction_family="short_horizon_mlp",
        )
        for h in horizons
    )


def hypergradient_questions() -> tuple[Question, ...]:
    """Q4: does SGD-HD's safeguard (the LR clipped to a declared range) change failures and accuracy."""
    return (
        Question(
            name="hd_failures",
            question="Does SGD-HD fail (diverge) more often without the safeguard than with it?",
            statistic="failed runs (final validation loss non-finite or above its value at init) over every "
            "seed x initial LR x hypergradient LR, without minus with the safeguard",
            test="fisher_exact",
            unit="run (seed x initial LR x hypergradient LR)",
            error_model="failures independent across runs; Fisher's exact test on the 2x2 counts",
            correction_family="hypergradient",
        ),
        Question(
            name="hd_safeguard_accuracy",
            question="Does the safeguard change the test accuracy of SGD-HD's validation-chosen run?",
            statistic="test accuracy with minus without the safeguard, each at its (initial LR, "
            "hypergradient LR) chosen on that seed's validation accuracy (stats.select), per seed",
            correction_family="hypergradient",
        ),
    )


def all_questions(horizons: tuple[int, ...], mlp_horizons: tuple[int, ...]) -> tuple[Question, ...]:
    """Every declared question; the CNN's and Adam-HD's (added for the CNN run) come last."""
    return (search_questions() + pbt_questions() + horizon_questions(horizons)
            + mlp_horizon_questions(mlp_horizons) + hypergradient_questions() + search_questions("cnn")
            + hd_search_questions())


HORIZONS = (10, 100, 1000)
GRID_FAMILIES = ("constant", "linear", "cosine", "wsd")
GRID_PEAKS = (1e-3, 4.64e-3, 2.15e-2, 1e-1)
HALVING_FAMILIES = ("constant", "step", "exponential", "linear", "cosine", "one_cycle", "wsd", "rex")


@dataclasses.dataclass(frozen=True)
class Config:
    steps: int = 2048  # MLP training steps of a full member (the zoo's MLP, Adam, batch 100)
    warmup_fraction: float = 0.05  # linear warmup shared by every family of the grid, random search, halving
    seeds: int = 8  # seeds (init and data order); every search repeated on each
    grid_families: tuple[str, ...] = GRID_FAMILIES  # grid: families (zoo/train.py:family_schedule)
    grid_peaks: tuple[float, ...] = GRID_PEAKS  # grid: peak LRs (4 x 4 = 16 members)
    random_samples: int = 16  # random search: members (family uniform over the grid's, peak log-uniform)
    halving_families: tuple[str, ...] = HALVING_FAMILIES  # successive halving: families (4x the grid's space)
    halving_peaks: tuple[float, ...] = (1e-3, 1.93e-3, 3.73e-3, 7.2e-3, 1.39e-2, 2.68e-2, 5.18e-2, 1e-1)
    halving_eta: int = 4  # successive halving: keep 1 / eta per rung
    halving_first_rung: int = 128  # steps of the first rung (steps / 16: 64, 16, 4 members)
    pbt_population: int = 16  # PBT: members (constant LRs drawn log-uniformly, same range as the grid)
    pbt_ready: int = 256  # PBT: steps between exploit / explore
    pbt_fraction: float = 0.25  # PBT: bottom fraction replaced by copies of the top fraction
    pbt_weight_decay_range: tuple[float, float] = (1e-5, 1e-1)  # PBT over LR and AdamW's decay (MLP, expl.)
    replay_seed_offset: int = 1000  # the replay's fresh seed: seed + this (a new init and data order)
    nqm_dim: int = 1000  # NQM: dimensions, curvatures h_i = 1 / i (Wu et al. 2018)
    nqm_noise: float = 0.01  # NQM: gradient-noise variance h_i * this (batch size 100)
    nqm_steps: int = 10000  # NQM: steps of the full run
    nqm_horizons: tuple[int, ...] = HORIZONS  # NQM: meta-gradient horizons (each divides nqm_steps)
    nqm_meta_steps: int = 20  # NQM: Adam steps on log LR per horizon window
    nqm_meta_lr: float = 0.1  # NQM: Adam step size on log LR
    nqm_lr_grid: tuple[float, float, int] = (1e-3, 1.9, 64)  # NQM: constant LRs (low, high, count)
    nqm_seeds: int = 8  # NQM: random initial points
    mlp_horizons: tuple[int, ...] = HORIZONS  # Q3 on the MLP: unroll lengths of osd.meta_tune (<= steps)
    mlp_horizon_seeds: int = 4  # Q3 on the MLP: seeds (the first of the searches' seeds)
    mlp_initial_lr: float = 0.1  # Q3 on the MLP: meta_tune's starting SGD learning rate
    mlp_meta_steps: int = 30  # Q3 on the MLP: Adam steps on log lr
    mlp_meta_lr: float = 0.3  # Q3 on the MLP: Adam's step size in log units
    mlp_lr_bounds: tuple[float, float] = (1e-4, 10.0)  # Q3 on the MLP: meta_tune's bounds on the LR
    mlp_lr_grid: tuple[float, float, int] = (1e-2, 10.0, 13)  # Q3 on the MLP: full-run LRs (low, high, count)
    hd_initial_lrs: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)  # SGD-HD: initial learning rates
    hd_hyper_lrs: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)  # SGD-HD: hypergradient LRs (Baydin: 1e-3)
    hd_lr_range: tuple[float, float] = (0.0, 1.0)  # SGD-HD: the safeguard's range (the other arm: none)
    cnn_steps: int = 1024  # Q1 on the CNN: steps of a full member (a CNN step costs ~5x an MLP step on CPU)
    cnn_seeds: int = 8  # Q1 on the CNN: seeds 0 .. cnn_seeds - 1, every search on each
    cnn_halving_first_rung: int = 64  # Q1 on the CNN: cnn_steps / 16, as the MLP's
    cnn_pbt_ready: int = 128  # Q1 on the CNN: cnn_steps / 8, as the MLP's
    hd_search_initial_lrs: tuple[float, ...] = GRID_PEAKS  # Adam-HD search: initial LRs (the grid's peaks)
    hd_search_hyper_lrs: tuple[float, ...] = (1e-7, 1e-6, 1e-5, 1e-4)  # Adam-HD search: (Baydin: 1e-7)
    hd_search_lr_range: tuple[float, float] = (0.0, 0.1)  # Adam-HD search's safeguard (the grid's top peak)
    seed: int = 0  # master PRNG seed (PBT's exploit, random search's draws)
    analyses: tuple[Question, ...] = all_questions(HORIZONS, HORIZONS)  # declared before the run


def get_config() -> Config:
    return Config()
