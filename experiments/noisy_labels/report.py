"""The study's tables from a results.json, as markdown (what a run prints and the README shows).

``python -m experiments.noisy_labels.report RESULTS.json`` prints them. No jax: stored results only.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from experiments.common import tables

__all__ = ["describe", "main"]


def _pct(record: dict, signed: bool = False, digits: int = 1) -> str:
    return tables.interval(record.get("mean"), record.get("low"), record.get("high"), scale=100,
                           digits=digits, signed=signed)  # fmt: skip


def _p(x) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def declared_table(results: dict) -> str:
    """Every declared question: the paired difference (percentage points), raw and Holm p."""
    def statistic(record):  # a "|" inside a cell would split it
        return record["statistic"].split(": ", 1)[-1].replace("|", "\\|")

    rows = [
        [name, statistic(record), _pct(record, signed=True), _p(record["p_value"]), _p(record["p_holm"]),
         "yes" if record["significant"] else "no"]
        for name, record in results["declared"].items()
    ]  # fmt: skip
    header = ["question", "statistic (final test accuracy, points)", "mean [95% CI]", "p", "p Holm",
              "Holm < 0.05"]  # fmt: skip
    return tables.markdown(header, rows)


def accuracy_table(results: dict, run: str, schedule: str, metric: str = "final_test") -> str:
    """Arms x noise settings: mean [95% CI] over seeds of one accuracy (percent)."""
    cells = results["runs"][run]["cells"]
    noises = list(cells["uniform"][schedule])
    rows = [[arm] + [_pct(cells[arm][schedule][n][metric]) for n in noises] for arm in cells]
    return tables.markdown(["arm"] + noises, rows)


def headline_table(results: dict, run: str) -> str:
    """One run at a glance: final test accuracy (%) per arm at every noise (constant LR) and at sym40
    under cosine, the validation-chosen epoch's at sym40, the label precision over the last epoch at
    sym40, and the fraction of the corrupted training examples predicted as their wrong label."""
    summary = results["runs"][run]
    cells, precision = summary["cells"], summary["label_precision"]
    noises = list(cells["uniform"]["constant"])
    header = ["arm"] + [f"{n} final" for n in noises] + ["sym40 cosine final", "sym40 chosen epoch",
                                                         "sym40 precision", "sym40 memorised"]  # fmt: skip

    def row(arm):
        at_40 = cells[arm]["constant"]["sym40"]
        return ([arm] + [_pct(cells[arm]["constant"][n]["final_test"]) for n in noises]
                + [_pct(cells[arm]["cosine"]["sym40"]["final_test"]), _pct(at_40["chosen_test"]),
                   _pct(precision[arm]["constant"]["sym40"]["last_epoch"]),
                   _pct(summary["cells"][arm]["constant"]["sym40"]["memorised_last"])])  # fmt: skip

    return tables.markdown(header, [row(arm) for arm in cells])


def versus_uniform_table(results: dict, run: str, schedule: str, key: str = "vs_uniform_final") -> str:
    """Exploratory: every arm minus uniform CE (points), Holm over the arms of each noise setting."""
    by_noise = results["runs"][run][key][schedule]
    noises = list(by_noise)
    arms = [a for a in by_noise[noises[0]] if a not in ("exploratory", "note")]
    rows = [[arm] + [f"{_pct(by_noise[n][arm], signed=True)} (p {_p(by_noise[n][arm]['p_holm'])})"
                     for n in noises] for arm in arms]  # fmt: skip
    return tables.markdown(["arm - uniform"] + noises, rows)


def gap_table(results: dict, run: str) -> str:
    """Memorisation gap of plain CE: validation-chosen minus final test accuracy (points), both schedules."""
    gap = results["runs"][run]["memorisation_gap"]["uniform"]
    noises = list(gap["constant"])
    rows = [[schedule] + [_pct(gap[schedule][n], signed=True) for n in noises] for schedule in gap]
    return tables.markdown(["uniform CE, LR"] + noises, rows)


def precision_table(results: dict, run: str, schedule: str) -> str:
    """Label precision over the last epoch (percent of the weight mass on truly clean examples)."""
    precision = results["runs"][run]["label_precision"]
    noises = list(precision["uniform"][schedule])
    rows = [[arm] + [_pct(precision[arm][schedule][n]["last_epoch"]) for n in noises] for arm in precision]
    return tables.markdown(["arm"] + noises, rows)


def describe(report: dict) -> str:
    """The README's tables, from results.json."""
    results = report["results"]
    lines = ["Declared questions (paired over seeds, Student t, Holm within each run):", "",
             declared_table(results)]  # fmt: skip
    for run in results["runs"]:
        title = f"{run}: test accuracy (%), constant LR unless said; label precision over the last epoch"
        lines += ["", title, "", headline_table(results, run)]
        for schedule in ("constant", "cosine"):
            lines += ["", f"{run}, {schedule} LR: final test accuracy (%)", "",
                      accuracy_table(results, run, schedule)]  # fmt: skip
            lines += ["", f"{run}, {schedule} LR: validation-chosen epoch's test accuracy (%)", "",
                      accuracy_table(results, run, schedule, "chosen_test")]  # fmt: skip
            lines += ["", f"{run}, {schedule} LR (exploratory): arm minus uniform, final test accuracy", "",
                      versus_uniform_table(results, run, schedule)]  # fmt: skip
            lines += ["", f"{run}, {schedule} LR: label precision over the last epoch (%)", "",
                      precision_table(results, run, schedule)]  # fmt: skip
        lines += ["", f"{run}: memorisation gap of plain CE (chosen minus final, points)", "",
                  gap_table(results, run)]  # fmt: skip
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if len(args) != 1:
        print("usage: python -m experiments.noisy_labels.report RESULTS.json", file=sys.stderr)
        return 2
    with open(args[0]) as f:
        print(describe(json.load(f)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
