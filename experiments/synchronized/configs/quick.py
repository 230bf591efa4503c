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
        layer_tf_steps=200,  # part DT: 200 steps (default 300)
    )
