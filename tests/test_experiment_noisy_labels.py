"""The noisy-labels study: noise injection, the declared questions from per-seed cells (no jax),
and the whole study end to end on its smoke config (twice: the same seed gives the same numbers)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from experiments.common.testing import numbers, run_smoke
from experiments.noisy_labels import questions
from experiments.noisy_labels.configs import default, smoke
from experiments.noisy_labels.noise import Noise, corrupt, noisy_splits


@pytest.mark.parametrize("noise", [Noise("symmetric", 0.2), Noise("symmetric", 0.4), Noise("pairflip", 0.4)])
def test_corruption_flips_the_exact_fraction_and_records_it(noise):
    labels = np.arange(1000) % 10
    noisy, clean = corrupt(labels, noise, 10, seed=3)
    assert (~clean).sum() == round(noise.rate * 1000)  # exact, not a Bernoulli draw
    assert np.array_equal(clean, noisy == labels)  # the mask is the truth
    shift = (noisy[~clean] - labels[~clean]) % 10
    if noise.kind == "pairflip":
        assert np.all(shift == 1)
    else:  # every other class is reached, never the true one
        assert set(shift.tolist()) == set(range(1, 10))
    again, _ = corrupt(labels, noise, 10, seed=3)
    assert np.array_equal(noisy, again)  # a fixed seed: the same labels for every training seed


def test_noisy_splits_leave_the_test_labels_clean():
    rng = np.random.default_rng(0)
    data = {"x_train": rng.normal(size=(200, 4)), "y_train": rng.integers(0, 10, 200),
            "x_val": rng.normal(size=(50, 4)), "y_val": rng.integers(0, 10, 50),
            "x_test": rng.normal(size=(30, 4)), "y_test": rng.integers(0, 10, 30)}  # fmt: skip
    split = noisy_splits(data, default.NOISES, 10, seed=0)
    assert split["y_train_noisy"].shape == (len(default.NOISES), 200)
    assert np.allclose(split["noise_rate_realised"], [0.0, 0.2, 0.4, 0.4])
    assert np.array_equal(split["y_test"], data["y_test"])
    assert split["clean_val"][0].all() and not split["clean_val"][2].all()


def test_bad_noise_names_the_argument():
    with pytest.raises(ValueError, match="rate"):
        Noise("symmetric", 1.0)
    with pytest.raises(ValueError, match="kind"):
        Noise("asymmetric", 0.2)


def _cells(seeds=4, gain=0.1):
    """Synthetic per-seed cells: every arm at 0.5 + noise, small-loss ramp `gain` better at sym40."""
    rng = np.random.default_rng(1)
    cells = {}
    for arm in default.ARMS:
        for schedule in default.SCHEDULES:
            for noise in ("sym0", "sym40"):
                base = 0.5 + 0.01 * rng.normal(size=seeds)
                if arm == "small_loss_ramp" and noise == "sym40":
                    base = base + gain
                cells.setdefault(arm, {}).setdefault(schedule, {})[noise] = {
                    "final_test": base.tolist(), "chosen_test": (base + 0.02).tolist(),
                    "memorised_last": [0.1] * seeds, "precision_last": [0.7] * seeds,
                    "precision_run": [0.7] * seeds}  # fmt: skip
    return cells


def test_declared_questions_are_exactly_the_configs_and_read_the_right_cells():
    cells = _cells()
    out = questions.analyse({"mnist1d_mlp": cells}, default.run_questions("mnist1d_mlp"))
    declared = out["declared"]
    assert [q.name for q in default.run_questions("mnist1d_mlp")] == list(declared)
    help_ = declared["mnist1d_mlp_q1_help"]
    a = np.asarray(cells["small_loss_ramp"]["constant"]["sym40"]["final_test"])
    b = np.asarray(cells["uniform"]["constant"]["sym40"]["final_test"])
    assert help_["mean"] == pytest.approx(np.mean(a - b)) and help_["test"] == "paired_t"
    assert declared["mnist1d_mlp_q3_additive"]["test"] == "one_sample_t"
    assert all(r["family_size"] == 7 and r["p_holm"] >= r["p_value"] for r in declared.values())
    gap = out["runs"]["mnist1d_mlp"]["memorisation_gap"]["uniform"]["constant"]["sym40"]
    assert gap["mean"] == pytest.approx(0.02)  # chosen minus final
    assert out["runs"]["mnist1d_mlp"]["vs_uniform_final"]["constant"]["sym40"]["exploratory"] is True


def test_config_declares_q1_to_q4_for_every_run():
    config = default.get_config()
    assert config.analyses == default.questions(config.runs)
    assert len(config.analyses) == 7 * len(config.runs)
    assert smoke.get_config().analyses == default.questions(smoke.RUNS)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("noisy_labels")
    return out, run_smoke("noisy_labels", out)


def test_smoke_run_answers_every_declared_question(smoke_run):
    out, report = smoke_run
    results, config = report["results"], report["config"]
    assert [q["name"] for q in report["analysis_plan"]] == list(results["declared"])
    assert report["provenance"]["commit"]  # the runner records the code it ran
    cells = results["cells"]["mnist1d_mlp"]
    assert set(cells) == set(default.ARMS)
    for arm in default.ARMS:
        for cell in cells[arm]["constant"].values():
            assert len(cell["final_test"]) == config["seeds"]
            assert all(0 <= v <= 1 for v in cell["final_test"])
            assert 1 <= min(cell["chosen_epoch"]) and max(cell["chosen_epoch"]) <= config["epochs"]
    precision = results["runs"]["mnist1d_mlp"]["label_precision"]
    # the oracle keeps only clean examples; uniform CE weighs the batch's clean fraction (about 60%)
    assert precision["oracle"]["constant"]["sym40"]["whole_run"]["mean"] == pytest.approx(1.0)
    assert 0.5 < precision["uniform"]["constant"]["sym40"]["whole_run"]["mean"] < 0.7
    assert precision["uniform"]["constant"]["sym0"]["whole_run"]["mean"] == pytest.approx(1.0)
    assert (out / "curves.png").stat().st_size > 2000


def test_same_seed_same_numbers(smoke_run, tmp_path):
    assert numbers(run_smoke("noisy_labels", tmp_path)) == numbers(smoke_run[1])


def test_the_report_prints_the_tables_without_jax(smoke_run):
    out, _ = smoke_run
    code = ("import sys; from experiments.noisy_labels.report import main; main([sys.argv[1]]); "
            "assert 'jax' not in sys.modules, 'the report imported jax'")  # fmt: skip
    command = [sys.executable, "-c", code, str(out / "results.json")]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "mnist1d_mlp_q1_help" in done.stdout


def test_a_stored_file_reanalyses_to_the_same_answers(smoke_run):
    _, report = smoke_run
    stored = json.loads(json.dumps(report))  # what a results file holds (NaN as null)
    again = questions.analyse(stored["results"]["cells"], default.questions(smoke.RUNS))["declared"]
    for name, record in stored["results"]["declared"].items():
        assert again[name]["mean"] == pytest.approx(record["mean"])
        assert again[name]["p_holm"] == pytest.approx(record["p_holm"])


def test_the_readme_holds_the_reports_tables_verbatim():
    from pathlib import Path

    from experiments.noisy_labels import report

    folder = Path(__file__).resolve().parents[1] / "experiments" / "noisy_labels"
    readme = (folder / "README.md").read_text()
    stored = json.loads((folder / "results" / "default.json").read_text())["results"]
    assert report.declared_table(stored) in readme
    for run in stored["runs"]:
        assert report.headline_table(stored, run) in readme
        assert report.gap_table(stored, run) in readme
