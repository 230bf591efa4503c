"""Quick: the full grid with short runs and smaller evaluation sets (minutes on 2 cores)."""

import dataclasses

from .default import get_config as default_config
from .default import with_analyses


def get_config():
    return with_analyses(
        dataclasses.replace(
            default_config(),
            steps=1000,  # short runs
            ema_decay=0.995,  # EMA half-life about 140 steps, in proportion to the run
            lr_families=("constant", "cosine", "wsd", "inverse_sqrt"),  # all four families
            scan_steps=300,  # a shorter scan
            curriculum_noise=("cosine", "edm"),  # the arms on two noise schedules
            ode_steps=16,  # likelihood ODE (coarser than default: about 0.04 nats of solver error)
            kl_val_points=256,  # validation points
            kl_test_points=512,  # test points
            sample_points=4000,  # samples
            sample_steps=12,  # sampler steps
        )
    )
