"""The test's config: every search and the NQM on a few steps, two seeds (seconds)."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        steps=64,  # a few steps
        seeds=2,  # the fewest that give a paired interval
        grid_families=("constant", "cosine"),  # 2 x 2 = 4 members
        grid_peaks=(1e-3, 1e-2),
        random_samples=4,  # as the grid
        halving_families=("constant", "cosine", "linear", "wsd"),  # 4 x 4 = 16 members
        halving_peaks=(1e-3, 3e-3, 1e-2, 3e-2),
        halving_first_rung=4,  # rungs at 4, 16, 64 steps
        pbt_population=4,  # as the grid
        pbt_ready=16,  # four generations
        nqm_dim=50,
        nqm_steps=200,
        nqm_horizons=(2, 20),
        nqm_meta_steps=5,
        nqm_lr_grid=(1e-3, 1.9, 16),
        nqm_seeds=2,
        hd_initial_lrs=(1e-2, 1.0),  # 2 x 2 SGD-HD members
        hd_hyper_lrs=(1e-2, 1.0),
        cnn_steps=16,  # the CNN's programs compile in the smoke test: the fewest steps with three rungs
        cnn_seeds=2,
        cnn_halving_first_rung=1,  # rungs at 1, 4, 16 steps
        cnn_pbt_ready=4,  # four generations
        hd_search_initial_lrs=(1e-3, 1e-2),  # 2 x 2 Adam-HD members, as the grid
        hd_search_hyper_lrs=(1e-6, 1e-4),
        mlp_horizons=(2, 8),
        mlp_horizon_seeds=2,
        mlp_meta_steps=2,
        mlp_lr_grid=(1e-2, 1.0, 3),
        analyses=default.all_questions((2, 20), (2, 8)),
    )
