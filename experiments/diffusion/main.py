"""``python -m experiments.diffusion --config {smoke,quick,default,gpu} --out DIR``."""

from __future__ import annotations

import sys

from experiments.common import runner

from .study import describe, study


def main(argv=None) -> int:
    return runner.main("diffusion", study, argv, describe)


if __name__ == "__main__":
    sys.exit(main())
