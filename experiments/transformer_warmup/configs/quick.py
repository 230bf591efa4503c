"""A few minutes on 2 cores: the default's model at half the steps, two seeds, a smaller grid."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        steps=100,  # half the default's budget
        seeds=2,  # the fewest that give a paired interval
        warmups=(0, 25),  # with and without warmup
        peaks=(3e-3, 1e-2, 3e-2),  # around Post-LN's failure boundary
        radam_peaks=(1e-2,),  # one peak
        radam_adam_warmup=25,  # Adam's warmup against RAdam (the rule's 100 does not fit 100 steps)
        noam_warmups=(25,),  # one Noam warmup
        gradient_seeds=8,  # fewer initialisations
    )
