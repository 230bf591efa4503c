"""MNIST-1D's MLP only: every arm, noise and LR schedule, three seeds (a few minutes on 2 CPU cores)."""

import dataclasses

from . import default

RUNS = (("mnist1d", "mlp"),)


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        runs=RUNS,  # the MLP on MNIST-1D
        analyses=default.questions(RUNS),
        seeds=3,  # three seeds (default 4)
        epochs=30,  # 30 epochs (default 40); the ramp still ends at epoch 10
    )
