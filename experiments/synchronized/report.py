"""The README's tables from a results.json (no jax): ``python -m experiments.synchronized.report FILE``."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from experiments.common import tables

__all__ = ["declared_table", "bn_table", "decay_table", "decay_grid_table", "augment_table",
           "augment_grid_table", "layer_table", "transformer_layer_table", "temperature_table",
           "temperature_lr_table",
           "describe", "main"]  # fmt: skip


def _pct(record: dict, scale: float = 100.0, digits: int = 1) -> str:
    return tables.interval(record["mean"], record["low"], record["high"], scale=scale, digits=digits)


def declared_table(results: dict) -> str:
    """Every declared question: mean difference [95% CI], p, Holm p within its part."""
    rows = []
    for name, r in results["declared"].items():
        scale, digits = (1.0, 3) if name.startswith(("a_mismatch", "b_tau", "dt_")) else (100.0, 2)
        rows.append([f"`{name}`", _pct(r, scale, digits), f"{r['p_value']:.3f}", f"{r['p_holm']:.3f}",
                     "yes" if r["significant"] else "no", r["n"]])  # fmt: skip
    return tables.markdown(["question", "mean [95% CI]", "p", "p Holm", "significant", "seeds"], rows)


def bn_table(results: dict) -> str:
    """Part A per schedule and arm: mismatch (nats), spikes, statistics error, final accuracy (%)."""
    rows = []
    for schedule, arms in results["bn"].items():
        for arm, m in arms.items():
            if arm == "precise":
                rows.append([schedule, arm, "0", "0", "0", "0", _pct(m["final_accuracy"])])
                continue
            rows.append([schedule, arm, _pct(m["mismatch_mean"], 1.0, 3), _pct(m["mismatch_max"], 1.0, 3),
                         _pct(m["spikes"], 1.0, 1), _pct(m["stats_error_mean"], 1.0, 3),
                         _pct(m["final_accuracy"])])  # fmt: skip
    return tables.markdown(["LR", "arm", "mean mismatch", "max mismatch", "spikes", "stats error",
                            "final test acc %"], rows)  # fmt: skip


def decay_table(results: dict) -> str:
    """Part B: each arm's chosen cell, its tau in epochs and test accuracy; best tau per LR."""
    rows = []
    for arm, r in results["decay"].items():
        if not (isinstance(r, dict) and "chosen" in r):
            continue  # the exploratory label and the per-seed tables
        c = r["chosen"]
        taus = ", ".join(f"{t:.3g}" for t in r["best_tau_epochs_per_lr"])
        rows.append([arm, f"{c['lr']:g}", f"{c['lambda']:g}", f"{c['tau_epochs']:.3g}",
                     "yes" if c["lr_at_edge"] or c["lambda_at_edge"] else "no", _pct(c["test"]),
                     taus])  # fmt: skip
    return tables.markdown(["arm", "chosen lr", "chosen lambda", "tau (epochs)", "at grid edge",
                            "test acc %", "best tau per lr (epochs)"], rows)  # fmt: skip


def decay_grid_table(results: dict, arm: str) -> str:
    """Part B: one arm's mean validation accuracy (%) over seeds, lr x lambda."""
    config = results["parts"]["B"]
    lrs, lambdas = config["lrs"], config["lambdas"]
    grid = results["decay"][arm]["mean_validation"]
    rows = [[f"{lr:g}", *(f"{100 * v:.1f}" for v in row)] for lr, row in zip(lrs, grid)]
    return tables.markdown([f"{arm}: lr \\ lambda", *(f"{lam:g}" for lam in lambdas)], rows)


def _augment_arms(results: dict) -> dict:
    return {arm: r for arm, r in results["augment"].items() if isinstance(r, dict)}  # not the labels


def augment_table(results: dict) -> str:
    """Part C: each arm's validation-chosen mean strength and its test accuracy (%)."""
    rows = []
    for arm, r in _augment_arms(results).items():
        c = r["chosen"]
        rows.append([arm, f"{c['mean']:.3g}", "yes" if c["at_edge"] else "no", _pct(c["test"])])
    return tables.markdown(["arm", "chosen mean strength", "at grid edge", "test acc %"], rows)


def augment_grid_table(results: dict) -> str:
    """Part C per arm and mean strength: validation, test and clean-train accuracy, train - test gap (%)."""
    rows = [[arm, f"{m['mean']:.3g}", f"{m['spent_mean_strength']:.3g}", _pct(m["validation"]),
             _pct(m["test"]), _pct(m["train"]), _pct(m["gap"])]
            for arm, r in _augment_arms(results).items() for m in r["per_mean"]]  # fmt: skip
    return tables.markdown(["arm", "mean strength", "spent", "validation acc %", "test acc %", "train acc %",
                            "train - test (points)"], rows)  # fmt: skip


def layer_table(results: dict) -> str:
    """Part D: final test accuracy per arm."""
    rows = [[arm, _pct(m["test_accuracy"]), _pct(m["validation_accuracy"])]
            for arm, m in results["layers"].items()]
    return tables.markdown(["arm", "test acc %", "validation acc %"], rows)


def temperature_table(results: dict) -> str:
    """Part E per LR schedule and arm: tail, head and balanced test accuracy, balanced validation (%)."""
    rows = [[schedule, arm, _pct(m["tail_test"]), _pct(m["head_test"]), _pct(m["balanced_test"]),
             _pct(m["balanced_validation"])]
            for schedule, arms in results["temperature"]["per_arm"].items()
            for arm, m in arms.items()]  # fmt: skip
    return tables.markdown(["LR", "arm", "tail test acc %", "head test acc %", "balanced test acc %",
                            "balanced validation acc %"], rows)  # fmt: skip


def temperature_lr_table(results: dict) -> str:
    """Part EL per LR schedule and arm: the chosen peak LR, balanced validation accuracy at every LR,
    tail, head and balanced test accuracy at the chosen LR (%)."""
    el = results["temperature_lr"]
    rows = []
    for schedule, arms in el["per_arm"].items():
        for arm, m in arms.items():
            by_lr = " / ".join(f"{100 * v:.1f}" for v in m["validation_balanced_by_lr"])
            tests = ([_pct(m["tail_test"]), _pct(m["head_test"]), _pct(m["balanced_test"])]
                     if "tail_test" in m else ["none eligible"] * 3)  # fmt: skip
            rows.append([schedule, arm, "—" if m["lr"] is None else f"{m['lr']:g}", by_lr, *tests])
    lrs = " / ".join(f"{lr:g}" for lr in el["lrs"])
    return tables.markdown(["LR", "arm", "chosen peak LR", f"balanced validation acc % at {lrs}",
                            "tail test acc %", "head test acc %", "balanced test acc %"], rows)  # fmt: skip


def transformer_layer_table(results: dict) -> str:
    """Part DT: the transformer's final test and validation loss per arm (nats per character)."""
    rows = [[arm, _pct(m["test_loss"], 1.0, 3), _pct(m["validation_loss"], 1.0, 3)]
            for arm, m in results["transformer_layers"].items()]
    return tables.markdown(["arm", "test loss (nats/char)", "validation loss (nats/char)"], rows)


def describe(report: dict) -> str:
    """Every table of the README."""
    results = report["results"]
    parts = [declared_table(results)]
    for key, table in (("bn", bn_table), ("decay", decay_table), ("augment", augment_table),
                       ("augment", augment_grid_table), ("layers", layer_table),
                       ("transformer_layers", transformer_layer_table),
                       ("temperature", temperature_table), ("temperature_lr", temperature_lr_table)):  # fmt: skip
        if key in results:
            parts.append(table(results))
    if "decay" in results:
        parts += [decay_grid_table(results, arm) for arm in ("coupled", "constant", "rising")]
    return "\n\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m experiments.synchronized.report RESULTS_JSON", file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        print(describe(json.load(f)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
