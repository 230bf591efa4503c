"""The command line: ``python -m experiments.federated --config C --out DIR [--set field=value]``."""

from __future__ import annotations

from collections.abc import Sequence

from experiments.common import runner

from .report import describe
from .study import study


def main(argv: Sequence[str] | None = None) -> int:
    return runner.main("federated", study, argv, describe)
