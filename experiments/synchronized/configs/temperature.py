"""Part E alone at the default budget (the README's part E results; about 5 min on 2 CPU cores)."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        parts=("E",),  # part E only
    )
