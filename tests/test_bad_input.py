"""Input a fuzzer found mishandled (issue 17, section 3), each with the right behaviour
or a clear ValueError naming the argument:

- float16 / bfloat16 hyperparameters: step arithmetic does not depend on the value dtype;
- malformed configs for ``from_config`` (a list or dict as family, unknown keys of mixed types);
- a config round trip keeps each leaf's dtype;
- ``from_function`` checks the function's signature at construction.

(The CLI's answers to bad specs are in ``tests/test_cli.py``.)
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import CASES

import optasched as osd

# -- low-precision hyperparameters ---------------------------------------------------------------

LOW_PRECISION = [jnp.float16, jnp.bfloat16]
# Around float16's largest finite number (65,504), bfloat16's exact-integer range (256), float32's
# (2**24) and the int32 limit.
LARGE_STEPS = np.array(
    [0, 1, 7, 50, 199, 255, 257, 1000, 65503, 65504, 65520, 70000, 1_000_003]
    + [2**24 + 1, 2**31 - 2, 2**31 - 1],
    np.int32,
)


def _cast(schedule, dtype, steps_too: bool):
    """``schedule`` with every float leaf (with ``steps_too`` every integer step leaf too) in ``dtype``."""

    def cast(path, leaf):
        a_step = jnp.issubdtype(leaf.dtype, jnp.integer) and not jax.tree_util.keystr(path).endswith(".index")
        if jnp.issubdtype(leaf.dtype, jnp.floating) or (steps_too and a_step):  # a switch's index is no step
            return leaf.astype(dtype)
        return leaf

    return jax.tree_util.tree_map_with_path(cast, schedule)


def _plain_cases():
    built = {name: build() for name, build in CASES.items()}
    return [name for name, s in built.items() if not isinstance(s, osd.StatefulSchedule)]


@pytest.mark.parametrize("steps_too", [False, True], ids=["int_steps", "low_precision_steps"])
@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=lambda d: jnp.dtype(d).name)
@pytest.mark.parametrize("name", _plain_cases())
def test_low_precision_hyperparameters_follow_the_float32_schedule(name, dtype, steps_too):
    low = _cast(CASES[name](), dtype, steps_too)
    # The same hyperparameters (the low-precision numbers exactly) in float32; integer step leaves stay.
    reference = _cast(low, jnp.float32, steps_too=False)
    got = low(LARGE_STEPS)
    want = np.asarray(reference(LARGE_STEPS), np.float32)
    assert got.dtype == jnp.dtype(dtype)  # the value stays in the value dtype
    got = np.asarray(got, np.float32)
    assert np.all(np.isfinite(got)), LARGE_STEPS[~np.isfinite(got)]
    # Steps, boundaries and cycle indices are computed exactly as in float32; only the value
    # arithmetic (a few operations, each rounding by eps / 2 relative to numbers no larger than the
    # schedule's largest value) runs in the low-precision dtype.
    tolerance = 4 * float(jnp.finfo(dtype).eps) * np.max(np.abs(want))
    np.testing.assert_allclose(got, want, rtol=0, atol=tolerance)


@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=lambda d: jnp.dtype(d).name)
def test_low_precision_step_fields_past_float16_range(dtype):
    # The fuzzer's cases: NaN past step 65,504 when a step field was float16.
    low = jnp.dtype(dtype).type
    assert float(osd.step_decay(0.1, low(10), 0.5)(70000)) == 0.0
    slow = osd.step_decay(1.0, low(10), 0.9999)
    np.testing.assert_allclose(float(slow(70000)), float(np.float32(0.9999)) ** 7000, rtol=1e-5)
    decay = osd.step_decay(1.0, 10, low(0.5))
    assert float(decay(2**31 - 1)) == 0.0 and float(decay(19)) == 0.5
    cyclic = osd.cyclic(low(0.1), low(1.0), step_size_up=low(30))
    np.testing.assert_allclose(float(cyclic(70005)), float(osd.cyclic(0.1, 1.0, 30)(70005)), atol=4e-3)
    restarts = osd.restarts(osd.linear(1.0, 0.0, 10), first_period=10, period_multiplier=low(2.0))
    # Cycles start at 10 (2**i - 1): 655,350 starts cycle 16, 655,360 steps long, replaying the
    # schedule's first 10 steps stretched 2**16 times.
    assert float(restarts(655_349)) < 0.01 and float(restarts(655_350)) == 1.0
    np.testing.assert_allclose(float(restarts(655_350 + 327_680)), 0.5, atol=4e-3)
    staircase = osd.staircase(osd.linear(1.0, 0.0, 200_000), step_size=low(10))
    np.testing.assert_allclose(float(staircase(100_009)), 0.5, atol=4e-3)
    cycle = osd.cycle(osd.linear(1.0, 0.0, 10), period=low(10))
    np.testing.assert_allclose(float(cycle(70_005)), 0.5, atol=4e-3)


# -- malformed configs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config,expected",
    [
        ({"family": ["cosine"]}, ["'family' must be a family name", "['cosine']"]),
        ({"family": {"name": "cosine"}}, ["'family' must be a family name", "{'name': 'cosine'}"]),
        ({"family": 3}, ["'family' must be a family name", "3"]),
        ({"name": "cosine", "init_value": 0.1}, ["needs a 'family' key", "cosine", "['init_value', 'name']"]),
        # YAML gives integer keys: mixed with strings they cannot be sorted, so they are listed as strings.
        (
            {"family": "cosine", "init_value": 0.1, "decay_steps": 9, 1: 2, "warmup": 3},
            ["cosine has no argument ['1', 'warmup']"],
        ),
        (
            {"family": "cosine", "init_value": 0.1, "decay_steps": 9, "dtypes": {"init_value": "text"}},
            ["dtypes['init_value'] must name a float or integer dtype", "'text'"],
        ),
        (
            {"family": "cosine", "init_value": 0.1, "decay_steps": 9, "dtypes": {"end_value": "float16"}},
            ["dtypes names 'end_value'"],
        ),
        ({"family": "cosine", "init_value": 0.1, "decay_steps": 9, "dtypes": "float16"}, ["dtypes must map"]),
    ],
)
def test_malformed_config_raises_value_error_naming_it(config, expected):
    with pytest.raises(ValueError) as raised:
        osd.from_config(config)
    for part in expected:
        assert part in str(raised.value)


# -- config round trip keeps dtypes -------------------------------------------------------------------


def test_round_trip_keeps_a_bfloat16_value():
    schedule = osd.cosine(jnp.bfloat16(0.1), 100)
    config = json.loads(json.dumps(osd.to_config(schedule)))  # JSON-safe
    assert config["dtypes"] == {"init_value": "bfloat16"}
    rebuilt = osd.from_config(config)
    assert rebuilt.init_value.dtype == jnp.bfloat16
    assert float(rebuilt.init_value) == 0.10009765625 == float(schedule.init_value)
    np.testing.assert_array_equal(np.asarray(rebuilt(LARGE_STEPS)), np.asarray(schedule(LARGE_STEPS)))


def test_default_dtypes_are_not_recorded_and_old_configs_still_read():
    config = osd.to_config(CASES["nested"]())
    assert "dtypes" not in json.dumps(config)
    old = osd.from_config({"family": "cosine", "init_value": 0.1, "decay_steps": 9})
    assert old.init_value.dtype == jnp.float32


@pytest.mark.parametrize("steps_too", [False, True], ids=["int_steps", "low_precision_steps"])
@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=lambda d: jnp.dtype(d).name)
@pytest.mark.parametrize("name", [n for n in _plain_cases() if not n.startswith("from_function")])
def test_round_trip_keeps_every_leaf_dtype(name, dtype, steps_too):
    schedule = _cast(CASES[name](), dtype, steps_too)
    rebuilt = osd.from_config(json.loads(json.dumps(osd.to_config(schedule))))
    assert jax.tree.structure(rebuilt) == jax.tree.structure(schedule)
    for got, want in zip(jax.tree.leaves(rebuilt), jax.tree.leaves(schedule)):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(np.asarray(got, np.float64), np.asarray(want, np.float64))


# -- from_function's signature ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "function",
    [osd.cosine(0.1, 100), lambda step: step, lambda step, params, extra: step, lambda *, step, params: step],
    ids=["a_schedule", "one_argument", "three_arguments", "keyword_only"],
)
def test_from_function_checks_the_signature_at_construction(function):
    expected = r"from_function: function must take two positional arguments \(step, params\)"
    with pytest.raises(ValueError, match=expected):
        osd.from_function(function, {})


def test_from_function_accepts_what_can_be_called_with_step_and_params():
    assert float(osd.from_function(lambda t, p, scale=2.0: scale * p["a"] * t, {"a": 1.5})(2)) == 6.0
    assert float(osd.from_function(lambda *args: args[0] * 1.0, {})(3)) == 3.0
