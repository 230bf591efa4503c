"""The lottery-ticket study: its smoke config end to end (twice: determinism; the declared
questions answered as declared; the reanalysis of stored records), the statistics it rests on
(the 2x identity of the pair-averaged interaction, prediction intervals for published trials),
and the invariants of the science (pruned weights stay exactly zero, per-layer pruning drops
exactly the notebook's counts, masks stay nested over rounds)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import compact, stats, testing
from experiments.lottery_tickets import analysis, reanalyse
from experiments.lottery_tickets import train as T
from experiments.lottery_tickets.configs import smoke


def test_smoke_runs_and_is_deterministic(tmp_path):
    first = testing.run_smoke("lottery_tickets", tmp_path / "a")
    second = testing.run_smoke("lottery_tickets", tmp_path / "b")
    untimed = lambda report: {k: v for k, v in testing.numbers(report).items() if k not in ("timing", "raw")}
    assert untimed(first) == untimed(second)
    results = first["results"]
    for key in ("declared", "answer", "anchor", "crossed", "variants", "transfer", "curves", "raw"):
        assert key in results, key
    assert results["max_pruned_magnitude"] == 0.0
    # the declared questions, exactly those of the config, each answered by its declared test
    config = smoke.get_config()
    assert [q["name"] for q in first["analysis_plan"]] == [q.name for q in config.analyses]
    assert list(results["declared"]) == [q.name for q in config.analyses]
    for record in results["declared"].values():
        assert record["test"] == "one_sample_t" and record["n"] == config.seeds
    # the primary question is asked on both draws (the transfer runs at every transfer sparsity)
    assert set(results["crossed"]) == {"0.9/original", "0.9/fresh"}
    cell = results["crossed"]["0.9/original"]
    assert len(cell["ticket"]) == len(cell["ticket"][0]) == 3
    assert cell["home_advantage"]["exploratory"] is True
    # Q3 reports only the seeds it did not choose on
    variants = results["variants"]["0.9"]
    assert variants["report_seeds"] == list(range(config.selection_seeds, config.seeds))
    assert all(arm["n"] == config.seeds - config.selection_seeds for arm in variants["arms"].values())
    assert (tmp_path / "a" / "sparsity_curves.png").exists()
    assert (tmp_path / "a" / "crossed_matrix.png").exists()
    # the declared statistic is H(ticket) - H(reinit) per seed, recomputed here from the raw records
    record = analysis.Record(results["raw"], config)
    home = lambda arm: stats.home_advantage(record.matrix(arm, 0.9))
    d = home("ticket") - home("reinit")
    declared = results["declared"]["tied_to_schedule_90_original"]["mean"]
    np.testing.assert_allclose(declared, d.mean(), rtol=0, atol=1e-9)  # float64 sums of the same values
    # reanalysing the stored records (no jax) gives the same statistics, also from the compacted copy
    again = reanalyse.reanalyse(first)["results"]
    assert untimed({"results": again}) == untimed(first)
    small = compact.compact(first, table=["runs", "chains"])  # floats to 6 significant digits
    declared = reanalyse.reanalyse(small)["results"]["declared"]
    for name, record in results["declared"].items():
        np.testing.assert_allclose(declared[name]["mean"], record["mean"], rtol=0, atol=1e-4)


def test_pair_averaged_interaction_is_twice_the_home_advantage():
    """mean over pairs {A, B} of X(AA) + X(BB) - X(AB) - X(BA) == 2 H for any number of schedules."""
    rng = np.random.default_rng(0)
    for k in (2, 3, 4, 5):
        matrix = rng.normal(70.0, 5.0, size=(k, k, 6))
        interaction = np.mean(
            [
                matrix[a, a] + matrix[b, b] - matrix[a, b] - matrix[b, a]
                for a in range(k)
                for b in range(a + 1, k)
            ],
            axis=0,
        )
        home = np.mean([matrix[b, b] - matrix[a, b] for b in range(k) for a in range(k) if a != b], axis=0)
        np.testing.assert_allclose(interaction, 2 * home, rtol=0, atol=1e-12)  # float64: rounding only
        np.testing.assert_allclose(stats.home_advantage(matrix), home, rtol=0, atol=1e-12)


def test_published_trials_are_checked_against_a_prediction_interval():
    ours = [73.0, 74.0, 72.0, 75.0]
    check = analysis.check_trials(ours, (74.3, 80.0))
    low, high = check["prediction_interval"]["low"], check["prediction_interval"]["high"]
    # mean 73.5, sd 1.291, t(3, 0.975) 3.1824: half-width 3.1824 * 1.291 * sqrt(1 + 1/4) = 4.5935
    np.testing.assert_allclose([low, high], [73.5 - 4.5935, 73.5 + 4.5935], atol=1e-3)
    assert [t["inside"] for t in check["trials"]] == [True, False]


def test_pruned_weights_stay_exactly_zero_after_every_update():
    hidden = 16
    params = T.init_params(jax.random.key(0), hidden)
    mask = T.random_mask(jax.random.key(1), T.drop_counts(0.8, hidden), hidden)
    params = T.apply_mask(params, mask)
    opt_state = T.ADAM.init(params)
    x = jax.random.normal(jax.random.key(2), (8, T.INPUTS))
    y = jnp.arange(8, dtype=jnp.int32) % T.CLASSES
    step = jax.jit(T.masked_adam_step)
    start = params
    for _ in range(5):  # a large LR: any leak would show
        params, opt_state, _ = step(params, opt_state, mask, jnp.float32(0.5), x, y)
        for p, m in zip(jax.tree.leaves(params), jax.tree.leaves(mask)):
            assert np.all(np.asarray(p)[~np.asarray(m)] == 0.0)
    moved = [
        np.any(np.asarray(p)[np.asarray(m)] != np.asarray(s)[np.asarray(m)])
        for p, s, m in zip(jax.tree.leaves(params), jax.tree.leaves(start), jax.tree.leaves(mask))
    ]
    assert all(moved)  # the kept weights do train


def test_prune_drops_the_notebook_counts_per_layer_and_nests():
    hidden = 16
    params = T.init_params(jax.random.key(3), hidden)
    scores = jax.tree.map(jnp.abs, params)
    drops = T.drop_counts([0.5, 0.9], hidden)
    sizes = [T.layer_size(fi, fo) for fi, fo in T.layer_sizes(hidden)]
    np.testing.assert_array_equal(drops[1], [int(0.9 * n) for n in sizes])
    half = T.prune(scores, jnp.asarray(drops[0]))
    for name, n, d in zip(T.LAYERS, sizes, drops[0]):
        kept = sum(int(np.sum(m)) for m in jax.tree.leaves(half[name]))
        assert kept == n - d
    # pruning the masked weights further keeps every earlier zero pruned (ties broken by position)
    further = T.prune(jax.tree.map(jnp.abs, T.apply_mask(params, half)), jnp.asarray(drops[1]))
    for a, b in zip(jax.tree.leaves(half), jax.tree.leaves(further)):
        assert not np.any(np.asarray(b) & ~np.asarray(a))


def test_rewinding_chain_keeps_masks_exact():
    hidden, steps = 8, 6
    data = {
        "x_train": np.random.default_rng(0).normal(size=(1, 20, T.INPUTS)).astype(np.float32),
        "y_train": (np.arange(20, dtype=np.int32) % T.CLASSES)[None],
        "x_test": np.zeros((1, 5, T.INPUTS), np.float32),
        "y_test": np.zeros((1, 5), np.int32),
    }
    from experiments.lottery_tickets.study import schedule

    config = {
        "params0": T.init_params(jax.random.key(0), hidden),
        "drops": T.drop_counts([0.0, 0.5, 0.8], hidden),
        "first_schedule": schedule(1e-2, 1e-2, steps),
        "schedule": schedule(1e-2, 0.0, steps),
        "rewind_step": jnp.int32(2),
        "carry_weights": jnp.int32(0),
        "data_index": jnp.int32(0),
    }
    out = jax.jit(
        lambda c: T.find_ticket(
            c, None, data=data, steps=steps, batch_size=5, score_step=4, keep_rounds=(1, 2), rewinding=True
        )
    )(config)
    np.testing.assert_array_equal(np.asarray(out["rounds"]["max_pruned"]), 0.0)
    np.testing.assert_allclose(np.asarray(out["rounds"]["sparsity"]), [0.0, 0.5, 0.8], atol=0.01)
    for a, b in zip(
        jax.tree.leaves(jax.tree.map(lambda m: m[0], out["masks"])),
        jax.tree.leaves(jax.tree.map(lambda m: m[1], out["masks"])),
    ):
        assert not np.any(np.asarray(b) & ~np.asarray(a))  # 80% mask inside the 50% mask
