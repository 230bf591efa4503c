"""The main job: the MLP only, a quarter of the budget, three peak LRs (a few minutes on 2 CPU cores)."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        models=("mlp",),  # the MLP only
        steps=1500,  # a quarter of the paper's budget
        learning_rates=(1e-3, 3e-3, 1e-2, 3e-2, 1e-1),  # default's grid: no family's choice sits on an edge of it
    )
