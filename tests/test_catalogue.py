"""The core promise, over the whole catalogue: for every numeric argument of every
public constructor and combinator, ``replace``, ``grid`` and ``sample`` on a
built schedule equal constructing it fresh with that value, and configs,
reprs and checked mode speak the constructor's own argument names.

Each row: the constructor, its arguments, and for each numeric argument
another legal value. Comparisons run through one jitted evaluation, so the
replaced and the fresh schedule run the same compiled program: bit-identical.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optasched as osd

STEPS = jnp.arange(0, 420, dtype=jnp.int32)
EVALUATE = jax.jit(lambda schedule: schedule(STEPS))


def cos(peak=1.0):
    return osd.cosine(peak, 250, 0.01)


# name -> (constructor, arguments, {argument: another value})
CATALOGUE = {
    "constant": (osd.constant, dict(value=0.1), dict(value=0.3)),
    "polynomial": (
        osd.polynomial,
        dict(init_value=1.0, end_value=0.1, power=2.0, transition_steps=200, transition_begin=10),
        dict(init_value=0.8, end_value=0.05, power=1.5, transition_steps=150, transition_begin=20),
    ),
    "linear": (
        osd.linear,
        dict(init_value=1.0, end_value=0.1, transition_steps=200, transition_begin=10),
        dict(init_value=0.8, end_value=0.05, transition_steps=150, transition_begin=20),
    ),
    "exponential": (
        osd.exponential,
        dict(init_value=1.0, transition_steps=40, decay_rate=0.5, transition_begin=5, end_value=0.05),
        dict(init_value=0.8, transition_steps=25, decay_rate=0.7, transition_begin=15, end_value=0.1),
    ),
    "step_decay": (
        osd.step_decay,
        dict(init_value=1.0, step_size=60, gamma=0.3),
        dict(init_value=0.8, step_size=20, gamma=0.5),
    ),
    "inverse_time": (
        osd.inverse_time,
        dict(init_value=1.0, decay_steps=50, decay_rate=0.5),
        dict(init_value=0.8, decay_steps=20, decay_rate=2.0),
    ),
    "inverse_sqrt": (
        osd.inverse_sqrt,
        dict(peak_value=1.0, warmup_steps=40, timescale=100),
        dict(peak_value=0.5, warmup_steps=10, timescale=30),
    ),
    "noam": (
        osd.noam,
        dict(d_model=512.0, warmup_steps=4000, scale=1.0),
        dict(d_model=64.0, warmup_steps=100, scale=2.0),
    ),
    "piecewise_constant": (
        osd.piecewise_constant,
        dict(init_value=1.0, boundaries=[50, 120, 200], scales=[0.5, 0.3, 0.1]),
        dict(init_value=0.8, boundaries=[40, 100, 150], scales=[0.9, 0.5, 0.2]),
    ),
    "multistep": (
        osd.multistep,
        dict(init_value=1.0, milestones=[60, 150], gamma=0.2),
        dict(init_value=0.8, milestones=[30, 90], gamma=0.5),
    ),
    "piecewise_linear": (
        osd.piecewise_linear,
        dict(boundaries=[0, 40, 180, 260], values=[0.0, 1.0, 0.4, 0.05]),
        dict(boundaries=[0, 20, 100, 300], values=[0.1, 0.9, 0.5, 0.0]),
    ),
    "cosine": (
        osd.cosine,
        dict(init_value=1.0, decay_steps=250, end_value=0.05, exponent=1.5),
        dict(init_value=0.8, decay_steps=100, end_value=0.1, exponent=2.0),
    ),
    "cosine_restarts": (
        osd.cosine_restarts,
        dict(init_value=1.0, first_period=50, period_multiplier=1.5, peak_multiplier=0.8, end_value=0.01),
        dict(init_value=0.8, first_period=30, period_multiplier=2.0, peak_multiplier=0.5, end_value=0.1),
    ),
    "cyclic": (
        osd.cyclic,
        dict(base_value=0.1, max_value=1.0, step_size_up=30, step_size_down=50, mode="exp_range", gamma=0.99),
        dict(base_value=0.2, max_value=0.9, step_size_up=20, step_size_down=40, gamma=0.995),
    ),
    "one_cycle": (
        osd.one_cycle,
        dict(max_value=1.0, total_steps=300, pct_start=0.3, div_factor=25.0, final_div_factor=1e4),
        dict(max_value=0.5, total_steps=200, pct_start=0.4, div_factor=10.0, final_div_factor=100.0),
    ),
    "wsd": (
        osd.wsd,
        dict(peak_value=1.0, warmup_steps=30, stable_steps=150, decay_steps=60, end_value=0.02),
        dict(peak_value=0.5, warmup_steps=10, stable_steps=100, decay_steps=90, end_value=0.1),
    ),
    "rex": (
        osd.rex,
        dict(init_value=1.0, total_steps=250, end_value=0.01),
        dict(init_value=0.8, total_steps=150, end_value=0.1),
    ),
    "tanh_decay": (
        osd.tanh_decay,
        dict(init_value=1.0, decay_steps=250, end_value=0.01, lower_bound=-7.0, upper_bound=3.0),
        dict(init_value=0.8, decay_steps=150, end_value=0.1, lower_bound=-5.0, upper_bound=2.0),
    ),
    "warmup": (
        osd.warmup,
        dict(schedule=cos(), warmup_steps=30, init_value=0.01),
        dict(warmup_steps=10, init_value=0.1),
    ),
    "join": (
        osd.join,
        dict(schedules=[osd.linear(0.0, 1.0, 30), cos()], boundaries=[30]),
        dict(boundaries=[60]),
    ),
    "clip": (
        osd.clip,
        dict(schedule=osd.cyclic(0.0, 1.0, 40), min_value=0.2, max_value=0.8),
        dict(min_value=0.1, max_value=0.6),
    ),
    "minimum": (osd.minimum, dict(first=cos(), second=0.5), dict(second=0.3)),
    "maximum": (osd.maximum, dict(first=cos(), second=0.05), dict(second=0.2)),
    "restarts": (
        osd.restarts,
        dict(schedule=osd.rex(1.0, 60), first_period=60, period_multiplier=1.5, peak_multiplier=0.7),
        dict(first_period=40, period_multiplier=2.0, peak_multiplier=1.2),
    ),
    "cycle": (osd.cycle, dict(schedule=osd.linear(1.0, 0.0, 70), period=70), dict(period=35)),
    "shift": (osd.shift, dict(schedule=cos(), offset=25), dict(offset=-10)),
    "staircase": (osd.staircase, dict(schedule=cos(), step_size=20), dict(step_size=7)),
    "round_clock": (osd.round_clock, dict(schedule=cos(), local_steps=4), dict(local_steps=3)),
    "from_function": (
        osd.from_function,
        dict(function=lambda t, p: p["lr"] * jnp.exp(-t / p["tau"]), params={"lr": 1.0, "tau": 80.0}),
        {"params.lr": 0.5, "params.tau": 20.0},
    ),
    "coupled": (
        osd.coupled,
        dict(schedule=osd.cyclic(0.1, 1.0, 40), low=0.1, high=0.3, base_min=0.1, base_max=1.0),
        dict(low=0.05, high=0.5, base_min=0.2, base_max=0.9),
    ),
    "cycled_momentum": (
        osd.cycled_momentum,
        dict(schedule=osd.cyclic(0.1, 1.0, 40), base_momentum=0.85, max_momentum=0.95, base_min=0.1, base_max=1.0),
        dict(base_momentum=0.8, max_momentum=0.99, base_min=0.2, base_max=0.8),
    ),
    "coupled_ema_decay": (
        osd.coupled_ema_decay,
        dict(schedule=cos(), min_decay=0.9, max_decay=0.99, base_min=0.0, base_max=1.0),
        dict(min_decay=0.5, max_decay=0.95, base_min=0.01, base_max=0.8),
    ),
    "coupled_temperature": (
        osd.coupled_temperature,
        dict(schedule=osd.linear(1.0, 0.0, 200), min_temperature=0.05, max_temperature=0.2, base_min=0.0,
             base_max=1.0),
        dict(min_temperature=0.1, max_temperature=0.5, base_min=0.1, base_max=0.7),
    ),
    "coupled_weight_decay": (
        osd.coupled_weight_decay,
        dict(schedule=cos(), weight_decay=0.1, max_value=5.0, reference=1.0),
        dict(weight_decay=0.05, max_value=2.0, reference=0.5),
    ),
    "switch": (osd.switch, dict(schedules=[cos(), osd.wsd(1.0, 20, 150, 60)], index=0), dict(index=1)),
}

# Arithmetic builds schedules too: its operands are its arguments.
OPERATORS = {
    "add": (lambda left, right: left + right, dict(left=cos(), right=0.1), dict(right=0.3)),
    "sub": (lambda left, right: left - right, dict(left=cos(), right=0.1), dict(right=0.3)),
    "mul": (lambda left, right: left * right, dict(left=cos(), right=0.5), dict(right=2.0)),
    "div": (lambda left, right: left / right, dict(left=cos(), right=4.0), dict(right=2.0)),
}

NUMERIC = osd.schedules.Kind.REAL, osd.schedules.Kind.STEPS, osd.schedules.Kind.REALS, osd.schedules.Kind.BOUNDARIES


def _cases():
    for name, (build, arguments, others) in {**CATALOGUE, **OPERATORS}.items():
        for argument, other in others.items():
            yield pytest.param(name, argument, other, id=f"{name}-{argument}")


def _fresh(build, arguments, argument, other):
    head, _, rest = argument.partition(".")
    changed = dict(arguments)
    if rest:  # a dotted path into a parameter tree
        changed[head] = {**arguments[head], rest: other}
    else:
        changed[argument] = other
    return build(**changed)


def test_every_numeric_argument_of_every_public_constructor_is_in_the_catalogue():
    """Every public family is a row, and every numeric argument has another value."""
    # The library's own families (families a test declares are registered too).
    families = {f: cls for f, cls in osd.schedules.families().items() if cls.__module__.startswith("optasched.")}
    callable_families = {
        f for f, cls in families.items() if not issubclass(cls, osd.StatefulSchedule) and f != "stateful_switch"
    }
    assert callable_families <= set(CATALOGUE) | set(OPERATORS), callable_families - set(CATALOGUE) - set(OPERATORS)
    for name, (build, arguments, others) in CATALOGUE.items():
        cls = families[name] if name in families else type(build(**arguments))
        for field, spec in cls.fields.items():
            if spec.kind in NUMERIC:
                assert field in others or any(k.startswith(field + ".") for k in others), (name, field)


@pytest.mark.parametrize("name,argument,other", list(_cases()))
def test_replace_grid_and_sample_equal_a_fresh_construction(name, argument, other):
    build, arguments, _ = {**CATALOGUE, **OPERATORS}[name]
    built = build(**arguments)
    fresh = _fresh(build, arguments, argument, other)
    expected = np.asarray(EVALUATE(fresh))

    replaced = built.replace(**{argument: other})
    np.testing.assert_array_equal(np.asarray(EVALUATE(replaced)), expected)
    assert osd.to_config(replaced) == osd.to_config(fresh) if name != "from_function" else True
    assert repr(replaced) == repr(fresh)

    batch = osd.grid(built, **{argument: [other, other]})
    assert batch.labels[0].startswith(f"{argument}=")
    np.testing.assert_array_equal(np.asarray(EVALUATE(batch.config[0])), expected)

    sampled = osd.sample(built, jax.random.key(0), 2, **{argument: osd.choice([other])})
    np.testing.assert_array_equal(np.asarray(EVALUATE(sampled.config[1])), expected)

    if name != "from_function":  # a Python function cannot be written to a config
        np.testing.assert_array_equal(np.asarray(EVALUATE(osd.from_config(osd.to_config(replaced)))), expected)


def test_a_plateau_sweeps_every_argument_like_a_fresh_one():
    """The stateful plateau: replace / grid equal fresh construction over a loss sequence."""
    losses = jnp.asarray([1.0, 0.9, 0.9, 0.9, 0.95, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8] * 3)
    arguments = dict(schedule=cos(0.1), factor=0.5, patience=1, threshold=1e-3, cooldown=1, min_value=1e-3,
                     eps=1e-8, accumulation_size=1, begin_step=0)
    others = dict(factor=0.2, patience=2, threshold=0.2, cooldown=0, min_value=0.02, eps=0.03,
                  accumulation_size=2, begin_step=6)

    @jax.jit
    def trajectory(plateau):
        opt = osd.inject(optax.sgd)(learning_rate=plateau)
        state = opt.init(jnp.zeros(1))

        def step(state, loss):
            _, state = opt.update(jnp.ones(1), state, jnp.zeros(1), value=loss)
            return state, osd.hyperparams(state)["learning_rate"]

        return jax.lax.scan(step, state, losses)[1]

    built = osd.plateau(**arguments)
    for argument, other in others.items():
        expected = np.asarray(trajectory(osd.plateau(**{**arguments, argument: other})))
        np.testing.assert_array_equal(np.asarray(trajectory(built.replace(**{argument: other}))), expected)
        np.testing.assert_array_equal(np.asarray(trajectory(osd.grid(built, **{argument: [other]}).config[0])),
                                      expected)
        assert not np.array_equal(expected, np.asarray(trajectory(built))), f"{argument} has no effect here"
