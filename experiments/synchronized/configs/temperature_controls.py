"""Part E with two exploratory controls, added after the first run (``temperature``) showed the cosine
temperature ending its run at 1.0: a constant 1.0, and the cosine half a period later (every period
starts and ends at 0.1). Same seeds and budget; the declared arms rerun beside them (a replicate)."""

import dataclasses

from . import default

CONTROLS = ("const_1.0", "cosine_tau_shifted")


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        parts=("E",),  # part E only
        # the declared runs plus the controls
        temp_runs=tuple((schedule, arms + CONTROLS) for schedule, arms in default.TEMPERATURE_RUNS),
    )
