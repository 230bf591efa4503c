"""The test's config: the families that exercise every code path, a few steps, two seeds (seconds)."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        models=("mlp",),  # one model
        families=(
            "constant",
            "cosine",
            "wsd",
            "plateau",
            "schedule_free",
        ),  # both baselines, a stateful branch, the other optimizer
        steps=40,  # enough for two evaluations and two plateau epochs
        eval_every=20,  # two points per curve
        learning_rates=(3e-3, 1e-2),  # two peak LRs: the choice on validation is exercised
        seeds=2,  # the fewest that give a paired interval
    )
