"""Part EL alone: part E's declared runs at every peak LR of ``temp_lr_grid`` (0.01, 0.05, 0.2: the
pilot's grid), each arm at the LR it does best on balanced validation accuracy, 6 seeds, the default
budget. Declared before its run, after part E's: E gave every arm one LR (0.05) although lr / tau,
the effective step, spans 10x between the arms; EL asks E's three questions again without that
handicap. Its results file is ``results/temperature_lr.json``."""

import dataclasses

from . import default


def get_config() -> default.Config:
    return dataclasses.replace(default.get_config(), parts=("EL",))  # everything else: the default's
