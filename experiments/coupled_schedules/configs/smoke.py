"""The test's config: every arm, four epochs, two peak LRs, three seeds (seconds)."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        peak_lrs=(3e-3, 1e-2),  # two: the choice on validation is exercised
        seeds=3,  # one seed chooses, two are reported: the fewest that give a paired interval
        selection_seeds=1,  # seed 0 chooses the peak LR
        epochs=4,  # past the warmup, a few plateau epochs
        warmup_steps=20,  # within the first two epochs
    )
