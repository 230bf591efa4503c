"""The schedules of an optimizer state as a config (issue 23, point 4):
``osd.to_config(opt_state)`` writes every schedule an optimizer state holds, keyed
by where it lives and the hyperparameter; ``osd.restore_schedules`` puts them into
a state built by the optimizer factory alone, and training resumed from a
checkpoint continues bit for bit."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optasched as osd

LR = osd.warmup(osd.cosine(0.1, 20, end_value=0.01), 4)
WEIGHT_DECAY = osd.linear(1e-2, 0.0, 10)
X = jnp.asarray(np.random.default_rng(0).normal(size=(8, 3)), jnp.float32)
Y = jnp.asarray(np.random.default_rng(1).normal(size=8), jnp.float32)


def loss(params):
    return jnp.mean((X @ params["w"] + params["b"] - Y) ** 2)


def make_optimizer(learning_rate=0.0, weight_decay=0.0):
    """The training script's optimizer factory: placeholders unless schedules are given."""
    inner = optax.chain(
        optax.clip_by_global_norm(1.0),
        osd.inject(optax.adamw)(learning_rate=learning_rate, weight_decay=weight_decay),
    )
    return optax.MultiSteps(inner, every_k_schedule=2)


def train(optimizer, params, opt_state, steps):
    @jax.jit
    def step(params, opt_state):
        updates, opt_state = optimizer.update(jax.grad(loss)(params), opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    for _ in range(steps):
        params, opt_state = step(params, opt_state)
    return params, opt_state


def fresh_params():
    return {"w": jnp.zeros(3), "b": jnp.zeros(())}


def test_the_users_call_on_an_optimizer_state_is_accepted():
    """The issue: ``to_config: expected an optasched schedule, got InjectState(...)``."""
    opt_state = osd.inject(optax.adamw)(learning_rate=LR).init(fresh_params())
    config = osd.to_config(opt_state)
    assert config == {"$tree": {"learning_rate": osd.to_config(LR)}}
    schedules = osd.from_config(json.loads(json.dumps(config)))
    np.testing.assert_array_equal(schedules["learning_rate"](jnp.arange(30)), LR(jnp.arange(30)))


def test_a_chain_inside_multisteps_gives_every_schedule_by_name():
    config = osd.to_config(make_optimizer(LR, WEIGHT_DECAY).init(fresh_params()))
    expected = {"learning_rate": osd.to_config(LR), "weight_decay": osd.to_config(WEIGHT_DECAY)}
    assert config == {"$tree": expected}


def test_schedules_of_several_inject_states_are_keyed_by_where_they_live():
    optimizer = optax.partition(
        {
            "body": osd.inject(optax.sgd)(learning_rate=osd.cosine(0.1, 100), momentum=0.9),
            "head": osd.inject(optax.sgd)(learning_rate=osd.constant(0.3)),
        },
        {"w": "body", "b": "head"},
    )
    opt_state = optimizer.init(fresh_params())
    config = osd.to_config(opt_state)["$tree"]
    assert sorted(config) == ["body/learning_rate", "head/learning_rate"]  # momentum=0.9 is no schedule
    assert set(config) < set(osd.hyperparams(opt_state))  # the names hyperparams logs
    assert config["head/learning_rate"] == {"family": "constant", "value": 0.3}
    restored = osd.restore_schedules(
        optax.partition(
            {"body": osd.inject(optax.sgd)(learning_rate=0.0, momentum=0.9),
             "head": osd.inject(optax.sgd)(learning_rate=0.0)},
            {"w": "body", "b": "head"},
        ).init(fresh_params()),
        json.loads(json.dumps(osd.to_config(opt_state))),
    )
    assert jax.tree.structure(restored) == jax.tree.structure(opt_state)


def test_an_optimizer_state_inside_a_whole_setup():
    opt_state = make_optimizer(LR, WEIGHT_DECAY).init(fresh_params())
    config = osd.to_config({"optimizer": opt_state, "seed": 0, "batch_size": 32})
    setup = osd.from_config(json.loads(json.dumps(config)))
    assert setup["seed"] == 0 and sorted(setup["optimizer"]) == ["learning_rate", "weight_decay"]


def test_resume_from_a_checkpoint_with_only_the_factory_is_bit_identical(tmp_path):
    """Train, save params / opt_state with the config, rebuild only the factory, restore, continue."""
    optimizer = make_optimizer(LR, WEIGHT_DECAY)
    params = fresh_params()
    params, opt_state = train(optimizer, params, optimizer.init(params), 7)
    # Save: the arrays as a checkpoint, the schedules (and the rest of the setup) as JSON.
    np.savez(tmp_path / "checkpoint.npz", *jax.tree.leaves((params, opt_state)))
    (tmp_path / "config.json").write_text(json.dumps({"optimizer": osd.to_config(opt_state), "seed": 0}))
    uninterrupted, _ = train(optimizer, params, opt_state, 9)

    # A fresh script: the factory with placeholders, the schedules from the config.
    saved = json.loads((tmp_path / "config.json").read_text())
    resumed_optimizer = make_optimizer()
    template = osd.restore_schedules(resumed_optimizer.init(fresh_params()), saved["optimizer"])
    structure = jax.tree.structure((fresh_params(), template))
    assert structure == jax.tree.structure((params, opt_state))
    with np.load(tmp_path / "checkpoint.npz") as checkpoint:
        leaves = [checkpoint[f"arr_{i}"] for i in range(len(checkpoint.files))]
    restored_params, restored_state = jax.tree.unflatten(structure, leaves)
    resumed, _ = train(resumed_optimizer, restored_params, restored_state, 9)
    for name in ("w", "b"):
        np.testing.assert_array_equal(resumed[name], uninterrupted[name])
    assert not np.array_equal(resumed["w"], params["w"])  # it did train on


def test_restore_accepts_the_schedules_from_config_gives():
    opt_state = make_optimizer(LR, WEIGHT_DECAY).init(fresh_params())
    schedules = osd.from_config(osd.to_config(opt_state))
    restored = osd.restore_schedules(make_optimizer().init(fresh_params()), schedules)
    assert jax.tree.structure(restored) == jax.tree.structure(opt_state)


def test_a_plateau_restores_into_a_state_built_with_numbers():
    state = osd.inject(optax.sgd)(learning_rate=osd.plateau(0.1, factor=0.5, patience=3)).init(fresh_params())
    config = json.loads(json.dumps(osd.to_config(state)))
    assert config["$tree"]["learning_rate"]["family"] == "plateau"
    restored = osd.restore_schedules(osd.inject(optax.sgd)(learning_rate=0.0).init(fresh_params()), config)
    assert jax.tree.structure(restored) == jax.tree.structure(state)


def test_a_sweep_state_is_rebuilt_from_its_schedules():
    """A sweep's members are the state's leading axis: build the state from the schedules themselves."""
    def make(learning_rate, momentum):
        return osd.inject(optax.sgd)(learning_rate=learning_rate, momentum=momentum)

    sweep = osd.stack([osd.cosine(0.1, 50), osd.cosine(0.3, 80)])
    state = make(sweep, osd.plateau(0.9, factor=0.5)).init(fresh_params())
    schedules = osd.from_config(json.loads(json.dumps(osd.to_config(state))))
    assert schedules["learning_rate"].batch_shape == (2,)
    rebuilt = make(**schedules).init(fresh_params())
    assert jax.tree.structure(rebuilt) == jax.tree.structure(state)
    for new, old in zip(jax.tree.leaves(rebuilt), jax.tree.leaves(state)):
        np.testing.assert_array_equal(new, old)


@pytest.mark.parametrize(
    "config,message",
    [
        ({"$tree": {"momentum": {"family": "constant", "value": 0.9}}},
         "the state holds schedules for ['learning_rate'], which the config does not name"),
        ({"$tree": {"learning_rate": 0.1}},
         "config['learning_rate'] must be a schedule or a schedule's config"),
        ([1], "config must be osd.to_config(opt_state)"),
    ],
)
def test_restore_refuses_a_config_that_does_not_fit(config, message):
    state = osd.inject(optax.sgd)(learning_rate=osd.constant(0.1)).init(fresh_params())
    with pytest.raises(ValueError) as info:
        osd.restore_schedules(state, config)
    assert message in str(info.value)


def test_restore_names_a_hyperparameter_the_state_does_not_hold():
    state = osd.inject(optax.sgd)(learning_rate=0.1).init(fresh_params())
    with pytest.raises(ValueError, match="the state holds no hyperparameter 'beta'"):
        osd.restore_schedules(state, {"beta": osd.constant(0.1)})


def test_a_function_of_the_step_in_the_state_is_refused_by_name():
    state = osd.inject(optax.sgd)(learning_rate=optax.linear_schedule(0.1, 0.0, 10)).init(fresh_params())
    with pytest.raises(ValueError, match="the optimizer state's learning_rate is a function of the step"):
        osd.to_config(state)
