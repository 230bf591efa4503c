"""Markdown tables of a run, for the README: ``python -m experiments.diffusion.report DIR/results.json``.

Every number the README quotes comes from here, so the README and
``results.json`` cannot disagree.
"""

from __future__ import annotations

import itertools
import json
import sys

import numpy as np

from experiments.common import stats
from experiments.common.stats import format_interval

from . import compact
from .analysis import LABELS


def _l(name: str) -> str:
    return LABELS.get(name, name)


def _f(d: dict, digits: int = 3) -> str:
    return format_interval(d["mean"], d["low"], d["high"], digits=digits)


def kl_table(r: dict, config: dict, which: str) -> list[str]:
    q1 = r["question1"][which]
    families = config["lr_families"]
    lines = [
        "| noise \\ LR | " + " | ".join(_l(f) for f in families) + " | best (validation) |",
        "|---" * (len(families) + 2) + "|",
    ]
    for name in config["noise_schedules"]:
        cells = []
        for family in families:
            c = q1["cells"][name][family]
            cells.append(f"{_f(c['kl_test'])} (x{c['multiplier']:g})")
        lines.append(
            f"| {_l(name)} | " + " | ".join(cells) + f" | {_l(q1['best_family_by_validation'][name])} |"
        )
    return lines


def sample_table(r: dict, config: dict, which: str) -> list[str]:
    members = compact.members(r)
    families = config["lr_families"]
    lines = [
        "| noise \\ LR | " + " | ".join(_l(f) for f in families) + " |",
        "|---" * (len(families) + 1) + "|",
    ]
    for name in config["noise_schedules"]:
        cells = []
        for family in families:
            multiplier = r["question1"][which]["cells"][name][family]["multiplier"]
            rows = [
                m
                for m in members
                if m["part"] == "grid"
                and m["noise"] == name
                and m["family"] == family
                and m["multiplier"] == multiplier
                and f"sliced_w2_{which}" in m
            ]
            w2 = np.mean([m[f"sliced_w2_{which}"] for m in rows]) if rows else float("nan")
            hq = np.mean([m[f"high_quality_{which}"] for m in rows]) if rows else float("nan")
            modes = np.mean([m[f"modes_covered_{which}"] for m in rows]) if rows else float("nan")
            cells.append(f"{w2:.3f} / {hq:.3f} / {modes:.1f}")
        lines.append(f"| {_l(name)} | " + " | ".join(cells) + " |")
    return lines


def interaction(r: dict, which: str) -> list[str]:
    a = r["question1"][which]["interaction"]
    if "f_test" not in a:
        return [f"interaction: {a.get('note')}"]
    f = a["f_test"]
    lines = [
        (
            f"Interaction F({f['df_interaction']}, {f['df_error']}) = {f['f']:.2f}, p = {f['p_value']:.3g} "
            f"(sums of squares: interaction {f['ss_interaction']:.4f}, LR family {f['ss_family']:.4f}, "
            f"noise schedule {f['ss_noise']:.4f}, seed x cell error {f['ss_error']:.4f})."
        ),
        "",
        "| contrast | mean | 95% CI (seeds, t) | 95% CI (pooled error) | p Holm (pooled) |",
        "|---|---|---|---|---|",
    ]
    for c in a["contrasts"]:
        lines.append(
            f"| {c['definition']} | {c['mean']:+.3f} | [{c['seed_low']:+.3f}, {c['seed_high']:+.3f}] | "
            f"[{c['pooled_low']:+.3f}, {c['pooled_high']:+.3f}] | {c['pooled_p_holm']:.3g} |"
        )
    return lines


def vs_best(r: dict, config: dict, which: str) -> list[str]:
    q1 = r["question1"][which]
    lines = [
        "| noise | best (validation) | "
        + " | ".join(f"{_l(f)} - best" for f in config["lr_families"])
        + " |",
        "|---" * (len(config["lr_families"]) + 2) + "|",
    ]
    for name in config["noise_schedules"]:
        best = q1["best_family_by_validation"][name]
        cells = []
        for family in config["lr_families"]:
            if family == best:
                cells.append("-")
            else:
                d = q1["vs_best"][name][family]
                cells.append(f"{_f(d)}{' *' if d['significant'] else ''}")
        lines.append(f"| {_l(name)} | {_l(best)} | " + " | ".join(cells) + " |")
    return lines


def alignment(r: dict, config: dict, which: str) -> list[str]:
    q2 = r["question2"][which]
    arms = config["curriculum_arms"]
    lines = [
        "| noise | uniform KL | " + " | ".join(f"{_l(a)} - uniform" for a in arms) + " |",
        "|---" * (len(arms) + 2) + "|",
    ]
    for name, row in q2["by_noise"].items():
        cells = []
        for arm in arms:
            d = row[arm]["minus_uncoupled"]
            cells.append(f"{_f(d)} (p_Holm {d['p_holm']:.2g})")
        lines.append(f"| {_l(name)} | {_f(row['uncoupled'])} | " + " | ".join(cells) + " |")
    averaged = q2["averaged_over_noise"]
    lines.append(
        "| **mean over noise schedules** (seed t interval) | | "
        + " | ".join(f"**{_f(averaged[a])}** (p_Holm {averaged[a]['p_holm']:.2g})" for a in arms)
        + " |"
    )
    lines.append(
        "| same, pooled-error interval | | "
        + " | ".join(
            f"[{averaged[a]['pooled_low']:.3f}, {averaged[a]['pooled_high']:.3f}] (df {averaged[a]['pooled_df']}, "
            f"p_Holm {averaged[a]['pooled_p_holm']:.2g})"
            for a in arms
        )
        + " |"
    )
    return lines


def per_level(r: dict, config: dict) -> list[str]:
    q3 = r["question3"]
    edges = q3["bin_edges"]
    centres = [0.5 * (a + b) for a, b in itertools.pairwise(edges)]
    lines = [
        (
            "Excess epsilon error per log-SNR bin (EMA weights, selected peak; "
            "half its integral is the excess -ELBO in nats):"
        ),
        "",
        "| noise, LR | " + " | ".join(f"{c:+.0f}" for c in centres) + " | excess -ELBO (nats) |",
        "|---" * (len(centres) + 2) + "|",
    ]
    for name in config["noise_schedules"]:
        for family in config["lr_families"]:
            cell = q3["cells"][name][family]
            lines.append(
                f"| {_l(name)}, {_l(family)} | "
                + " | ".join(f"{v:.1e}" for v in cell["ema_eps"])
                + f" | {cell['excess_elbo_nats_ema']:.3f} |"
            )
    conv = q3["convergence"]
    if conv:
        lines += [
            "",
            (
                "Fraction of training (constant LR, 1x peak, EMA) until each bin's excess error is within 2x "
                "of its final value:"
            ),
            "",
            "| noise | " + " | ".join(f"{c:+.0f}" for c in centres) + " |",
            "|---" * (len(centres) + 1) + "|",
        ]
        for name, data in conv.items():
            lines.append(
                f"| {_l(name)} | "
                + " | ".join(f"{v:.1f}" for v in data["fraction_of_training_to_reach_2x_final"])
                + " |"
            )
    return lines


def mnist1d(m: dict, config: dict) -> list[str]:
    """The MNIST-1D part (gpu config): Frechet distance tables, the interaction test and every family
    against the validation-best one, paired over seeds (Holm within each noise schedule)."""
    if "skipped" in m:
        return [f"MNIST-1D: skipped ({m['skipped']})."]
    families = config["lr_families"]
    out = [
        (
            f"MNIST-1D: classifier test accuracy {m['classifier_test_accuracy']:.3f}, "
            f"real-vs-real FD {m['real_vs_real_fd']:.2f}, seeds {m['seeds']}."
        ),
    ]
    for which in ("ema", "raw"):
        cells, best = m[which]["cells"], m[which]["best_family_by_validation"]
        out += [
            "",
            f"Test FD, {which.upper()} weights (mean [95% CI] over seeds):",
            "",
            "| noise \\ LR | " + " | ".join(_l(f) for f in families) + " | best (validation) |",
            "|---" * (len(families) + 2) + "|",
        ]
        for name, row in cells.items():
            out.append(
                f"| {_l(name)} | "
                + " | ".join(_f(row[f]["fd_test"], 2) for f in families)
                + f" | {_l(best[name])} |"
            )
        out += [
            "",
            "Every family against the best one (test FD difference paired over seeds, Holm within a noise schedule):",
            "",
            "| noise | best (validation) | " + " | ".join(f"{_l(f)} - best" for f in families) + " |",
            "|---" * (len(families) + 2) + "|",
        ]
        for name, row in cells.items():
            others = [f for f in families if f != best[name]]
            diffs = {f: stats.paired(row[f]["per_seed"], row[best[name]]["per_seed"]) for f in others}
            p_holm = dict(zip(others, stats.holm([diffs[f].p_value for f in others])))
            text = [
                "-"
                if f == best[name]
                else f"{format_interval(diffs[f].mean, diffs[f].low, diffs[f].high, digits=2)} (p_Holm {p_holm[f]:.2g})"
                for f in families
            ]
            out.append(f"| {_l(name)} | {_l(best[name])} | " + " | ".join(text) + " |")
        out += [""] + interaction({"question1": {which: {"interaction": m[which]["interaction"]}}}, which)
    return out


def report(path: str) -> str:
    with open(path) as f:
        report = json.load(f)
    r, config = report["results"], report["config"]
    out = [
        (
            f"Run: config `{report['config_name']}`, {report['seconds']:.0f} s (compile {report['compile_seconds']:.0f} s) "
            f"on {report['machine']['cpu']} ({report['machine']['cpu_count']} cores), "
            f"device {report['machine']['device_kind']}; seeds {r['seeds_completed']}."
        ),
        "",
    ]
    v = r["metric_validation"]
    out.append(
        "Metric check (exact denoiser): KL "
        + ", ".join(f"{v[k]:+.4f} nats ({k.split('_')[2]} RK4 steps)" for k in v if k.startswith("exact_kl"))
        + f"; sampler SW2 {v['exact_samples']['sliced_w2']:.4f} (data vs data {v['data_vs_data']['sliced_w2']:.4f}), "
        f"high-quality {v['exact_samples']['high_quality']:.3f}, modes {v['exact_samples']['modes_covered']:.0f}. "
        f"Data entropy {r['data_entropy']['nats']:.4f} +- {r['data_entropy']['se']:.4f} nats."
    )
    if "solver_check" in r:
        s = r["solver_check"]
        out.append(
            f"Solver check on learned models ({s['ema']['models']} models, {s['ema']['steps'][0]} vs "
            f"{s['ema']['steps'][1]} RK4 steps): |KL change| mean {s['ema']['mean_abs_kl_change']:.4f}, "
            f"max {s['ema']['max_abs_kl_change']:.4f} nats (EMA); mean {s['raw']['mean_abs_kl_change']:.4f}, "
            f"max {s['raw']['max_abs_kl_change']:.4f} (raw)."
        )
    out.append(
        f"LR scan (best constant LR, {r['lr_scan']['steps']} steps): {r['lr_scan']['best_constant_lr']}."
    )
    for which in ("ema", "raw"):
        out += [
            "",
            f"### Test KL(data || model), nats, {which.upper()} weights (mean [95% CI], selected peak)",
            "",
        ]
        out += kl_table(r, config, which)
        out += ["", "Sliced W2 / high-quality fraction / modes covered (of 8), same models:", ""]
        out += sample_table(r, config, which)
        out += [
            "",
            "Every family against the best one for that noise schedule (test KL difference, * = Holm p < 0.05):",
            "",
        ]
        out += vs_best(r, config, which)
        out += [""] + interaction(r, which)
        out += [
            "",
            f"Curriculum arms (warmup+cosine at the 1x peak), test KL minus uniform sampling, {which.upper()}:",
            "",
        ]
        out += alignment(r, config, which)
    out += [""] + per_level(r, config)
    if "mnist1d" in r:
        out += [""] + mnist1d(r["mnist1d"], config)
    return "\n".join(out)


if __name__ == "__main__":
    print(report(sys.argv[1]))
