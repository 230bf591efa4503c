"""The bridge's assumptions about optax (and Flax) beyond their documented API.

Every such assumption is imported through ``optasched.bridge._optax_internals``
(and the Flax glue); each test names the optax symbol it checks, so when optax
moves or changes one of them this file fails with that name instead of
optasched changing its behaviour silently.
"""

import jax
import jax.numpy as jnp
import optax
import pytest

import optasched as osd
from optasched.bridge import _flax, _optax_internals

PARAMS = {"w": jnp.ones((2, 3)), "b": jnp.zeros(3)}
MEMBERS = 3


def stacked_inject():
    return osd.inject(optax.sgd)(learning_rate=jnp.array([0.1, 0.2, 0.3]))


@pytest.mark.parametrize("name", sorted(_optax_internals.STATELESS_COMBINATORS))
def test_each_stateless_combinator_is_built_through_optax_public_api(name):
    build = _optax_internals.STATELESS_COMBINATORS[name]
    try:
        transformation = build()
    except (AttributeError, TypeError) as err:
        pytest.fail(f"{name} can no longer be built as optasched assumes ({type(err).__name__}: {err})")
    assert callable(getattr(transformation, "init", None)), f"{name}(...) has no init"
    assert transformation.init.__code__ in _optax_internals.stateless_combinator_code(), name


WRAPPED = {
    "optax.chain": lambda inner: optax.chain(optax.clip(1.0), inner),
    "optax.named_chain": lambda inner: optax.named_chain(("clip", optax.clip(1.0)), ("inner", inner)),
    "optax.partition": lambda inner: optax.partition({"a": inner}, "a"),
    "optax.masked": lambda inner: optax.masked(inner, {"w": True, "b": False}),
    "optax.flatten": lambda inner: optax.flatten(inner),
    "optax.transforms.freeze": lambda inner: optax.chain(
        optax.transforms.freeze({"w": False, "b": True}), inner
    ),
}


def test_every_stateless_combinator_is_covered_by_a_case_below():
    assert set(WRAPPED) == set(_optax_internals.STATELESS_COMBINATORS)


@pytest.mark.parametrize("name", sorted(WRAPPED))
def test_stateless_combinators_keep_no_array_of_their_own(name):
    # The assumption: around an inject optimizer they add no leaf, so a stacked
    # inject state inside them is the whole batched state and jax.vmap(update) maps it.
    outer = WRAPPED[name](stacked_inject())
    state = outer.init(PARAMS)
    leaves = jax.tree.leaves(state)
    assert leaves, name
    unbatched = [leaf.shape for leaf in leaves if jnp.shape(leaf)[:1] != (MEMBERS,)]
    assert not unbatched, f"{name} now keeps arrays of its own {unbatched}; a stacked init inside breaks"
    grads = jax.tree.map(jnp.ones_like, PARAMS)
    updates, _ = jax.vmap(outer.update, in_axes=(None, 0, None))(grads, state, PARAMS)
    assert jax.tree.leaves(updates)[0].shape[0] == MEMBERS


@pytest.mark.parametrize(
    "name,wrap",
    [
        ("optax.MultiSteps", lambda inner: optax.MultiSteps(inner, every_k_schedule=2)),
        ("optax.apply_if_finite", lambda inner: optax.apply_if_finite(inner, max_consecutive_errors=2)),
    ],
)
def test_optax_transformations_with_a_state_of_their_own_are_named(name, wrap):
    with pytest.raises(ValueError, match=rf"sweep of {MEMBERS} stacked members inside {name}\b"):
        wrap(stacked_inject()).init(PARAMS)


def test_a_stacked_init_called_by_user_code_or_jax_is_not_refused():
    assert stacked_inject().init(PARAMS).count.shape == (MEMBERS,)
    assert _optax_internals.optax_caller_with_own_state() is None


def test_with_extra_args_support_keeps_an_extra_args_transformation_as_it_is():
    # inject's update passes value=loss on to the factory's transformation and to
    # a stateful hyperparameter; optax.with_extra_args_support must not drop it.
    transformation = stacked_inject()
    assert optax.with_extra_args_support(transformation) is transformation, "optax.with_extra_args_support"


def test_tree_get_finds_the_one_value_in_hyperparams_not_the_copies_in_slots():
    # optax.tree_utils.tree_get searches dicts and NamedTuples; the state's copies
    # live in Slots, which it must not search, or tree_get finds several values.
    state = osd.inject(optax.sgd)(learning_rate=osd.constant(0.1)).init(PARAMS)
    value = optax.tree_utils.tree_get(state, "learning_rate")
    assert float(value) == pytest.approx(0.1), "optax.tree_utils.tree_get"
    state = optax.tree_utils.tree_set(state, learning_rate=0.5)
    assert float(optax.tree_utils.tree_get(state, "learning_rate")) == 0.5, "optax.tree_utils.tree_set"
    opt = osd.inject(optax.sgd)(learning_rate=osd.constant(0.1))
    updates, state = opt.update(jax.tree.map(jnp.ones_like, PARAMS), state, PARAMS)
    assert float(updates["b"][0]) == pytest.approx(-0.5)  # the value set replaced the schedule
    assert float(osd.hyperparams(state)["learning_rate"]) == pytest.approx(0.5)

def test_flax_to_opt_state_is_where_the_glue_imports_it():
    pytest.importorskip("flax")
    try:
        wrap = _flax.to_opt_state()
    except ImportError as err:
        pytest.fail(f"flax.nnx.training.optimizer.to_opt_state moved: {err}")
    assert callable(wrap), "flax.nnx.training.optimizer.to_opt_state"
