"""One GPU: MNIST-1D (MLP, CNN) and digits (MLP) with 16 seeds and a paper-like budget of 200 epochs.

Fully defined by this file: nothing depends on measured time.
"""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        seeds=16,  # four times the default: the member axis is nearly free on a GPU
        epochs=200,  # Co-teaching's budget (Han et al. 2018: 200 epochs, ramp over the first 10)
    )
