"""Hypothesis properties of every schedule family and of warmup / join composites.

For drawn hyperparameters each schedule is evaluated on one fixed int32 step
array (a dense grid over the first 3000 steps, steps 0, 1, 2 and 2**31 - 1)
through a single module-level jitted evaluator: schedules are pytrees, so new
hyperparameter values of the same structure reuse the compiled program. The
checks: every value is finite; it lies within the family's documented range;
it is monotone where the family is; warmups meet the schedule they lead into.
"""

from __future__ import annotations

import itertools
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import optasched as osd

# On a failure, hypothesis's pytest plugin lazily imports its patch writer, which
# pulls in libcst -> mypy_extensions and a DeprecationWarning; with warnings as
# errors (pyproject) that turns the failure report into an INTERNALERROR. Import
# it now, warnings silenced, so a failing example is reported normally.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import hypothesis.extra._patching  # noqa: F401
    except ImportError:  # pragma: no cover - optional dependency (libcst) missing
        pass

EVALUATE = jax.jit(lambda schedule, steps: schedule(steps))

INT32_MAX = 2**31 - 1
STEPS = np.concatenate([[0, 1, 2], np.arange(3, 3000, 7), [INT32_MAX]]).astype(np.int32)

EVERY_STEP = np.arange(2600, dtype=np.int32)  # contiguous, past the longest drawn warmup

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Hyperparameter strategies. float32-representable bounds (width=32), so the
# drawn value is exactly what the schedule stores.
POSITIVE = st.floats(2.0**-12, 10.0, width=32)
VALUE = st.floats(-5.0, 5.0, width=32, allow_subnormal=False)
FRACTION = st.floats(0.0, 1.0, width=32, allow_subnormal=False)
LENGTH = st.integers(0, 2500)  # a step count, 0 included
POSITIVE_LENGTH = st.integers(1, 2500)


def evaluate(schedule, steps=STEPS) -> np.ndarray:
    return np.asarray(EVALUATE(schedule, jnp.asarray(steps, dtype=jnp.int32)), dtype=np.float64)


def value_at(schedule, step: int) -> float:
    return float(evaluate(schedule, np.array([step, 0, 0, 0]))[0])


def tolerance(*scales) -> float:
    """float32 rounding allowance relative to the largest value involved."""
    return 1e-5 * max(abs(float(x)) for x in scales) + 1e-12


def assert_monotone(values, direction: int, tol: float, where=None) -> None:
    """direction -1: non-increasing; +1: non-decreasing (on the steps selected by where)."""
    segment = values if where is None else values[where]
    steps = STEPS if where is None else STEPS[where]
    jumps = np.diff(segment) * direction
    bad = np.flatnonzero(jumps < -tol)
    assert bad.size == 0, (
        f"not monotone ({direction:+d}) between steps {steps[bad[0]]} and {steps[bad[0] + 1]}: "
        f"{segment[bad[0]]} -> {segment[bad[0] + 1]}"
    )


def assert_schedule(schedule, low, high, direction: int = 0, start: int = 0, values=None) -> np.ndarray:
    """Finite everywhere, within [low, high] up to rounding, monotone from ``start`` on."""
    values = evaluate(schedule) if values is None else values
    assert np.all(np.isfinite(values)), f"non-finite values at steps {STEPS[~np.isfinite(values)]}"
    tol = tolerance(low, high)
    assert values.min() >= low - tol, f"{values.min()} below {low} at step {STEPS[np.argmin(values)]}"
    assert values.max() <= high + tol, f"{values.max()} above {high} at step {STEPS[np.argmax(values)]}"
    if direction:
        assert_monotone(values, direction, tol, STEPS >= start)
    return values


def direction_of(init, end) -> int:
    return -1 if init >= end else 1


# -- closed-form families ----------------------------------------------------------------


@SETTINGS
@given(value=VALUE)
def test_constant(value):
    values = assert_schedule(osd.constant(value), value, value)
    np.testing.assert_array_equal(values, np.float32(value))


@SETTINGS
@given(
    init=VALUE,
    end=VALUE,
    power=st.floats(0.125, 5.0, width=32),
    steps=LENGTH,
    begin=st.integers(0, 1500),
    cycle=st.booleans(),
)
def test_polynomial(init, end, power, steps, begin, cycle):
    schedule = osd.polynomial(init, end, power, steps, transition_begin=begin, cycle=cycle)
    # Keras cycling restarts the horizon, which is not monotone; the range holds either way.
    direction = 0 if cycle else direction_of(init, end)
    values = assert_schedule(schedule, min(init, end), max(init, end), direction)
    tol = tolerance(init, end)
    np.testing.assert_allclose(values[STEPS < begin], init, atol=tol, rtol=0)
    if not cycle:
        np.testing.assert_allclose(values[STEPS >= begin + steps], end, atol=tol, rtol=0)


@SETTINGS
@given(init=VALUE, end=VALUE, steps=LENGTH, begin=st.integers(0, 1500))
def test_linear(init, end, steps, begin):
    values = assert_schedule(
        osd.linear(init, end, steps, transition_begin=begin),
        min(init, end),
        max(init, end),
        direction_of(init, end),
    )
    np.testing.assert_allclose(values[STEPS >= begin + steps], end, atol=tolerance(init, end), rtol=0)


@SETTINGS
@given(
    init=POSITIVE,
    steps=POSITIVE_LENGTH,
    rate=FRACTION,
    begin=st.integers(0, 1500),
    staircase=st.booleans(),
    end_fraction=st.none() | FRACTION,
)
def test_exponential_decay(init, steps, rate, begin, staircase, end_fraction):
    end = None if end_fraction is None else init * end_fraction
    schedule = osd.exponential(init, steps, rate, transition_begin=begin, staircase=staircase, end_value=end)
    values = assert_schedule(schedule, 0.0 if end is None else end, init, direction=-1)
    np.testing.assert_allclose(values[STEPS <= begin], values[0], rtol=1e-6)


@SETTINGS
@given(
    init=POSITIVE,
    steps=POSITIVE_LENGTH,
    rate=st.floats(1.0, 4.0, width=32),
    ceiling=st.floats(1.0, 1e4, width=32),
    staircase=st.booleans(),
)
def test_exponential_growth_with_ceiling(init, steps, rate, ceiling, staircase):
    end = init * ceiling
    # Grows without bound but for end_value, which must cap it (finite at 2**31 - 1 too).
    assert_schedule(
        osd.exponential(init, steps, rate, staircase=staircase, end_value=end), init, end, direction=1
    )


@SETTINGS
@given(init=POSITIVE, step_size=POSITIVE_LENGTH, gamma=FRACTION)
def test_step_decay(init, step_size, gamma):
    values = assert_schedule(osd.step_decay(init, step_size, gamma), 0.0, init, direction=-1)
    dense = STEPS < INT32_MAX
    expected = np.float32(init) * np.float32(gamma) ** (STEPS[dense] // step_size).astype(np.float32)
    np.testing.assert_allclose(values[dense], expected, rtol=1e-5, atol=1e-30)


@SETTINGS
@given(init=POSITIVE, steps=POSITIVE_LENGTH, rate=st.floats(0.0, 10.0, width=32), staircase=st.booleans())
def test_inverse_time(init, steps, rate, staircase):
    assert_schedule(osd.inverse_time(init, steps, rate, staircase=staircase), 0.0, init, direction=-1)


@SETTINGS
@given(peak=POSITIVE, warmup=LENGTH, timescale=st.none() | POSITIVE_LENGTH)
def test_inverse_sqrt(peak, warmup, timescale):
    warmup = max(warmup, 1) if timescale is None else warmup  # warmup 0 needs a timescale
    schedule = osd.inverse_sqrt(peak, warmup, timescale)
    values = assert_schedule(schedule, 0.0, peak, direction=-1, start=warmup)
    assert_monotone(values, 1, tolerance(peak), STEPS <= warmup)
    np.testing.assert_allclose(value_at(schedule, warmup), peak, rtol=1e-6)


@SETTINGS
@given(d_model=st.integers(16, 4096), warmup=POSITIVE_LENGTH, scale=POSITIVE)
def test_noam(d_model, warmup, scale):
    peak = scale / math.sqrt(d_model * warmup)
    values = assert_schedule(
        osd.noam(d_model, warmup, scale), 0.0, peak * (1 + 1e-6), direction=-1, start=warmup
    )
    assert_monotone(values, 1, tolerance(peak), STEPS <= warmup)


@SETTINGS
@given(init=VALUE, steps=LENGTH, end=VALUE, exponent=st.floats(0.125, 4.0, width=32))
def test_cosine(init, steps, end, exponent):
    values = assert_schedule(
        osd.cosine(init, steps, end, exponent), min(init, end), max(init, end), direction_of(init, end)
    )
    np.testing.assert_allclose(values[STEPS >= steps], end, atol=tolerance(init, end), rtol=0)
    if steps > 0:
        np.testing.assert_allclose(values[0], init, atol=tolerance(init, end), rtol=0)


@SETTINGS
@given(init=VALUE, steps=LENGTH, end=VALUE)
def test_rex(init, steps, end):
    values = assert_schedule(
        osd.rex(init, steps, end), min(init, end), max(init, end), direction_of(init, end)
    )
    np.testing.assert_allclose(values[STEPS >= steps], end, atol=tolerance(init, end), rtol=0)


@SETTINGS
@given(
    init=VALUE,
    steps=LENGTH,
    end=VALUE,
    lower=st.floats(-10.0, 0.0, width=32),
    width=st.floats(0.125, 12.0, width=32),
)
def test_tanh_decay(init, steps, end, lower, width):
    schedule = osd.tanh_decay(init, steps, end, lower_bound=lower, upper_bound=lower + width)
    values = assert_schedule(schedule, min(init, end), max(init, end), direction_of(init, end))
    np.testing.assert_array_equal(values[STEPS >= steps], np.float32(end))


# -- piecewise families --------------------------------------------------------------------


def sorted_steps(min_size=1, max_size=4):
    return st.lists(st.integers(0, 3000), min_size=min_size, max_size=max_size).map(sorted)


@SETTINGS
@given(init=VALUE, boundaries=sorted_steps(), data=st.data())
def test_piecewise_constant(init, boundaries, data):
    scales = data.draw(
        st.lists(st.floats(0.0, 3.0, width=32), min_size=len(boundaries), max_size=len(boundaries))
    )
    values = evaluate(osd.piecewise_constant(init, boundaries, scales))
    # Every value is one of the prefix products init * s_0 * ... * s_k, the one for the step.
    products = np.float32(init) * np.concatenate([[1.0], np.cumprod(np.asarray(scales, np.float32))])
    assert_schedule(None, products.min(), products.max(), values=values)
    expected = products[np.searchsorted(np.asarray(boundaries), STEPS, side="right")]
    np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-30)


@SETTINGS
@given(init=POSITIVE, milestones=sorted_steps(), gamma=FRACTION)
def test_multistep(init, milestones, gamma):
    low = init * gamma ** len(milestones)
    assert_schedule(osd.multistep(init, milestones, gamma), low, init, direction=-1)


@SETTINGS
@given(knots=sorted_steps(1, 5), interpolation=st.sampled_from(["linear", "cosine"]), data=st.data())
def test_piecewise_linear(knots, interpolation, data):
    knot_values = data.draw(st.lists(VALUE, min_size=len(knots), max_size=len(knots)))
    values = assert_schedule(
        osd.piecewise_linear(knots, knot_values, interpolation), min(knot_values), max(knot_values)
    )
    tol = tolerance(*knot_values)
    # Flat outside the knots; between consecutive knots, between their values.
    np.testing.assert_allclose(values[STEPS < knots[0]], knot_values[0], atol=tol, rtol=0)
    np.testing.assert_allclose(values[STEPS >= knots[-1]], knot_values[-1], atol=tol, rtol=0)
    for (a, b), (va, vb) in zip(itertools.pairwise(knots), itertools.pairwise(knot_values)):
        inside = values[(STEPS > a) & (STEPS < b)]
        assert np.all(inside >= min(va, vb) - tol) and np.all(inside <= max(va, vb) + tol)
        assert_monotone(values, direction_of(va, vb), tol, (STEPS > a) & (STEPS < b))


# -- periodic families ------------------------------------------------------------------------


@SETTINGS
@given(
    init=VALUE,
    first_period=POSITIVE_LENGTH,
    multiplier=st.floats(1.0, 3.0, width=32),
    peak_multiplier=FRACTION,
    end=VALUE,
)
def test_cosine_restarts(init, first_period, multiplier, peak_multiplier, end):
    schedule = osd.cosine_restarts(init, first_period, multiplier, peak_multiplier, end)
    values = assert_schedule(schedule, min(init, end), max(init, end))
    # The first cycle is a plain cosine decay.
    first = STEPS < first_period
    expected = evaluate(osd.cosine(init, first_period, end))
    np.testing.assert_allclose(values[first], expected[first], atol=tolerance(init, end), rtol=0)


@SETTINGS
@given(
    base=VALUE,
    peak=VALUE,
    up=POSITIVE_LENGTH,
    down=st.none() | LENGTH,
    mode=st.sampled_from(["triangular", "triangular2", "exp_range"]),
    gamma=st.floats(0.5, 1.0, width=32),
)
def test_cyclic(base, peak, up, down, mode, gamma):
    schedule = osd.cyclic(base, peak, up, down, mode=mode, gamma=gamma)
    values = assert_schedule(schedule, min(base, peak), max(base, peak))
    assert abs(values[0] - base) <= tolerance(base, peak)
    if mode == "triangular":
        period = up + (up if down is None else down)
        dense = STEPS < 2**30
        later = evaluate(schedule, STEPS[dense] + period)
        np.testing.assert_allclose(later, values[dense], atol=10 * tolerance(base, peak), rtol=0)


@SETTINGS
@given(
    peak=POSITIVE,
    total=st.integers(20, 2500),
    pct=st.floats(0.0625, 0.9375, width=32),
    div=st.floats(1.0, 100.0, width=32),
    final_div=st.floats(1.0, 1e4, width=32),
    strategy=st.sampled_from(["cos", "linear"]),
    three_phase=st.booleans(),
)
def test_one_cycle(peak, total, pct, div, final_div, strategy, three_phase):
    if three_phase:
        pct = min(pct, 0.5)
    schedule = osd.one_cycle(
        peak, total, pct, div, final_div, anneal_strategy=strategy, three_phase=three_phase
    )
    low = peak / (div * final_div)
    values = assert_schedule(schedule, low, peak)
    peak_at = float(np.float32(pct) * np.float32(total)) - 1.0
    tol = tolerance(peak)
    assert_monotone(values, 1, tol, STEPS <= peak_at)
    assert_monotone(values, -1, tol, STEPS >= peak_at)
    np.testing.assert_allclose(values[0], peak / div, rtol=1e-5)
    np.testing.assert_allclose(values[STEPS >= total - 1], low, rtol=1e-4)


@SETTINGS
@given(
    peak=POSITIVE,
    warmup=LENGTH,
    stable=LENGTH,
    decay=LENGTH,
    end_fraction=FRACTION,
    warmup_shape=st.sampled_from(["linear", "cosine", "1-sqrt"]),
    decay_shape=st.sampled_from(["linear", "cosine", "1-sqrt"]),
)
def test_wsd(peak, warmup, stable, decay, end_fraction, warmup_shape, decay_shape):
    end = peak * end_fraction
    schedule = osd.wsd(peak, warmup, stable, decay, end, warmup_shape=warmup_shape, decay_shape=decay_shape)
    values = assert_schedule(schedule, end, peak, direction=-1, start=warmup)
    tol = tolerance(peak)
    assert_monotone(values, 1, tol, STEPS < warmup)
    stable_steps = (STEPS >= warmup) & (STEPS < warmup + stable)
    np.testing.assert_allclose(values[stable_steps], peak, atol=tol, rtol=0)
    np.testing.assert_allclose(values[STEPS >= warmup + stable + decay], end, atol=tol, rtol=0)


# -- composites -------------------------------------------------------------------------------------


@st.composite
def decaying(draw):
    """A non-increasing positive schedule and its range: (schedule, low, high)."""
    kind = draw(st.sampled_from(["cosine", "linear", "exponential", "constant"]))
    init = draw(POSITIVE)
    end = init * draw(FRACTION)
    if kind == "cosine":
        return osd.cosine(init, draw(LENGTH), end), end, init
    if kind == "linear":
        return osd.linear(init, end, draw(LENGTH)), end, init
    if kind == "exponential":
        return osd.exponential(init, draw(POSITIVE_LENGTH), draw(FRACTION), end_value=end), end, init
    return osd.constant(init), init, init


@SETTINGS
@given(
    inner=decaying(),
    warmup=LENGTH,
    init=st.floats(0.0, 10.0, width=32, allow_subnormal=False),
    shape=st.sampled_from(["linear", "cosine", "exponential", "constant"]),
)
def test_warmup(inner, warmup, init, shape):
    inner, low, high = inner
    if shape == "exponential":
        init = max(init, 2.0**-10)  # a geometric warmup starts above 0
    schedule = osd.warmup(inner, warmup, init, shape=shape)
    target = value_at(inner, 0)
    values = assert_schedule(schedule, min(init, low), max(init, high), direction=-1, start=warmup)
    tol = tolerance(init, high)
    if shape != "constant":
        assert_monotone(values, direction_of(init, target), tol, STEPS <= warmup)

    # Continuity where the warmup meets the schedule: v(W) = inner(0), and the last
    # warmup step is within one warmup increment of it.
    around = evaluate(schedule, np.array([0, max(warmup - 1, 0), warmup, warmup + 1]))
    assert np.all(np.isfinite(around))
    np.testing.assert_allclose(around[2], target, atol=tol, rtol=0)
    if warmup > 0:
        np.testing.assert_allclose(around[0], init, atol=tol, rtol=0)
        increment = {"linear": 1.0, "cosine": math.pi / 2}.get(shape)
        if increment is not None:
            assert abs(around[1] - around[2]) <= increment * abs(target - init) / warmup + tol
    # After the warmup the schedule is the inner one, restarted at 0.
    after = STEPS >= warmup
    shifted = np.where(after, STEPS - warmup, 0)
    np.testing.assert_allclose(values[after], evaluate(inner, shifted)[after], atol=tol, rtol=0)


@SETTINGS
@given(inner=decaying(), warmup=LENGTH, init=FRACTION)
def test_warmup_linear_is_continuous(inner, warmup, init):
    """Continuity at every step 0 .. W: a linear warmup never moves further in one
    step than one increment |inner(0) - init| / W, the last step into inner(0) included."""
    inner, _, high = inner
    schedule = osd.warmup(inner, warmup, init)
    target = value_at(inner, 0)
    values = evaluate(schedule, EVERY_STEP)
    assert np.all(np.isfinite(values))
    if warmup > 0:
        jumps = np.abs(np.diff(values[: warmup + 1]))  # steps 0 .. W
        assert np.all(jumps <= abs(target - init) / warmup + tolerance(init, high)), jumps.max()


@SETTINGS
@given(
    members=st.lists(decaying(), min_size=3, max_size=3),
    gaps=st.lists(st.integers(0, 1200), min_size=2, max_size=2),
)
def test_join(members, gaps):
    schedules = [m[0] for m in members]
    boundaries = np.cumsum(gaps)
    values = assert_schedule(
        osd.join(schedules, boundaries), min(m[1] for m in members), max(m[2] for m in members)
    )
    # Member k runs from boundaries[k - 1] on, restarted at step 0; the last active member wins.
    active = np.searchsorted(boundaries, STEPS, side="right")
    starts = np.concatenate([[0], boundaries])
    for k, schedule in enumerate(schedules):
        mask = active == k
        member = evaluate(schedule, np.where(mask, STEPS - starts[k], 0))
        np.testing.assert_allclose(values[mask], member[mask], rtol=1e-6, atol=1e-30)
