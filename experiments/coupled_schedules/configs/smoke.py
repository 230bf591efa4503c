"""The test's config: every arm, two epochs, two peak LRs, two seeds (seconds)."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        peak_lrs=(3e-3, 1e-2),  # two: the choice on validation is exercised
        seeds=2,  # the fewest that give a paired interval
        epochs=4,  # past the warmup, a few plateau epochs
        warmup_steps=20,  # within the first two epochs
    )
