"""The study's tables from a results.json, as markdown (what a run prints and the README shows).

``python -m experiments.federated.report RESULTS.json`` prints them. No jax: stored results only.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from experiments.common import tables

__all__ = ["convex_table", "declared_table", "describe", "main", "schedule_table", "server_table"]


def _pct(record: dict, signed: bool = False) -> str:
    return tables.interval(record.get("mean"), record.get("low"), record.get("high"), scale=100, digits=1,
                           signed=signed)  # fmt: skip


def _p(x) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def _mean(values) -> float | None:
    finite = [v for v in values if v is not None and v == v]
    return sum(finite) / len(finite) if finite else None


def declared_table(results: dict) -> str:
    """Every declared question: mean [95% CI] (test accuracy in points; Q1 in its own units), p, Holm p."""
    rows = []
    for name, r in results["answers"].items():
        scale = 1 if name.startswith("q1") else 100
        value = tables.interval(r["mean"], r["low"], r["high"], scale=scale, digits=2 if scale == 1 else 1,
                                signed=True)  # fmt: skip
        rows.append([name, value, _p(r["p_value"]), _p(r["p_holm"]), r["family_size"],
                     "yes" if r["significant"] else "no"])  # fmt: skip
    return tables.markdown(["question", "mean [95% CI]", "p", "p Holm", "family", "Holm < 0.05"], rows)


def convex_table(results: dict) -> str:
    """Q1: mean log10 distance to the optimum per eta, K local steps and K = 1."""
    q1 = results["q1"]
    rows = [[eta, f"{c:.2f}", f"{g:.2f}"] for eta, c, g in
            zip(q1["etas"], q1["log10_distance_constant"], q1["log10_distance_k1"])]  # fmt: skip
    return tables.markdown(["eta", f"log10 distance, K = {q1['local_steps']}", "log10 distance, K = 1"], rows)


def schedule_table(arms: dict) -> str:
    """Client schedule -> chosen peak, mean test accuracy (%) over seeds at it."""
    rows = []
    for family, arm in arms.items():
        choice = arm["selection"]
        mean = _mean(arm["chosen_test_acc"])
        rows.append([family, choice["label"], "yes" if choice["at_edge"] else "no",
                     "n/a" if mean is None else f"{100 * mean:.1f}"])  # fmt: skip
    return tables.markdown(["client schedule", "chosen peak", "at grid edge", "test acc %"], rows)


def setting_table(results: dict) -> str:
    """Mean test accuracy (%) of every client schedule in every (E, partition) at 10% participation."""
    grids = results["q2"]
    columns = [(e, kind) for e, grid in grids.items() for kind in grid]
    families = list(next(iter(next(iter(grids.values())).values())))
    rows = []
    for family in families:
        row = [family]
        for e, kind in columns:
            mean = _mean(grids[e][kind][family]["chosen_test_acc"])
            row.append("n/a" if mean is None else f"{100 * mean:.1f}")
        rows.append(row)
    return tables.markdown(["client schedule"] + [f"{e} {kind}" for e, kind in columns], rows)


def server_table(results: dict) -> str:
    """Q4: FedAvg and each server optimizer's chosen server LR and mean test accuracy (%) per partition."""
    q4 = results["q4"]
    kinds = list(q4["fedavg_test_acc"])
    rows = [["fedavg", *[f"1 / {100 * _mean(q4['fedavg_test_acc'][k]):.1f}" for k in kinds]]]
    for server, arms in q4["servers"].items():
        cells = [f"{arms[k]['selection']['label']} / {100 * _mean(arms[k]['chosen_test_acc']):.1f}"
                 for k in kinds]
        rows.append([server, *cells])
    return tables.markdown(["server", *[f"{k}: server LR / test acc %" for k in kinds]], rows)


def describe(report: dict) -> str:
    """All tables of one report."""
    results = report["results"]
    q3 = results["q3"]
    parts = ["Declared questions", declared_table(results), "Q1 (least squares)", convex_table(results),
             "Q2 (mean test accuracy %, chosen peak per cell)", setting_table(results)]  # fmt: skip
    for rate, arms in q3["by_rate"].items():
        parts += [f"Q3 participation {rate}", schedule_table(arms)]
    parts += ["Q3 own counter (10%)", schedule_table(q3["own_counter"]), "Q4", server_table(results)]
    return "\n\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m experiments.federated.report RESULTS.json", file=sys.stderr)
        return 2
    print(describe(json.loads(open(argv[0]).read())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
