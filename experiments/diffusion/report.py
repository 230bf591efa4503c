"""Markdown tables of a run, for the README: ``python -m experiments.diffusion.report RESULTS.json``.

Every number the README's tables quote comes from here, so the README and the
stored results cannot disagree. The declared tests come first; every other
table is labelled exploratory. Reads a results.json (full or compacted by
``experiments.common.compact``) or a re-analysis written by ``reanalyse.py``.
No jax: plain json, NumPy and the stats module.
"""

from __future__ import annotations

import itertools
import json
import sys

import numpy as np

from experiments.common import compact
from experiments.common.stats import format_interval

from .analysis import LABELS, WEIGHTS


def _l(name: str) -> str:
    return LABELS.get(name, name)


def _f(d: dict, digits: int = 3) -> str:
    return format_interval(d["mean"], d["low"], d["high"], digits=digits)


def _p(p: float) -> str:
    return f"{p:.2g}" if p is not None and np.isfinite(p) else "n/a"


def members(r: dict) -> list[dict]:
    """The per-member records of ``r`` (a results.json's "results"), whatever form they are stored in."""
    if "members" in r:
        return compact.records(r["members"])
    return compact.records(r.get("members_table", []))


def declared(r: dict) -> list[str]:
    """The declared tests (config ``analyses``): one row per question, whatever they say."""
    lines = [
        "| declared question | mean [95% CI] (nats) | p | p Holm (family) | significant |",
        "|---|---|---|---|---|",
    ]
    for name, t in r["declared"].items():
        lines.append(
            f"| {name} | {_f(t)} | {_p(t['p_value'])} | {_p(t['p_holm'])} ({t['family_size']}) | "
            f"{'yes' if t['significant'] else 'no'} |"
        )
    return lines


def kl_table(r: dict, config: dict, which: str) -> list[str]:
    q1 = r["question1"][which]
    families = config["lr_families"]
    lines = [
        "| noise \\ LR | " + " | ".join(_l(f) for f in families) + " | best (validation) |",
        "|---" * (len(families) + 2) + "|",
    ]
    for name in config["noise_schedules"]:
        row = q1["cells"][name]
        cells = [f"{_f(row[f]['kl_test'])} (x{row[f]['multiplier']:g})" for f in families]
        best = _l(q1["best_family_by_validation"][name])
        lines.append(f"| {_l(name)} | " + " | ".join(cells) + f" | {best} |")
    return lines


def sample_table(r: dict, config: dict, which: str) -> list[str]:
    records = members(r)
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
                for m in records
                if m["part"] == "grid"
                and m["noise"] == name
                and m["family"] == family
                and m["multiplier"] == multiplier
                and f"sliced_w2_{which}" in m
            ]
            w2, hq, modes = (
                np.mean([m[f"{key}_{which}"] for m in rows]) if rows else float("nan")
                for key in ("sliced_w2", "high_quality", "modes_covered")
            )
            cells.append(f"{w2:.3f} / {hq:.3f} / {modes:.1f}")
        lines.append(f"| {_l(name)} | " + " | ".join(cells) + " |")
    return lines


def interaction(a: dict) -> list[str]:
    """The interaction contrasts (per-seed t, Holm: question 1's declared test on EMA weights)."""
    if "contrasts" not in a:
        return [f"interaction: {a.get('note')}"]
    lines = [
        "| contrast | mean [95% CI, per-seed t] | p | p Holm |",
        "|---|---|---|---|",
    ]
    for c in a["contrasts"]:
        lines.append(
            f"| [{_l(c['family'])} - {_l('constant')}] under {_l(c['noise'])} minus under the reference | "
            f"{_f(c)} | {_p(c['p_value'])} | {_p(c['p_holm'])} |"
        )
    return lines


def interaction_exploratory(a: dict) -> list[str]:
    """The F-test and pooled-error contrasts (equal variance in every cell assumed): exploratory."""
    if "exploratory" not in a:
        return []
    e = a["exploratory"]
    f = e["f_test"]
    lines = [
        f"Exploratory (assumes equal variance in every cell): interaction F({f['df_interaction']}, "
        f"{f['df_error']}) = {f['f']:.2f}, p = {f['p_value']:.2g}; sums of squares: noise schedule "
        f"{f['ss_noise']:.4f}, LR family {f['ss_family']:.4f}, interaction {f['ss_interaction']:.4f}, "
        f"seed x cell error {f['ss_error']:.4f}.",
        "",
        "| contrast (exploratory) | mean [95% CI, pooled error] | p Holm (pooled) |",
        "|---|---|---|",
    ]
    for c in e["pooled_contrasts"]:
        what = f"{_l(c['family'])} - {_l('constant')}, {_l(c['noise'])} vs reference"
        lines.append(f"| {what} | {_f(c)} | {_p(c['p_holm'])} |")
    return lines


def vs_best(r: dict, config: dict, which: str) -> list[str]:
    q1 = r["question1"][which]
    comparisons = q1.get("vs_best_exploratory", q1.get("vs_best"))
    lines = [
        "| noise | best (validation) | "
        + " | ".join(f"{_l(f)} - best" for f in config["lr_families"])
        + " |",
        "|---" * (len(config["lr_families"]) + 2) + "|",
    ]
    for name in config["noise_schedules"]:
        best = q1["best_family_by_validation"][name]
        cells = [
            "-"
            if family == best
            else f"{_f(comparisons[name][family])}{' *' if comparisons[name][family]['significant'] else ''}"
            for family in config["lr_families"]
        ]
        lines.append(f"| {_l(name)} | {_l(best)} | " + " | ".join(cells) + " |")
    return lines


def alignment(r: dict, config: dict, which: str) -> list[str]:
    """Arms minus uniform: the mean over noise schedules (declared on EMA) and per noise schedule."""
    q2 = r["question2"][which]
    arms = config["curriculum_arms"]
    lines = [
        "| noise | uniform KL | " + " | ".join(f"{_l(a)} - uniform" for a in arms) + " |",
        "|---" * (len(arms) + 2) + "|",
    ]
    averaged = q2["averaged_over_noise"]
    lines.append(
        "| **mean over noise schedules** (per-seed t, Holm over arms) | | "
        + " | ".join(f"**{_f(averaged[a])}** (p_Holm {_p(averaged[a]['p_holm'])})" for a in arms)
        + " |"
    )
    for name, row in q2["by_noise"].items():
        cells = [f"{_f(row[a])} (p_Holm {_p(row[a]['p_holm'])})" for a in arms]
        uniform = _f(q2["uniform_kl_test"][name])
        lines.append(f"| {_l(name)} (exploratory) | {uniform} | " + " | ".join(cells) + " |")
    pooled = q2.get("exploratory_pooled_error") or {}
    if pooled:
        lines.append(
            "| mean, pooled-error interval (exploratory) | | "
            + " | ".join(
                f"[{pooled[a]['low']:.3f}, {pooled[a]['high']:.3f}] "
                f"(df {pooled[a]['df']}, p_Holm {_p(pooled[a]['p_holm'])})"
                for a in arms
            )
            + " |"
        )
    return lines


def per_level(r: dict, config: dict) -> list[str]:
    q3 = r["question3"]
    centres = [0.5 * (a + b) for a, b in itertools.pairwise(q3["bin_edges"])]
    lines = [
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
            "Fraction of training (constant LR, 1x peak, EMA) until each bin's excess error is within 2x "
            "of its final value:",
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
    """The MNIST-1D part (gpu config): test Frechet distance per cell and the interaction contrasts."""
    families = config["lr_families"]
    out = [
        f"MNIST-1D: classifier test accuracy {m['classifier_test_accuracy']:.3f}, "
        f"real-vs-real FD {m['real_vs_real_fd']:.2f}, seeds {m['seeds']}."
    ]
    for which in WEIGHTS:
        cells, best = m[which]["cells"], m[which]["best_family_by_validation"]
        out += [
            "",
            f"Test FD, {which.upper()} weights (mean [95% CI] over seeds; best on validation samples):",
            "",
            "| noise \\ LR | " + " | ".join(_l(f) for f in families) + " | best (validation) |",
            "|---" * (len(families) + 2) + "|",
        ]
        for name, row in cells.items():
            values = " | ".join(_f(row[f]["fd_test"], 2) for f in families)
            out.append(f"| {_l(name)} | {values} | {_l(best[name])} |")
        out += [""] + interaction(m[which]["interaction"])
    return out


def header(report: dict) -> list[str]:
    r, source = report["results"], report.get("provenance") or {}
    machine = report.get("machine", {})
    return [
        f"Run: `{source.get('command', 'no command recorded')}` at commit {source.get('commit')} "
        f"(dirty: {source.get('dirty')}), {report['seconds']:.0f} s "
        f"(compile {report['compile_seconds']:.0f} s) on "
        f"{machine.get('cpu')} ({machine.get('cpu_count')} cores), device {machine.get('device_kind')}; "
        f"seeds {r['seeds_completed']}.",
    ]


def checks(r: dict) -> list[str]:
    v = r["metric_validation"]
    out = [
        "Metric check (exact denoiser): KL "
        + ", ".join(f"{v[k]:+.4f} nats ({k.split('_')[2]} RK4 steps)" for k in v if k.startswith("exact_kl"))
        + f"; sampler SW2 {v['exact_samples']['sliced_w2']:.4f} "
        f"(data vs data {v['data_vs_data']['sliced_w2']:.4f}). "
        f"Data entropy {r['data_entropy']['nats']:.4f} +- {r['data_entropy']['se']:.4f} nats."
    ]
    if "solver_check" in r:
        e, raw = r["solver_check"]["ema"], r["solver_check"]["raw"]
        out.append(
            f"Solver check ({e['models']} models, {e['steps'][0]} vs {e['steps'][1]} RK4 steps): "
            f"|KL change| mean {e['mean_abs_kl_change']:.4f}, max {e['max_abs_kl_change']:.4f} nats (EMA); "
            f"mean {raw['mean_abs_kl_change']:.4f}, max {raw['max_abs_kl_change']:.4f} (raw)."
        )
    scan = r["lr_scan"]
    out.append(f"LR scan (best constant LR, {scan['steps']} steps): {scan['best_constant_lr']}.")
    return out


def questions(r: dict, config: dict) -> list[str]:
    """The declared tests, then questions 1 and 2 for both weights (tables labelled by their status)."""
    out = ["### Declared tests (EMA weights)", ""] + declared(r)
    edges = [
        f"{e['weights']} {_l(e['noise'])} {_l(e['family'])} at {e['multiplier']:g}x"
        for e in r.get("selection_on_edge", [])
    ]
    grid = ", ".join(f"{m:g}x" for m in config["peak_multipliers"])
    out += ["", f"Peaks chosen on an edge of the grid ({grid}): " + ("; ".join(edges) or "none") + "."]
    for which in WEIGHTS:
        status = "declared" if which == "ema" else "exploratory"
        title = f"### Test KL(data || model), nats, {which.upper()} weights (mean [95% CI], selected peak)"
        out += ["", title, ""]
        out += kl_table(r, config, which)
        if which != "ema":  # the EMA contrasts are the declared table above
            reference = _l(config["noise_schedules"][0])
            out += ["", f"Interaction contrasts (exploratory; reference: {reference}):", ""]
            out += interaction(r["question1"][which]["interaction"])
        out += [""] + interaction_exploratory(r["question1"][which]["interaction"])
        out += ["", "Every family against the best one (exploratory; * = Holm p < 0.05 within a noise "
                "schedule):", ""]
        out += vs_best(r, config, which)
        out += ["", f"Curriculum arms minus uniform sampling ({status} mean; per noise schedule "
                "exploratory):", ""]
        out += alignment(r, config, which)
    return out


def report(path: str) -> str:
    """The Markdown for one stored file (a run's results, or a re-analysis)."""
    with open(path) as f:
        data = json.load(f)
    r, config = data["results"], data["config"]
    if "reanalysis" in data:
        return "\n".join([data["reanalysis"]["note"], ""] + questions(r, config))
    out = header(data) + [""] + checks(r) + [""] + questions(r, config)
    for which in WEIGHTS:
        out += ["", f"Sliced W2 / high-quality fraction / modes covered (of 8), {which.upper()} weights:", ""]
        out += sample_table(r, config, which)
    out += ["", "Excess epsilon error per log-SNR bin (EMA weights, selected peak):", ""]
    out += per_level(r, config)
    if "mnist1d" in r:
        out += [""] + mnist1d(r["mnist1d"], config)
    return "\n".join(out)


if __name__ == "__main__":
    print(report(sys.argv[1]))
