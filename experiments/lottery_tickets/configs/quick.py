"""A few minutes on the CPU: every question, shorter rounds, one report sparsity, two seeds."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        seeds=2,  # the fewest that give a paired interval
        steps=500,  # a third of a round
        score_step=500,  # final weights
        transfer_steps=500,  # as the rounds
        targets=(0.0, 0.5, 0.75, 0.9),  # four rounds
        report_sparsities=(0.9,),  # one crossed matrix
    )
