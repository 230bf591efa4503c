"""Recompute a finished run's statistics from its stored named records, without retraining (no jax).

``python -m experiments.lottery_tickets.reanalyse IN/results.json OUT/results.json``

A run's ``results.json`` keeps every member's per-seed metrics (``results.raw``:
one record per pruning chain and seed, one per retraining run and seed) beside
the config it ran with. This reruns ``analysis.analyse`` (the current code) on
them: every accuracy is the source run's; the statistics, the declared answers
and the tables are the current analysis code's. The source's provenance stays
(``provenance``); the analysis code's commit is recorded under ``reanalysis``.
Why: a ``default`` or ``anchor`` run costs half an hour of two cores, and its
training does not depend on the analysis code.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from experiments.common import compact, runner
from experiments.common.analysis import Question

from . import analysis, report
from .configs import default

__all__ = ["config_from", "reanalyse", "main"]


def _tuples(x):
    return tuple(_tuples(v) for v in x) if isinstance(x, list) else x


def config_from(stored: Mapping[str, Any]) -> default.Config:
    """The run's config from its JSON form (lists back to tuples, declared questions back to Questions)."""
    fields = {f.name for f in dataclasses.fields(default.Config)}
    unknown = sorted(set(stored) - fields)
    if unknown:
        raise ValueError(f"config_from: fields {unknown} are not fields of the study's Config")
    values = {k: _tuples(v) for k, v in stored.items() if k != "analyses"}
    values["analyses"] = tuple(Question(**q) for q in stored.get("analyses", ()))
    return dataclasses.replace(default.Config(), **values)


def reanalyse(source: Mapping[str, Any], source_path: str = "") -> dict[str, Any]:
    """A copy of ``source`` whose ``results`` are recomputed from ``source['results']['raw']``."""
    if "raw" not in source.get("results", {}):
        raise ValueError("reanalyse: the results have no 'raw' records (a run from before they were stored)")
    config = config_from(source["config"])
    raw = {k: compact.records(v) if isinstance(v, dict) and "columns" in v else v
           for k, v in source["results"]["raw"].items()}  # a compacted copy stores record lists as tables
    out = {k: v for k, v in source.items() if k != "results"}
    out["results"] = runner.json_safe({**analysis.analyse(config, raw), "raw": raw})
    out["reanalysis"] = {
        "source": source_path,
        "analysis_provenance": runner.provenance(["python", "-m", "experiments.lottery_tickets.reanalyse",
                                                   *sys.argv[1:]]),  # fmt: skip
        "what": "every statistic recomputed from the source run's stored per-seed records by the analysis "
        "code at analysis_provenance.commit; every accuracy is the source run's",
    }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 2:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    source, target = Path(argv[0]), Path(argv[1])
    out = reanalyse(json.loads(source.read_text()), str(source))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(out, indent=1))
    print(report.markdown(out))
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
