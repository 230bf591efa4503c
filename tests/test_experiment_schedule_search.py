"""The schedule-search study end to end on its smoke config, and its noisy quadratic model by hand."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.common.testing import run_smoke
from experiments.schedule_search import nqm
from experiments.schedule_search.report import describe


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("schedule_search")
    return run_smoke("schedule_search", out)


def test_smoke_run_answers_every_declared_question_with_its_compute(smoke):
    config, results = smoke["config"], smoke["results"]
    assert smoke["provenance"]["commit"]
    assert list(results["answers"]) == [q["name"] for q in smoke["analysis_plan"]]
    for model, prefix, steps, seeds in (("searches", "", config["steps"], config["seeds"]),
                                        ("searches_cnn", "cnn_", config["cnn_steps"], config["cnn_seeds"])):
        searches = results[model]
        grid_steps = steps * len(config["grid_families"]) * len(config["grid_peaks"])
        assert searches["grid"]["member_steps"] == grid_steps
        for name in ("random", "halving", "pbt", "hd"):  # no search spends more than the grid
            assert searches[name]["member_steps"] <= grid_steps
            assert len(searches[name]["test_accuracies"]) == seeds
            assert 0.0 <= results["answers"][f"{prefix}{name}_vs_grid"]["p_value"] <= 1.0
        assert searches["halving"]["member_steps"] < grid_steps  # three rungs of 16, 4, 1 members
    assert results["answers"]["cnn_pbt_vs_grid"]["correction_family"] == "vs_grid_cnn"
    lo_wd, hi_wd = config["pbt_weight_decay_range"]  # PBT over LR and weight decay keeps both in range
    for run in results["runs"]:
        assert all(lo_wd <= wd <= hi_wd for wd in run["pbt_wd"]["weight_decay_trajectory"])
    assert results["searches"]["pbt_wd"]["member_steps"] == results["searches"]["grid"]["member_steps"]
    assert results["hypergradient"]["adam_hd"]["runs"] == config["seeds"] * 4
    low, high = config["hd_search_lr_range"]
    for run in results["runs"] + results["runs_cnn"]:  # Adam-HD's safeguard holds in the search too
        assert all(low <= lr <= high for lr in run["hd"]["lr_final"])
    trajectory = results["pbt_schedule"]["lr_trajectories"][0]
    assert len(trajectory) == config["steps"] // config["pbt_ready"]
    assert all(min(config["grid_peaks"]) <= lr <= max(config["grid_peaks"]) for lr in trajectory)
    assert set(results["short_horizon"]["horizons"]) == {str(h) for h in (*config["nqm_horizons"],
                                                                          config["nqm_steps"])}
    mlp = results["short_horizon_mlp"]
    assert set(mlp["chosen_lr_mean"]) == {str(h) for h in config["mlp_horizons"]}
    lo_lr, hi_lr = config["mlp_lr_bounds"]
    assert all(lo_lr <= lr <= hi_lr for row in mlp["per_seed"] for lr in row["chosen_lr"].values())
    low, high = config["hd_lr_range"]
    guarded = results["hypergradient"]["with"]
    for seed in guarded["per_seed"]:  # the safeguard holds the adapted LR inside its range on every run
        assert all(low <= lr <= high for lr in seed["lr_min"] + seed["lr_max"] + seed["lr_final"])
    assert results["answers"]["hd_failures"]["test"] == "fisher_exact"
    assert "Q4" in describe(smoke)


def test_nqm_moments_match_sampled_sgd():
    """The mean / variance recursion is SGD's expected loss (Monte Carlo over 4000 noisy runs)."""
    dim, lr, noise, steps = 5, 0.5, 0.3, 20
    h = nqm.curvatures(dim)
    start = (jnp.ones(dim), jnp.zeros(dim))

    def sgd(key):
        def step(theta, k):
            grad = h * theta + jnp.sqrt(noise * h) * jax.random.normal(k, (dim,))
            return theta - lr * grad, None

        theta, _ = jax.lax.scan(step, jnp.ones(dim), jax.random.split(key, steps))
        return 0.5 * jnp.sum(h * theta**2)

    sampled = jax.vmap(sgd)(jax.random.split(jax.random.key(0), 4000))
    exact = float(nqm.constant_run(start, lr, h, noise, steps))
    # 4000 samples: the Monte Carlo mean's standard error is std / 63; allow 4 of them
    assert abs(float(sampled.mean()) - exact) < 4 * float(sampled.std()) / np.sqrt(4000)


def test_meta_gradient_over_the_full_run_finds_the_best_constant_lr():
    h = nqm.curvatures(20)
    state = nqm.initial_state(20, jax.random.key(1))
    lrs = np.geomspace(1e-2, 1.9, 200)
    best, _, _ = nqm.best_constant(state, h, 0.01, 100, lrs)
    run = nqm.online(state, h, 0.01, 100, 100, meta_steps=300, meta_lr=0.05, initial_lr=0.1)
    assert run["lrs"][0] == pytest.approx(best, rel=0.05)  # the grid's spacing is 2.6%


def test_online_refuses_a_horizon_that_does_not_divide_the_run():
    with pytest.raises(ValueError, match="multiple of horizon=3"):
        nqm.online(nqm.initial_state(3, jax.random.key(0)), nqm.curvatures(3), 0.1, 10, 3, 1, 0.1, 0.1)
