"""A quarter of default: 4 seeds, 1024 MLP / 512 CNN steps, the NQM at 4 seeds (minutes on 2 CPU cores)."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        steps=1024,  # half default's MLP budget
        halving_first_rung=64,  # steps / 16, as default
        pbt_ready=128,  # steps / 8, as default
        seeds=4,  # the fewest that give a usable paired interval
        nqm_seeds=4,  # as seeds
        mlp_horizon_seeds=2,  # the fewest that give an interval
        cnn_steps=512,  # half default's CNN budget
        cnn_seeds=4,  # as seeds
        cnn_halving_first_rung=32,  # cnn_steps / 16, as default
        cnn_pbt_ready=64,  # cnn_steps / 8, as default
    )
