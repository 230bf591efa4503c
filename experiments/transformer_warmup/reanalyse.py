"""Re-analyse a stored results file with the current analysis, without training again (no jax).

``python -m experiments.transformer_warmup.reanalyse IN.json OUT.json``

Reads the per-seed run records (``results.runs``: final validation and test
loss, loss at initialisation, divergence step) and the config of a stored
run, and recomputes every question from them with ``questions.analyse``
(question 6's gradient norms are copied: they need the models). The output
records its own provenance (the commit of this analysis) and, under
``source``, the input's path, SHA-256 and provenance (``None`` for the runs
made before provenance was recorded).
"""

from __future__ import annotations

import hashlib
import json
import sys
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from experiments.common import compact, runner
from experiments.common.analysis import Question

from . import questions
from .configs import default

__all__ = ["config_from", "reanalyse", "main"]


def config_from(stored: dict[str, Any]) -> types.SimpleNamespace:
    """The stored config as attributes; fields it lacks take the default config's values (none declared)."""
    fields = {**vars(default.get_config()), "analyses": ()}
    fields.update(stored)
    fields["analyses"] = tuple(Question(**q) if isinstance(q, dict) else q for q in fields["analyses"] or ())
    return types.SimpleNamespace(**fields)


def reanalyse(report: dict[str, Any]) -> dict[str, Any]:
    """The questions' numbers recomputed from ``report``'s stored runs.

    Args:
      report: a loaded results.json (full or compact) of this study.
    """
    stored = report["results"]
    config = config_from(report["config"])
    runs = compact.records(stored["runs"])
    # widths a historical run skipped (its time budget) have no runs: analyse the ones that ran
    config.widths = tuple(w for w in config.widths if any(r["width"] == w for r in runs))
    outcomes = questions.outcomes_from_runs(runs, stored["failure_threshold"])
    return {
        "corpus": stored.get("corpus"),
        "baselines": stored["baselines"],
        "failure_threshold": stored["failure_threshold"],
        **questions.analyse(config, outcomes, stored["baselines"]),
        "gradient_norms": stored["gradient_norms"],
        "runs": questions.run_records(outcomes),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if len(args) != 2:
        print("usage: python -m experiments.transformer_warmup.reanalyse IN.json OUT.json", file=sys.stderr)
        return 2
    source, target = args
    raw = Path(source).read_bytes()
    report = json.loads(raw)
    out = {
        "experiment": report.get("experiment", "transformer_warmup"),
        "config_name": report.get("config_name"),
        "provenance": runner.provenance(["python", "-m", "experiments.transformer_warmup.reanalyse", *args]),
        "source": {
            "path": source,
            "sha256": hashlib.sha256(raw).hexdigest(),
            "provenance": report.get("provenance"),
            "machine": report.get("machine"),
            "seconds": report.get("seconds"),
            "compile_seconds": report.get("compile_seconds"),
            "run_seconds": report.get("run_seconds"),
        },
        "config": report["config"],
        "results": runner.json_safe(reanalyse(report)),
    }
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_text(compact.dumps(compact.compact(out, table=("runs",), digits=6)) + "\n")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
