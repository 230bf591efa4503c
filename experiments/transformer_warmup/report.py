"""The study's tables from a results.json, as markdown (what the run prints and the README shows).

``python -m experiments.transformer_warmup.report RESULTS.json`` prints them.
No jax: this reads stored results only.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from experiments.common import stats

__all__ = ["NAMES", "describe", "main"]

NAMES = {"post": "Post-LN", "pre": "Pre-LN"}


def _fmt(interval: dict, digits: int = 3) -> str:
    values = [float("nan") if interval.get(k) is None else interval[k] for k in ("mean", "low", "high")]
    return stats.format_interval(*values, digits=digits)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(r) + " |" for r in rows
    ]


def _round(x, digits: int = 3):
    return None if x is None else round(x, digits)


def describe(report: dict) -> str:
    """Markdown tables of every question, from results.json (the README's tables)."""
    r = report["results"]
    lines = []
    base = r["baselines"]["validation"]
    lines.append(
        f"Validation windows: unigram {base['unigram']:.3f}, bigram {base['bigram']:.3f}, uniform "
        f"{base['uniform']:.3f} nats/char; failed = final validation loss >= {r['failure_threshold']:.3f} "
        "or diverged."
    )
    if r["failure_map"]:
        lines.append(
            "\n**Q1 failure map**: final validation loss (mean over seeds), failed seeds / seeds in brackets."
        )
    for key, entry in r["failure_map"].items():
        cells = {(c["warmup"], c["peak"]): c for c in entry["cells"]}
        rows = [
            [f"W = {w}"]
            + [
                f"{cells[(w, p)]['validation_loss']['mean']:.3f} ({cells[(w, p)]['failed_seeds']}/"
                f"{cells[(w, p)]['seeds']})"
                for p in entry["peaks"]
            ]
            for w in entry["warmups"]
        ]
        lines += [f"\n{key}", ""] + _table(["warmup \\ peak"] + [f"{p:g}" for p in entry["peaks"]], rows)
    c = r["failure_criterion"]
    lines.append(
        f"\nFailure criterion: {c['runs']} warmup-cosine runs, {c['diverged_runs']} diverged; runs at or above "
        f"unigram - margin, by margin: {c['plateau_runs_by_margin']}; failed losses "
        f"[{_round(c['lowest_failed_loss'])}, {_round(c.get('highest_failed_loss'))}] "
        f"(with Noam: up to {_round(c.get('highest_failed_loss_all_schedules'))}), highest trained loss "
        f"{_round(c['highest_trained_loss'])}; {c['runs_within_0.1_of_threshold']} runs within 0.1 of the "
        "threshold."
    )
    for key, entry in r["beta2"].items():
        lines += _beta2(key, entry)
    if r["tolerable_lr"]:
        lines.append(
            "\n**Q3 tolerable LR and best loss** (test loss, peak and warmup chosen on validation; "
            "difference paired over seeds)\n"
        )
        rows = []
        for key, e in r["tolerable_lr"].items():
            largest = ", ".join(
                f"W {w}: {'none' if p is None else f'{p:g}'}" for w, p in e["largest_trained_peak"].items()
            )
            without, with_ = e["without_warmup"], e["with_warmup"]
            rows.append(
                [
                    key,
                    largest,
                    "none trains" if without is None
                    else f"{_fmt(without['test_loss'])} at {without['peak']:g}",
                    "none trains" if with_ is None
                    else f"{_fmt(with_['test_loss'])} at {with_['peak']:g}, W {with_['warmup']}",
                    "" if e["with_minus_without"] is None else _fmt(e["with_minus_without"]),
                    {None: "", True: "yes", False: "no"}[e["best_peak_fails_without_warmup"]],
                ]
            )
        lines += _table(
            [
                "model",
                "largest peak that trains",
                "best without warmup",
                "best with warmup",
                "with - without",
                "best peak fails without warmup",
            ],
            rows,
        )
        lines.append("\nWarmup at the same peak (test loss minus W = 0 at that peak, paired over seeds; "
                     "failed seeds without / with warmup in brackets)\n")
        rows = []
        for key, e in r["tolerable_lr"].items():
            for w, by_peak in e["same_peak_minus_no_warmup"].items():
                for peak, d in by_peak.items():
                    failed = f"({d['failed_seeds_without']} / {d['failed_seeds_with']})"
                    rows.append([key, w, peak, f"{_fmt(d)} {failed}"])
        lines += _table(["model", "warmup W", "peak", "W minus W = 0"], rows)
    lines.append(
        "\n**Q4 LR sensitivity** (Wortsman et al.: mean over the peaks of min(loss, loss at init) - best loss; "
        "paired against W = 0, Holm)\n"
    )
    rows = []
    for key, e in r["lr_sensitivity"].items():
        if key.startswith("post_minus_pre"):
            continue
        for w, v in e["sensitivity"].items():
            against = e["against_no_warmup"].get(w)
            rows.append(
                [
                    key,
                    w,
                    _fmt(v),
                    "" if against is None else f"{_fmt(against)} (p_holm {against['p_holm']:.2g})",
                ]
            )
    lines += _table(["model", "warmup", "sensitivity (nats)", "minus W = 0"], rows)
    for key, e in r["lr_sensitivity"].items():
        if key.startswith("post_minus_pre"):
            lines.append(
                f"\nPost-LN - Pre-LN ({key.split('/', 1)[1]}): "
                + ", ".join(f"W {w}: {_fmt(v)}" for w, v in e.items())
            )
    if any(e["radam"] or e["noam"] for e in r["optimizers"].values()):
        lines.append(
            "\n**Q5 RAdam and Noam** (test loss, failed seeds in brackets; differences paired over seeds, "
            "Holm over the peaks)\n"
        )
        rows = []
        for key, e in r["optimizers"].items():
            for row in e["radam"]:
                rows.append(
                    [key, f"{row['peak']:g}"]
                    + [f"{_fmt(v)} ({row['failed_seeds'][n]})" for n, v in row["test_loss"].items()]
                    + [
                        f"{_fmt(row[k])} (p_holm {row[k]['p_holm']:.2g})"
                        for k in ("radam_minus_adam_warmup", "radam_minus_adam")
                    ]
                )
        warm = next(iter(r["optimizers"].values()))["rule_warmup"]
        lines += _table(
            [
                "model",
                "peak",
                "Adam, W = 0",
                f"Adam, W = {warm}",
                "RAdam, W = 0",
                f"RAdam - Adam W = {warm}",
                "RAdam - Adam W = 0",
            ],
            rows,
        )
        rows = []
        for key, e in r["optimizers"].items():
            best = e["best_adam_warmup"]
            for n in e["noam"]:
                rows.append(
                    [
                        key,
                        str(n["warmup"]),
                        f"{n['peak']:.3g}",
                        f"{n['last_step_over_peak']:.3f}",
                        f"{_fmt(n['test_loss'])} ({n['failed_seeds']})",
                        "none trains" if best is None
                        else f"{_fmt(best['test_loss'])} ({best['peak']:g}, W {best['warmup']})",
                        "" if n["minus_best_adam_warmup"] is None else _fmt(n["minus_best_adam_warmup"]),
                    ]
                )
        lines.append("")
        lines += _table(
            [
                "model",
                "Noam W",
                "Noam peak (d W)^-1/2",
                "last LR / peak",
                "Noam test loss",
                "best Adam + warmup",
                "Noam - best",
            ],
            rows,
        )
    g = r["gradient_norms"]
    lines.append(
        f"\n**Q6 gradient norm of the last block's W_fc2 at initialisation** ({g.get('source', '')}; "
        "slope of log norm against log depth, one fit per seed)\n"
    )
    rows = []
    depths = g.get("depths", [])
    for key, e in g.items():
        if "/" not in key:
            continue
        deepest = list(e["depths"])[-1]
        rows.append(
            [key]
            + [_fmt(v["last_fc2"], 3) for v in e["depths"].values()]
            + [_fmt(e["last_fc2_slope_vs_depth"], 2), _fmt(e["depths"][deepest]["last_over_first_fc2"], 2)]
        )
    lines += _table(
        ["model"]
        + [f"L = {d}" for d in depths]
        + ["slope vs L", f"last / first layer (L = {depths[-1] if depths else ''})"],
        rows,
    )
    return "\n".join(lines)


def _p(p) -> str:
    return "n/a" if p is None else f"{p:.2g}"


def _beta2(key: str, entry: dict) -> list[str]:
    """Question 2: the declared tests first, then failed seeds per warmup (descriptive)."""
    lines = [
        f"\n**Q2 Ma & Yarats' 2/(1-b2) warmup as a default** ({key}, {entry['steps']} steps, "
        f"{entry['seeds']} seeds). Declared tests (test loss, paired over seeds; Holm within the family):\n"
    ]
    rows = []
    for name, d in entry["declared"].items():
        interval = "n/a" if d["low"] is None else _fmt(d)
        rows.append([name, d["test"], interval, _p(d["p_value"]), _p(d["p_holm"]), str(d["n"]),
                     "yes" if d["significant"] else "no"])  # fmt: skip
    header = ["declared question", "test", "mean [95% CI]", "p", "p_holm", "seeds", "significant"]
    lines += _table(header, rows)
    lines.append(
        f"\nThe rule predicts a critical-index growth of {entry['critical_index_growth_predicted']:g}. "
        "Descriptive: failed seeds per warmup; critical W = the shortest warmup from which every longer "
        "one trains in every seed; test loss mean [95% CI] at half, once and twice the rule.\n"
    )
    rows = []
    for row in entry["rows"]:
        crit = row["critical_warmup_all_seeds"]
        rows.append(
            [f"{row['b2']:g}", str(row["rule_warmup"]), f"{row['peak']:g}"]
            + [f"{row['failed_seeds'][str(w)]}/{entry['seeds']}" for w in entry["warmups"]]
            + [f"> {max(entry['warmups'])}" if crit is None else str(crit)]
        )
    lines += _table(
        ["b2", "rule 2/(1-b2)", "peak"] + [f"W = {w}" for w in entry["warmups"]] + ["critical W"], rows
    )
    lines.append("")
    rows = []
    for row in entry["rows"]:
        rule = row["rule_warmup"]
        cells = [row["test_loss"].get(str(w)) for w in (rule // 2, rule, 2 * rule)]
        rows.append([f"{row['b2']:g}", str(rule)] + ["" if c is None else _fmt(c) for c in cells]
                    + [", ".join("none" if c is None else str(c) for c in row["critical_warmup_per_seed"])])
    lines += _table(["b2", "rule", "test loss, W = rule/2", "W = rule", "W = 2 rule", "critical W per seed"],
                    rows)  # fmt: skip
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Print the tables of a results.json (full or compact)."""
    args = sys.argv[1:] if argv is None else list(argv)
    if len(args) != 1:
        print("usage: python -m experiments.transformer_warmup.report RESULTS.json", file=sys.stderr)
        return 2
    with open(args[0]) as f:
        print(describe(json.load(f)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
