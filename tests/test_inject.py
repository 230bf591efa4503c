"""Specification of osd.inject: any numeric hyperparameter of any optax
factory may be a schedule; the schedules live in the optimizer state, so a
stacked sweep is one batched state updated by one compiled program; the
updates equal the plain optimizer's."""

import collections
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optasched as osd

KEY = jax.random.key(0)
PARAMS = {"w": jax.random.normal(KEY, (5, 3)), "b": jnp.zeros(3)}
INPUTS = jax.random.normal(jax.random.key(1), (40, 4, 5))
TRACES = collections.Counter()
STEPS = np.arange(25)


def loss_fn(params, x):
    return jnp.sum(jnp.tanh(x @ params["w"] + params["b"][None, :]) ** 2)


def train(optimizer, params=PARAMS, inputs=INPUTS):
    """Final params and state after one update per input batch (scan)."""

    def step(carry, x):
        params, state = carry
        grads = jax.grad(loss_fn)(params, x)
        updates, state = optimizer.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), None

    (params, state), _ = jax.lax.scan(step, (params, optimizer.init(params)), inputs)
    return params, state


def assert_trees_equal(a, b):
    jax.tree.map(np.testing.assert_array_equal, a, b)


def max_relative_difference(a, b):
    return max(
        jax.tree.leaves(
            jax.tree.map(lambda x, y: float(jnp.max(jnp.abs(x - y) / (jnp.abs(y) + 1e-12))), a, b)
        )
    )


# -- equal to the plain optimizer ---------------------------------------------------------------


def test_scheduled_learning_rate_and_numbers_are_bit_identical_to_plain_adamw():
    plain, _ = jax.jit(lambda: train(optax.adamw(1e-2, b1=0.8, weight_decay=1e-3)))()
    ours, _ = jax.jit(
        lambda: train(osd.inject(optax.adamw)(learning_rate=osd.constant(1e-2), b1=0.8, weight_decay=1e-3))
    )()
    assert_trees_equal(ours, plain)


def test_constant_schedules_for_lr_eps_weight_decay_and_momentum_are_bit_identical():
    plain, _ = jax.jit(lambda: train(optax.adamw(1e-2, eps=1e-6, weight_decay=1e-3)))()
    ours, _ = jax.jit(
        lambda: train(
            osd.inject(optax.adamw)(
                learning_rate=osd.constant(1e-2), eps=osd.constant(1e-6), weight_decay=osd.constant(1e-3)
            )
        )
    )()
    assert_trees_equal(ours, plain)
    plain, _ = jax.jit(lambda: train(optax.sgd(1e-2, momentum=0.9, nesterov=True)))()
    ours, _ = jax.jit(
        lambda: train(
            osd.inject(optax.sgd)(learning_rate=osd.constant(1e-2), momentum=osd.constant(0.9), nesterov=True)
        )
    )()
    assert_trees_equal(ours, plain)


def test_scheduled_adam_betas_differ_only_by_their_float32_rounding():
    # A scheduled b2 is a float32 value, and optax computes 1 - b2 from it: 1.3e-5
    # relative from the Python 1 - 0.999. optax.inject_hyperparams pays the same
    # for *every* numeric argument (optax issue 1532); ours only for scheduled b1/b2.
    plain, _ = jax.jit(lambda: train(optax.adam(1e-2)))()
    scheduled, _ = jax.jit(
        lambda: train(
            osd.inject(optax.adam)(
                learning_rate=osd.constant(1e-2), b1=osd.constant(0.9), b2=osd.constant(0.999)
            )
        )
    )()
    theirs, _ = jax.jit(lambda: train(optax.inject_hyperparams(optax.adam)(learning_rate=1e-2)))()
    ours, _ = jax.jit(lambda: train(osd.inject(optax.adam)(learning_rate=1e-2)))()
    assert_trees_equal(scheduled, theirs)  # the same float32 arithmetic
    assert 0 < max_relative_difference(theirs, plain) < 1e-4
    assert_trees_equal(ours, plain)


def test_python_numbers_pass_through_unchanged_and_are_kept_for_logging():
    opt = osd.inject(optax.adamw)(learning_rate=1e-3, b2=0.99)
    state = opt.init(PARAMS)
    assert dict(state.schedules) == {}
    # every numeric argument, given or the factory's default, is in the state as the number itself
    assert state.hyperparams == {
        "learning_rate": 1e-3,
        "b1": 0.9,
        "b2": 0.99,
        "eps": 1e-8,
        "eps_root": 0.0,
        "weight_decay": 1e-4,
    }
    assert all(type(v) is not float and isinstance(v, float) for v in state.hyperparams.values())
    assert jax.tree.leaves(state.hyperparams) == []  # structure, not arrays: the factory gets the numbers
    plain = optax.adamw(1e-3, b2=0.99).init(PARAMS)
    assert_trees_equal(state.inner_state, plain)
    trained, _ = jax.jit(lambda: train(opt))()
    plain_trained, _ = jax.jit(lambda: train(optax.adamw(1e-3, b2=0.99)))()
    assert_trees_equal(trained, plain_trained)


# -- schedules in the state ---------------------------------------------------------------------


def test_scheduled_values_follow_the_schedules_and_are_logged():
    lr = osd.warmup(osd.cosine(0.1, 30), warmup_steps=10)
    b1 = osd.cycled_momentum(lr)
    wd = osd.coupled_weight_decay(lr, 1e-2)
    opt = osd.inject(optax.adamw)(learning_rate=lr, b1=b1, weight_decay=wd)
    state = opt.init(PARAMS)
    update = jax.jit(opt.update)
    grads = jax.tree.map(jnp.ones_like, PARAMS)
    logged = osd.hyperparams(state)  # after init: what the first update will use
    assert sorted(logged) == ["b1", "b2", "eps", "eps_root", "learning_rate", "weight_decay"]
    np.testing.assert_allclose(logged["learning_rate"], lr(0))
    expected = {"learning_rate": lr(STEPS), "b1": b1(STEPS), "weight_decay": wd(STEPS)}
    for t in STEPS:
        _, state = update(grads, state, PARAMS)
        logged = osd.hyperparams(state)  # after update t: the values it used
        for name, values in expected.items():
            np.testing.assert_allclose(logged[name], values[t], rtol=1e-6, err_msg=name)
    assert int(state.count) == 25


def test_the_update_reads_the_schedule_from_the_state_not_the_closure():
    opt = osd.inject(optax.sgd)(learning_rate=osd.constant(0.1))
    state = opt.init(PARAMS)
    swapped = osd.replace_schedules(state, learning_rate=osd.constant(0.5))
    grads = jax.tree.map(jnp.ones_like, PARAMS)
    updates, _ = jax.jit(opt.update)(grads, swapped, PARAMS)
    np.testing.assert_allclose(updates["b"], -0.5)


def test_new_schedule_values_never_recompile_the_update():
    def counted_update(grads, state, params):
        TRACES["update"] += 1
        return opt.update(grads, state, params)

    opt = osd.inject(optax.adamw)(learning_rate=osd.cosine(1e-2, 100), b1=osd.constant(0.9))
    update = jax.jit(counted_update)
    grads = jax.tree.map(jnp.ones_like, PARAMS)
    for peak, b1 in [(1e-2, 0.9), (3e-2, 0.8), (1e-1, 0.95)]:
        state = osd.inject(optax.adamw)(learning_rate=osd.cosine(peak, 100), b1=osd.constant(b1)).init(PARAMS)
        update(grads, state, PARAMS)
    assert TRACES["update"] == 1


# -- sweeps -------------------------------------------------------------------------------------


def sweep_member(lr_peak, warmup_steps, b1, weight_decay):
    return {
        "learning_rate": osd.warmup(osd.cosine(lr_peak, 40), warmup_steps),
        "b1": osd.constant(b1),
        "weight_decay": osd.constant(weight_decay),
    }


SWEEP = [(1e-2, 0, 0.9, 1e-4), (3e-2, 5, 0.8, 1e-2), (1e-1, 10, 0.95, 0.0), (3e-3, 3, 0.85, 1e-3)]


def test_vmapped_sweep_over_a_stacked_inject_optimizer_equals_separate_runs():
    stacked = osd.stack([sweep_member(*m) for m in SWEEP])
    opt = osd.inject(optax.adamw)(**stacked)
    states = opt.init(PARAMS)  # one state per member, from the same params
    assert states.count.shape == (len(SWEEP),)
    params = jax.tree.map(lambda x: jnp.broadcast_to(x, (len(SWEEP),) + x.shape), PARAMS)

    def step(carry, x):
        params, states = carry
        grads = jax.vmap(jax.grad(loss_fn), in_axes=(0, None))(params, x)
        updates, states = jax.vmap(opt.update)(grads, states, params)
        return (optax.apply_updates(params, updates), states), None

    (swept, states), _ = jax.jit(lambda c: jax.lax.scan(step, c, INPUTS))((params, states))
    logged = osd.hyperparams(states)
    assert logged["learning_rate"].shape == (len(SWEEP),)
    train_alone = jax.jit(lambda member: train(osd.inject(optax.adamw)(**member)))  # one compile for all
    train_plain = jax.jit(lambda lr, b1, wd: train(optax.adamw(lr, b1, weight_decay=wd)))
    for i, member in enumerate(SWEEP):
        alone, alone_state = train_alone(sweep_member(*member))
        # The same arithmetic in another program shape: XLA may reassociate float32 sums
        # (1.6e-5 relative observed after 40 Adam steps on an AMD EPYC), so not bit for bit.
        jax.tree.map(
            lambda a, b, i=i: np.testing.assert_allclose(a[i], b, rtol=1e-4, atol=1e-6), swept, alone
        )
        np.testing.assert_allclose(
            logged["learning_rate"][i], osd.hyperparams(alone_state)["learning_rate"], rtol=1e-5
        )
        # and the plain optax optimizer with that member's schedule agrees too
        lr_peak, warmup_steps, b1, wd = member
        plain, _ = train_plain(osd.warmup(osd.cosine(lr_peak, 40), warmup_steps), b1, wd)
        jax.tree.map(
            lambda a, b, i=i: np.testing.assert_allclose(a[i], b, rtol=1e-4, atol=1e-6), swept, plain
        )


def test_vmap_of_init_over_stacked_schedules_gives_the_same_stacked_state():
    stacked = osd.stack([sweep_member(*m) for m in SWEEP])
    by_init = osd.inject(optax.adamw)(**stacked).init(PARAMS)
    by_vmap = jax.vmap(lambda member: osd.inject(optax.adamw)(**member).init(PARAMS))(stacked)
    assert_trees_equal(by_init, by_vmap)
    # one template optimizer (any member) updates the whole batched state
    template = osd.inject(optax.adamw)(**sweep_member(*SWEEP[0]))
    grads = jax.tree.map(jnp.ones_like, PARAMS)
    updates, _ = jax.jit(jax.vmap(template.update, in_axes=(None, 0, None)))(grads, by_vmap, PARAMS)
    assert updates["w"].shape == (len(SWEEP), 5, 3)


def test_arrays_as_hyperparameters_make_a_sweep():
    opt = osd.inject(optax.sgd)(learning_rate=jnp.array([0.1, 0.2]), momentum=0.9)
    states = opt.init(PARAMS)
    grads = jax.tree.map(jnp.ones_like, PARAMS)
    updates, _ = jax.vmap(opt.update, in_axes=(None, 0, None))(grads, states, PARAMS)
    np.testing.assert_allclose(updates["b"][:, 0], [-0.1, -0.2], rtol=1e-6)


def test_low_precision_params_keep_their_dtype():
    params = jax.tree.map(lambda x: x.astype(jnp.bfloat16), PARAMS)
    opt = osd.inject(optax.adamw)(learning_rate=osd.cosine(1e-2, 10), weight_decay=osd.constant(1e-2))
    state = opt.init(params)
    updates, state = opt.update(params, state, params)
    assert all(u.dtype == jnp.bfloat16 for u in jax.tree.leaves(updates))
    assert osd.hyperparams(state)["learning_rate"].dtype == jnp.bfloat16
    state = osd.inject(optax.adamw, hyperparam_dtype=jnp.float32)(learning_rate=osd.cosine(1e-2, 10)).init(
        params
    )
    assert osd.hyperparams(state)["learning_rate"].dtype == jnp.float32


def test_works_inside_chain_partition_and_with_transformation_factories():
    opt = optax.chain(
        optax.clip_by_global_norm(1.0),
        osd.inject(optax.scale_by_adam)(b1=osd.linear(0.8, 0.9, 10)),
        osd.inject(optax.scale_by_learning_rate)(learning_rate=osd.cosine(1e-2, 10)),
    )
    state = opt.init(PARAMS)
    assert sorted(osd.hyperparams(state)) == ["b1", "b2", "eps", "eps_root", "learning_rate"]
    two = optax.chain(
        osd.inject(optax.sgd)(learning_rate=osd.constant(0.1)),
        osd.inject(optax.sgd)(learning_rate=osd.constant(0.2)),
    )
    names = sorted(osd.hyperparams(two.init(PARAMS)))
    assert len(names) == 2 and all(name.endswith("learning_rate") for name in names)


# -- bad input ---------------------------------------------------------------------------------


def test_unknown_hyperparameter_names_the_argument_and_the_valid_ones():
    with pytest.raises(
        ValueError,
        match=r"inject\(adamw\): unknown hyperparameter 'learning_rat'.*0.1.*takes learning_rate, b1",
    ):
        osd.inject(optax.adamw)(learning_rat=0.1)


@pytest.mark.parametrize("name", ["mask", "mu_dtype", "nesterov"])
def test_a_schedule_for_a_non_numeric_argument_is_refused(name):
    with pytest.raises(ValueError, match=rf"inject\(adamw\): {name} is not a numeric hyperparameter.*cosine"):
        osd.inject(optax.adamw)(learning_rate=1e-3, **{name: osd.cosine(1.0, 10)})


def test_a_function_of_the_step_is_evaluated_and_logged_for_any_hyperparameter():
    lr = optax.linear_schedule(1e-2, 0.0, 60)
    opt = osd.inject(optax.adam)(learning_rate=lr, b1=lambda count: 0.8 + 0.1 * (count % 2))
    trained, state = jax.jit(lambda: train(opt))()
    logged = osd.hyperparams(state)  # the values update 39 used
    np.testing.assert_allclose(logged["learning_rate"], lr(39), rtol=1e-6)
    np.testing.assert_allclose(logged["b1"], 0.9, rtol=1e-6)
    # with b1 a number, the same as optax's own learning-rate function
    ours, _ = jax.jit(lambda: train(osd.inject(optax.adam)(learning_rate=lr)))()
    theirs, _ = jax.jit(lambda: train(optax.adam(lr)))()
    assert_trees_equal(ours, theirs)


def test_mismatched_sweeps_and_unvmapped_batched_state_are_refused():
    with pytest.raises(ValueError, match="must share one sweep shape"):
        osd.inject(optax.adam)(learning_rate=jnp.array([0.1, 0.2]), b1=jnp.array([0.8, 0.85, 0.9]))
    opt = osd.inject(optax.adam)(learning_rate=jnp.array([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"sweep of 2 members; update it under jax.vmap\(opt.update\)"):
        opt.update(PARAMS, opt.init(PARAMS), PARAMS)
    with pytest.raises(ValueError, match="factory must be an optax optimizer factory"):
        osd.inject("adam")
    with pytest.raises(ValueError, match=r"inject\(adam\): missing a required argument: 'learning_rate'"):
        osd.inject(optax.adam)(b1=0.9)


def test_a_state_of_another_family_is_used_as_it_is():
    # The state is the truth (so replace_schedules can swap families); the optimizer's
    # own schedules only build the first state.
    opt = osd.inject(optax.sgd)(learning_rate=osd.cosine(0.1, 10))
    other = osd.inject(optax.sgd)(learning_rate=osd.linear(0.3, 0.0, 10)).init(PARAMS)
    updates, _ = opt.update(jax.tree.map(jnp.ones_like, PARAMS), other, PARAMS)
    np.testing.assert_allclose(updates["b"], -0.3, rtol=1e-6)
    with pytest.raises(ValueError, match=r"inject\(sgd\): state must be the InjectState made by init"):
        opt.update(PARAMS, optax.sgd(0.1).init(PARAMS), PARAMS)


def test_user_factories_without_annotations():
    def my_optimizer(learning_rate, decay=0.9, mode="fast", scale_fn=None):
        del mode, scale_fn
        return optax.chain(optax.scale_by_rms(decay), optax.scale(-learning_rate))

    opt = osd.inject(my_optimizer)(learning_rate=osd.cosine(0.1, 10), decay=osd.constant(0.95))
    updates, _ = opt.update(PARAMS, opt.init(PARAMS), PARAMS)
    assert jax.tree.structure(updates) == jax.tree.structure(PARAMS)
    with pytest.raises(ValueError, match="mode is not a numeric hyperparameter"):
        osd.inject(my_optimizer)(learning_rate=0.1, mode=osd.constant(1.0))
    partial = functools.partial(optax.adamw, weight_decay=0.1)
    osd.inject(partial)(learning_rate=osd.constant(1e-3)).init(PARAMS)


class ArrayLayout:
    """Not a number, though its name contains "Array"."""


def annotated_sgd(
    learning_rate: "float", layout: "ArrayLayout" = None, warmup: "int" = 3, scale: "Unknown" = 0.5
):
    del layout, warmup
    return optax.sgd(learning_rate * scale)


def test_argument_kinds_come_from_the_annotation_types_not_their_text():
    # Postponed (string) annotations are resolved in the factory's module: a class
    # whose name contains "Array" is not a number, int is structure; one naming
    # nothing defined leaves the decision to the default (0.5: a hyperparameter).
    with pytest.raises(ValueError, match=r"inject\(annotated_sgd\): layout is not a numeric hyperparameter"):
        osd.inject(annotated_sgd)(learning_rate=0.1, layout=osd.constant(1.0))
    with pytest.raises(ValueError, match=r"inject\(annotated_sgd\): warmup is not a numeric hyperparameter"):
        osd.inject(annotated_sgd)(learning_rate=0.1, warmup=osd.constant(1.0))
    state = osd.inject(annotated_sgd)(learning_rate=osd.cosine(0.1, 10), scale=osd.constant(2.0)).init(PARAMS)
    assert sorted(state.schedules) == ["learning_rate", "scale"]
    assert sorted(state.hyperparams) == ["learning_rate", "scale"]


# -- arguments that are not hyperparameters pass through untouched (issue 8, item 4) -----------


def test_a_prng_key_passes_through_and_noisy_sgd_equals_optax():
    key = jax.random.key(3)
    ours = osd.inject(optax.noisy_sgd)(learning_rate=osd.constant(1e-2), key=key)
    state = ours.init(PARAMS)
    assert "key" not in state.hyperparams and "seed" not in state.hyperparams
    trained, _ = jax.jit(lambda: train(ours))()
    plain, _ = jax.jit(lambda: train(optax.noisy_sgd(1e-2, key=key)))()
    assert_trees_equal(trained, plain)


def test_a_legacy_uint32_key_integer_flags_masks_and_dtypes_reach_the_factory_untouched():
    seen = {}

    def noisy_adamw(learning_rate, key, every: jax.Array, mask=None, mu_dtype=None, scale=0.01):
        # A user's factory: a legacy key, an integer flag as an array, a mask and a dtype.
        seen.update(key=key, every=every, mask=mask, mu_dtype=mu_dtype)
        noise = optax.add_noise(scale, 0.55, key=jax.random.wrap_key_data(key))
        return optax.chain(noise, optax.adamw(learning_rate, mask=mask, mu_dtype=mu_dtype))

    legacy_key = jax.random.PRNGKey(7)
    every = jnp.asarray(3, jnp.int32)
    mask = {"w": True, "b": False}
    opt = osd.inject(noisy_adamw)(
        learning_rate=osd.cosine(1e-2, 40), key=legacy_key, every=every, mask=mask, mu_dtype=jnp.bfloat16
    )
    state = opt.init(PARAMS)
    assert seen["key"] is legacy_key and seen["key"].dtype == jnp.uint32
    assert seen["every"] is every and seen["mask"] is mask and seen["mu_dtype"] is jnp.bfloat16
    assert sorted(state.hyperparams) == ["learning_rate", "scale"]
    trained, _ = jax.jit(lambda: train(opt))()
    plain = noisy_adamw(osd.cosine(1e-2, 40), legacy_key, every, mask, jnp.bfloat16)
    expected, _ = jax.jit(lambda: train(plain))()
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8), trained, expected)


def test_static_args_pass_arguments_unchanged_as_in_optax():
    def scaled_sgd(learning_rate, decay=0.9):
        return optax.chain(optax.scale_by_rms(decay), optax.scale(-learning_rate))

    opt = osd.inject(scaled_sgd, static_args="decay")(learning_rate=osd.cosine(0.1, 10), decay=0.95)
    state = opt.init(PARAMS)
    assert sorted(state.hyperparams) == ["learning_rate"]
    # a schedule named in static_args goes to the factory as the callable it is
    lr = osd.cosine(1e-2, 40)
    ours, _ = jax.jit(
        lambda: train(osd.inject(optax.adam, static_args=["learning_rate"])(learning_rate=lr))
    )()
    theirs, _ = jax.jit(lambda: train(optax.adam(lr)))()
    assert_trees_equal(ours, theirs)


def gated_sgd(learning_rate, clip=1.0):
    # Python control flow on a hyperparameter: it can only be a Python number (or static).
    if clip > 0:
        return optax.chain(optax.clip(clip), optax.sgd(learning_rate))
    return optax.sgd(learning_rate)


@pytest.mark.parametrize(
    "build,message",
    [
        (
            lambda: osd.inject(optax.adamw)(learning_rat=0.1),
            r"inject\(adamw\): unknown hyperparameter 'learning_rat'",
        ),
        (
            lambda: osd.inject(optax.adamw)(learning_rate=0.1, mask=osd.constant(1.0)),
            r"inject\(adamw\): mask is not a numeric hyperparameter",
        ),
        (lambda: osd.inject(optax.adamw, static_args=("lr",)), r"inject\(adamw\): static_args names 'lr'"),
        (
            lambda: osd.inject(optax.adamw)(learning_rate=[optax.constant_schedule(0.1)] * 2),
            r"inject\(adamw\): learning_rate is a list of functions, which cannot be swept",
        ),
        (
            lambda: osd.inject(optax.adamw)(learning_rate=[osd.constant(0.1)] * 2),
            r"inject\(adamw\): learning_rate is a list of schedules; .*osd.stack",
        ),
        (
            lambda: osd.inject(optax.adamw)(learning_rate=np.array([0.1, np.inf])),
            r"inject\(adamw\): learning_rate: constant: value must be finite",
        ),
        (
            lambda: jax.jit(osd.inject(gated_sgd)(learning_rate=0.1, clip=osd.constant(1.0)).update)(
                PARAMS, osd.inject(gated_sgd)(learning_rate=0.1, clip=osd.constant(1.0)).init(PARAMS), PARAMS
            ),
            r"inject\(gated_sgd\): gated_sgd ran Python control flow on clip.*static_args",
        ),
        (
            lambda: jax.jit(
                osd.inject(optax.sgd)(learning_rate=lambda count: 0.1 if count < 5 else 0.01).init
            )(PARAMS),
            r"inject\(sgd\): the function of the step ran Python control flow on learning_rate",
        ),
    ],
)
def test_every_inject_error_names_inject_and_the_argument(build, message):
    with pytest.raises(ValueError, match=message):
        build()
