"""The GPU config: default with 400 rounds and eight seeds (fully defined here, no clock)."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(default.get_config(), rounds=400, seeds=8)
