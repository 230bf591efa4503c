"""The tables of the README from a results.json (no jax: plain dicts)."""

from __future__ import annotations

from experiments.common import stats, tables

__all__ = ["describe", "markdown"]

_SEARCHES = ("grid", "random", "halving", "pbt", "hd")  # hd: Adam-HD from every initial x hypergradient LR
_NAMES = {"hd": "adam_hd"}  # how a table names a search


def _answer(record: dict, scale: float = 1.0, digits: int = 1) -> str:
    interval = stats.format_interval(record["mean"], record["low"], record["high"], scale, digits)
    return f"{interval}, p_holm {record['p_holm']:.2g}{' *' if record['significant'] else ''}"


def _number(value) -> str:
    return "n/a" if value is None else format(value, ".3g")


def describe(report: dict) -> str:
    """Q1 to Q4 as text tables (what the command prints after a run).

    Args:
      report: a results.json (full or compact).
    """
    config, results = report["config"], report["results"]
    answers = results["answers"]
    lines = []
    for model, prefix, seeds in (("MLP", "", config["seeds"]), ("CNN", "cnn_", config["cnn_seeds"])):
        searches = results["searches" if model == "MLP" else "searches_cnn"]
        lines += [f"\nQ1 ({model}): test accuracy % of each search's validation choice, {seeds} seeds "
                  "(paired t, Holm over random / halving / PBT; Adam-HD with the other model's; "
                  "* = p_holm < 0.05)",
                  f"{'search':<9}{'test %':>9}{'member-steps':>14}{'x grid':>8}{'s (seed 1)':>12}"
                  f"{'s (median)':>12}"
                  f"  {'minus grid (pp)':<30}"]  # fmt: skip
        for name in _SEARCHES:
            row = searches[name]
            steps = row["member_steps"] if isinstance(row["member_steps"], int) else max(row["member_steps"])
            versus = answers.get(f"{prefix}{name}_vs_grid")
            lines.append(f"{_NAMES.get(name, name):<9}{100 * row['test_accuracy_mean']:>9.2f}{steps:>14}"
                         f"{row['member_steps_vs_grid']:>8.3f}"
                         f"{row['seconds_first_seed']:>12.1f}{row['seconds_later_seeds_median']:>12.1f}"
                         f"  {_answer(versus, 100, 2) if versus else '-':<30}")  # fmt: skip
    pbt = results["pbt_schedule"]
    lines.append(f"\nQ2: PBT's winner decayed its LR on {pbt['decayed_seeds']} of {config['seeds']} seeds; "
                 f"log10(last/first) {_answer(answers['pbt_decays'], 1, 2)}")
    lines.append(f"    replay minus PBT (pp): {_answer(answers['replay_vs_pbt'], 100, 2)}")
    lines.append("    replay minus grid choice, same fresh seed (pp): "
                 f"{_answer(answers['replay_vs_grid'], 100, 2)}")
    nqm = results["short_horizon"]
    lines.append(f"\nQ3: NQM, {config['nqm_seeds']} initial points; best constant LR "
                 f"{sum(nqm['best_constant_lr']) / len(nqm['best_constant_lr']):.3g}")
    lines.append(f"{'horizon':>8}  {'log10 final loss / best constant':<36}"
                 f"{'log10 gm LR / best constant':<36}"
                 "LR in use at " + ", ".join(f"{f:g}" for f in nqm["lr_at_fractions"]) + " of the run")
    for horizon, row in nqm["horizons"].items():
        loss, lr = answers.get(f"horizon_{horizon}_loss"), answers.get(f"horizon_{horizon}")
        lines.append(f"{horizon:>8}  {_answer(loss, 1, 2) if loss else '(exploratory)':<36}"
                     f"{_answer(lr, 1, 2) if lr else '(exploratory)':<36}"
                     + ", ".join(f"{v:.3g}" for v in row["lr_at_mean"]))
    mlp = results["short_horizon_mlp"]
    lines.append(f"\nQ3 on the MLP (SGD, {config['mlp_horizon_seeds']} seeds): full run's best LR "
                 f"{mlp['best_lr_mean']:.3g} (mean); meta_tune's choice, log10 ratio to it:")
    for horizon, chosen in mlp["chosen_lr_mean"].items():
        lines.append(f"{horizon:>8}  LR {chosen:.3g}  {_answer(answers[f'mlp_horizon_{horizon}'], 1, 2)}")
    hd = results["hypergradient"]
    lines.append(f"\nQ4: SGD-HD, {len(hd['members'])} (initial LR, hypergradient LR) x {config['seeds']} "
                 "seeds; "
                 f"safeguard lr_range {config['hd_lr_range']}")
    for arm in ("without", "with"):
        row = hd[arm]
        mean = sum(row["chosen_test_accuracies"]) / len(row["chosen_test_accuracies"])
        lines.append(f"  {arm:<8} safeguard: {row['failed_runs']}/{row['runs']} failed, LR negative in "
                     f"{row['negative_lr_runs']}, non-finite in {row['nonfinite_lr_runs']}, "
                     f"largest finite LR {_number(row['lr_max_max'])}, "
                     f"chosen test {100 * mean:.2f}%")
    adam = hd.get("adam_hd")
    if adam:
        lines.append(f"  Adam-HD (exploratory, the Q1 search's members): {adam['without']['failed']}/"
                     f"{adam['runs']} failed without the safeguard, {adam['with']['failed']} with")
    lines.append(f"  failures without - with: {answers['hd_failures']['mean']:.3f}, Fisher p_holm "
                 f"{answers['hd_failures']['p_holm']:.2g}; chosen test with - without (pp): "
                 f"{_answer(answers['hd_safeguard_accuracy'], 100, 2)}")
    return "\n".join(lines)


def markdown(report: dict) -> str:
    """The README's tables (Q1 on the MLP and the CNN, Q2 to Q4) from a results file, as markdown.

    Args:
      report: a results.json (full or compact).
    """
    config, results = report["config"], report["results"]
    answers, searches = results["answers"], results["searches"]

    def diff(name, scale=100.0, digits=2):
        record = answers[name]
        return tables.interval(record["mean"], record["low"], record["high"], scale=scale, digits=digits)

    header = ["search", "test acc %", "member-steps", "x grid", "s (seed 0)", "s (median, others)",
              "minus grid (points)", "Holm p"]
    out = []
    for key, prefix in (("searches", ""), ("searches_cnn", "cnn_")):
        q1 = []
        for name in _SEARCHES:
            row = results[key][name]
            versus = f"{prefix}{name}_vs_grid"
            q1.append([_NAMES.get(name, name), f"{100 * row['test_accuracy_mean']:.2f}", row["member_steps"],
                       f"{row['member_steps_vs_grid']:.3f}", f"{row['seconds_first_seed']:.1f}",
                       f"{row['seconds_later_seeds_median']:.1f}",
                       diff(versus) if versus in answers else "-",
                       f"{answers[versus]['p_holm']:.2f}" if versus in answers else "-"])  # fmt: skip
        extra = results[key].get("pbt_wd")
        if extra:  # exploratory: PBT over AdamW's LR and weight decay
            versus = extra["minus_grid"]
            q1.append(["pbt over LR and weight decay (exploratory)",
                       f"{100 * extra['test_accuracy_mean']:.2f}",
                       extra["member_steps"], f"{extra['member_steps_vs_grid']:.3f}",
                       f"{extra['seconds_first_seed']:.1f}", f"{extra['seconds_later_seeds_median']:.1f}",
                       tables.interval(versus["mean"], versus["low"], versus["high"], scale=100.0, digits=2),
                       f"raw p {versus['p_value']:.2f}"])  # fmt: skip
        out.append(tables.markdown(header, q1))
    pbt = results["pbt_schedule"]
    q2 = [["winner's log10(last LR / first LR)", diff("pbt_decays", 1.0),
           f"{answers['pbt_decays']['p_holm']:.3f}",
           f"{pbt['decayed_seeds']} of {config['seeds']} seeds decayed"],
          ["replayed schedule minus PBT (points)", diff("replay_vs_pbt"),
           f"{answers['replay_vs_pbt']['p_holm']:.2f}", "fresh init and data order"],
          ["replayed schedule minus grid's choice (points)", diff("replay_vs_grid"),
           f"{answers['replay_vs_grid']['p_holm']:.2f}", "both from the same fresh seed"]]  # fmt: skip
    out.append(tables.markdown(["statistic", "mean [95% CI]", "Holm p", "note"], q2))
    nqm = results["short_horizon"]
    q3 = []
    for horizon, row in nqm["horizons"].items():
        declared = f"horizon_{horizon}" in answers
        q3.append([horizon + ("" if declared else " (full run)"),
                   diff(f"horizon_{horizon}_loss", 1.0) if declared else "-",
                   f"{answers[f'horizon_{horizon}_loss']['p_holm']:.2g}" if declared else "-",
                   diff(f"horizon_{horizon}", 1.0) if declared else "-",
                   *[f"{v:.3g}" for v in row["lr_at_mean"]]])  # fmt: skip
    out.append(tables.markdown(["horizon", "log10 final loss / best constant's", "Holm p",
                                "log10 mean LR / best constant LR",
                                *[f"LR at {f:g}" for f in nqm["lr_at_fractions"]]], q3))  # fmt: skip
    mlp = results["short_horizon_mlp"]
    q3_mlp = [[horizon, f"{chosen:.3g}", diff(f"mlp_horizon_{horizon}", 1.0),
               f"{answers[f'mlp_horizon_{horizon}']['p_holm']:.2g}"]
              for horizon, chosen in mlp["chosen_lr_mean"].items()]  # fmt: skip
    q3_mlp.append(["full run (grid, validation)", f"{mlp['best_lr_mean']:.3g}", "-", "-"])
    out.append(tables.markdown(["horizon", "SGD LR chosen (mean)", "log10 chosen / full run's", "Holm p"],
                               q3_mlp))
    hd = results["hypergradient"]
    q4 = []
    for arm in ("without", "with"):
        row = hd[arm]
        q4.append([arm, f"{row['failed_runs']} / {row['runs']}", row["negative_lr_runs"],
                   row["nonfinite_lr_runs"], diff("hd_safeguard_accuracy") if arm == "with" else "-"])
    adam = hd.get("adam_hd")
    if adam:  # exploratory: the Adam-HD search's members, rerun without the safeguard
        q4.append(["Adam-HD without (exploratory)", f"{adam['without']['failed']} / {adam['runs']}",
                   adam["without"]["negative_lr"], adam["without"]["nonfinite_lr"], "-"])
        q4.append(["Adam-HD with (exploratory)", f"{adam['with']['failed']} / {adam['runs']}", "-", "-", "-"])
    out.append(tables.markdown(["safeguard", "failed runs", "LR went negative", "LR not finite",
                                "chosen run's test acc, with minus without (points)"], q4))  # fmt: skip
    curve = searches["random_best_so_far"]
    rows = [[k, steps, f"{100 * acc:.2f}"]
            for k, steps, acc in zip(curve["members"], curve["member_steps"], curve["test_accuracy_mean"])]
    out.append(tables.markdown(["random search: first k draws", "member-steps", "selection's test acc %"],
                               rows))  # fmt: skip
    return "\n\n".join(out)


if __name__ == "__main__":  # python -m experiments.schedule_search.report results/<config>.json
    import json
    import sys

    print(markdown(json.loads(open(sys.argv[1]).read())))
