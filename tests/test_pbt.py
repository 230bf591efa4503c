"""Specification of population-based training (``osd.pbt``): the same lineage
from the same key, exploit copying parameters, optimizer state and
hyperparameters together (one gather), explore within the declared ranges,
the generation checkpoints (a kill right after an exploit resumes to the same
final population), the exported schedule replaying the winner's trajectory,
each bad argument, and the README's examples."""

import re
from pathlib import Path

import jax
import numpy as np
import pytest
import search_problem as problem

import optasched as osd

LEARNING_RATES = np.geomspace(1e-3, 0.1, 8).tolist()
SETTINGS = dict(
    hyperparams={"lr.value": osd.explore(1e-4, 0.5)}, steps=12, ready=3, metric="val_loss", fraction=0.25
)
README = Path(__file__).resolve().parent.parent / "README.md"


def run(key=0, **overrides):
    problem.CALLS.clear()
    arguments = dict(SETTINGS, **overrides)
    configs = arguments.pop("configs", problem.configs(LEARNING_RATES))
    return osd.pbt(problem.init, problem.advance, configs, jax.random.key(key), **arguments)


@pytest.fixture(scope="module")
def uninterrupted():
    return run()


def test_the_same_key_gives_the_same_lineage(uninterrupted):
    again = run()
    np.testing.assert_array_equal(again.parents, uninterrupted.parents)
    np.testing.assert_array_equal(again.scores, uninterrupted.scores)
    np.testing.assert_array_equal(again.hyperparams["lr.value"], uninterrupted.hyperparams["lr.value"])
    assert problem.leaves_equal(again.state, uninterrupted.state)
    other = run(key=1)
    assert not np.array_equal(other.hyperparams["lr.value"], uninterrupted.hyperparams["lr.value"])


def test_truncation_selection_replaces_the_worst_by_the_best(uninterrupted):
    result = uninterrupted
    assert result.scores.shape == (4, 8) and result.parents.shape == (3, 8)
    for generation, parents in enumerate(result.parents):
        order = np.argsort(result.scores[generation], kind="stable")
        copied = np.flatnonzero(parents != np.arange(8))
        assert set(copied) == set(order[-2:])  # fraction 0.25 of 8: the worst two
        assert set(parents[copied]) <= set(order[:2])  # each copies one of the best two
    assert result.member_steps == 8 * 12


def test_every_generation_runs_the_same_compiled_program():
    traces = []

    def advance(config, state, num_steps):  # a fresh function: nothing compiled for it yet
        traces.append(num_steps)
        return problem.advance(config, state, num_steps)

    problem.CALLS.clear()
    result = osd.pbt(problem.init, advance, problem.configs(LEARNING_RATES), 0, **SETTINGS)
    assert traces == [3] and result.scores.shape[0] == 4  # four generations, the last without exploit


def test_explore_multiplies_a_copied_members_value_by_a_declared_factor_within_the_range():
    result = run(hyperparams={"lr.value": osd.explore(2e-3, 0.09, factors=(0.5, 2.0))})
    values = result.hyperparams["lr.value"]
    for generation, parents in enumerate(result.parents):
        for member, parent in enumerate(parents):
            before, after = values[generation, parent], values[generation + 1, member]
            if parent == member:
                assert after == before  # not copied: unchanged
            else:
                low, high = np.float32(2e-3), np.float32(0.09)
                explored = [np.clip(np.float32(f) * before, low, high) for f in (0.5, 2.0)]
                assert after in explored and np.float32(2e-3) <= after <= np.float32(0.09)


def test_exploit_copies_parameters_optimizer_state_and_hyperparameters_together():
    # factors (1,): explore changes nothing, so a copy must equal its donor from the exploit on, bit for bit
    result = run(steps=6, hyperparams={"lr.value": osd.explore(1e-4, 0.5, factors=(1.0,))})
    parents = result.parents[0]
    copied = np.flatnonzero(parents != np.arange(8))
    assert len(copied) == 2
    for member in copied:
        donor = int(parents[member])
        member_of = lambda tree, i: jax.tree.map(lambda x: np.asarray(x)[i], tree)  # noqa: E731
        assert problem.leaves_equal(member_of(result.state, member), member_of(result.state, donor))
        assert result.hyperparams["lr.value"][1, member] == result.hyperparams["lr.value"][0, donor]
        assert result.configs["lr"].value[member] == result.configs["lr"].value[donor]
        assert result.configs["id"][member] == result.configs["id"][donor]  # the whole config is the donor's
        assert result.scores[1, member] == result.scores[1, donor]
    # momentum buffers too: the optimizer state is part of the gather
    trace = result.state["opt_state"][0].trace["w"]
    np.testing.assert_array_equal(trace[copied[0]], trace[parents[copied[0]]])


def test_a_kill_right_after_an_exploit_resumes_to_the_same_final_population(uninterrupted, tmp_path):
    def kill_after(generation):
        def callback(done):
            if done == generation:
                raise KeyboardInterrupt("killed")

        return callback

    with pytest.raises(KeyboardInterrupt):
        run(checkpoint_dir=str(tmp_path), callback=kill_after(1))
    resumed = run(checkpoint_dir=str(tmp_path))
    assert resumed.resumed_from == 1
    assert sum(problem.steps_run().values()) == 8 * 6  # generations 2 and 3 only
    for name in ("scores", "parents"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(uninterrupted, name))
    np.testing.assert_array_equal(resumed.hyperparams["lr.value"], uninterrupted.hyperparams["lr.value"])
    assert problem.leaves_equal(resumed.state, uninterrupted.state)
    assert problem.leaves_equal(resumed.configs, uninterrupted.configs)
    # a kill after the exploit but before its checkpoint: the generation is redone from the one before
    second = tmp_path / "second"
    with pytest.raises(KeyboardInterrupt):
        run(checkpoint_dir=str(second), callback=kill_after(2))
    (second / "pbt_generation_00002.ckpt").unlink()
    # the newest two are kept: generation 0's file went when generation 2's was saved
    assert sorted(p.name for p in second.iterdir()) == ["pbt_generation_00001.ckpt"]
    again = run(checkpoint_dir=str(second))
    assert again.resumed_from == 1 and problem.leaves_equal(again.state, uninterrupted.state)
    np.testing.assert_array_equal(again.parents, uninterrupted.parents)


def test_a_checkpoint_of_another_search_is_refused(tmp_path):
    run(checkpoint_dir=str(tmp_path))
    with pytest.raises(ValueError, match="another search.*differs in key"):
        run(key=5, checkpoint_dir=str(tmp_path))
    with pytest.raises(ValueError, match="differs in .*fraction"):
        run(checkpoint_dir=str(tmp_path), fraction=0.5)


def test_the_exported_schedule_replays_the_winners_trajectory(uninterrupted):
    result = uninterrupted
    winner = result.best().index
    assert winner == int(np.argmin(result.scores[-1]))
    ancestry = result.ancestry(winner)
    assert ancestry[-1] == winner and len(ancestry) == 4
    for generation in range(2, -1, -1):
        assert ancestry[generation] == result.parents[generation, ancestry[generation + 1]]
    trajectory = result.trajectory(winner)
    steps = np.arange(result.scores.shape[0] * result.ready)
    replay = result.schedule(winner)
    values = np.asarray(jax.jit(jax.vmap(replay))(steps))
    np.testing.assert_array_equal(values, trajectory[steps // result.ready])  # the values trained with
    assert replay.family == "staircase"
    linear = result.schedule(winner, interpolation="linear")
    np.testing.assert_array_equal(np.asarray(linear(steps[:: result.ready])), trajectory)
    # in a fresh run the replayed schedule sets the learning rate of each step (optax's count)
    config = {"lr": replay, "id": np.int32(0)}
    state = problem.init(config, jax.random.key(0))
    rates = []
    for _ in steps:
        rates.append(float(replay(state["opt_state"][1].count)))  # sgd's count: the step the next update uses
        state, _ = problem.advance(config, state, 1)
    np.testing.assert_array_equal(np.float32(rates), trajectory[steps // result.ready])


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(configs=problem.configs([0.1])), "population .* at least 2 members, got 1"),
        (dict(fraction=0.0), r"fraction must be in \(0, 0.5\], got 0.0"),
        (dict(fraction=0.75), r"fraction must be in \(0, 0.5\], got 0.75"),
        (dict(hyperparams={"id": osd.explore(0.0, 1.0)}), "'id', which is not a float leaf"),
        (dict(hyperparams={"lr.peak": osd.explore(0.0, 1.0)}), "'lr.peak', not a leaf of the config"),
        (dict(hyperparams={"lr.value": (0.0, 1.0)}), r"hyperparams\['lr.value'\] must be osd.explore"),
        (dict(steps=10), "steps must be a multiple of ready=3, got steps=10"),
        (dict(ready=0), "ready must be an int >= 1, got 0"),
    ],
)
def test_bad_arguments_are_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        run(**overrides)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(low=1.0, high=0.5), "need low <= high"),
        (dict(low=0.0, high=1.0, log=True), "need 0 < low <= high"),
        (dict(low=0.1, high=1.0, factors=(0.8, -1.0)), "factors must be a non-empty list of positive"),
        (dict(low=0.1, high=1.0, resample=1.5), r"resample must be a probability in \[0, 1\], got 1.5"),
    ],
)
def test_bad_explore_arguments_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        osd.explore(**arguments)


def readme_examples() -> list[str]:
    text = README.read_text()
    section = text.split("### Successive halving and PBT", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_readme_examples_run():
    examples = readme_examples()
    assert len(examples) == 2
    namespace: dict = {}
    for example in examples:
        exec(compile(example, str(README), "exec"), namespace)  # noqa: S102 (the README's own code)
