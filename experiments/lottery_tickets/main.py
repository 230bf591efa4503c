"""The lottery-ticket study's command line: ``python -m experiments.lottery_tickets --config C --out DIR``."""

from __future__ import annotations

from collections.abc import Sequence

from experiments.common import runner

from .study import describe, study


def main(argv: Sequence[str] | None = None) -> int:
    return runner.main("lottery_tickets", study, argv, describe)
