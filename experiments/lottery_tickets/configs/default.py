"""The crossed study on the CPU: tickets under three schedules, retrained under each (the README's tables).

The notebook's model, optimizer, batches and 1501 steps per round, but a faster
pruning schedule (six rounds instead of 99) so the crossed matrix, its controls,
the retraining variants and the transfer test fit about half an hour on two cores.
"""

from __future__ import annotations

import dataclasses


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
    transfer: bool = True  # Q4: retrain on a fresh MNIST-1D draw
    transfer_sparsity: float = 0.9  # the ticket retrained on the fresh draw
    transfer_steps: int = 1501  # Adam updates on the fresh draw (the notebook: 6000)
    transfer_batch_size: int = 100  # batch on the fresh draw (the notebook: 500)
    data_seed: int = 42  # MNIST-1D generator seed of the data tickets are found on (42: the paper's)
    transfer_seed: int = 43  # generator seed of the fresh draw (the notebook's transfer test)
    validation_size: int = 500  # training sequences held out for choices (0: train on all 4000, no choices)
    reinit_offset: int = 1000  # the reinit control's init is drawn with seed + offset
    chunk_size: int = 4  # members per compiled chunk (4: fastest on 2 cores; divides 36, 360)


def get_config() -> Config:
    return Config()
