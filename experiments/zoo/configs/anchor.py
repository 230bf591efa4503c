"""The anchors' protocol: constant Adam 1e-2 (and cosine beside it), batch 100, 6000 steps, both models."""

import dataclasses

from . import default

FAMILIES = ("constant", "cosine")  # the paper's constant LR, and the usual decay beside it


def get_config() -> default.Config:
    families = FAMILIES
    return dataclasses.replace(
        default.get_config(),
        families=families,
        analyses=default.family_questions(families),
        learning_rates=(1e-2,),  # the paper's LR: nothing is chosen
        warmup_fraction=0.0,  # the paper's protocol has no warmup
    )
