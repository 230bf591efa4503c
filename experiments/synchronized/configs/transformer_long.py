"""Part DT alone at four times the default budget (1200 steps, the `gpu` config's), 6 seeds, on the
CPU: does the uniform cosine's lead over deeper-slower come from the short run? Written before the
run; the declared questions are the default's (family DT), unchanged."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        parts=("DT",),
        layer_tf_steps=1200,  # four times the default; the warmup stays 25 steps at every depth
    )
