"""The test's config: seconds; two seeds, one peak, two partitions (every question still answered)."""

import dataclasses

from . import default

FAMILIES = ("constant", "cosine", "step")


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        num_clients=20,  # 20 clients of 10 examples
        per_client=10,
        batch_size=5,
        rounds=4,
        partitions=("dir0.1", "dir100"),  # the primary and Q4's contrast
        local_epochs=(1,),  # E = 1 only (primary_epochs follows)
        primary_epochs=1,
        peaks=(0.1, 0.2),
        q4_client_lr=0.1,
        families=FAMILIES,  # the three Q3 needs: fewer compiled programs
        server_lrs=(("fedavgm", (1.0,)),),  # one server optimizer
        analyses=default.questions(families=FAMILIES, servers=("fedavgm",)),
        seeds=2,  # the fewest that give a paired interval
        convex_seeds=3,
        convex_etas=(0.04, 0.16),
        convex_rounds=50,
    )
