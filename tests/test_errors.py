"""Bad arguments fail early with a ValueError that names the argument and the value;
degenerate but legal arguments give finite, documented results; traced values
are checked in checked mode (osd.check / osd.checked), naming the sweep member.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify

import optasched as osd

NAN, INF = float("nan"), float("inf")
STEPS = jnp.arange(0, 300, dtype=jnp.int32)
EVALUATE = jax.jit(lambda schedule, steps: schedule(steps))


def const(value=1.0):
    return osd.constant(value)


# (description, builds a bad schedule, substrings the message must contain)
BAD_INPUTS = [
    # -- negative step counts ---------------------------------------------------------
    ("cosine decay_steps=-1", lambda: osd.cosine(1.0, -1), ["cosine", "decay_steps", ">= 0", "-1"]),
    ("warmup warmup_steps=-5", lambda: osd.warmup(const(), -5), ["warmup", "warmup_steps", "-5"]),
    (
        "polynomial transition_begin=-1",
        lambda: osd.polynomial(1.0, 0.0, 1.0, 10, transition_begin=-1),
        ["polynomial", "transition_begin", "-1"],
    ),
    ("linear transition_steps=-3", lambda: osd.linear(1.0, 0.0, -3), ["linear", "transition_steps", "-3"]),
    (
        "exponential transition_begin=-2",
        lambda: osd.exponential(1.0, 10, 0.5, transition_begin=-2),
        ["exponential", "transition_begin", "-2"],
    ),
    ("wsd stable_steps=-10", lambda: osd.wsd(1.0, 10, -10, 10), ["wsd", "stable_steps", "-10"]),
    ("rex total_steps=-1", lambda: osd.rex(1.0, -1), ["rex", "total_steps", "-1"]),
    ("tanh_decay decay_steps=-10", lambda: osd.tanh_decay(1.0, -10), ["tanh_decay", "decay_steps", "-10"]),
    (
        "piecewise_constant negative boundary",
        lambda: osd.piecewise_constant(1.0, [-100], [0.1]),
        ["piecewise_constant", "boundaries", "-100"],
    ),
    ("join negative boundary", lambda: osd.join([const(), const()], [-1]), ["join", "boundaries", "-1"]),
    (
        "cyclic step_size_down=-1",
        lambda: osd.cyclic(0.1, 1.0, 10, step_size_down=-1),
        ["cyclic", "step_size_down", "-1"],
    ),
    (
        "inverse_sqrt warmup_steps=-1",
        lambda: osd.inverse_sqrt(1.0, -1, timescale=10),
        ["inverse_sqrt", "warmup_steps", "-1"],
    ),
    (
        "multistep negative milestone",
        lambda: osd.multistep(1.0, [-1, 3], 0.1),
        ["multistep", "milestones", "-1"],
    ),
    # -- non-finite values ---------------------------------------------------------------
    ("cosine init_value=nan", lambda: osd.cosine(NAN, 10), ["cosine", "init_value", "finite", "nan"]),
    (
        "cosine end_value=inf",
        lambda: osd.cosine(1.0, 10, end_value=INF),
        ["cosine", "end_value", "finite", "inf"],
    ),
    ("cosine decay_steps=nan", lambda: osd.cosine(1.0, NAN), ["cosine", "decay_steps", "nan"]),
    (
        "piecewise_linear values with nan",
        lambda: osd.piecewise_linear([0, 10], [0.0, NAN]),
        ["piecewise_linear", "values", "finite", "nan"],
    ),
    ("warmup init_value=-inf", lambda: osd.warmup(const(), 10, -INF), ["warmup", "init_value", "-inf"]),
    (
        "exponential decay_rate=inf",
        lambda: osd.exponential(1.0, 10, INF),
        ["exponential", "decay_rate", "inf"],
    ),
    (
        "tanh_decay lower_bound=-inf",
        lambda: osd.tanh_decay(1.0, 10, lower_bound=-INF),
        ["tanh_decay", "lower_bound", "-inf"],
    ),
    (
        "from_function params nan",
        lambda: osd.from_function(lambda t, p: p["a"] * t, {"a": NAN}),
        ["from_function", "params['a']", "nan"],
    ),
    ("noam d_model=inf", lambda: osd.noam(INF, 10), ["noam", "d_model", "inf"]),
    ("noam scale=nan", lambda: osd.noam(512, 10, scale=NAN), ["noam", "scale", "nan"]),
    # -- unsorted boundaries ---------------------------------------------------------------
    (
        "piecewise_constant unsorted",
        lambda: osd.piecewise_constant(1.0, [200, 100], [0.1, 0.1]),
        ["piecewise_constant", "boundaries", "sorted", "200, 100"],
    ),
    (
        "piecewise_linear unsorted",
        lambda: osd.piecewise_linear([0, 20, 10], [0.0, 1.0, 2.0]),
        ["piecewise_linear", "boundaries", "sorted", "20, 10"],
    ),
    (
        "join unsorted",
        lambda: osd.join([const(1.0), const(2.0), const(3.0)], [20, 10]),
        ["join", "boundaries", "sorted", "20, 10"],
    ),
    (
        "multistep unsorted",
        lambda: osd.multistep(1.0, [80, 30], 0.1),
        ["multistep", "milestones", "sorted", "80, 30"],
    ),
    # -- mismatched lengths -----------------------------------------------------------------
    (
        "piecewise_constant scales too short",
        lambda: osd.piecewise_constant(1.0, [100, 200], [0.1]),
        ["piecewise_constant", "scales", "2 entries", "boundaries", "got 1"],
    ),
    (
        "piecewise_linear values too long",
        lambda: osd.piecewise_linear([0, 20], [0.0, 1.0, 2.0]),
        ["piecewise_linear", "values", "2 entries", "got 3"],
    ),
    (
        "join too many boundaries",
        lambda: osd.join([const(), const()], [10, 20]),
        ["join", "boundaries", "one entry fewer", "got 2"],
    ),
    (
        "piecewise_linear no knots",
        lambda: osd.piecewise_linear([], []),
        ["piecewise_linear", "boundaries", "none"],
    ),
    ("join no schedules", lambda: osd.join([], []), ["join", "schedules", "none"]),
    (
        "hyperparameter arrays of different sweep sizes",
        lambda: osd.cosine(jnp.array([1.0, 1.0, 1.0]), jnp.array([10, 10])),
        ["cosine", "sweep axes", "(3,)", "(2,)"],
    ),
    # -- unknown modes -------------------------------------------------------------------------
    (
        "cyclic mode='foo'",
        lambda: osd.cyclic(0.1, 1.0, mode="foo"),
        ["cyclic", "mode", "'foo'", "'triangular'"],
    ),
    (
        "one_cycle anneal_strategy='cosine'",
        lambda: osd.one_cycle(1.0, 100, anneal_strategy="cosine"),
        ["one_cycle", "anneal_strategy", "'cosine'", "'cos'"],
    ),
    (
        "wsd decay_shape='exp'",
        lambda: osd.wsd(1.0, 10, 10, 10, decay_shape="exp"),
        ["wsd", "decay_shape", "'exp'"],
    ),
    (
        "wsd warmup_shape='exp'",
        lambda: osd.wsd(1.0, 10, 10, 10, warmup_shape="exp"),
        ["wsd", "warmup_shape", "'exp'"],
    ),
    (
        "warmup shape='quadratic'",
        lambda: osd.warmup(const(), 5, shape="quadratic"),
        ["warmup", "shape", "'quadratic'", "'linear'"],
    ),
    (
        "piecewise_linear interpolation='cubic'",
        lambda: osd.piecewise_linear([0, 20], [0.0, 1.0], "cubic"),
        ["piecewise_linear", "interpolation", "'cubic'"],
    ),
    # -- zero periods and lengths that must be positive --------------------------------------------
    (
        "cosine_restarts first_period=0",
        lambda: osd.cosine_restarts(1.0, 0),
        ["cosine_restarts", "first_period", "> 0", "0"],
    ),
    (
        "cyclic step_size_up=0",
        lambda: osd.cyclic(0.1, 1.0, step_size_up=0),
        ["cyclic", "step_size_up", "> 0"],
    ),
    (
        "exponential transition_steps=0",
        lambda: osd.exponential(1.0, 0, 0.5),
        ["exponential", "transition_steps", "> 0"],
    ),
    ("step_decay step_size=0", lambda: osd.step_decay(1.0, 0, 0.5), ["step_decay", "step_size", "> 0"]),
    (
        "inverse_time decay_steps=0",
        lambda: osd.inverse_time(1.0, 0, 0.5),
        ["inverse_time", "decay_steps", "> 0"],
    ),
    (
        "inverse_sqrt warmup_steps=0 without timescale",
        lambda: osd.inverse_sqrt(1.0, 0),
        ["inverse_sqrt", "warmup_steps", "timescale"],
    ),
    (
        "inverse_sqrt timescale=0",
        lambda: osd.inverse_sqrt(1.0, 10, timescale=0),
        ["inverse_sqrt", "timescale", "> 0"],
    ),
    ("noam warmup_steps=0", lambda: osd.noam(512, 0), ["noam", "warmup_steps", "> 0"]),
    ("staircase step_size=0", lambda: osd.staircase(const(), 0), ["staircase", "step_size", "> 0"]),
    ("cycle period=0", lambda: osd.cycle(const(), 0), ["cycle", "period", "> 0"]),
    ("restarts first_period=0", lambda: osd.restarts(const(), 0), ["restarts", "first_period", "> 0"]),
    ("one_cycle total_steps=0", lambda: osd.one_cycle(1.0, 0), ["one_cycle", "total_steps", "> 0"]),
    # -- multipliers, fractions and other ranges ------------------------------------------------
    (
        "cosine_restarts period_multiplier=0.5",
        lambda: osd.cosine_restarts(1.0, 10, period_multiplier=0.5),
        ["cosine_restarts", "period_multiplier", ">= 1", "0.5"],
    ),
    (
        "restarts period_multiplier=0.5",
        lambda: osd.restarts(const(), 10, period_multiplier=0.5),
        ["restarts", "period_multiplier", ">= 1", "0.5"],
    ),
    (
        "cosine_restarts peak_multiplier=-1",
        lambda: osd.cosine_restarts(1.0, 10, peak_multiplier=-1),
        ["cosine_restarts", "peak_multiplier", "-1"],
    ),
    (
        "one_cycle pct_start=0",
        lambda: osd.one_cycle(1.0, 100, pct_start=0),
        ["one_cycle", "pct_start", "(0, 1)", "0.0"],
    ),
    (
        "one_cycle pct_start=1",
        lambda: osd.one_cycle(1.0, 100, pct_start=1.0),
        ["one_cycle", "pct_start", "(0, 1)", "1.0"],
    ),
    (
        "one_cycle pct_start=1.5",
        lambda: osd.one_cycle(1.0, 100, pct_start=1.5),
        ["one_cycle", "pct_start", "1.5"],
    ),
    (
        "one_cycle pct_start=-0.25",
        lambda: osd.one_cycle(1.0, 100, pct_start=-0.25),
        ["one_cycle", "pct_start", "-0.25"],
    ),
    (
        "one_cycle pct_start too small for total_steps",
        lambda: osd.one_cycle(1.0, 100, pct_start=0.005),
        ["one_cycle", "pct_start", "total_steps >= 1"],
    ),
    (
        "one_cycle three_phase pct_start=0.75",
        lambda: osd.one_cycle(1.0, 100, pct_start=0.75, three_phase=True),
        ["one_cycle", "pct_start", "three_phase", "0.75"],
    ),
    (
        "one_cycle div_factor=0",
        lambda: osd.one_cycle(1.0, 100, div_factor=0),
        ["one_cycle", "div_factor", "> 0"],
    ),
    ("polynomial power=0", lambda: osd.polynomial(1.0, 0.0, 0, 10), ["polynomial", "power", "> 0", "0.0"]),
    ("cosine exponent=-1", lambda: osd.cosine(1.0, 10, exponent=-1), ["cosine", "exponent", "> 0", "-1.0"]),
    (
        "exponential decay_rate=-0.5",
        lambda: osd.exponential(1.0, 10, -0.5),
        ["exponential", "decay_rate", "-0.5"],
    ),
    ("step_decay gamma=-0.5", lambda: osd.step_decay(1.0, 10, -0.5), ["step_decay", "gamma", "-0.5"]),
    ("multistep gamma=-0.25", lambda: osd.multistep(1.0, [10], -0.25), ["multistep", "gamma", "-0.25"]),
    (
        "piecewise_constant negative scale",
        lambda: osd.piecewise_constant(1.0, [10], [-0.25]),
        ["piecewise_constant", "scales", "-0.25"],
    ),
    ("cyclic gamma=0", lambda: osd.cyclic(0.1, 1.0, gamma=0), ["cyclic", "gamma", "> 0"]),
    (
        "tanh_decay upper_bound <= lower_bound",
        lambda: osd.tanh_decay(1.0, 10, lower_bound=3, upper_bound=-7),
        ["tanh_decay", "upper_bound", "lower_bound", "-7.0"],
    ),
    (
        "exponential warmup from 0",
        lambda: osd.warmup(const(), 10, 0.0, shape="exponential"),
        ["warmup", "init_value", "> 0", "0.0"],
    ),
    ("divide by zero", lambda: osd.cosine(1.0, 10) / 0, ["divisor", "non-zero", "0.0"]),
    ("divide by a schedule", lambda: osd.cosine(1.0, 10) / osd.cosine(1.0, 10), ["divided by a number"]),
    ("noam d_model=0", lambda: osd.noam(0, 10), ["noam", "d_model", "0"]),
    # -- wrong types where numbers are expected ---------------------------------------------------
    ("string init_value", lambda: osd.cosine("0.1", 10), ["cosine", "init_value", "number", "'0.1'"]),
    ("None init_value", lambda: osd.cosine(None, 10), ["cosine", "init_value", "None"]),
    ("None decay_steps", lambda: osd.cosine(1.0, None), ["cosine", "decay_steps", "None"]),
    (
        "None boundaries",
        lambda: osd.piecewise_constant(1.0, None, [0.1]),
        ["piecewise_constant", "boundaries", "None"],
    ),
    (
        "None step_size_up",
        lambda: osd.cyclic(0.1, 1.0, step_size_up=None),
        ["cyclic", "step_size_up", "None"],
    ),
    ("None shift offset", lambda: osd.shift(const(), None), ["shift", "offset", "None"]),
    ("None warmup schedule", lambda: osd.warmup(None, 10), ["warmup", "schedule", "None"]),
    ("bool init_value", lambda: osd.cosine(True, 10), ["cosine", "init_value", "True"]),
    ("bool decay_steps", lambda: osd.cosine(1.0, False), ["cosine", "decay_steps", "False"]),
    (
        "bool array values",
        lambda: osd.piecewise_linear([0, 1], [True, False]),
        ["piecewise_linear", "values", "bool"],
    ),
    ("complex init_value", lambda: osd.cosine(1 + 2j, 10), ["cosine", "init_value", "(1+2j)"]),
    (
        "string values",
        lambda: osd.piecewise_linear([0, 1], ["a", "b"]),
        ["piecewise_linear", "values", "'a'"],
    ),
    (
        "ragged values",
        lambda: osd.piecewise_linear([0, 1], [0.0, [1.0, 2.0]]),
        ["piecewise_linear", "values"],
    ),
    (
        "scalar boundaries",
        lambda: osd.piecewise_constant(1.0, 100, [0.1]),
        ["piecewise_constant", "boundaries", "1-D", "100"],
    ),
    ("scalar milestones", lambda: osd.multistep(1.0, 30, 0.1), ["multistep", "milestones", "1-D", "30"]),
    (
        "schedule as init_value",
        lambda: osd.cosine(const(), 10),
        ["cosine", "init_value", "schedule", "constant("],
    ),
    (
        "schedule as warmup_steps",
        lambda: osd.warmup(const(), const(5.0)),
        ["warmup", "warmup_steps", "schedule"],
    ),
    ("string gamma", lambda: osd.multistep(1.0, [30, 80], "0.1"), ["multistep", "gamma", "'0.1'"]),
    ("None gamma", lambda: osd.multistep(1.0, [30, 80], None), ["multistep", "gamma", "None"]),
    ("string warmup_steps", lambda: osd.warmup(const(), "10"), ["warmup", "warmup_steps", "'10'"]),
    ("string shift offset", lambda: osd.shift(const(), "a"), ["shift", "offset", "'a'"]),
    ("bool d_model", lambda: osd.noam(True, 10), ["noam", "d_model", "True"]),
    ("string noam scale", lambda: osd.noam(512, 10, scale="a"), ["noam", "scale", "'a'"]),
    ("None noam warmup_steps", lambda: osd.noam(512, None), ["noam", "warmup_steps", "None"]),
    ("string clip bound", lambda: osd.clip(const(), "a"), ["clip", "min_value", "'a'"]),
    ("string added", lambda: const() + "a", ["right", "'a'"]),
    (
        "string params",
        lambda: osd.from_function(lambda t, p: p, {"a": "x"}),
        ["from_function", "params['a']", "'x'"],
    ),
    ("join schedules not a list", lambda: osd.join(const(), []), ["join", "schedules", "list", "constant("]),
    ("join schedules None", lambda: osd.join(None, []), ["join", "schedules", "None"]),
    ("string step", lambda: osd.cosine(1.0, 10)("a"), ["cosine", "step", "'a'"]),
    ("None step", lambda: osd.cosine(1.0, 10)(None), ["cosine", "step", "None"]),
    ("bool step", lambda: osd.cosine(1.0, 10)(True), ["cosine", "step", "bool"]),
    ("clip without bounds", lambda: osd.clip(const()), ["clip", "min_value", "max_value"]),
    (
        "from_function not callable",
        lambda: osd.from_function(3, {}),
        ["from_function", "function", "callable", "3"],
    ),
    # -- a function where a schedule is expected ---------------------------------------------------
    (
        "function to warmup",
        lambda: osd.warmup(lambda t: 0.1, 10),
        ["warmup", "schedule", "function", "from_function"],
    ),
    (
        "function in join",
        lambda: osd.join([const(), lambda t: 0.1], [10]),
        ["join", "schedules[1]", "from_function"],
    ),
    ("function added", lambda: const() + (lambda t: t), ["function", "from_function"]),
    ("function to clip", lambda: osd.clip(const(), 0.0, lambda t: t), ["clip", "max_value", "from_function"]),
    ("function to cycle", lambda: osd.cycle(lambda t: t, 10), ["cycle", "schedule", "from_function"]),
    (
        "function to staircase",
        lambda: osd.staircase(lambda t: t, 10),
        ["staircase", "schedule", "from_function"],
    ),
    # -- stacking: only schedules may differ between members (they become switches) ---------------------
    (
        "stack configs with different keys",
        lambda: osd.stack([{"lr": osd.cosine(1.0, 10)}, {"learning_rate": osd.cosine(1.0, 10)}]),
        ["stack", "member 1", "keys ['lr'] vs ['learning_rate']"],
    ),
    (
        "stack arrays of different shapes in a config",
        lambda: osd.stack([{"lr": osd.cosine(1.0, 10), "mask": jnp.ones(3)}, {"lr": osd.cosine(1.0, 10), "mask": jnp.ones(2)}]),
        ["stack", "member 1", "['mask']", "shape (3,) vs (2,)"],
    ),
    ("stack nothing", lambda: osd.stack([]), ["stack", "none"]),
    # -- sweeps ------------------------------------------------------------------------------------------
    (
        "grid with an empty axis",
        lambda: osd.grid(lambda a: osd.constant(a), a=[]),
        ["grid", "axis a", "non-empty", "[]"],
    ),
    (
        "grid with a string axis",
        lambda: osd.grid(lambda a: osd.constant(a), a="abc"),
        ["grid", "axis a", "'abc'"],
    ),
    ("grid without axes", lambda: osd.grid(lambda a: osd.constant(a)), ["grid", "axis"]),
    ("grid builder not callable", lambda: osd.grid(3, a=[1]), ["build", "callable", "3"]),
    (
        "sample a list, not a distribution",
        lambda: osd.sample(lambda a: osd.constant(a), jax.random.key(0), 4, a=[1.0, 2.0]),
        ["sample", "a must be a distribution", "[1.0, 2.0]"],
    ),
    (
        "sample num_samples=0",
        lambda: osd.sample(lambda a: osd.constant(a), jax.random.key(0), 0, a=osd.uniform(0, 1)),
        ["sample", "num_samples", "0"],
    ),
    ("uniform low > high", lambda: osd.uniform(1.0, 0.0), ["uniform", "low=1.0", "high=0.0"]),
    ("uniform string bound", lambda: osd.uniform("a", 1.0), ["uniform", "low='a'"]),
    ("log_uniform low=0", lambda: osd.log_uniform(0.0, 1.0), ["log_uniform", "low", "> 0"]),
    ("choice of nothing", lambda: osd.choice([]), ["choice", "options", "non-empty"]),
    (
        "replace an unknown hyperparameter",
        lambda: osd.cosine(1.0, 10).replace(foo=1),
        ["cosine", "no hyperparameter 'foo'", "decay_steps"],
    ),
    (
        "replace an unknown nested hyperparameter",
        lambda: osd.warmup(osd.cosine(1.0, 10), 5).replace(**{"schedule.foo": 1}),
        ["cosine", "no hyperparameter 'foo'"],
    ),
    (
        "replace a bad value",
        lambda: osd.cosine(1.0, 10).replace(decay_steps=-1),
        ["cosine", "decay_steps", "-1"],
    ),
    (
        "replace a bad index path",
        lambda: osd.join([const(), const()], [10]).replace(**{"schedules.5.value": 1.0}),
        ["join", "'schedules.5.value'", "below 2"],
    ),
    (
        "replace into a number",
        lambda: osd.cosine(1.0, 10).replace(**{"init_value.x": 1}),
        ["cosine", "init_value", "not a schedule"],
    ),
    # -- a sweep with one bad member ----------------------------------------------------------------------
    (
        "batched arrays, member 2 bad",
        lambda: osd.cosine(jnp.array([1.0, 1.0, 1.0]), jnp.array([10, 10, -1])),
        ["cosine", "decay_steps", "-1", "sweep member 2"],
    ),
    (
        "batched arrays, member 1 nan",
        lambda: osd.cosine(jnp.array([1.0, NAN, 1.0]), 10),
        ["cosine", "init_value", "nan", "sweep member 1"],
    ),
    (
        "batched knots, member 1 unsorted",
        lambda: osd.piecewise_linear(jnp.array([[0, 10], [10, 0]]), jnp.array([[0.0, 1.0], [0.0, 1.0]])),
        ["piecewise_linear", "boundaries", "sorted", "sweep member 1"],
    ),
    (
        "stacked sweep replace, member 1 bad",
        lambda: osd.stack([osd.cosine(1.0, 10)] * 3).replace(decay_steps=jnp.array([10, -3, 20])),
        ["cosine", "decay_steps", "-3", "sweep member 1"],
    ),
    (
        "grid, member 2 bad",
        lambda: osd.grid(lambda d: osd.cosine(1.0, d), d=[10, 20, -1]),
        ["cosine", "decay_steps", "-1", "sweep member 2", "d=-1"],
    ),
    (
        "grid over a schedule, member 1 bad",
        lambda: osd.grid(osd.cosine(1.0, 10), decay_steps=[10, -7]),
        ["cosine", "decay_steps", "-7", "sweep member 1"],
    ),
    (
        "sample, a bad member",
        lambda: osd.sample(lambda d: osd.cosine(1.0, d), jax.random.key(0), 4, d=osd.int_uniform(-5, -1)),
        ["cosine", "decay_steps", "sweep member 0"],
    ),
]


def test_enough_bad_inputs():
    assert len(BAD_INPUTS) >= 30
    assert len({description for description, _, _ in BAD_INPUTS}) == len(BAD_INPUTS)


@pytest.mark.parametrize(
    ("description", "build", "expected"), BAD_INPUTS, ids=[description for description, _, _ in BAD_INPUTS]
)
def test_bad_input_raises_value_error_naming_it(description, build, expected):
    with pytest.raises(ValueError) as info:
        build()
    message = str(info.value)
    missing = [part for part in expected if part not in message]
    assert not missing, f"{description}: message {message!r} lacks {missing}"


# -- degenerate legal values -------------------------------------------------------------------------


def values(schedule, steps=STEPS):
    out = np.asarray(EVALUATE(schedule, steps))
    assert np.all(np.isfinite(out)), out
    return out


@pytest.mark.parametrize(
    "inner",
    [osd.cosine(1.0, 100, 0.1), osd.linear(0.5, 0.0, 50), osd.constant(0.3), osd.wsd(1.0, 10, 20, 30)],
    ids=["cosine", "linear", "constant", "wsd"],
)
@pytest.mark.parametrize("shape", ["linear", "cosine", "exponential", "constant"])
def test_zero_warmup_is_the_schedule_itself(inner, shape):
    warmed = osd.warmup(inner, 0, init_value=0.5, shape=shape)
    np.testing.assert_array_equal(values(warmed), values(inner))


@pytest.mark.parametrize(
    ("schedule", "end"),
    [
        (osd.cosine(1.0, 0, end_value=0.1), 0.1),
        (osd.cosine(1.0, 0, end_value=0.1, exponent=0.5), 0.1),
        (osd.polynomial(1.0, 0.2, 2.0, 0), 0.2),
        (osd.polynomial(1.0, 0.2, 0.5, 0, cycle=True), 0.2),
        (osd.linear(1.0, 0.3, 0), 0.3),
        (osd.rex(1.0, 0, end_value=0.05), 0.05),
        (osd.tanh_decay(1.0, 0, end_value=0.05), 0.05),
        (osd.wsd(1.0, 0, 0, 0, end_value=0.1), 0.1),
    ],
    ids=[
        "cosine",
        "cosine-exponent",
        "polynomial",
        "polynomial-cycle",
        "linear",
        "rex",
        "tanh",
        "wsd-all-zero",
    ],
)
def test_zero_length_transition_gives_end_value_from_the_start(schedule, end):
    np.testing.assert_allclose(values(schedule), end, rtol=1e-6)
    np.testing.assert_allclose(float(schedule(0)), end, rtol=1e-6)
    np.testing.assert_allclose(float(schedule(2**31 - 1)), end, rtol=1e-6)


def test_zero_length_transition_after_a_delay_jumps_at_transition_begin():
    # Documented: transition_steps=0 jumps to end_value at transition_begin (held at init before).
    out = values(osd.linear(1.0, 0.25, 0, transition_begin=5))
    np.testing.assert_array_equal(out[:5], 1.0)
    np.testing.assert_array_equal(out[5:], 0.25)


def test_zero_length_transition_has_finite_gradients():
    for make in (
        lambda v: osd.cosine(v, 0, end_value=0.1 * v, exponent=0.5),
        lambda v: osd.polynomial(v, 0.1 * v, 0.5, 0),
        lambda v: osd.rex(v, 0),
        lambda v: osd.wsd(v, 0, 0, 0, end_value=0.1 * v),
    ):
        gradient = jax.grad(lambda v, make=make: jnp.sum(make(v)(STEPS)))(1.0)
        assert np.isfinite(gradient)


def test_wsd_zero_length_phases():
    # No warmup: the stable phase starts at step 0 at the peak.
    np.testing.assert_array_equal(values(osd.wsd(1.0, 0, 10, 0, end_value=0.1))[:10], 1.0)
    np.testing.assert_allclose(values(osd.wsd(1.0, 0, 10, 0, end_value=0.1))[10:], 0.1)
    # No stable phase: the decay starts at the peak right after the warmup.
    out = values(osd.wsd(1.0, 10, 0, 10, end_value=0.0, decay_shape="linear"))
    np.testing.assert_allclose(out[[0, 5, 10, 15, 20, 25]], [0.0, 0.5, 1.0, 0.5, 0.0, 0.0], atol=1e-6)
    # Only a decay: from the peak at step 0 to end_value at step D.
    out = values(osd.wsd(1.0, 0, 0, 10, end_value=0.2, decay_shape="linear"))
    np.testing.assert_allclose(out[[0, 5, 10, 50]], [1.0, 0.6, 0.2, 0.2], atol=1e-6)
    # No decay: the peak until W + S, then end_value.
    out = values(osd.wsd(1.0, 10, 10, 0, end_value=0.2))
    np.testing.assert_allclose(out[[0, 10, 19, 20, 100]], [0.2, 1.0, 1.0, 0.2, 0.2], atol=1e-6)


def test_join_with_repeated_boundaries_skips_the_empty_segment():
    a, b, c = osd.constant(1.0), osd.constant(2.0), osd.linear(3.0, 0.0, 30)
    out = values(osd.join([a, b, c], [10, 10]))
    np.testing.assert_array_equal(out[:10], 1.0)
    assert not np.any(out == 2.0)  # b's segment is empty
    np.testing.assert_allclose(out[10:], values(c, jnp.maximum(STEPS[10:] - 10, 0)), rtol=1e-6)
    # A repeated boundary at 0: only the last schedule of the tie ever runs.
    np.testing.assert_allclose(values(osd.join([a, b, c], [0, 0])), values(c), rtol=1e-6)


def test_a_list_of_traced_boundaries_builds_under_vmap():
    # A boundary swept with vmap arrives as a tracer inside a Python list: NumPy cannot hold it.
    def built(boundary):
        return osd.join([osd.constant(1.0), osd.linear(0.5, 0.0, 10)], [boundary])(STEPS)

    swept = np.asarray(jax.vmap(built)(jnp.asarray([3, 7])))
    for row, boundary in zip(swept, (3, 7)):
        expected = values(osd.join([osd.constant(1.0), osd.linear(0.5, 0.0, 10)], [boundary]))
        np.testing.assert_allclose(row, expected, rtol=1e-6, atol=1e-7)  # float32, another program shape
    with pytest.raises(ValueError, match="join: boundaries must be numeric"):
        osd.join([osd.constant(1.0), osd.constant(0.1)], [jnp.asarray(3), None])


def test_piecewise_linear_single_knot_is_constant():
    for interpolation in ("linear", "cosine"):
        out = values(osd.piecewise_linear([50], [0.3], interpolation))
        np.testing.assert_allclose(out, 0.3, rtol=1e-6)


def test_piecewise_linear_repeated_knot_is_a_jump():
    s = osd.piecewise_linear([0, 10, 10, 20], [0.0, 1.0, 0.5, 0.0])
    out = values(s)
    np.testing.assert_allclose(
        out[[0, 5, 9, 10, 15, 20, 100]], [0.0, 0.5, 0.9, 0.5, 0.25, 0.0, 0.0], atol=1e-6
    )
    # Repeated first knot: values[0] before it, the later value from it on.
    out = values(osd.piecewise_linear([5, 5, 10], [0.0, 1.0, 2.0]))
    np.testing.assert_allclose(out[[0, 4, 5, 10, 20]], [0.0, 0.0, 1.0, 2.0, 2.0], atol=1e-6)
    # Every knot the same: a single jump from values[0] to values[-1].
    out = values(osd.piecewise_linear([5, 5, 5], [0.0, 1.0, 2.0]))
    np.testing.assert_allclose(out[[0, 4, 5, 6]], [0.0, 0.0, 2.0, 2.0], atol=1e-6)


def test_other_degenerate_values_are_finite_and_documented():
    # decay_rate 0: init_value at step 0, then 0 (or the end_value floor).
    np.testing.assert_allclose(values(osd.exponential(1.0, 10, 0.0))[[0, 1, 100]], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(values(osd.exponential(1.0, 10, 0.0, end_value=0.1))[[0, 1]], [1.0, 0.1])
    # inverse_sqrt without warmup: the peak at step 0, then the decay.
    np.testing.assert_allclose(values(osd.inverse_sqrt(1.0, 0, timescale=4))[[0, 12]], [1.0, 0.5], rtol=1e-6)
    # A cyclic schedule with no way down is a sawtooth.
    out = values(osd.cyclic(0.0, 1.0, 10, step_size_down=0))
    np.testing.assert_allclose(out[[0, 5, 9, 10, 15]], [0.0, 0.5, 0.9, 0.0, 0.5], atol=1e-6)
    # pct_start * total_steps == 1: the peak at step 0.
    np.testing.assert_allclose(float(osd.one_cycle(1.0, 10, pct_start=0.1)(0)), 1.0, rtol=1e-6)
    # Step counts beyond int32 are kept as floats rather than overflowing.
    np.testing.assert_allclose(float(osd.cosine(1.0, 2**40)(2**31 - 1)), 1.0, rtol=1e-3)
    # A negative shift does not wrap around at the top of the int32 range.
    shifted = osd.shift(osd.linear(1.0, 0.0, 10), -5)
    np.testing.assert_allclose(
        values(shifted, jnp.array([0, 5, 2**31 - 1], dtype=jnp.int32)), [0.5, 0.0, 0.0]
    )


# -- checked mode ------------------------------------------------------------------------------------


def sweep_of(n=4):
    return osd.stack([osd.warmup(osd.cosine(1.0, 100 + 10 * i, 0.1), 10 + i) for i in range(n)])


def set_member(tree, field, member, value):
    """tree with leaf ``field`` (a path suffix) of sweep member ``member`` set to value."""

    def edit(path, leaf):
        return leaf.at[member].set(value) if jax.tree_util.keystr(path).endswith(field) else leaf

    return jax.tree_util.tree_map_with_path(edit, tree)


def run(schedule):
    return schedule(jnp.arange(0, 200, 10))


@pytest.mark.parametrize(
    ("field", "bad", "expected"),
    [
        ("decay_steps", -5, ["cosine", "decay_steps", ">= 0", "-5"]),
        ("warmup_steps", -1, ["warmup", "warmup_steps", "-1"]),
        ("init_value", NAN, ["init_value", "finite", "nan"]),
        ("end_value", INF, ["cosine", "end_value", "inf"]),
    ],
)
def test_checked_names_the_argument_and_sweep_member(field, bad, expected):
    bad_sweep = set_member(sweep_of(), field, 2, bad)  # unflattening skips validation
    with pytest.raises(ValueError) as info:
        osd.checked(jax.jit(run))(bad_sweep)
    message = str(info.value)
    for part in expected + ["argument 0", "sweep member 2"]:
        assert part in message, (part, message)


def test_checked_keyword_argument_and_unsorted_boundaries():
    good = osd.stack([osd.piecewise_linear([0, 10, 20], [0.0, 1.0, 0.5])] * 3)
    bad = set_member(good, "boundaries", 1, jnp.array([20, 10, 0]))
    with pytest.raises(ValueError, match=r"argument schedule.*boundaries must be sorted.*sweep member 1"):
        osd.checked(jax.jit(lambda schedule: run(schedule)))(schedule=bad)


def test_checked_passes_a_good_sweep_unchanged():
    sweep = sweep_of()
    expected = jax.jit(run)(sweep)
    np.testing.assert_array_equal(osd.checked(jax.jit(run))(sweep), expected)
    small = osd.stack([osd.cosine(1.0, 10), osd.cosine(0.5, 20)])
    np.testing.assert_array_equal(osd.checked(run)(small), run(small))  # without jit too


def test_checked_catches_schedules_built_from_traced_values():
    # Built under jit or vmap, the constructor cannot see the values: nothing raises...
    built_in_jit = jax.jit(lambda d: osd.cosine(1.0, d))(-1)
    built_in_vmap = jax.vmap(lambda d: osd.cosine(1.0, d))(jnp.array([10, 20, -3, 5]))
    # ...until checked mode looks.
    with pytest.raises(ValueError, match=r"decay_steps must be >= 0, got -1"):
        osd.checked(jax.jit(run))(built_in_jit)
    with pytest.raises(ValueError, match=r"decay_steps must be >= 0, got -3 \(sweep member 2\)"):
        osd.checked(jax.jit(run))(built_in_vmap)


def test_check_inside_checkify():
    bad = jax.jit(lambda d: osd.cosine(1.0, d))(-1)
    error, _ = checkify.checkify(lambda s: (osd.check(s), s(3))[1])(bad)
    assert error.get() is not None and "decay_steps" in error.get() and "-1" in error.get()
    error, out = checkify.checkify(lambda s: (osd.check(s), s(3))[1])(osd.cosine(1.0, 10))
    assert error.get() is None
    np.testing.assert_allclose(out, osd.cosine(1.0, 10)(3))


def test_check_schedule_constructed_inside_jit():
    def train(decay_steps):
        schedule = osd.cosine(1.0, decay_steps)
        osd.check(schedule)
        return schedule(3)

    checked_train = checkify.checkify(jax.jit(train))
    error, _ = checked_train(-4)
    assert "decay_steps" in error.get() and "-4" in error.get()
    error, out = checked_train(10)
    assert error.get() is None
    np.testing.assert_allclose(out, osd.cosine(1.0, 10)(3), rtol=1e-6)


def test_check_a_grid_sweep_names_the_member():
    sweep = osd.grid(lambda peak, steps: osd.cosine(peak, steps), peak=[0.1, 0.3], steps=[10, 20, 30]).config
    bad = set_member(sweep, "init_value", 4, NAN)
    with pytest.raises(ValueError, match=r"init_value must be finite, got nan \(sweep member 4\)"):
        osd.checked(jax.jit(run))(bad)


# Members that differ in any schedule structure stack through switches: each member's own
# schedule is evaluated, in one program (formerly these were errors).
SWITCHED_STACKS = {
    "different families": [osd.cosine(1.0, 10), osd.linear(1.0, 0.0, 10)],
    "nested difference": [osd.warmup(osd.cosine(1.0, 10), 5)] * 2 + [osd.warmup(osd.linear(1.0, 0.0, 10), 5)],
    "boundary lengths": [osd.piecewise_constant(1.0, [1, 2], [0.1, 0.1]), osd.piecewise_constant(1.0, [1], [0.1])],
    "static options": [osd.cyclic(0.1, 1.0, 4), osd.cyclic(0.1, 1.0, 4, mode="triangular2")],
    "optional given vs None": [osd.cyclic(0.1, 1.0, 4), osd.cyclic(0.1, 1.0, 4, step_size_down=10)],
    "join lengths": [osd.join([const(), const(0.5)], [5]), osd.join([const(), const(0.5), const(0.2)], [5, 6])],
}


@pytest.mark.parametrize("name", list(SWITCHED_STACKS))
def test_members_of_different_structure_stack_through_a_switch(name):
    members = SWITCHED_STACKS[name]
    stacked = osd.stack(members)
    assert stacked.family == "switch" and len(stacked) == len(members)
    swept = jax.vmap(lambda s: EVALUATE(s, STEPS))(stacked)
    for i, member in enumerate(members):  # float32: a vmapped select vs one member's program
        np.testing.assert_allclose(swept[i], member(STEPS), rtol=1e-6, atol=1e-7)
