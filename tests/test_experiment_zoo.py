"""The zoo end to end on its smoke config (twice: the same seed gives the same
numbers), and the MNIST-1D reference architectures it trains."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optasched as osd
from experiments.common.models import CNN, MLP, Conv1D
from experiments.common.testing import numbers, run_smoke
from experiments.zoo.configs import default
from experiments.zoo.train import FAMILIES, member


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("zoo")
    return out, run_smoke("zoo", out)


def test_smoke_run_writes_every_reported_number_and_the_plots(smoke):
    out, report = smoke
    config, results = report["config"], report["results"]
    (model,) = config["models"]
    summary = results["models"][model]
    assert list(summary["families"]) == config["families"]
    for row in summary["families"].values():
        assert row["peak_lr"] in config["learning_rates"]
        assert len(row["test_accuracies"]) == config["seeds"]
        assert 0.0 <= row["test_accuracy"]["mean"] <= 1.0
    for baseline in ("constant", "cosine"):  # paired, Holm-adjusted, every other family
        comparison = summary["comparisons"][f"vs_{baseline}"]
        assert set(comparison) == set(config["families"]) - {baseline}
        assert all(0.0 <= c["p_value"] <= c["p_holm"] <= 1.0 for c in comparison.values())
    points = config["steps"] // config["eval_every"]
    assert len(summary["curves"]["test_accuracy"]["cosine"]) == len(results["eval_steps"]) == points
    assert summary["validation_choice"]["family"] in config["families"]
    for png in ("lr_curves.png", "test_accuracy.png", "paired_differences.png"):
        assert (out / png).stat().st_size > 2000


def test_same_seed_same_numbers(smoke, tmp_path):
    assert numbers(run_smoke("zoo", tmp_path)) == numbers(smoke[1])


def test_every_family_stacks_into_one_sweep():
    config = default.get_config()
    assert config.families == FAMILIES
    stacked = osd.stack([member(family, 0.01, 0, config) for family in FAMILIES])  # one pytree, one structure
    assert np.asarray(stacked["schedule_free"]).tolist() == [f == "schedule_free" for f in FAMILIES]


def test_reference_architectures():
    def count(model):
        return sum(p.size for p in jax.tree.leaves(model.init(jax.random.key(0), jnp.zeros((1, 40)))))

    assert count(MLP()) == 15_210 and count(CNN()) == 5_210  # the MNIST-1D paper's models
    x = jax.random.normal(jax.random.key(1), (3, 40, 4))
    ours = Conv1D(25, kernel_size=5, stride=2, padding=1)
    params = ours.init(jax.random.key(2), x)
    reference = nn.Conv(25, (5,), strides=2, padding=[(1, 1)]).apply(params, x)
    np.testing.assert_allclose(ours.apply(params, x), reference, rtol=1e-5, atol=1e-5)
