"""Minutes: 50 rounds, three client and server peak LRs, four seeds (the declared analysis unchanged)."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        rounds=50,  # a quarter of default's rounds
        peaks=(0.1, 0.2, 0.4),  # higher LRs suit the short run
        q4_client_lr=0.2,  # the middle of the grid
        server_lrs=(("fedavgm", (0.1, 0.3, 1.0)), ("fedadam", (0.003, 0.01, 0.03)),
                    ("fedyogi", (0.003, 0.01, 0.03))),  # the grids of the stored quick run
    )
