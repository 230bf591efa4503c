"""One NVIDIA H100: the default with 100 seeds per arm and LR (1200 runs in one program)."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        seeds=100,  # narrow paired intervals; the member axis is nearly free on a GPU
    )
