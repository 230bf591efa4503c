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


def _validation(arm: dict) -> str:
    mean = arm["selection"]["mean"]
    return "n/a" if mean is None or mean != mean else f"{100 * mean:.1f}"


def schedule_table(arms: dict) -> str:
    """Client schedule -> chosen peak and its mean validation accuracy (%) over seeds (the stored choice)."""
    rows = [[family, arm["selection"]["label"], "yes" if arm["selection"]["at_edge"] else "no",
             _validation(arm)] for family, arm in arms.items()]  # fmt: skip
    return tables.markdown(["client schedule", "chosen peak", "at grid edge", "validation acc %"], rows)


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
    """Q4: each server optimizer's chosen server LR (at the grid's edge?) and its validation accuracy (%)."""
    servers = results["q4"]["servers"]
    kinds = list(next(iter(servers.values())))
    def cell(arm):
        edge = " (edge)" if arm["selection"]["at_edge"] else ""
        return f"{arm['selection']['label']}{edge} / {_validation(arm)}"

    rows = [[server, *[cell(arms[k]) for k in kinds]] for server, arms in servers.items()]
    return tables.markdown(["server", *[f"{k}: server LR / validation acc %" for k in kinds]], rows)


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
