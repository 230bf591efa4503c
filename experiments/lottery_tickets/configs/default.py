"""The crossed study on the CPU: tickets under three schedules, retrained under each (the README's tables).

The notebook's model, optimizer, batches and 1501 steps per round, but a faster
pruning schedule (six rounds instead of 99) so the crossed matrix, its controls,
the retraining variants and the transfer test fit about forty minutes on two cores.

The primary question and its test are declared here (``analyses``), before the run;
everything else the study reports is exploratory.
"""

from __future__ import annotations

import dataclasses

from experiments.common.analysis import Question

TIED_STATISTIC = (
    "D = H(ticket) - H(reinit), test accuracy in points, one value per seed, where H(X) is the home "
    "advantage of a crossed matrix X(A -> B) (mask found under schedule A, retrained under B): the mean "
    "over the ordered pairs A' != B of X(B -> B) - X(A' -> B) = mean diagonal - mean off-diagonal. The "
    "ticket keeps the original init, the reinit control the same mask with a fresh init"
)
TIED_QUESTION = (
    "Is the mask tied to the schedule it was found with, beyond what a fresh init with the same mask gets?"
)


def tied_to_schedule(sparsity: float, draw: str) -> Question:
    """The primary question at one sparsity, on the original or the fresh MNIST-1D draw."""
    return Question(
        name=f"tied_to_schedule_{round(100 * sparsity)}_{draw}",
        question=f"{TIED_QUESTION} (sparsity {sparsity:.0%}, {draw} draw)",
        statistic=TIED_STATISTIC,
        test="one_sample_t",
        unit="seed (every arm of a seed shares its init, reinit init, random masks and data order)",
        error_model="per-seed D independent across seeds and normal; Student t, seeds - 1 degrees of freedom",
        correction_family="tied_to_schedule",  # Holm over both sparsities x both draws (4 tests)
    )


def tied_to_schedule_all(sparsities) -> tuple[Question, ...]:
    """The primary question at every report sparsity, on both draws (one Holm family)."""
    return tuple(tied_to_schedule(s, d) for s in sparsities for d in ("original", "fresh"))


def ticket_beats_random(sparsity: float) -> Question:
    """The notebook's own claim at one sparsity (the anchor configs' primary question)."""
    return Question(
        name=f"ticket_beats_random_{round(100 * sparsity)}",
        question=f"Does the magnitude ticket beat layer-matched random pruning at {sparsity:.0%} sparsity?",
        statistic="ticket - random, last-step test accuracy (points), constant 2e-2, k = 0, per seed",
        test="paired_t",
        unit="seed (the ticket and the random mask of a seed share the init and the data order)",
        correction_family="ticket_vs_random",  # Holm over the anchor's report sparsities
    )


ANALYSES = tied_to_schedule_all((0.9, 0.95))
# How single published trials are compared (every config; descriptive, no test): a trial agrees when it lies
# inside our 95% prediction interval for ONE new trial, mean +- t(n-1) * sd * sqrt(1 + 1/n) over our seeds.
AGREEMENT_RULE = "published single trial inside our 95% prediction interval for one new trial (t, n - 1 df)"


@dataclasses.dataclass(frozen=True)
class Config:
    seeds: int = 6  # trials; each has its own init, reinit and random masks, shared by every arm (paired)
    hidden: int = 500  # hidden width of the notebook's SparseMLP (40-500-500-10 with a residual)
    steps: int = 1501  # Adam updates per round (the notebook's 1501)
    batch_size: int = 100  # fixed sequential batches (the notebook's)
    score_step: int = 1501  # prune on the weights after this many updates (1501: final; the notebook: 1001)
    targets: tuple[float, ...] = (0.0, 0.5, 0.75, 0.85, 0.9, 0.95)  # sparsity of each IMP round (0: dense)
    report_sparsities: tuple[float, ...] = (0.9, 0.95)  # tickets retrained in the matrix and variants
    schedules: tuple[tuple[str, float, float], ...] = (
        ("constant 2e-2", 2e-2, 2e-2),
        ("cosine 2e-2 to 0", 2e-2, 0.0),
        ("constant 2e-3", 2e-3, 2e-3),
    )  # A and B: (name, peak, end) of a cosine over the round; end == peak is a constant LR  # fmt: skip
    rewind_fractions: tuple[float, ...] = (0.0,)  # rewind to k = fraction * steps (0: the init)
    crossed: bool = True  # Q2: retrain every ticket under every schedule, with reinit and random controls
    variants: bool = True  # Q3: LR rewinding and fine-tuning chains beside weight rewinding
    variant_schedule: int = 1  # index into schedules: the schedule the variants replay (cosine 2e-2 to 0)
    finetune_lrs: tuple[float, ...] = (2e-3, 2e-4)  # fine-tuning LRs; the one used is chosen on validation
    selection_seeds: int = 2  # Q3's choices use validation of seeds 0..k-1 only; Q3 reports the other seeds
    transfer: bool = True  # Q4: retrain on a fresh MNIST-1D draw
    transfer_sparsities: tuple[float, ...] = (0.9, 0.95)  # tickets retrained on the fresh draw (all reported)
    transfer_steps: int = 1501  # Adam updates on the fresh draw (the notebook: 6000)
    transfer_batch_size: int = 100  # batch on the fresh draw (the notebook: 500)
    data_seed: int = 42  # MNIST-1D generator seed of the data tickets are found on (42: the paper's)
    transfer_seed: int = 43  # generator seed of the fresh draw (the notebook's transfer test)
    validation_size: int = 500  # training sequences held out for choices (0: train on all 4000, no choices)
    reinit_offset: int = 1000  # the reinit control's init is drawn with seed + offset
    chunk_size: int = 4  # members per compiled chunk (4: fastest on 2 cores)
    analyses: tuple[Question, ...] = ANALYSES  # the primary questions, declared before the run
    agreement_rule: str = AGREEMENT_RULE  # how the notebook's single trials are compared (descriptive)


def get_config() -> Config:
    return Config()
