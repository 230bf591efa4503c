"""The coupled-schedules study end to end on its smoke config (twice: the same
seed gives the same numbers), and what its schedules promise."""

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
    for row in results["arms"].values():
        assert row["peak_lr"] in config["peak_lrs"] and 0.5 < row["test_accuracy"]["mean"] <= 1.0
    comparison = results["comparisons"]["vs_lr_schedule"]
    assert set(comparison) == {"coupled", "coupled_plateau"}
    promises = results["promises"]
    assert promises["lr_schedule"]["b1_at_peak"] == pytest.approx(config["b1"])
    for arm in ("coupled", "coupled_plateau"):
        assert promises[arm]["b1_at_peak"] == pytest.approx(config["b1_low"], abs=1e-4)
        low, high = promises[arm]["base_lr_x_wd_over_value_at_peak_min_max"]
        assert low == pytest.approx(1.0, abs=1e-4) and high == pytest.approx(1.0, abs=1e-4)
    for png in ("schedules.png", "accuracy_by_lr.png"):
        assert (out / png).stat().st_size > 2000


def test_same_seed_same_numbers(smoke, tmp_path):
    assert numbers(run_smoke("coupled_schedules", tmp_path)) == numbers(smoke[1])


def test_plateau_reductions_fall_at_epoch_ends(tmp_path):
    # A strict plateau (patience 0, 50% improvement needed) so the smoke run reduces.
    report = run_smoke("coupled_schedules", tmp_path, ["plateau_patience=0", "plateau_threshold=0.5"])
    promises = report["results"]["promises"]
    assert promises["coupled_plateau"]["runs_with_a_reduction"] > 0
    assert promises["coupled_plateau"]["reductions_at_epoch_ends"]
    assert promises["coupled"]["runs_with_a_reduction"] == 0
