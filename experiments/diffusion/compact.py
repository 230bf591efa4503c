"""A compact copy of a results.json for the repository: ``python -m experiments.diffusion.compact SRC DST``.

The gpu runs' results.json files are too large to commit (1.4 MB with 10 seeds), almost all of it
per-member arrays. The copy drops each member's per-noise-level error arrays (their per-cell means
are in ``question3``), stores the members as one table (``members_table``: columns and rows, which
``report.py`` reads like the list) and rounds every float to 6 significant digits (the tables show at most 4-5).
"""

from __future__ import annotations

import json
import sys


def _round(x):
    if isinstance(x, float):
        return float(f"{x:.6g}")
    if isinstance(x, dict):
        return {k: _round(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_round(v) for v in x]
    return x


def compact(report: dict) -> dict:
    """The compact form of a loaded results.json (a new dict; the input is not changed)."""
    report = json.loads(json.dumps(report))
    members = []
    for m in report["results"].pop("members"):
        m = {k: v for k, v in m.items() if k != "excess_final"}
        for k, v in m.pop("excess_elbo_nats", {}).items():
            m[f"excess_elbo_nats_{k}"] = v  # flattened: one column per weight set
        members.append(m)
    columns = list(dict.fromkeys(k for m in members for k in m))
    report["results"]["members_table"] = {
        "note": (
            "results.json's members without their excess_final arrays; one row per member, null where absent; "
            "excess_elbo_nats flattened to one column per weight set"
        ),
        "columns": columns,
        "rows": [[m.get(k) for k in columns] for m in members],
    }
    return _round(report)


def members(results: dict) -> list[dict]:
    """The per-member records of ``results`` (a results.json's "results"), from either form."""
    if "members" in results:
        return results["members"]
    table = results["members_table"]
    return [{k: v for k, v in zip(table["columns"], row) if v is not None} for row in table["rows"]]


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        small = compact(json.load(f))
    with open(sys.argv[2], "w") as f:
        json.dump(small, f, separators=(",", ":"))
