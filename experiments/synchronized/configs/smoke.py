"""The test's config: every part, two seeds, a few dozen steps (seconds)."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        seeds=2,  # the fewest that give a paired interval
        bn_steps=80,  # four checkpoints, drops at 40 and 60
        bn_precise_examples=200,  # a smaller PreciseBN pass
        wd_epochs=2,  # two epochs
        wd_lrs=(2e-3, 4e-3),  # two LRs
        wd_lambdas=(0.5, 1.0),  # two lambdas (one equal-tau pair)
        layer_epochs=2,  # two epochs
        aug_seeds=2,  # part C: the fewest that give a paired interval
        aug_epochs=2,  # part C: two epochs, evaluated after each
        aug_record_epochs=1,  # part C: evaluate after every epoch
        aug_means=(0.5, 1.0),  # part C: two mean strengths (a selection between two)
        temp_steps=40,  # part E: forty steps
        temp_period=20,  # two temperature periods
        temp_records=2,  # two evaluations
        temp_lr_grid=(0.05, 0.2),  # part EL: a selection between two peak LRs
        parts=("A", "B", "C", "D", "DT", "E", "EL"),  # every part
        layer_tf_depth=2,  # part DT: a two-block transformer
        layer_tf_width=32,  # narrower
        layer_tf_steps=30,  # 30 steps
        layer_tf_warmup=5,  # a short warmup
        layer_tf_eval_windows=16,  # few evaluation windows
    )
