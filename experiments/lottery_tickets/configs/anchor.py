"""The notebook's full protocol on the CPU (about half an hour on two cores): Q1's numbers.

The ``gpu`` config's protocol with four trials, no rewinding
(k = 0, as the notebook) and the transfer test at the study's batch and round
length (batch 100, 1501 updates: the notebook's batch-500, 6000-update transfer
run costs twenty rounds per member on the CPU).
"""

import dataclasses

from . import gpu


def get_config():
    return dataclasses.replace(
        gpu.get_config(),
        seeds=4,  # the notebook ran two trials; four give a usable paired interval
        rewind_fractions=(0.0,),  # rewind to the original init (the notebook)
        transfer_steps=1501,  # a round's length (the notebook: 6000)
        transfer_batch_size=100,  # the study's batch (the notebook: 500)
        chunk_size=4,  # all four chains in one chunk
    )
