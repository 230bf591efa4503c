"""The declared analysis of a stored results file, from its per-member values (no training, no jax).

``python -m experiments.diffusion.reanalyse STORED.json OUT.json``

Used for the historical gpu run, which cannot be rerun here: the peak
selection, questions 1 and 2 and the declared tests are recomputed with the
current ``analysis.py`` from the members' stored validation and test KL, and
written with a note that says where they came from.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from experiments.common import analysis as common_analysis
from experiments.common import runner

from . import analysis
from .report import members


def reanalyse(data: dict, source: str = "") -> dict:
    """The declared analysis of a loaded results file.

    Args:
      data: a loaded results.json (full, or compacted with a members table).
      source: where it was read from (recorded in the note).
    """
    r, config = data["results"], data["config"]
    records = members(r)
    seeds = list(r["seeds_completed"])
    selection, on_edge = analysis.select_peaks(
        records, config["noise_schedules"], config["lr_families"], config["peak_multipliers"]
    )
    base_lr = r["lr_scan"]["best_constant_lr"]
    question1 = analysis.question1(records, config, selection, base_lr, seeds)
    question2 = analysis.question2(records, config, seeds)
    questions = analysis.declared_questions(
        config["noise_schedules"], config["lr_families"], config["curriculum_arms"]
    )
    declared = common_analysis.answer_all(questions, analysis.declared_values(question1, question2))
    return {
        "reanalysis": {
            "note": f"Re-analysis of {source} with the declared tests of the current analysis.py "
            "(from its stored per-member validation and test KL; nothing retrained).",
            "source": source,
        },
        "config": config,
        "analysis_plan": common_analysis.plan(questions),
        "results": {
            "seeds_completed": seeds,
            "selected_multiplier": selection,
            "selection_on_edge": on_edge,
            "question1": question1,
            "question2": question2,
            "declared": declared,
        },
    }


def main(argv=None) -> int:
    source, target = (sys.argv[1:] if argv is None else argv)[:2]
    text = Path(source).read_text()
    out = reanalyse(json.loads(text), source)
    out["reanalysis"]["source_sha256"] = hashlib.sha256(text.encode()).hexdigest()
    out["provenance"] = runner.provenance(["python", "-m", "experiments.diffusion.reanalyse", source, target])
    Path(target).write_text(json.dumps(runner.json_safe(out), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["main", "reanalyse"]
