"""The GPU run, fully defined here: default's searches on 16 seeds, the MLP at 4096 steps."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        steps=4096,  # a power of two near the zoo's 6000 (rungs at steps / 16, / 4, 1)
        halving_first_rung=256,  # steps / 16
        pbt_ready=512,  # steps / 8
        seeds=16,
        cnn_steps=2048,  # twice default's
        cnn_halving_first_rung=128,  # cnn_steps / 16
        cnn_pbt_ready=256,  # cnn_steps / 8
        cnn_seeds=16,
        nqm_seeds=16,
    )
