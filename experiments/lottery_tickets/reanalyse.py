"""Recompute a finished run's schedule statistics from its stored per-seed accuracies, without retraining.

``python -m experiments.lottery_tickets.reanalyse IN/results.json OUT/results.json``

Every accuracy interval in ``results.json`` keeps its ``per_seed`` values, so the
statistics built on top of the crossed matrices (the home advantage, the
schedule-matching interaction AA + BB - AB - BA, the answer) can be recomputed
with the current ``study.home_advantage`` and ``study.answer`` when only the
analysis changed. Why: a `default` run costs 30 minutes of the shared CPU, and the
training and its numbers do not depend on the analysis code.

The families the old code also computed (the home advantages) are recomputed and
checked against the stored ones before anything is replaced, so a mismatch
between the stored per-seed values and the stored statistics stops the script.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import study


def _runner(matrix: dict[str, Any]):
    """run(arm, a, b) -> the per-seed accuracies of one crossed cell, as ``study.home_advantage`` expects."""

    def run(arm: str, a: int, b: int) -> np.ndarray:
        return np.asarray(matrix[arm][a][b]["per_seed"], dtype=np.float64)

    return run


def _check_same(old: dict[str, Any], new: dict[str, Any]) -> None:
    """The families both versions compute must agree: the stored per-seed values are what the statistics used."""
    for family in ("ticket", "reinit", "difference"):
        for key in (family, f"{family}_mean"):
            olds, news = (old[key], new[key]) if isinstance(old[key], list) else ([old[key]], [new[key]])
            for o, n in zip(olds, news, strict=True):
                for field in ("mean", "low", "high"):
                    if not np.isclose(o[field], n[field], rtol=0, atol=1e-9):
                        raise ValueError(
                            f"{key}.{field}: stored {o[field]} but per-seed values give {n[field]}"
                        )
    if old["pairs"] != new["pairs"]:
        raise ValueError(f"pairs differ: {old['pairs']} vs {new['pairs']}")


def _git_commit() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "study.py", "reanalyse.py"],
            cwd=here,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def reanalyse(report: dict[str, Any], source: str = "") -> dict[str, Any]:
    """A copy of ``report`` with every home advantage, interaction and the answer recomputed."""
    report = json.loads(json.dumps(report))  # a deep copy
    r = report["results"]
    names = r["schedules"]
    if len(names) < 2 or "crossed" not in r:
        raise ValueError("nothing to reanalyse: the run has no crossed study")
    for cell in r["crossed"].values():
        new = study.home_advantage(_runner(cell), len(names), names)
        _check_same(cell["home_advantage"], new)
        cell["home_advantage"] = new
    if r.get("transfer") and r["transfer"].get("home_advantage"):
        t = r["transfer"]
        new = study.home_advantage(_runner(t), len(names), names)
        _check_same(t["home_advantage"], new)
        t["home_advantage"] = new
    r["answer"] = study.answer(r, config=None)
    report["reanalysis"] = {
        "source": source,
        "analysis_commit": _git_commit(),
        "what": "home advantages, schedule-matching interactions and the answer recomputed from the stored "
        "per-seed accuracies by experiments.lottery_tickets.reanalyse; every accuracy is the source run's",
    }
    return report


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 2:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    source, target = Path(argv[0]), Path(argv[1])
    report = reanalyse(json.loads(source.read_text()), source=str(source))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, indent=1))
    print(study.describe(report))
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
