"""gpu: up to 10 seeds on one H100 within 150 s, plus MNIST-1D diffusion if time remains.

Sized by the conservative estimate of the project rules (a vmapped step 10-30x
faster than on 2 CPU cores): the first block of 2 seeds (128 runs x 5k steps,
about 0.64M member-steps) then fits even at 20x. Later blocks of 2 seeds run
while the time budget allows (each block reuses the compiled programs: every
sweep has the same chunk shape), and MNIST-1D runs only if its 45 s remain.
``results.json`` records which seeds completed and whether MNIST-1D ran. The
issue's 20k steps do not fit this budget (four times the work per seed);
the horizon stays at the default 5k steps.
"""

import dataclasses

from .default import get_config as default_config


def get_config():
    return dataclasses.replace(
        default_config(),
        seeds=10,  # up to ten seeds: useful paired intervals
        seed_block=2,  # blocks of 2 seeds until the deadline
        chunk_size=128,  # one chunk shape for every sweep (a block is 128 runs): one compilation per program
        scan_steps=5000,  # the scan reuses the grid's training program (same steps, same chunk shape)
        deadline_s=140.0,  # the whole run's budget (10 s of margin to 150 s)
        post_seconds=25.0,  # reserved for samples, the solver check and the figures
        kl_val_points=1024,  # validation points
        kl_test_points=4096,  # test points
        mnist1d=True,  # the second data set, if 45 s remain
    )
