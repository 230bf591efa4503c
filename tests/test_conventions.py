"""Conventions every schedule keeps: immutable, truthy, options given as one value,
numbers printed as given, and the differences from optax matched or documented."""

from __future__ import annotations

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from cases import CASES

import optasched as osd

STEPS = jnp.arange(0, 300)


# -- frozen, and numbers printed as given ------------------------------------------------------------


def test_schedules_are_immutable():
    s = osd.cosine(0.1, 100)
    with pytest.raises(AttributeError, match=r"immutable; use .replace\(init_value=...\)"):
        s.init_value = "oops"
    with pytest.raises(AttributeError):
        del s.decay_steps


def test_repr_and_configs_print_the_shortest_round_tripping_numbers():
    s = osd.cosine(0.1, 900, end_value=1e-4)
    assert repr(s) == "cosine(init_value=0.1, decay_steps=900, end_value=0.0001, exponent=1.0)"
    config = osd.to_config(s)
    assert json.dumps(config) == (
        '{"family": "cosine", "init_value": 0.1, "decay_steps": 900, "end_value": 0.0001, "exponent": 1.0}'
    )
    chex.assert_trees_all_equal(osd.from_config(config), s)  # bit-identical leaves
    sweep = osd.stack([osd.cosine(0.1, 100), osd.cosine(0.3, 100)])
    assert osd.to_config(sweep)["init_value"] == [0.1, 0.3]


# -- a schedule is a value: always truthy, a sweep has a length ---------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_schedule_is_truthy(name):
    schedule = CASES[name]()
    assert bool(schedule) is True
    assert schedule  # `if schedule:` works, as for any optax schedule function


def test_a_sweep_is_truthy_and_keeps_its_length():
    sweep = osd.stack([osd.cosine(0.1, 100), osd.cosine(0.3, 100)])
    assert bool(sweep) is True and len(sweep) == 2
    assert bool(osd.plateau(0.1)) is True  # stateful schedules too
    with pytest.raises(TypeError, match="a single cosine schedule has no len"):
        len(osd.cosine(0.1, 100))


# -- options (static fields) take one value --------------------------------------------------------------


@pytest.mark.parametrize(
    "build, family, argument",
    [
        (lambda shape: osd.warmup(osd.cosine(0.1, 100), 10, shape=shape), "warmup", "shape"),
        (lambda mode: osd.cyclic(0.1, 1.0, 10, mode=mode), "cyclic", "mode"),
        (lambda staircase: osd.exponential(1.0, 10, 0.5, staircase=staircase), "exponential", "staircase"),
        (lambda mode: osd.plateau(0.1, mode=mode), "plateau", "mode"),
    ],
)
def test_an_option_given_as_an_array_names_the_family_and_argument(build, family, argument):
    for array in (np.array(["linear", "cosine"]), jnp.array([True, False]), np.array("linear")):
        with pytest.raises(ValueError, match=rf"^{family}: {argument} is an option .* not an array; got "):
            build(array)


def test_an_option_outside_its_choices_names_them():
    expected = r"warmup: shape must be one of \('linear', 'cosine', .*\), got 'cubic'"
    with pytest.raises(ValueError, match=expected):
        osd.warmup(osd.cosine(0.1, 100), 10, shape="cubic")


# -- differences from optax: matched or documented -----------------------------------------------


def test_exponential_rate_one_with_end_value_clips_as_optax():
    ours = osd.exponential(1.0, 2, decay_rate=1.0, end_value=0.1)
    theirs = optax.exponential_decay(1.0, 2, decay_rate=1.0, end_value=0.1)
    np.testing.assert_allclose(ours(STEPS), jax.vmap(theirs)(STEPS))


def test_exponential_rate_zero_follows_the_formula_on_purpose():
    """optax returns init_value forever for decay_rate=0 (a special case with a warning);
    Keras and PyTorch give I * 0**p. We keep the formula (documented in the docstring
    and the README's conventions table)."""
    ours = osd.exponential(1.0, 2, decay_rate=0.0)
    np.testing.assert_array_equal(ours(jnp.asarray([0, 1, 2, 5])), [1.0, 0.0, 0.0, 0.0])
    assert "decay_rate=0" in osd.exponential.__doc__
