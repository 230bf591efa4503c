"""One NVIDIA H100: the full zoo with 10 seeds per arm (1400 runs, two compiled programs, < 90 s)."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        seeds=10,  # twice the default: narrower paired intervals, the member axis is nearly free on a GPU
    )
