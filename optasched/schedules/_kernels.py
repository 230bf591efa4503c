"""Branch-free curve pieces shared by several schedule families and combinators.

Every function here is pure ``jnp`` on traced arrays. Where a formula has a
singular branch that ``jnp.where`` discards (a square root or power at 0, a
division by a zero-length segment), the discarded input is replaced first, so
that gradients stay finite as well as values.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def is_integer(x) -> bool:
    return jnp.issubdtype(jnp.result_type(x), jnp.integer)


def to_float(x, dtype):
    return jnp.asarray(x).astype(dtype)


def step_dtype(dtype):
    """The float dtype of step arithmetic for values of ``dtype``: at least float32.

    float16 overflows at step 65,504 and bfloat16 cannot count past 256 one by
    one, so the step, boundary and cycle-index arithmetic of a float16 or
    bfloat16 schedule runs in float32; only the value is in the value dtype.
    """
    return jnp.promote_types(dtype, jnp.float32)


def as_steps(x):
    """A step or step-valued leaf ready for step arithmetic: integers as they
    are (exact), floats at least float32 (see :func:`step_dtype`)."""
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.floating):
        return x.astype(step_dtype(x.dtype))
    return x


def floor_div(a, b):
    """floor(a / b): exact integer division when both are integers."""
    a, b = as_steps(a), as_steps(b)
    if is_integer(a) and is_integer(b):
        return jnp.floor_divide(a, jnp.maximum(b, 1))
    # Not floor(a / b): XLA:CPU divides by a broadcast scalar through its reciprocal,
    # so 1807.0 / 1807 can give 0.999... and floor one short at exact multiples.
    return jnp.floor_divide(jnp.asarray(a), jnp.asarray(b))


def safe_divide(numerator, denominator, if_zero):
    """numerator / denominator, or ``if_zero`` where the denominator is 0."""
    zero = denominator == 0
    return jnp.where(zero, if_zero, numerator / jnp.where(zero, 1, denominator))


def safe_sqrt(x):
    """sqrt(x) for x >= 0 with a finite (zero) gradient at 0."""
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1)), 0)


@jax.custom_jvp
def safe_power(base, exponent):
    """base ** exponent for base >= 0 and a scalar exponent > 0.

    The common exponent 1 skips the power (an exp and a log per element, which
    would double the cost of a cosine or linear curve); the custom JVP keeps
    the derivative in the exponent, x^e log x, exact at 1 as well, and finite
    at base 0.
    """
    return jax.lax.cond(exponent == 1, lambda: base.astype(jnp.result_type(base, exponent)),
                        lambda: _power(base, exponent))


def _power(base, exponent):
    positive = base > 0
    return jnp.where(positive, jnp.where(positive, base, 1) ** exponent, 0)


@safe_power.defjvp
def _safe_power_jvp(primals, tangents):
    base, exponent = primals
    base_dot, exponent_dot = tangents
    value = safe_power(base, exponent)
    positive = base > 0
    safe_base = jnp.where(positive, base, 1)
    d_base = jnp.where(positive, exponent * safe_base ** (exponent - 1), jnp.where(exponent == 1, 1.0, 0.0))
    d_exponent = jnp.where(positive, value * jnp.log(safe_base), 0.0)
    return value, d_base * base_dot + d_exponent * exponent_dot


def progress(step, length, dtype):
    """Fraction of a segment of ``length`` steps completed at ``step``, in [0, 1].

    A zero-length segment is already complete: the fraction is 1. The
    division runs in :func:`step_dtype`; the fraction is returned in ``dtype``.
    """
    step = to_float(step, step_dtype(dtype))
    length = to_float(length, step_dtype(dtype))
    # Exactly 1 from the end on: XLA may divide by a reciprocal (996 / 996 -> 0.99999994).
    fraction = jnp.where(step >= length, 1.0, jnp.clip(safe_divide(step, length, 1.0), 0.0, 1.0))
    return fraction.astype(dtype)


DECAY_SHAPES = ("linear", "cosine", "1-sqrt")


def decay_fraction(p, shape: str):
    """A curve from 1 at p = 0 down to 0 at p = 1.

    ``linear``: 1 - p; ``cosine``: (1 + cos(pi p)) / 2; ``1-sqrt``: 1 - sqrt(p)
    (Hagele et al. 2024). A warmup of the same shape is ``decay_fraction(1 - p)``.
    """
    if shape == "linear":
        return 1.0 - p
    if shape == "cosine":
        return 0.5 * (1.0 + jnp.cos(jnp.pi * p))
    if shape == "1-sqrt":
        return 1.0 - safe_sqrt(p)
    raise ValueError(f"unknown shape {shape!r}; expected one of {DECAY_SHAPES}")


def interpolate(step, knots, values, interpolation: str, dtype):
    """Piecewise interpolation through (knots[i], values[i]); flat outside the knots.

    Knots are sorted; at a repeated knot the value jumps (the later segment is
    active from the knot on). ``interpolation`` is "linear" or "cosine".
    """
    step, knots = as_steps(step), as_steps(knots)
    if knots.shape[-1] == 1:
        return jnp.broadcast_to(values[0], step.shape).astype(dtype)
    common = jnp.promote_types(step.dtype, knots.dtype)
    segment = jnp.searchsorted(knots.astype(common), step.astype(common), side="right", method="compare_all")
    segment = jnp.clip(segment - 1, 0, knots.shape[-1] - 2)
    start, end = knots[segment], knots[segment + 1]
    frac = progress(step - start, end - start, dtype)
    frac = jnp.where(step < start, 0.0, frac)  # before a repeated first knot: values[0]
    if interpolation == "cosine":
        frac = 0.5 * (1.0 - jnp.cos(jnp.pi * frac))
    elif interpolation != "linear":
        raise ValueError(f"unknown interpolation {interpolation!r}")
    low, high = values[segment], values[segment + 1]
    return low * (1.0 - frac) + high * frac  # exact at both knots (no cancellation at frac 1)


def cycle_position(step, first_period, multiplier, dtype):
    """Where ``step`` falls in cycles of lengths T0, T0 m, T0 m^2, ... (SGDR).

    Returns ``(index, position, period)`` as floats of :func:`step_dtype`
    (steps, not values): the cycle index, the step within the cycle and the
    cycle's length. With m = 1 the index comes from exact integer division
    (integer steps and T0); otherwise from the closed form
    i = floor(log(1 + t (m - 1) / T0) / log m), corrected by one where
    rounding put t on the wrong side of a cycle start.
    """
    dtype = step_dtype(dtype)
    step, first_period = as_steps(step), as_steps(first_period)
    period0 = to_float(first_period, dtype)
    m = to_float(multiplier, dtype)
    t = to_float(step, dtype)

    # m == 1: equal cycles.
    equal_index = floor_div(step, first_period)
    equal_position = to_float(step - equal_index * first_period, dtype)
    equal_index = to_float(equal_index, dtype)

    # m > 1: geometric cycles (m replaced by 2 where it is 1, so no log(1) = 0 division).
    growing = m != 1
    m_safe = jnp.where(growing, m, 2.0)

    def start_of(i):
        return period0 * (m_safe**i - 1.0) / (m_safe - 1.0)

    index = jnp.floor(jnp.log1p(t * (m_safe - 1.0) / period0) / jnp.log(m_safe))
    index = jnp.maximum(index, 0.0)
    # t >= start_of(i) tested without dividing: XLA:CPU divides by a broadcast scalar
    # through its reciprocal, so start_of(1) can miss T0 by an ulp (restart one step late).
    def reached(i):
        return t * (m_safe - 1.0) >= period0 * (m_safe**i - 1.0)

    index = jnp.where(reached(index), index, index - 1.0)
    index = jnp.where(reached(index + 1.0), index + 1.0, index)
    position = jnp.maximum(t - start_of(index), 0.0)

    index = jnp.where(growing, index, equal_index)
    position = jnp.where(growing, position, equal_position)
    period = period0 * jnp.where(growing, m_safe, 1.0) ** index
    return index, position, period


__all__ = [
    "DECAY_SHAPES",
    "as_steps",
    "cycle_position",
    "decay_fraction",
    "floor_div",
    "interpolate",
    "is_integer",
    "progress",
    "safe_divide",
    "safe_sqrt",
    "step_dtype",
    "to_float",
]
