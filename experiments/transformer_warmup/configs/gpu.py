"""One GPU: questions 1, 3, 4 and 6 over depth {2, 6, 12} x width {64, 128}, fully defined by this file.

Context 128, 1000 steps of 4 x 128 = 512 predicted characters (the CPU configs'
tokens per step), three seeds. Questions 2 (b2) and 5 (RAdam, Noam) stay on the
CPU configs; question 6 comes from the training runs' first step (the gradient
at initialisation), at depths 2, 6 and 12 for every width.

Depth is traced, so every member computes 12 blocks: about 6 * 12 * 12 *
width**2 FLOPs per character, 2.4 / 8.5 GFLOP per step at width 64 / 128,
72 members x 1000 steps = 0.17 / 0.61 PFLOP (on one H100, earlier runs took
36 s and 54 s of run time for the two widths; the figures are not a budget:
both widths always run).
"""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        depths=(2, 6, 12),  # traced: one program per width (each member computes 12 blocks)
        widths=(64, 128),  # one compiled program each
        context=128,  # characters of context
        batch_size=4,  # 4 x 128 = 512 predicted characters per step, as on the CPU
        steps=1000,  # optimizer steps
        record_every=50,  # twenty points per curve
        eval_windows=128,  # validation and test windows of 129 characters
        seeds=3,  # seeds per cell
        warmups=(0, 100),  # without warmup and with 2 / (1 - 0.98) steps
        peaks=(1e-3, 3e-3),  # Post-LN's 6 x 64 boundary lies between 3e-3 and 1e-2; wider models fail lower
        curve_peak=3e-3,  # a peak of the grid
        radam_peaks=(),  # question 5 runs on the CPU configs
        noam_warmups=(),  # question 5 runs on the CPU configs
        gradient_depths=(),  # question 6 from the training runs' first step
    )
