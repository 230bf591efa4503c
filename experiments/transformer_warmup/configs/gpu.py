"""One H100, at most 150 s wall time: questions 1, 3, 4 and 6 over depth {2, 6, 12} x width {64, 128, 256}.

Context 128, 1000 steps of 4 x 128 = 512 predicted characters (the CPU configs'
tokens per step), three seeds. Questions 2 (b2) and 5 (RAdam, Noam) stay on the
CPU configs; question 6 comes from the training runs' first step (the gradient
at initialisation), at depths 2, 6 and 12 for every width.

Cost model (conservative): depth is traced, so every member computes 12 blocks:
about 6 * 12 * 12 * width**2 FLOPs per character, i.e. 2.4 / 8.5 / 31.5 GFLOP
per step at width 64 / 128 / 256; 72 members x 1000 steps = 0.17 / 0.61 / 2.3
PFLOP. At a sustained 30 TFLOP/s (TF32 matmuls of [members, 512, width]) that
is 6 + 20 + 76 s, plus three compilations (about 15-25 s each). Widths run in
ascending order; a width whose projection (its compile plus the last width's
run time times the width ratio squared) would pass ``time_budget`` is skipped
and listed in ``results.json`` (``skipped_widths``), so the run stays inside
150 s whatever the GPU's real speed.
"""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        depths=(2, 6, 12),  # traced: one program per width (each member computes 12 blocks)
        widths=(64, 128, 256),  # one compiled program each, run in ascending order
        context=128,  # characters of context
        batch_size=4,  # 4 x 128 = 512 predicted characters per step, as on the CPU
        steps=1000,  # optimizer steps
        record_every=50,  # twenty points per curve
        eval_windows=128,  # validation and test windows of 129 characters
        seeds=3,  # seeds per cell
        warmups=(0, 100),  # without warmup and with 2 / (1 - 0.98) steps
        peaks=(
            1e-3,
            3e-3,
        ),  # Post-LN's boundary at 6 x 64 lies between 3e-3 and 1e-2; wider models fail lower
        curve_peak=3e-3,  # a peak of the grid
        beta2_architectures=(),  # question 2 runs on the CPU configs
        radam_peaks=(),  # question 5 runs on the CPU configs
        noam_warmups=(),  # question 5 runs on the CPU configs
        gradient_depths=(),  # question 6 from the training runs' first step
        time_budget=115.0,  # seconds for the sweeps; JAX start-up, data and plots take the rest of the 150
    )
