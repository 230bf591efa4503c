"""The test's config: every question on a tiny network for a few steps (seconds)."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        seeds=2,  # the fewest that give a paired interval
        hidden=32,  # a tiny network
        steps=30,  # a few updates per round
        score_step=20,  # exercises pruning on an earlier checkpoint
        transfer_steps=30,  # as the rounds
        targets=(0.0, 0.5, 0.9),  # three rounds
        report_sparsities=(0.9,),  # one crossed matrix
        finetune_lrs=(2e-3, 2e-4),  # the choice on validation is exercised
    )
