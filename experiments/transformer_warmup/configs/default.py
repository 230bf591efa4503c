"""The README's run: a 6-layer character transformer on the King James Bible, every question (about 30 min on 2 cores)."""

from __future__ import annotations

import dataclasses

from experiments.common.analysis import Question


@dataclasses.dataclass(frozen=True)
class Config:
    # model (Post-LN and Pre-LN share one compiled program: the architecture is traced)
    depths: tuple[int, ...] = (6,)  # blocks per model; traced: one program for all, costing the deepest
    widths: tuple[int, ...] = (64,)  # model widths d_model; one compiled program each
    heads: int = 4  # attention heads
    mlp_ratio: int = 4  # MLP hidden units per model width (64 -> 256)
    context: int = 32  # characters of context per window
    # training (Adam b1 0.9, b2 0.98, eps 1e-9 as Vaswani et al. 2017; no dropout, no clipping)
    batch_size: int = 16  # windows per step: 16 x 32 = 512 predicted characters
    steps: int = 200  # optimizer steps, the same total for every warmup
    end_fraction: float = 0.1  # cosine ends at this fraction of the peak
    b2: float = 0.98  # Adam's b2 outside the beta2 study
    record_every: int = 10  # steps per point of the recorded training curves
    eval_windows: int = 256  # validation and test windows (each 33 characters), evenly spaced over the split
    seeds: int = 4  # seeds per cell: initialisation and data order, shared by every arm
    # question 1 (failure map), 3 (tolerable LR) and 4 (LR sensitivity): warmup x peak grid per architecture
    architectures: tuple[str, ...] = ("post", "pre")  # "post": Post-LN; "pre": Pre-LN
    warmups: tuple[int, ...] = (0, 25, 100)  # linear warmup steps (100 = 2 / (1 - 0.98), Ma & Yarats' rule)
    peaks: tuple[float, ...] = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)  # peak learning rates
    margin: float = 0.1  # failed: final validation loss >= unigram cross-entropy - margin (nats), or diverged
    # question 2 (Ma & Yarats' 2 / (1 - b2) warmup as a default) runs in configs/beta2.py: 1000 steps
    beta2s: tuple[float, ...] = (0.96, 0.98, 0.99)  # rule: 50, 100, 200 warmup steps
    beta2_warmups: tuple[int, ...] = (0, 25, 50, 100, 200, 400)  # warmups tried at each b2
    beta2_peaks: tuple[float, ...] = (1e-2,)  # peaks where Post-LN fails without warmup
    beta2_architectures: tuple[str, ...] = ()  # none here: 200 steps cannot hold the rule's range
    # question 5: RAdam without warmup, and the Noam schedule
    radam_peaks: tuple[float, ...] = (3e-3, 1e-2, 3e-2)  # RAdam, no warmup, against Adam with and without
    radam_adam_warmup: int = 100  # Adam's warmup in that comparison: 2 / (1 - b2), Ma & Yarats' rule
    noam_warmups: tuple[int, ...] = (25, 100)  # Noam warmups; its peak is (d_model * warmup) ** -0.5
    curve_peak: float = 1e-2  # the peak whose training curves are plotted
    # question 6: gradient norms at initialisation
    gradient_depths: tuple[int, ...] = (2, 4, 6, 12)  # depths compared (one program: depth is traced)
    gradient_seeds: int = 16  # initialisations (and batches) per depth
    # engine
    chunk_size: int | None = None  # sweep members per compiled call (None: the engine's choice)
    seed: int = 0  # master PRNG key: results are deterministic for it
    analyses: tuple[Question, ...] = ()  # declared questions (configs/beta2.py); the rest is descriptive


def get_config() -> Config:
    return Config()
