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
from experiments.synchronized import augment, bn, layers, layers_transformer, study, temperature
from experiments.synchronized.configs import smoke as smoke_config
from experiments.synchronized.configs.default import AUG_ARMS, TAIL_CLASSES


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
    e = parts["E"]
    record = results["declared"]["e_cosine_tau_vs_const_0.1"]
    tail = list(TAIL_CLASSES)
    differences = (np.asarray(e["fixed"]["cosine_tau"]["test_per_class"])[:, tail].mean(1)
                   - np.asarray(e["fixed"]["const_0.1"]["test_per_class"])[:, tail].mean(1))
    assert record["mean"] == pytest.approx(differences.mean())
    assert e["train_counts"] == temperature.long_tail_counts(report["config"]["temp_n_max"],
                                                             report["config"]["temp_imbalance"])
    dt = parts["DT"]
    record = results["declared"]["dt_deeper_slower_vs_layerwise"]
    differences = np.subtract(dt["deeper_slower"]["test_loss"], dt["layerwise_constant"]["test_loss"])
    assert record["mean"] == pytest.approx(differences.mean())
    el = parts["EL"]  # part EL: each arm at the peak LR with the best mean balanced validation accuracy
    record = results["declared"]["el_coupled_vs_const_0.1"]

    def tail_at_chosen(run):
        validation = np.asarray(run["validation_per_class"]).mean(axis=2)  # [lr, seed]: balanced
        i = int(np.argmax(validation.mean(axis=1)))
        return np.asarray(run["test_per_class"])[i][:, tail].mean(1), el["lrs"][i]

    (coupled, lr_coupled), (constant, _) = (tail_at_chosen(el["cosine"][a]) for a in ("coupled", "const_0.1"))
    assert record["mean"] == pytest.approx((coupled - constant).mean())
    assert results["temperature_lr"]["per_arm"]["cosine"]["coupled"]["lr"] == lr_coupled
    assert el["lrs"] == list(report["config"]["temp_lr_grid"])
    for family in ("A", "B", "C", "D", "DT", "E", "EL"):
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


# -- part E ---------------------------------------------------------------------------------------


def test_the_long_tail_keeps_the_declared_count_of_each_class_in_order():
    assert temperature.long_tail_counts(300, 100) == [300, 180, 108, 65, 39, 23, 14, 8, 5, 3]
    y = np.tile(np.arange(10), 400)
    data = {"x_train": np.arange(len(y))[:, None].astype(np.float32), "y_train": y, "x_test": y[:10, None],
            "y_test": y[:10]}
    kept = temperature.long_tail(data, 300, 100)
    assert np.bincount(kept["y_train"]).tolist() == temperature.long_tail_counts(300, 100)
    first = kept["x_train"][kept["y_train"] == 9, 0]
    assert first.tolist() == [9, 19, 29]  # the first examples of the class, in order
    assert kept["x_test"] is data["x_test"]  # the balanced sets are untouched
    with pytest.raises(ValueError, match="n_max=500"):
        temperature.long_tail(data, 500, 100)


def test_the_temperature_arms_are_kukleva_s_cosine_constants_and_the_coupled_lr():
    t = np.arange(0, 61)
    cosine_tau = temperature.kukleva(0.1, 1.0, 20)
    expected = 0.1 + 0.9 * (1 + np.cos(2 * np.pi * t / 20)) / 2  # Kukleva et al. 2023, period 20
    np.testing.assert_allclose(jax.vmap(cosine_tau)(jnp.asarray(t)), expected, atol=1e-6)  # float32 cos
    constant = temperature.kukleva(0.2, 0.2, 20)
    np.testing.assert_allclose(jax.vmap(constant)(jnp.asarray(t)), 0.2, rtol=1e-6)
    # coupled to a cosine LR over T steps, the temperature is Kukleva's cosine with period 2T
    coupled = osd.coupled_temperature(osd.cosine(0.05, 30), 0.1, 1.0)
    np.testing.assert_allclose(jax.vmap(coupled)(jnp.asarray(t[:31])),
                               jax.vmap(temperature.kukleva(0.1, 1.0, 60))(jnp.asarray(t[:31])), atol=1e-6)
    config = smoke_config.get_config()
    shifted = temperature.member("cosine_tau_shifted", "fixed", 0, config)  # half a period later
    shifted = temperature.kukleva(shifted["tau_low"], shifted["tau_high"], 20)
    np.testing.assert_allclose(jax.vmap(shifted)(jnp.asarray(t)), 1.1 - expected, atol=1e-6)
    with pytest.raises(ValueError, match="needs a moving LR"):
        temperature.member("coupled", "fixed", 0, config)
    # part EL: the peak LR becomes a leaf (one program for every LR); the fixed LR stays at it
    assert "peak_lr" not in temperature.member("const_0.1", "fixed", 0, config)  # part E: built in
    at = temperature.member("const_0.1", "fixed", 0, config, peak_lr=0.2)
    assert at["peak_lr"] == at["lr_end"] == 0.2
    assert temperature.member("coupled", "cosine", 0, config, peak_lr=0.2)["lr_end"] == 0.0
    with pytest.raises(ValueError, match="peak_lr"):
        temperature.member("const_0.1", "fixed", 0, config, peak_lr=0.0)
    with pytest.raises(ValueError, match="temp_lr_grid"):
        study.check(dataclasses.replace(config, temp_lr_grid=(0.05,)))
    with pytest.raises(ValueError, match="temperature arm"):
        temperature.member("bogus", "fixed", 0, config)


def test_a_new_temperature_schedule_does_not_retrace_the_training_program():
    import dataclasses

    config = dataclasses.replace(smoke_config.get_config(), temp_steps=4, temp_records=1, temp_period=4,
                                 batch_size=8)  # fmt: skip
    rng = np.random.default_rng(0)
    data = {"x_train": rng.normal(size=(40, 40)).astype(np.float32), "y_train": np.arange(40) % 10,
            "x_val": rng.normal(size=(20, 40)).astype(np.float32), "y_val": np.arange(20) % 10,
            "x_test": rng.normal(size=(20, 40)).astype(np.float32), "y_test": np.arange(20) % 10}
    train = temperature.make_train(config, data, config.temp_steps)
    traces = []

    def counted(m, key):
        traces.append(1)
        return train(m, key)

    run = jax.jit(counted)
    taus = {}
    for arm, schedule in (("const_0.1", "fixed"), ("cosine_tau", "fixed"), ("coupled", "cosine")):
        m = jax.tree.map(jnp.asarray, temperature.member(arm, schedule, 0, config))
        taus[arm] = np.asarray(run(m, jax.random.key(0))["tau"])
    assert len(traces) == 1  # three temperature schedules, one trace
    # the one record is the tau of the last step, 3: Kukleva's with period 4 is
    # 0.1 + 0.9 (1 + cos(3 pi / 2)) / 2; coupled, 0.1 + 0.9 x the cosine LR's factor at 3 of 4 steps (float32)
    np.testing.assert_allclose(taus["const_0.1"], [0.1], rtol=1e-6)
    np.testing.assert_allclose(taus["cosine_tau"], [0.55], rtol=1e-5)
    lr_factor = (1 + np.cos(np.pi * 3 / 4)) / 2
    np.testing.assert_allclose(taus["coupled"], [0.1 + 0.9 * lr_factor], rtol=1e-5)


# -- part DT --------------------------------------------------------------------------------------


def test_transformer_layer_arms_give_each_scanned_block_its_own_depth():
    config = smoke_config.get_config()  # 2 blocks: depths 0 (embeddings), 1-2 (blocks), 3 (final LN, head)
    deeper = layers_transformer.member("deeper_slower", 0, config)
    assert deeper["decay_steps"].tolist() == [15, 20, 25, 30]  # 30 steps, the first depth over half
    layerwise = layers_transformer.member("layerwise_constant", 0, config)
    np.testing.assert_allclose(layerwise["peaks"], config.layer_tf_peak_lr * 0.75 ** np.arange(3, -1, -1),
                               rtol=1e-6)  # fmt: skip
    setup = layers_transformer.setup_for(config)
    params = layers_transformer.tr.model(setup).init(
        jax.random.key(0), jnp.zeros((1, setup.context), jnp.int32), jnp.bool_(False), setup.depth)["params"]
    depth = layers_transformer.depth_of(setup.depth)
    seen = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        name = osd.bridge._layerwise.path_name(path)
        d = depth(name, leaf)
        if name.startswith("layers"):
            assert list(d) == [1, 2] and leaf.shape[0] == setup.depth  # one depth per stacked block
        seen[name.split("/")[0]] = d
    assert seen["embed"] == seen["positions"] == 0 and seen["head"] == seen["final_ln"] == 3
    with pytest.raises(ValueError, match="cosine must end after the warmup"):
        layers_transformer.member("deeper_slower", 0, dataclasses.replace(config, layer_tf_warmup=15))
