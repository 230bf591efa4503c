"""One GPU: 16 seeds and twice the default budget. Fully defined by this file."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        seeds=16,  # four times the default: the member axis is nearly free on a GPU
        bn_steps=6000,  # part A: the MNIST-1D paper's step budget
        wd_epochs=80,  # part B
        layer_epochs=60,  # part D
        aug_seeds=32,  # part C
        aug_epochs=120,  # part C
        temp_steps=6000,  # part E: twice the default, five periods as there
        temp_period=1200,
        layer_tf_steps=1200,  # part DT: four times the default
    )
