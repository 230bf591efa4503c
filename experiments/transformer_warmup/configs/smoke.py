"""The test's config: a tiny model, a few steps, every question exercised (seconds)."""

import dataclasses

from . import beta2, default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        depths=(1, 2),  # one and two blocks (traced: one program)
        widths=(32,),  # narrow
        heads=2,  # two heads of 16
        context=16,  # short windows
        batch_size=8,  # small batches
        steps=20,  # a few steps
        record_every=5,  # four points per curve
        eval_windows=32,  # few evaluation windows
        seeds=2,  # the fewest that give a paired interval
        warmups=(0, 5),  # with and without warmup
        peaks=(3e-3, 3e-2),  # two peaks: the choice on validation is exercised
        beta2s=(0.5, 0.75),  # two b2 values: rules 4 and 8 steps
        beta2_warmups=(0, 2, 4, 8, 16),  # half, once and twice each rule
        beta2_peaks=(3e-2,),  # one peak
        beta2_architectures=("post",),  # question 2 exercised
        analyses=beta2.questions((0.5, 0.75), 3e-2),  # question 2's declared tests
        radam_peaks=(3e-2,),  # one peak
        radam_adam_warmup=5,  # a warmup of the grid
        noam_warmups=(5,),  # one Noam warmup
        curve_peak=3e-2,  # a peak of the grid
        gradient_depths=(),  # question 6 from the training runs' first step: no second program
    )
