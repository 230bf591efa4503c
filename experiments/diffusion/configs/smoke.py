"""Smoke: the whole pipeline in seconds (tiny grid, short runs, small evaluation sets)."""

import dataclasses

from .default import get_config as default_config
from .default import with_analyses


def get_config():
    return with_analyses(
        dataclasses.replace(
            default_config(),
            hidden=32,  # a small MLP compiles and runs fast
            depth=2,  # two hidden layers
            steps=60,  # a few steps: only the plumbing is tested
            checkpoints=2,  # two probes
            noise_schedules=("cosine", "edm"),  # both preconditionings
            lr_families=("constant", "cosine"),  # two families, one compiled program (osd.stack's switch)
            peak_multipliers=(1.0, 2.0),  # two peaks
            scan_lrs=(),  # no scan: base_lr is the 1x peak
            curriculum_arms=("aligned", "reversed_ic"),  # two arms
            curriculum_noise=("cosine",),  # on one noise schedule
            ode_steps=4,  # coarse likelihood ODE
            kl_val_points=64,  # few points
            kl_test_points=128,  # few points
            entropy_points=100_000,  # a quick entropy
            sample_points=1000,  # few samples
            sample_steps=4,  # coarse sampler
            sliced_directions=32,  # few directions
            error_points_per_bin=32,  # few probe points
            plot_points=200,  # small plots
        )
    )
