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
from experiments.synchronized import bn, layers, layers_transformer
from experiments.synchronized.configs import smoke as smoke_config


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
    dt = parts["DT"]
    record = results["declared"]["dt_deeper_slower_vs_layerwise"]
    differences = np.subtract(dt["deeper_slower"]["test_loss"], dt["layerwise_constant"]["test_loss"])
    assert record["mean"] == pytest.approx(differences.mean())
    for family in ("A", "B", "D", "DT"):
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
