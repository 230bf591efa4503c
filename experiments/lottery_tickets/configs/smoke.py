"""The test's config: every question on a tiny network for a few steps (seconds)."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        seeds=3,  # one seed to choose on (Q3), two to report and pair over
        selection_seeds=1,  # Q3 chooses on seed 0, reports seeds 1 and 2
        hidden=32,  # a tiny network
        steps=30,  # a few updates per round
        score_step=20,  # exercises pruning on an earlier checkpoint
        transfer_steps=30,  # as the rounds
        targets=(0.0, 0.5, 0.9),  # three rounds
        report_sparsities=(0.9,),  # one crossed matrix
        transfer_sparsities=(0.9,),  # and its transfer
        finetune_lrs=(2e-3, 2e-4),  # the choice on validation is exercised
        chunk_size=8,  # fewer compiled calls for a tiny network
        analyses=default.tied_to_schedule_all((0.9,)),  # the primary question at the one report sparsity
    )
