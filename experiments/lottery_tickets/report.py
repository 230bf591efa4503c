"""The README's tables, as Markdown, from a results.json (no jax).

``python -m experiments.lottery_tickets.report RESULTS.json`` prints them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from experiments.common import stats

__all__ = ["markdown", "main"]


def fmt(d: Mapping[str, Any] | None, digits: int = 1) -> str:
    """``mean [low, high]``; ``—`` for a missing value."""
    if d is None:
        return "—"
    nan = float("nan")
    value = lambda key: nan if d.get(key) is None else d[key]
    return stats.format_interval(value("mean"), value("low"), value("high"), digits=digits)


def number(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1f}"


def p_value(p: float | None) -> str:
    return "—" if p is None else (f"{p:.3f}" if p >= 0.001 else f"{p:.1e}")


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(str(c) for c in row) + " |" for row in rows)]  # fmt: skip


def trials(check: Mapping[str, Any] | None) -> str:
    """``74.3 in, 74.1 in`` against the prediction interval."""
    if check is None:
        return "—"
    return ", ".join(f"{t['trial']:g} {'in' if t['inside'] else 'OUT'}" for t in check["trials"])


def declared(r: Mapping[str, Any]) -> list[str]:
    rows = [[q["name"], fmt(q), q["n"], p_value(q["p_value"]), p_value(q["p_holm"]),
             "yes" if q["significant"] else "no"] for q in r["declared"].values()]  # fmt: skip
    return ["Declared questions (test as declared; Holm within each correction family):", "",
            *table(["question", "statistic, mean [95% CI]", "seeds", "p", "Holm p", "significant"], rows)]


def anchor(r: Mapping[str, Any]) -> list[str]:
    a = r["anchor"]
    rows = []
    for row in a["rows"]:
        pt = row["notebook_ticket"]
        rows.append([f"{row['sparsity']:.0%} ({row['round_sparsity']:.1%})", row["rewind_step"],
                     fmt(row["ticket"]), fmt(row["random"]), fmt(row["ticket_minus_random"]),
                     fmt(pt["prediction_interval"]) if pt else "—", trials(pt),
                     fmt(row["notebook_random"]["prediction_interval"]) if row["notebook_random"] else "—",
                     trials(row["notebook_random"])])  # fmt: skip
    d = a["notebook_dense"]
    rows.append(["dense (0%)", 0, fmt(a["dense"]), "—", "—", fmt(d["prediction_interval"]), trials(d),
                 "—", "—"])  # fmt: skip
    header = ["sparsity (round)", "k", "ticket", "random", "ticket − random (paired)",
              "ticket 95% PI", "notebook ticket", "random 95% PI", "notebook random"]  # fmt: skip
    return [f"Q1 under {a['schedule']}: mean [95% CI over seeds]; PI = 95% prediction interval for one "
            "trial:", "",
            *table(header, rows)]  # fmt: skip


def crossed(r: Mapping[str, Any]) -> list[str]:
    names = r["schedules"]
    lines = []
    for key, cell in r.get("crossed", {}).items():
        lines += ["", f"Q2 at {cell['sparsity']:.0%}, {cell['draw']} draw (rows: found under A; columns: "
                  "retrained under B):"]  # fmt: skip
        for arm in ("ticket", "reinit"):
            rows = [[names[a]] + [f"**{fmt(c)}**" if a == b else fmt(c) for b, c in enumerate(row)]
                    for a, row in enumerate(cell[arm])]  # fmt: skip
            lines += ["", *table([f"{arm}: A \\ B", *names], rows)]
        rows = [["random (layer-matched)", *(fmt(c) for c in cell["random"])],
                ["dense", *(fmt(c) for c in cell["dense"])],
                ["ticket − reinit (B→B, paired)", *(fmt(c) for c in cell["ticket_minus_reinit"])],
                ["reinit − random (B→B, paired)",
                 *(fmt(c) for c in cell["reinit_minus_random"])]]  # fmt: skip
        lines += ["", *table(["control under B", *names], rows)]
        h = cell["home_advantage"]
        rows = [[p["pair"], fmt(p), p_value(p["p_holm"]), fmt(q), p_value(q["p_holm"]), fmt(x)]
                for p, q, x in zip(h["per_pair"]["ticket"], h["per_pair"]["reinit"],
                                   h["per_pair"]["ticket_minus_reinit"])]  # fmt: skip
        rows.append(["**H (mean over pairs)**", fmt(h["ticket"]), p_value(h["ticket"]["p_value"]),
                     fmt(h["reinit"]), p_value(h["reinit"]["p_value"]), "see D above"])  # fmt: skip
        lines += ["", "Home advantage X(B→B) − X(A'→B), exploratory (Holm over the pairs of each arm):",
                  "",
                  *table(["A' → B", "ticket", "Holm p", "reinit", "Holm p", "ticket − reinit"], rows)]
    return lines


def variants(r: Mapping[str, Any]) -> list[str]:
    lines = []
    for s, v in r.get("variants", {}).items():
        if s in ("exploratory", "note"):
            continue
        rows = []
        for name, arm in v["arms"].items():
            vs = v["vs_weight_rewinding"].get(name)
            rows.append([name, fmt(arm), arm["steps_to_produce"], fmt(vs) if vs else "—",
                         p_value(vs["p_holm"]) if vs else "—", fmt(arm.get("train_acc"))])  # fmt: skip
        ft, rs = v["finetune_choice"], v["random_schedule_choice"]
        random_label = rs["label"] if rs["index"] is not None else "none eligible"
        lines += ["", f"Q3 at {float(s):.0%} ({v['schedule']}), seeds {v['report_seeds']} (choices on the "
                  f"first "
                  f"{ft['selection_seeds']}: fine-tuning LR {ft['label']}, validation means "
                  f"{', '.join(number(m) for m in ft['means'])}; random arm's schedule {random_label}, "
                  f"validation means {', '.join(number(m) for m in rs['means'])}):", "",
                  *table(["arm", "test acc", "updates to produce", "vs weight rewinding", "Holm p",
                          "final train acc"], rows)]
    return lines


def transfer(r: Mapping[str, Any]) -> list[str]:
    lines = []
    for s, t in r.get("transfer", {}).items():
        if s in ("exploratory", "note"):
            continue
        rows = []
        decomposition = t.get("decomposition") or [{"schedule": r["schedules"][0], "original": None,
                                                    "fresh": t["fresh"]}]  # the historical gpu file
        for row in decomposition:
            for draw in ("original", "fresh"):
                d = row[draw]
                if d:
                    rows.append([row["schedule"], draw, fmt(d["ticket"]), fmt(d["reinit"]), fmt(d["random"]),
                                 fmt(d["dense"]), fmt(d["ticket_minus_dense"]), fmt(d["init_part"]),
                                 fmt(d["mask_part"]), fmt(d["random_minus_dense"])])  # fmt: skip
        lines += ["", f"Q4 at {float(s):.0%}: A = B, fresh draw = MNIST-1D seed {t['data_seed']}:", "",
                  *table(["schedule", "draw", "ticket", "reinit", "random", "dense", "ticket − dense",
                          "init part (ticket − reinit)", "mask part (reinit − random)",
                          "random − dense"], rows)]
        nb = t["notebook"]
        rows = [[arm, fmt(c["prediction_interval"]), trials(c)] for arm, c in nb.items()]
        lines += ["", f"Notebook transfer trials against our fresh-draw 95% prediction interval "
                  f"({r['schedules'][0]}):", "", *table(["arm", "95% PI", "notebook trials"], rows)]
    return lines


def markdown(report: Mapping[str, Any]) -> str:
    """Every table of a results.json's ``results``, Markdown."""
    r = report["results"]
    lines = [*declared(r), "", *anchor(r), *crossed(r), *variants(r), *transfer(r), "",
             f"max |pruned weight| after training: {r['max_pruned_magnitude']}"]  # fmt: skip
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 1:
        print("usage: python -m experiments.lottery_tickets.report RESULTS.json", file=sys.stderr)
        return 2
    print(markdown(json.loads(Path(argv[0]).read_text())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
