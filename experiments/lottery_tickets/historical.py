"""Re-analyse the stored historical ``gpu`` run (one H100; no provenance recorded) with the declared analysis.

``python -m experiments.lottery_tickets.historical IN/gpu_results.json OUT/gpu_historical.json``

That run predates the named records (``raw``) and the runner's provenance; it
cannot be rerun here (no GPU). Its file keeps the per-seed values of every
interval, so this recomputes from them, without retraining: the gpu config's
declared question (ticket vs layer-matched random pruning, paired t, Holm over
90/95/99%), every interval, and each of the notebook's single trials against
our 95% prediction interval. No jax.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from experiments.common import analysis as declared_analysis
from experiments.common import runner

from . import analysis
from .configs import gpu

__all__ = ["reanalyse_gpu", "main"]


def _seeds(cell: Mapping[str, Any]) -> list[float]:
    return cell["per_seed"]


def reanalyse_gpu(source: Mapping[str, Any]) -> dict[str, Any]:
    """The historical gpu run's numbers, recomputed from its stored per-seed values."""
    r = source["results"]
    config = gpu.get_config()
    rows = []
    values = {}
    for row in r["anchor"]["rows"]:
        s, k = row["sparsity"], row["rewind_step"]
        ticket, random = _seeds(row["ticket"]), _seeds(row["random"])
        published = analysis.ANCHOR.get(s) if k == 0 else None
        rows.append({
            "sparsity": s, "round_sparsity": row["round_sparsity"], "rewind_step": k,
            "ticket": analysis.interval(ticket), "random": analysis.interval(random),
            "ticket_minus_random": analysis.paired(ticket, random),
            "notebook_ticket": analysis.check_trials(ticket, published["ticket"]) if published else None,
            "notebook_random": analysis.check_trials(random, published["random"]) if published else None,
        })  # fmt: skip
        if k == 0:
            values[f"ticket_beats_random_{round(100 * s)}"] = (ticket, random)
    questions = config.analyses
    dense = _seeds(r["anchor"]["dense"])
    t = r["transfer"]
    fresh = {"ticket": _seeds(t["ticket"][0][0]), "reinit": _seeds(t["reinit"][0][0]),
             "random": _seeds(t["random"][0]), "dense": _seeds(t["dense"][0])}  # fmt: skip
    declared = declared_analysis.answer_all(questions, {q.name: values[q.name] for q in questions})
    return {
        "schedules": r["schedules"],
        "max_pruned_magnitude": r["max_pruned_magnitude"],
        "declared": declared,
        "answer": analysis.answer(declared),
        "anchor": {"schedule": r["anchor"]["schedule"], "dense": analysis.interval(dense),
                   "notebook_dense": analysis.check_trials(dense, analysis.ANCHOR[0.0]["ticket"]),
                   "rows": rows},
        "transfer": {str(t["sparsity"]): {
            "sparsity": t["sparsity"], "data_seed": t["data_seed"],
            "fresh": {**{arm: analysis.interval(v) for arm, v in fresh.items()},
                      "ticket_minus_dense": analysis.paired(fresh["ticket"], fresh["dense"]),
                      "init_part": analysis.paired(fresh["ticket"], fresh["reinit"]),
                      "mask_part": analysis.paired(fresh["reinit"], fresh["random"]),
                      "random_minus_dense": analysis.paired(fresh["random"], fresh["dense"])},
            "notebook": {arm: analysis.check_trials(v, analysis.ANCHOR_TRANSFER[arm])
                         for arm, v in fresh.items()},
        }},
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 2:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    source_path, target = Path(argv[0]), Path(argv[1])
    text = source_path.read_bytes()
    source = json.loads(text)
    out = {
        "experiment": "lottery_tickets",
        "config_name": "gpu (historical)",
        "historical": {
            "source": str(source_path),
            "source_sha256": hashlib.sha256(text).hexdigest(),
            "note": "not reproduced at HEAD (no GPU); no provenance recorded (the runner did not record "
            "commits then); the file was committed in 73a7f15, the code that trained it is not recorded",
            "source_machine": source.get("machine"),
            "source_seconds": source.get("seconds"),
            "source_compile_seconds": source.get("compile_seconds"),
            "source_config": source.get("config"),
        },
        "analysis_plan": declared_analysis_plan(),
        "reanalysis": {"analysis_provenance": runner.provenance(
            ["python", "-m", "experiments.lottery_tickets.historical", *argv])},  # fmt: skip
        "results": runner.json_safe(reanalyse_gpu(source)),
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(out, indent=1))
    print(f"wrote {target}")
    return 0


def declared_analysis_plan() -> list[dict]:
    return declared_analysis.plan(gpu.get_config().analyses)


if __name__ == "__main__":
    raise SystemExit(main())
