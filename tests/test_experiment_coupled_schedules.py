"""The coupled-schedules study end to end on its smoke config (twice: the same
seed gives the same numbers), its declared analyses, and what its schedules promise."""

import subprocess
import sys
from pathlib import Path

import pytest

from experiments.common.testing import numbers, run_smoke


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("coupled")
    return out, run_smoke("coupled_schedules", out)


def test_smoke_run_writes_every_reported_number_and_the_plots(smoke):
    out, report = smoke
    config, results = report["config"], report["results"]
    assert list(results["arms"]) == config["arms"]
    reported = config["seeds"] - config["selection_seeds"]
    for row in results["arms"].values():
        assert row["peak_lr"] in config["peak_lrs"] and 0.5 < row["test_accuracy"]["mean"] <= 1.0
        # reported on the held-out seeds only
        assert row["test_accuracy"]["n"] == len(row["test_accuracy_per_seed"]) == reported
        assert row["selection"]["eligible"] == [True] * len(config["peak_lrs"])  # no run failed
    assert results["grid"]["members"] == len(config["arms"]) * len(config["peak_lrs"]) * config["seeds"]
    promises = results["promises"]
    assert promises["lr_schedule"]["b1_at_peak"] == pytest.approx(config["b1"])
    for arm in ("coupled", "coupled_plateau"):
        assert promises[arm]["b1_at_peak"] == pytest.approx(config["b1_low"], abs=1e-4)
        low, high = promises[arm]["base_lr_x_wd_over_value_at_peak_min_max"]
        assert low == pytest.approx(1.0, abs=1e-4) and high == pytest.approx(1.0, abs=1e-4)
    for png in ("schedules.png", "accuracy_by_lr.png"):
        assert (out / png).stat().st_size > 2000


def test_the_declared_analyses_are_exactly_what_is_computed(smoke):
    _, report = smoke
    plan = report["analysis_plan"]
    assert plan == report["config"]["analyses"] and len(plan) == 3
    analyses = report["results"]["analyses"]
    assert list(analyses) == [q["name"] for q in plan]
    arms = report["results"]["arms"]
    for question in plan:
        record = analyses[question["name"]]
        assert record["declared"] and record["test"] == question["test"] == "paired_t"
        assert record["family_size"] == 3 and record["p_holm"] >= record["p_value"]
        a, b = {"coupled_vs_lr_schedule": ("coupled", "lr_schedule"),
                "coupled_plateau_vs_lr_schedule": ("coupled_plateau", "lr_schedule"),
                "plateau_over_coupled": ("coupled_plateau", "coupled")}[question["name"]]  # fmt: skip
        x, y = arms[a]["test_accuracy_per_seed"], arms[b]["test_accuracy_per_seed"]
        differences = [p - q for p, q in zip(x, y)]
        assert record["mean"] == pytest.approx(sum(differences) / len(differences))
    assert report["provenance"]["commit"] and report["provenance"]["command"].startswith(
        "python -m experiments.coupled_schedules --config smoke")


def test_the_report_prints_the_readme_tables_without_jax(smoke):
    out, report = smoke
    done = subprocess.run(
        [sys.executable, "-c", "import sys, experiments.coupled_schedules.report as r; "
         f"r.main([{str(out / 'results.json')!r}]); print('jax' in sys.modules)"],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert done.stdout.rstrip().endswith("False")
    assert "| `coupled_vs_lr_schedule` |" in done.stdout and "| `smoke` | 3 x 2 x 3 = 18 |" in done.stdout


def test_a_config_without_reported_seeds_is_refused(tmp_path):
    from experiments.coupled_schedules import main

    with pytest.raises(ValueError, match="selection_seeds"):
        main.main(["--config", "smoke", "--out", str(tmp_path), "--no-progress",
                   "--set", "selection_seeds=2"])  # fmt: skip


def test_same_seed_same_numbers(smoke, tmp_path):
    assert numbers(run_smoke("coupled_schedules", tmp_path)) == numbers(smoke[1])


def test_plateau_reductions_fall_at_epoch_ends(tmp_path):
    # A strict plateau (patience 0, 50% improvement needed) so the smoke run reduces.
    report = run_smoke("coupled_schedules", tmp_path, ["plateau_patience=0", "plateau_threshold=0.5"])
    promises = report["results"]["promises"]
    assert promises["coupled_plateau"]["runs_with_a_reduction"] > 0
    assert promises["coupled_plateau"]["reductions_at_epoch_ends"]
    assert promises["coupled"]["runs_with_a_reduction"] == 0
