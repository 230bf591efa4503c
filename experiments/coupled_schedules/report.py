"""The study's tables from stored results files (no jax): the run's summary and the README's tables.

``python -m experiments.coupled_schedules.report experiments/coupled_schedules/results/*.json``

prints the README's tables in markdown: the timings of every file given (fewest
runs first), then the results, the declared analyses and the promises of the
``default`` one (or of the last one given, when there is none).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from experiments.common import tables

__all__ = ["describe", "markdown", "main"]


def _peak(row: dict) -> str:
    return "none eligible" if row["peak_lr"] is None else f"{row['peak_lr']:g}"


def describe(report: dict) -> str:
    """The summary a run prints: each arm's choice and test accuracy, the declared analyses, the promises."""
    config, results = report["config"], report["results"]
    grid = results["grid"]
    head = (
        f"digits MLP, {results['total_steps']} steps "
        f"({config['epochs']} epochs of {results['steps_per_epoch']}); "
        f"peak LR chosen on the validation accuracy of the first {grid['selection_seeds']} seed(s); "
        f"test accuracy on the other {grid['reported_seeds']} seeds, mean [95% CI]"
    )
    arms = tables.text(
        ["arm", "peak lr", "val %", "test acc %"],
        [[arm, _peak(row), tables.interval(row["validation_accuracy"], scale=100, digits=1),
          tables.interval(*(row["test_accuracy"][k] for k in ("mean", "low", "high")), scale=100)]
         for arm, row in results["arms"].items()],
    )  # fmt: skip
    analyses = tables.text(
        ["declared question", "a - b (points)", "test", "p", "p Holm"],
        [[name, tables.interval(r["mean"], r["low"], r["high"], scale=100, signed=True), r["test"],
          f"{r['p_value']:.3f}", f"{r['p_holm']:.3f} (of {r['family_size']})"]
         for name, r in results["analyses"].items()],
    )  # fmt: skip
    promises = []
    for arm, p in results["promises"].items():
        low, high = p["base_lr_x_wd_over_value_at_peak_min_max"]
        promises.append(
            f"  {arm:<16} b1 at the peak {p['b1_at_peak']:.3f}, last step {p['b1_last_step']:.3f}; "
            f"lr x wd / its peak value in [{low:.4f}, {high:.4f}] after warmup; "
            f"{p['reductions_per_run']:.2f} plateau reductions per run, "
            f"final scale {p['final_scale_mean']:.3f}"
            + (", all at epoch ends" if p["runs_with_a_reduction"] and p["reductions_at_epoch_ends"] else "")
        )
    return "\n".join([head, arms, "", analyses, "", "what the schedules promise (all runs of each arm):",
                      *promises])  # fmt: skip


def _timings(reports: Sequence[tuple[str, dict]]) -> str:
    rows = []
    for path, report in reports:
        grid = report["results"]["grid"]
        source = report.get("provenance") or {}
        rows.append([
            f"`{report['config_name']}`",
            f"{grid['arms']} x {grid['peak_lrs']} x {grid['seeds']} = {grid['members']}",
            f"{report['seconds']:.1f} s ({report['compile_seconds']:.1f} s)",
            f"`{str(source.get('commit'))[:10]}`" + ("" if source.get("dirty") is False else " (dirty)"),
            f"`{path}`",
        ])  # fmt: skip
    header = ["config", "arms x LRs x seeds = runs", "wall time (compile)", "commit", "file"]
    return tables.markdown(header, rows)


def markdown(reports: Sequence[tuple[str, dict]]) -> str:
    """The README's tables: timings of every ``(path, report)``, then the results of the default
    (or of the last one)."""
    reports = sorted(reports, key=lambda item: item[1]["results"]["grid"]["members"])
    defaults = [item for item in reports if item[1]["config_name"] == "default"]
    path, report = (defaults or reports)[-1]
    results = report["results"]
    grid = results["grid"]
    arms = tables.markdown(
        ["arm", "peak LR", f"val acc, {grid['selection_seeds']} selection seeds",
         f"test acc, {grid['reported_seeds']} held-out seeds", "diverged runs"],
        [[f"`{arm}`", _peak(row), tables.interval(row["validation_accuracy"], scale=100),
          tables.interval(*(row["test_accuracy"][k] for k in ("mean", "low", "high")), scale=100),
          row["diverged_runs"]]
         for arm, row in results["arms"].items()],
    )  # fmt: skip
    analyses = tables.markdown(
        ["declared question", "a − b (points), 95% CI", "test", "p", "Holm p"],
        [[f"`{name}`", tables.interval(r["mean"], r["low"], r["high"], scale=100, signed=True), r["test"],
          f"{r['p_value']:.3f}", f"{r['p_holm']:.3f}"]
         for name, r in results["analyses"].items()],
    )  # fmt: skip
    names = list(results["promises"])
    promises = results["promises"]

    def row(title: str, cell) -> list[str]:
        return [title] + [cell(promises[arm]) for arm in names]

    promise_table = tables.markdown(
        [""] + [f"`{arm}`" for arm in names],
        [
            row("b1 at the end of the warmup (peak LR) / at the last step",
                lambda p: f"{p['b1_at_peak']:.3f} / {p['b1_last_step']:.3f}"),
            row("base lr x wd after the warmup, relative to its value at the peak (min to max)",
                lambda p: "{:.4f} to {:.4f}".format(*p["base_lr_x_wd_over_value_at_peak_min_max"])),
            row("runs / runs with a plateau reduction",
                lambda p: f"{p['runs']} / {p['runs_with_a_reduction']}"),
            row("plateau reductions per run (final LR scale)",
                lambda p: f"{p['reductions_per_run']:.2f} ({p['final_scale_mean']:.3f})"),
            row("every reduction at an epoch end",
                lambda p: "—" if not p["runs_with_a_reduction"]
                else ("yes" if p["reductions_at_epoch_ends"] else "no")),
        ],
    )  # fmt: skip
    return "\n\n".join([_timings(reports), f"`{path}`:", arms, analyses, promise_table])


def main(argv: Sequence[str] | None = None) -> int:
    paths = list(sys.argv[1:] if argv is None else argv)
    if not paths:
        print("usage: python -m experiments.coupled_schedules.report RESULTS.json [...]", file=sys.stderr)
        return 2
    print(markdown([(p, json.loads(Path(p).read_text())) for p in paths]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
