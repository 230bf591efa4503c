"""Every part at a smaller budget: three seeds, shorter runs (several minutes on 2 CPU cores)."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        seeds=3,  # three seeds (default 4)
        bn_steps=1000,  # part A: 1000 steps (default 1500)
        wd_epochs=20,  # part B: 20 epochs (default 40)
        layer_epochs=20,  # part D: 20 epochs (default 30)
        aug_seeds=6,  # part C: 6 seeds (default 12)
        aug_epochs=30,  # part C: 30 epochs (default 60)
        temp_steps=1500,  # part E: 1500 steps (default 3000)
        temp_period=300,  # five temperature periods, as in the default
        layer_tf_steps=200,  # part DT: 200 steps (default 300)
    )
