"""The synchronized study end to end on its smoke config, its declared analyses, and what its
training programs promise (the BN arms' statistics are nn.BatchNorm's own, the per-layer arms are
per-depth cosines, the decay arms' shrinkage follows the LR as stated)."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optasched as osd
from experiments.common.testing import run_smoke
from experiments.synchronized import augment, bn, layers, study
from experiments.synchronized.configs import smoke as smoke_config
from experiments.synchronized.configs.default import AUG_ARMS


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("synchronized")
    return out, run_smoke("synchronized", out)


def test_smoke_run_answers_every_declared_question_from_its_per_seed_values(smoke):
    out, report = smoke
    plan, results = report["analysis_plan"], report["results"]
    assert [q["name"] for q in plan] == list(results["declared"])
    parts = results["parts"]
    a = parts["A"]["step"]
    record = results["declared"]["a_mismatch_coupled_vs_fixed_0.9"]
    differences = np.subtract(a["coupled"]["mismatch_mean"], a["fixed_0.9"]["mismatch_mean"])
    assert record["mean"] == pytest.approx(differences.mean()) and record["n"] == report["config"]["seeds"]
    d = parts["D"]
    record = results["declared"]["d_deeper_slower_vs_uniform"]
    differences = np.subtract(d["deeper_slower"]["test_accuracy"], d["uniform"]["test_accuracy"])
    assert record["mean"] == pytest.approx(differences.mean())
    c = parts["C"]["arms"]  # part C: each arm at its validation-chosen mean strength
    chosen = {arm: int(np.argmax(np.mean(c[arm]["validation_accuracy"], axis=1))) for arm in c}
    record = results["declared"]["c_constant_vs_none"]
    constant, none = c["constant"]["test_accuracy"][chosen["constant"]], c["none"]["test_accuracy"][0]
    assert record["mean"] == pytest.approx(np.subtract(constant, none).mean())
    assert record["n"] == report["config"]["aug_seeds"]
    for family in ("A", "B", "C", "D"):
        records = [r for r in results["declared"].values() if r["correction_family"] == family]
        assert all(r["p_holm"] >= r["p_value"] for r in records) and records[0]["family_size"] == len(records)
    assert report["provenance"]["command"].startswith("python -m experiments.synchronized --config smoke")
    assert (out / "bn_mismatch.png").stat().st_size > 2000


def test_the_precise_statistics_have_no_mismatch_and_the_arms_keep_their_decays(smoke):
    _, report = smoke
    curves = report["results"]["extra"]["bn"]["curves"]["step"]
    config = report["config"]
    steps = config["bn_steps"]
    lr = np.asarray(curves["learning_rate"])  # at the last step of each block
    peak = config["bn_peak_lr"]
    assert lr[0] == pytest.approx(peak) and lr[-1] == pytest.approx(peak * config["bn_drop"] ** 2)
    coupled = np.asarray(curves["decay_coupled"])
    expected = config["bn_coupled_max"] - (config["bn_coupled_max"] - 0.9) * lr / peak
    np.testing.assert_allclose(coupled, expected, rtol=1e-6)  # float32 schedule arithmetic
    pointnet = 1 - np.asarray(curves["decay_pointnet"])  # PyTorch momentum 0.5, halved at each drop
    np.testing.assert_allclose(pointnet, [0.5, 0.5, 0.25, 0.125][: steps // config["bn_record_every"]],
                               rtol=1e-6)  # fmt: skip


def test_the_report_prints_the_tables_without_jax(smoke):
    out, _ = smoke
    done = subprocess.run(
        [sys.executable, "-c", "import sys, experiments.synchronized.report as r; "
         f"r.main([{str(out / 'results.json')!r}]); print('jax' in sys.modules)"],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert done.stdout.rstrip().endswith("False") and "| `b_tau_constant` |" in done.stdout


def test_an_arm_running_average_is_flax_batchnorm_with_that_momentum():
    model = bn.BNCNN()
    x = jax.random.normal(jax.random.key(0), (16, 40))
    variables = model.init(jax.random.key(1), x, 0.0, train=False)
    decay = jnp.float32(0.97)
    _, batch = model.apply(variables, x, 0.0, train=True, mutable=["batch_stats"])
    _, flax = model.apply(variables, x, decay, train=True, mutable=["batch_stats"])
    ours = bn.ema(variables["batch_stats"], batch["batch_stats"], decay)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), ours,
                 flax["batch_stats"])  # float32: one multiply-add apart
    # the statistics' error is 0 against themselves and grows with a shifted mean
    assert float(bn.statistics_error(ours, ours)) == 0.0
    shifted = jax.tree.map(lambda s: s, ours)
    shifted["BatchNorm_0"] = {**ours["BatchNorm_0"], "mean": ours["BatchNorm_0"]["mean"] + 1.0}
    assert float(bn.statistics_error(shifted, ours)) > 0.1


def test_layer_arms_are_per_depth_cosines():
    config = smoke_config.get_config()
    steps = 100
    uniform = layers.member("uniform", 0, config, steps)
    deeper = layers.member("deeper_slower", 0, config, steps)
    shallower = layers.member("shallower_slower", 0, config, steps)
    layerwise = layers.member("layerwise_constant", 0, config, steps)
    assert uniform["decay_steps"].tolist() == [100] * 4
    assert deeper["decay_steps"].tolist() == [50, 67, 83, 100] and shallower["decay_steps"].tolist() == [
        100, 83, 67, 50]
    expected = config.layer_peak_lr * config.layer_decay ** np.arange(3, -1, -1)
    np.testing.assert_allclose(layerwise["peaks"], expected, rtol=1e-6)
    # the arms share one structure: they stack into one sweep
    stacked = osd.stack([uniform, deeper, shallower, layerwise])
    assert stacked["decay_steps"].shape == (4, 4)
    with pytest.raises(ValueError, match="layer arm"):
        layers.member("bogus", 0, config, steps)


# -- part C: the augmentation ---------------------------------------------------------------------


def _numpy_augment(x, strength, uniform, normal, max_shift, noise_std):
    """The reference: np.roll each example by its rounded shift (mnist1d's translate), then add noise."""
    shifts = np.round((2 * uniform.astype(np.float64) - 1) * strength * max_shift).astype(int)
    return np.stack([np.roll(row, k) for row, k in zip(x, shifts)]) + strength * noise_std * normal, shifts


def test_the_augmentation_is_a_roll_plus_noise_and_a_new_strength_does_not_retrace():
    x = jax.random.normal(jax.random.key(0), (64, 40))
    key = jax.random.key(3)
    traces = []

    @jax.jit
    def augmented(x, strength, key):
        traces.append(1)  # runs only when jax traces
        return augment.augment(x, strength, key, max_shift=8.0, noise_std=0.25)

    uniform, normal = (np.asarray(d) for d in augment.draws(key, x))
    for strength in (0.0, 0.3, 1.7):
        ours = np.asarray(augmented(x, jnp.float32(strength), key))
        expected, shifts = _numpy_augment(np.asarray(x), strength, uniform, normal, 8.0, 0.25)
        np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-6)  # float32: one multiply-add apart
        assert np.abs(shifts).max() <= round(strength * 8.0)
    assert len(traces) == 1  # three strengths, one trace
    assert np.array_equal(np.asarray(augmented(x, jnp.float32(0.0), key)), np.asarray(x))  # 0: untouched
    assert np.abs(shifts).max() > 10  # at 1.7 the shifts reach up to 14 positions, both ways
    assert (shifts < 0).any() and (shifts > 0).any()


def test_the_augmentation_arms_spend_the_same_mean_strength_placed_differently():
    steps, mean = 200, 0.5
    s = {arm: augment.strengths(arm, mean, steps) for arm in augment.SHAPES}
    assert tuple(augment.SHAPES) == AUG_ARMS
    assert not s["none"].any() and np.allclose(s["constant"], mean)
    assert s["falling"][0] == pytest.approx(2 * mean) and s["rising"][0] == pytest.approx(0.0, abs=1e-7)
    assert s["rising"][-1] == pytest.approx(2 * mean, rel=1e-3)  # LR near 0 at the last step
    np.testing.assert_allclose(s["rising"] + s["falling"], 2 * mean, rtol=1e-6)  # mirror images
    for arm in ("falling", "rising"):  # a cosine's position averages 1/2 + 1/(2T) over steps 0..T-1
        assert abs(s[arm].mean() - mean) <= mean / steps + 1e-6
    assert np.all(np.diff(s["rising"]) >= -1e-7)  # rises as the LR falls
    with pytest.raises(ValueError, match="augmentation arm"):
        augment.member("bogus", 0.5, 0)
    config = smoke_config.get_config()
    with pytest.raises(ValueError, match="aug_means"):  # the rising arm would roll by half the sequence
        study.check(dataclasses.replace(config, aug_means=(0.5, 2.0)))
    with pytest.raises(ValueError, match="aug_seeds"):
        study.check(dataclasses.replace(config, aug_seeds=1))
