"""The default study: 4 noise schedules x 4 LR families x 5 peaks x 2 seeds + 4 x 4 curriculum arms, 5k steps.

The primary questions and their tests are declared here (``analyses``), before the run.
"""

from __future__ import annotations

import dataclasses

from ..analysis import declared_questions

NOISE_SCHEDULES = ("ddpm_linear", "cosine", "edm", "min_snr5")
LR_FAMILIES = ("constant", "cosine", "wsd", "inverse_sqrt")
CURRICULUM_ARMS = ("aligned", "aligned_ic", "reversed", "reversed_ic")


@dataclasses.dataclass(frozen=True)
class Config:
    # data: a ring of Gaussians, fresh draws every step
    modes: int = 8  # mixture components on the ring
    radius: float = 1.0  # ring radius
    mode_std: float = 0.1  # per-coordinate standard deviation of each component
    # model and optimiser
    hidden: int = 128  # MLP width
    depth: int = 4  # hidden layers (SiLU)
    fourier_features: int = 4  # input Fourier frequencies 1, 2, 4, 8 per coordinate
    log_snr_embedding: int = 8  # sinusoidal log-SNR embedding frequencies
    batch_size: int = 256  # fresh samples per step
    steps: int = 5000  # training steps per run
    ema_decay: float = 0.999  # EMA of the weights (half-life about 700 steps)
    checkpoints: int = 10  # per-noise-level error probes during training
    seeds: int = 2  # seeds per configuration (paired over seeds)
    # noise schedules (diffusion time t = 1..T)
    noise_schedules: tuple = NOISE_SCHEDULES  # see noise.py
    diffusion_steps: int = 1000  # T
    beta_start: float = 1e-4  # DDPM linear betas, rescaled by 1000/T
    beta_end: float = 0.02  # DDPM linear betas, rescaled by 1000/T
    cosine_s: float = 0.008  # Nichol & Dhariwal offset
    max_beta: float = 0.999  # cosine betas clipped here
    edm_p_mean: float = -1.2  # EDM ln sigma mean
    edm_p_std: float = 1.2  # EDM ln sigma standard deviation
    min_snr_gamma: float = 5.0  # Min-SNR-gamma cap
    # learning-rate schedules
    lr_families: tuple = LR_FAMILIES  # see train.lr_schedule
    peak_multipliers: tuple = (0.25, 0.5, 1.0, 2.0, 4.0)  # peaks = these x the best constant LR of the scan
    warmup_fraction: float = 0.05  # linear warmup of every family
    wsd_decay_fraction: float = 0.2  # WSD 1-sqrt cooldown length
    inverse_sqrt_ref_fraction: float = 0.1  # EDM2 t_ref as a fraction of training
    scan_lrs: tuple = (3e-4, 1e-3, 3e-3, 1e-2)  # constant-LR scan (per noise schedule, seed 0); () skips it
    scan_steps: int = 1000  # steps of the scan runs
    base_lr: float = 1e-3  # the 1x peak when the scan is skipped
    # the alignment curriculum (question 2), run with warmup+cosine at the 1x peak
    curriculum_arms: tuple = CURRICULUM_ARMS  # see train.CURRICULA
    curriculum_noise: tuple = (
        "ddpm_linear",
        "cosine",
        "edm",
        "min_snr5",
    )  # noise schedules that get the arms
    curriculum_strength: float = 0.8  # tilt amplitude: density 1.8 at one end and 0.2 at the other
    # evaluation (the same for every noise schedule)
    log_snr_min: float = -10.0  # sampler and likelihood start: sigma = e^5 (VE)
    log_snr_max: float = 10.0  # sampler and likelihood end: sigma = e^-5
    ode_steps: int = 24  # RK4 steps of the likelihood ODE (checked against twice as many)
    kl_val_points: int = 512  # data points for validation KL (selection)
    kl_test_points: int = 1024  # data points for test KL (reported)
    entropy_points: int = 1_000_000  # Monte Carlo draws for the data entropy
    sample_points: int = 10_000  # samples per model for the sample metrics
    sample_steps: int = 12  # RK4 steps of the fixed sampler
    sliced_directions: int = 128  # directions of the sliced Wasserstein distance
    error_bins: int = 10  # log-SNR bins of the per-noise-level error
    error_points_per_bin: int = 256  # probe points per bin
    check_doubling: bool = True  # rerun the likelihood ODE with 2x steps (seed 0 of each selected cell)
    eval_seed: int = 12345  # key of the fixed evaluation sets (not a training seed)
    plot_points: int = 2000  # samples kept per plotted model
    figures: bool = True  # write the PNGs
    # sweeps and the second data set (gpu config)
    chunk_size: int = 0  # > 0: members per compiled chunk in every sweep (no recompiles); 0: the library's
    mnist1d: bool = False  # also run MNIST-1D diffusion (gpu config)
    mnist1d_steps: int = 2000  # MNIST-1D training steps
    mnist1d_seeds: int = 3  # MNIST-1D seeds
    mnist1d_noise: tuple = ("cosine", "edm")  # MNIST-1D noise schedules
    mnist1d_lr: float = 1e-3  # MNIST-1D peak LR (every family)
    mnist1d_hidden: int = 256  # MNIST-1D denoiser width (depth - 1 hidden layers)
    mnist1d_generator_seeds: int = 2  # fresh MNIST-1D draws (5000 sequences each) in the training pool
    mnist1d_samples: int = 2000  # generated sequences per model and split (validation, test: separate draws)
    # the declared analyses (analysis.declared_questions: question 1's interaction contrasts and question 2's
    # arms, per-seed t tests on EMA test KL, Holm within each); a config that changes the grid rebuilds them
    analyses: tuple = declared_questions(NOISE_SCHEDULES, LR_FAMILIES, CURRICULUM_ARMS)


def with_analyses(config: Config) -> Config:
    """``config`` with its declared analyses rebuilt for its own noise schedules, families and arms."""
    return dataclasses.replace(
        config,
        analyses=declared_questions(config.noise_schedules, config.lr_families, config.curriculum_arms),
    )


def get_config() -> Config:
    return Config()
