"""Re-analyse stored historical runs (no provenance recorded) with the declared analysis, without retraining.

``python -m experiments.lottery_tickets.historical {gpu,anchor,default} IN.json OUT.json [FIGURES]``

With ``FIGURES`` (a folder) it also draws ``<config>_sparsity_curves.png`` there (and, for
``default``, ``crossed_matrix.png``) from the re-analysed numbers.

Those runs predate the named records (``raw``) and the runner's provenance
(``gpu``: one H100, not rerunnable here; ``anchor`` and ``default``: trained
from an uncommitted copy of the library). Their files keep the per-seed values
of every interval, so this recomputes from them: the config's declared
questions, every interval, and each of the notebook's single trials against
our 95% prediction interval. No jax.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from experiments.common import analysis as declared_analysis
from experiments.common import runner, stats

from . import analysis, figures
from .configs import anchor, default, gpu

__all__ = ["reanalyse_anchor", "reanalyse_default", "main"]


def _seeds(cell: Mapping[str, Any]) -> list[float]:
    return cell["per_seed"]


def reanalyse_anchor(source: Mapping[str, Any], config) -> dict[str, Any]:
    """A historical ``gpu`` or ``anchor`` run's numbers, recomputed from its stored per-seed values."""
    r = source["results"]
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
    curves = {label: {"sparsity": c["sparsity"],
                      "test_acc": [stats.mean_ci(x["per_seed"]).as_dict() for x in c["test_acc"]]}
              for label, c in r["curves"].items()}  # fmt: skip
    return {
        "schedules": r["schedules"],
        "max_pruned_magnitude": r["max_pruned_magnitude"],
        "curves": curves,
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


def raw_from_old(source: Mapping[str, Any], config) -> dict[str, Any]:
    """Named records (``raw``) rebuilt from a historical ``default`` file's per-seed intervals.

    Chains come from its per-round curves (test and validation accuracy per seed;
    training accuracy was stored as a mean only, so it is NaN here); retraining runs
    from its crossed matrices and transfer cells. What that file never stored per
    seed (the random arms' validation accuracy) is NaN.
    """
    r = source["results"]
    names = [s[0] for s in config.schedules]
    nan = float("nan")
    chains = []
    for label, curve in r["curves"].items():
        if label.startswith("IMP, "):
            key = ("imp", names.index(label.removeprefix("IMP, ")), None)
        elif label.startswith("LR rewinding, "):
            key = ("lr_rewind", names.index(label.removeprefix("LR rewinding, ")), None)
        else:
            lr, _, name = label.removeprefix("fine-tuning at ").partition(" after ")
            key = ("finetune", names.index(name), float(lr))
        for seed in range(config.seeds):
            rounds = {
                "test_acc": [c["per_seed"][seed] / 100 for c in curve["test_acc"]],
                "val_acc": [c["per_seed"][seed] / 100 for c in curve["val_acc"]],
                "train_acc": [nan] * len(curve["test_acc"]),
                "sparsity": curve["sparsity"],
                "max_pruned": [r["max_pruned_magnitude"]] * len(curve["test_acc"]),
            }
            chains.append({"kind": key[0], "schedule": key[1], "rewind_step": 0, "finetune_lr": key[2],
                           "seed": seed, "rounds": rounds})  # fmt: skip
    runs = []

    def add(arm, a, b, s, draw, cell):
        for seed, value in enumerate(cell["per_seed"]):
            runs.append({"arm": arm, "found_under": a, "retrained_under": b, "sparsity": s, "rewind_step": 0,
                         "draw": draw, "seed": seed, "test_acc": value / 100, "val_acc": nan,
                         "max_pruned": r["max_pruned_magnitude"]})  # fmt: skip

    n = len(names)
    cells = [(float(s), 0, cell) for s, cell in r["crossed"].items()]
    cells.append((r["transfer"]["sparsity"], 1, r["transfer"]))
    for s, draw, cell in cells:
        for a in range(n):
            for b in range(n):
                if a != b or draw:
                    add("ticket", a, b, s, draw, cell["ticket"][a][b])
                add("reinit", a, b, s, draw, cell["reinit"][a][b])
        for b in range(n):
            add("random", None, b, s, draw, cell["random"][b])
            if draw:
                add("dense", None, b, 0.0, draw, cell["dense"][b])
    return {"chains": chains, "runs": runs, "timing": r.get("timing", {})}


def reanalyse_default(source: Mapping[str, Any], config) -> dict[str, Any]:
    """Every number of a historical ``default`` file with the current analysis, from its per-seed values.

    The run retrained on the fresh draw at 90% only: the declared test at 95% on the
    fresh draw does not exist there, and Holm runs over the three that do.
    """
    transfer = (source["results"]["transfer"]["sparsity"],)
    analyses = tuple(q for q in config.analyses
                     if not (q.name.endswith("_fresh") and f"_{round(100 * transfer[0])}_" not in q.name))
    config = dataclasses.replace(config, transfer_sparsities=transfer, analyses=analyses)
    out = analysis.analyse(config, raw_from_old(source, config))
    declared = {q.name for q in default.get_config().analyses}
    out["missing_declared"] = sorted(declared - {q.name for q in analyses})
    return out


CONFIGS = {"gpu": gpu.get_config, "anchor": anchor.get_config, "default": default.get_config}
WHY = {
    "gpu": "not reproduced at HEAD (no GPU); the file was committed in 73a7f15",
    "anchor": "trained at commit b537592 with an uncommitted copy of the library (optasched/ of 03:19 UTC)",
    "default": "trained at commit b537592 with an uncommitted copy of the library (optasched/ of 03:19 UTC)",
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) not in (3, 4) or argv[0] not in CONFIGS:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    name, source_path, target = argv[0], Path(argv[1]), Path(argv[2])
    folder = Path(argv[3]) if len(argv) == 4 else None
    text = source_path.read_bytes()
    source = json.loads(text)
    config = CONFIGS[name]()
    reanalyse = reanalyse_default if name == "default" else reanalyse_anchor
    results = reanalyse(source, config)
    out = {
        "experiment": "lottery_tickets",
        "config_name": f"{name} (historical)",
        "historical": {
            "source": str(source_path),
            "source_sha256": hashlib.sha256(text).hexdigest(),
            "note": f"no provenance recorded (the runner did not record commits then); {WHY[name]}",
            "source_machine": source.get("machine"),
            "source_seconds": source.get("seconds"),
            "source_compile_seconds": source.get("compile_seconds"),
            "source_config": source.get("config"),
        },
        "analysis_plan": declared_analysis.plan(config.analyses),
        "reanalysis": {"analysis_provenance": runner.provenance(
            ["python", "-m", "experiments.lottery_tickets.historical", *argv])},  # fmt: skip
        "results": runner.json_safe(results),
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(out, indent=1))
    print(f"wrote {target}")
    if folder is not None:
        names = {"sparsity_curves.png": f"{name}_sparsity_curves.png",
                 "crossed_matrix.png": "crossed_matrix.png"}  # fmt: skip
        figures.plot(out["results"], lambda filename: folder / names[filename])
        print(f"drew the figures in {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
