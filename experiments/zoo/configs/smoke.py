"""The test's config: the families that exercise every code path, a few steps, two seeds (seconds)."""

import dataclasses

from . import default

FAMILIES = ("constant", "cosine", "wsd", "plateau", "schedule_free")  # baselines, stateful, other optimizer


def get_config() -> default.Config:
    families = FAMILIES
    return dataclasses.replace(
        default.get_config(),
        families=families,
        analyses=default.family_questions(families),
        models=("mlp",),  # one model
        steps=40,  # enough for two evaluations and two plateau epochs
        eval_every=20,  # two points per curve
        learning_rates=(3e-3, 1e-2),  # two peak LRs: the choice on validation is exercised
        seeds=2,  # the fewest that give a paired interval
    )
