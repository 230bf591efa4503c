"""Part DT alone at the default budget (its results file, ``results/transformer.json``, stands beside
``results/default.json``, which holds parts A, B and D)."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(default.get_config(), parts=("DT",))  # everything else: the default's
