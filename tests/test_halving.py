"""Specification of successive halving (``osd.successive_halving``): the rungs
and the survivors' ranking, pruned members never running again (member-steps
counted from inside the compiled program), one compilation per rung, the rung
checkpoints (a kill between rungs resumes with the same survivors, bit for
bit), placement over devices, and each bad argument."""

import os

import jax
import numpy as np
import pytest
import search_problem as problem

import optasched as osd

LEARNING_RATES = np.geomspace(1e-3, 0.3, 9).tolist()
SETTINGS = dict(metric="val_loss", mode="min", min_steps=2, max_steps=18, eta=3)


def run(**overrides):
    problem.CALLS.clear()
    arguments = dict(SETTINGS, **overrides)
    configs = arguments.pop("configs", problem.configs(LEARNING_RATES))
    advance = arguments.pop("advance", problem.advance)
    return osd.successive_halving(problem.init, advance, configs, jax.random.key(0), **arguments)


@pytest.fixture(scope="module")
def uninterrupted():
    result = run()
    return result, problem.steps_run()


def test_rungs_grow_by_eta_and_members_shrink_by_eta(uninterrupted):
    result, _ = uninterrupted
    assert result.rungs == [2, 6, 18] and result.sizes == [9, 3, 1]
    assert osd.sweeps._halving.halving_rungs(10, 5, 100, 2) == ([5, 10, 20, 40, 80, 100], [10, 5, 2, 1, 1, 1])
    assert result.ran.sum(axis=1).tolist() == [9, 3, 1]
    assert np.isnan(result.scores[~result.ran]).all() and np.isfinite(result.scores[result.ran]).all()


def test_the_best_third_by_the_metric_goes_on_at_every_rung(uninterrupted):
    result, _ = uninterrupted
    for rung, size in enumerate(result.sizes[1:]):
        ran = np.flatnonzero(result.ran[rung])
        ranked = ran[np.argsort(result.scores[rung, ran], kind="stable")]
        assert set(np.flatnonzero(result.ran[rung + 1])) == set(ranked[:size])
    assert result.survivors.tolist() == np.flatnonzero(result.ran[-1]).tolist()
    best = result.best()
    assert best.index == int(result.survivors[0]) and best.label == result.labels[best.index]
    # the largest learning rates train fastest on this problem: they survive
    assert LEARNING_RATES[best.index] >= LEARNING_RATES[5]


def test_rung_scores_are_those_of_training_each_member_alone(uninterrupted):
    result, _ = uninterrupted
    batch = problem.configs(LEARNING_RATES)

    def train(config, key):  # the same member trained to the first rung by osd.sweep
        return problem.advance(config, problem.init(config, key), result.rungs[0])[1]

    alone = osd.sweep(train, batch, jax.random.key(0), strategy="vmap").metrics["val_loss"]
    # a different compiled program (batch size, fusion): float32 rounding over 2 steps, 1e-5 relative
    np.testing.assert_allclose(result.scores[0], alone, rtol=1e-5)


def test_pruned_members_never_run_again(uninterrupted):
    result, steps_run = uninterrupted
    expected = {member: result.rungs[result.rung_reached[member]] for member in range(len(LEARNING_RATES))}
    assert steps_run == expected  # every member ran exactly to the rung it was pruned at
    assert sum(steps_run.values()) == result.member_steps == 9 * 2 + 3 * 4 + 1 * 12
    assert result.grid_member_steps == 9 * 18
    # the final state's step count says the same
    assert int(np.asarray(result.state["step"])[0]) == 18 and int(np.asarray(result.metrics["step"])[0]) == 18


def test_one_compilation_per_rung():
    traces = []

    def advance(config, state, num_steps):  # a fresh function: nothing compiled for it yet
        traces.append(num_steps)
        return problem.advance(config, state, num_steps)

    problem.CALLS.clear()
    result = osd.successive_halving(problem.init, advance, problem.configs(LEARNING_RATES), 0, **SETTINGS)
    assert traces == [2, 4, 12] and len(traces) == len(result.rungs)


def test_a_kill_between_rungs_resumes_with_the_same_survivors(uninterrupted, tmp_path):
    straight, _ = uninterrupted

    def killed_after(rung):
        def callback(done):
            if done == rung:
                raise KeyboardInterrupt("killed")  # a preemption: the rung's checkpoint, nothing after

        return callback

    with pytest.raises(KeyboardInterrupt):
        run(checkpoint_dir=str(tmp_path), callback=killed_after(0))
    assert sorted(os.listdir(tmp_path)) == ["halving_rung_00000.ckpt"]
    resumed = run(checkpoint_dir=str(tmp_path))
    steps_run = problem.steps_run()
    assert resumed.resumed_from == 0
    assert resumed.survivors.tolist() == straight.survivors.tolist()
    assert (resumed.ran == straight.ran).all()
    np.testing.assert_array_equal(resumed.scores, straight.scores)  # same programs: bit for bit
    assert problem.leaves_equal(resumed.state, straight.state)
    # the first rung was not run again: only the three survivors of rung 0 trained, from step 2 on
    survivors_of_rung_0 = np.flatnonzero(straight.ran[1])
    assert sorted(steps_run) == survivors_of_rung_0.tolist()
    assert sum(steps_run.values()) == straight.member_steps - 9 * 2


def test_a_partial_newest_checkpoint_falls_back_to_the_one_before(uninterrupted, tmp_path):
    straight, _ = uninterrupted
    run(checkpoint_dir=str(tmp_path))
    newest = tmp_path / "halving_rung_00001.ckpt"
    with open(newest, "r+b") as f:
        f.truncate(100)  # a kill during a (non-atomic) write
    resumed = run(checkpoint_dir=str(tmp_path))
    assert resumed.resumed_from == 0
    assert resumed.survivors.tolist() == straight.survivors.tolist()
    np.testing.assert_array_equal(resumed.scores, straight.scores)


def test_a_checkpoint_of_another_search_is_refused(tmp_path):
    run(checkpoint_dir=str(tmp_path), max_steps=6)
    with pytest.raises(ValueError, match="another search.*differs in .*rungs"):
        run(checkpoint_dir=str(tmp_path))
    with pytest.raises(ValueError, match="differs in .*batch values"):
        run(checkpoint_dir=str(tmp_path), max_steps=6, configs=problem.configs(LEARNING_RATES[::-1]))
    fresh = run(checkpoint_dir=str(tmp_path), overwrite=True)
    assert fresh.resumed_from == -1 and fresh.rungs == [2, 6, 18]


def test_sharded_over_devices_as_on_one_device():
    # 8 and 4 members shard over the 4 test devices; 2 and 1 run on the first one
    learning_rates = LEARNING_RATES[:8]
    settings = dict(SETTINGS, eta=2, min_steps=2, max_steps=16)
    configs = problem.configs(learning_rates)
    sharded = osd.successive_halving(problem.init, problem.advance, configs, 0, **settings)
    alone = osd.successive_halving(
        problem.init, problem.advance, configs, 0, devices=jax.devices()[:1], **settings
    )
    assert len(jax.devices()) == 4 and sharded.sizes == [8, 4, 2, 1]
    assert sharded.survivors.tolist() == alone.survivors.tolist()
    np.testing.assert_allclose(sharded.scores, alone.scores, rtol=1e-5)  # other programs: float32 rounding
    mesh = jax.sharding.Mesh(np.array(jax.devices()), ("sweep",))
    placed = osd.sweeps._population.place(configs.config, mesh, jax.devices()[0])
    assert len(placed["id"].sharding.device_set) == 4  # the member axis is split over the devices
    two = jax.tree.map(lambda x: x[:2], configs.config)
    small = osd.sweeps._population.place(two, mesh, jax.devices()[0])
    assert small["id"].sharding.device_set == {jax.devices()[0]}


def test_a_member_built_on_train_loop_that_diverges_ranks_last():
    def advance(config, state, num_steps):  # the protocol's advance may return osd.train_loop's result
        def step(state, _):
            state, _ = problem.advance(config, state, 1)
            return state, {"val_loss": problem.loss(state["params"], problem.X_VAL, problem.Y_VAL)}

        return osd.train_loop(step, state, num_steps)

    learning_rates = [0.01, 0.03, 0.1, 1e30]  # 1e30 diverges at once: a NaN score
    result = run(configs=problem.configs(learning_rates), eta=2, min_steps=2, max_steps=8, advance=advance)
    assert np.isnan(result.scores[0, 3]) and result.rung_reached[3] == 0
    assert result.survivors.tolist() == [2] and result.best().label == "lr=0.1"


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(eta=1), "eta must be an int >= 2, got 1"),
        (dict(eta=2.5), "eta must be an int >= 2, got 2.5"),
        (dict(min_steps=20), "min_steps .* must be at most max_steps .*, got min_steps=20, max_steps=18"),
        (dict(min_steps=0), "min_steps must be an int >= 1, got 0"),
        (dict(max_steps=None), "max_steps must be an int >= 1, got None"),
        (dict(mode="lowest"), "mode must be one of"),
        (dict(metric="accuracy"), "metric 'accuracy' is not among advance's metrics"),
        (dict(configs={"lr": np.float32(0.1)}), "configs must be a stacked pytree"),
    ],
)
def test_bad_arguments_are_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        run(**overrides)
