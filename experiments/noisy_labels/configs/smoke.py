"""The test's config: the MLP on MNIST-1D, three epochs, two seeds (seconds)."""

import dataclasses

from . import default

RUNS = (("mnist1d", "mlp"),)


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        runs=RUNS,  # one data set and model
        analyses=default.questions(RUNS),
        noises=(default.Noise("symmetric", 0.0), default.Noise("symmetric", 0.4)),  # the two Q1-Q4 need
        epochs=3,  # enough for a chosen epoch and a per-epoch precision
        ramp_epochs=1,  # the ramp ends inside the run
        seeds=2,  # the fewest that give a paired interval
    )
