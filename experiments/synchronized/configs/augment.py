"""Part C alone at the default budget (the run behind the README's part C results)."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        parts=("C",),  # augmentation strength against the LR only
    )
