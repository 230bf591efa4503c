"""A few minutes on the CPU: every question, shorter rounds, one report sparsity, three seeds."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        seeds=3,  # one seed to choose on (Q3), two to report and pair over
        selection_seeds=1,  # Q3 chooses on seed 0, reports seeds 1 and 2
        steps=500,  # a third of a round
        score_step=500,  # final weights
        transfer_steps=500,  # as the rounds
        targets=(0.0, 0.5, 0.75, 0.9),  # four rounds
        report_sparsities=(0.9,),  # one crossed matrix
        transfer_sparsities=(0.9,),  # and its transfer
        analyses=default.tied_to_schedule_all((0.9,)),  # the primary question at the one report sparsity
    )
