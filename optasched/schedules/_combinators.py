"""Combinators: schedules built from schedules (warmup, join, arithmetic, clip,
restarts and cycle, shift, staircase) and :func:`from_function`.

Each result is a :class:`~optasched.Schedule` whose children are schedules, so
a nested composite stacks, vmaps and differentiates like a single family.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax.numpy as jnp

from ._base import Constraint, Kind, Schedule, as_schedule, renamed
from ._families import Constant, at_least
from ._kernels import decay_fraction, floor_div, is_integer, progress, to_float
from ._cyclic import GeometricCycles
from ._piecewise import _sorted

# -- warmup -----------------------------------------------------------------------------

WARMUP_SHAPES = ("linear", "cosine", "exponential", "constant")


class Warmup(Schedule):
    _family = "warmup"
    _fields = {
        "schedule": Kind.SCHEDULE,
        "warmup_steps": Kind.STEPS,
        "init_value": Kind.VALUE,
        "shape": Kind.STATIC,
    }
    _choices = {"shape": WARMUP_SHAPES}

    def _constraints(self):
        yield at_least("warmup_steps", self.warmup_steps, 0)
        if self.shape == "exponential":
            yield at_least("init_value", self.init_value, 0, strict=True)

    def _value(self, step):
        dtype = self.dtype
        after = self.schedule(jnp.maximum(step - self.warmup_steps, 0))
        target = self.schedule(jnp.zeros((), jnp.result_type(step)))
        p = progress(step, self.warmup_steps, dtype)
        if self.shape == "linear":
            rising = self.init_value + (target - self.init_value) * p
        elif self.shape == "cosine":
            rising = self.init_value + (target - self.init_value) * decay_fraction(1.0 - p, "cosine")
        elif self.shape == "exponential":
            ratio = jnp.maximum(target / self.init_value, jnp.finfo(dtype).tiny)
            rising = self.init_value * ratio**p
        else:
            rising = jnp.broadcast_to(self.init_value, jnp.shape(p))
        return jnp.where(step < self.warmup_steps, rising, after)


def warmup(schedule, warmup_steps, init_value=0.0, shape="linear") -> Warmup:
    r"""Prepend a warmup of ``warmup_steps`` steps to ``schedule``.

    .. math::
        v(t) = \begin{cases} w(t / W) & t < W \\ s(t - W) & t \ge W \end{cases}

    rising from ``init_value`` to the schedule's first value :math:`s(0)`:
    ``"linear"`` (optax's ``warmup_*`` schedules; Goyal et al. 2017),
    ``"cosine"``, ``"exponential"`` (geometric; ``init_value > 0``) or
    ``"constant"`` (hold ``init_value``, then jump; He et al. 2016). The schedule
    starts after the warmup, as with ``optax.join_schedules``. ``warmup_steps=0``
    is the schedule itself. A float ``warmup_steps`` is differentiable.

    Example:
        >>> import optasched as osd
        >>> s = osd.warmup(osd.cosine(1.0, decay_steps=100), warmup_steps=10)
        >>> [round(float(s(t)), 4) for t in (5, 10, 60)]
        [0.5, 1.0, 0.5]
    """
    return Warmup(schedule=schedule, warmup_steps=warmup_steps, init_value=init_value, shape=shape)


# -- join -----------------------------------------------------------------------------------


class Join(Schedule):
    _family = "join"
    _fields = {"schedules": Kind.SCHEDULES, "boundaries": Kind.BOUNDARIES}

    def __init__(self, **fields):
        super().__init__(**fields)
        if not self.schedules:
            raise ValueError("join: schedules must hold at least one schedule, got none")
        if self.boundaries.shape[-1] != len(self.schedules) - 1:
            raise ValueError(
                f"join: boundaries must have one entry fewer than schedules ({len(self.schedules) - 1}),"
                f" got {self.boundaries.shape[-1]}"
            )

    def _constraints(self):
        yield at_least("boundaries", self.boundaries, 0, core_axes=1)
        yield _sorted("boundaries", self.boundaries)

    def _value(self, step):
        value = self.schedules[0](step)
        for i, schedule in enumerate(self.schedules[1:]):
            boundary = self.boundaries[i]
            value = jnp.where(step >= boundary, schedule(jnp.maximum(step - boundary, 0)), value)
        return value


def join(schedules: Sequence[Any], boundaries) -> Join:
    r"""Run ``schedules[i + 1]`` from step ``boundaries[i]`` on, restarted at 0.

    .. math:: v(t) = s_{i}(t - b_{i-1}) \quad \text{for } b_{i-1} \le t < b_i

    ``optax.join_schedules`` with traced boundaries: at ``t == b`` the next
    schedule is already active and sees step 0.

    Example:
        >>> import optasched as osd
        >>> s = osd.join([osd.constant(1.0), osd.linear(0.5, 0.0, 10)], boundaries=[100])
        >>> float(s(99)), float(s(100)), float(s(105))
        (1.0, 0.5, 0.25)
    """
    if isinstance(schedules, (list, tuple)) or not isinstance(schedules, (Schedule, str, bytes)) and hasattr(
        schedules, "__iter__"
    ):
        schedules = tuple(schedules)
    return Join(schedules=schedules, boundaries=boundaries)


# -- arithmetic and bounds -----------------------------------------------------------------

OPERATIONS = {
    "add": jnp.add,
    "sub": jnp.subtract,
    "mul": jnp.multiply,
    "div": jnp.divide,
    "min": jnp.minimum,
    "max": jnp.maximum,
}


class Binary(Schedule):
    _family = "binary"
    _fields = {"left": Kind.SCHEDULE, "right": Kind.SCHEDULE, "operation": Kind.STATIC}
    _choices = {"operation": tuple(OPERATIONS)}

    def __init__(self, **fields):
        if fields["operation"] == "div" and not isinstance(as_schedule(fields["right"]), Constant):
            raise ValueError("binary: a schedule can only be divided by a number, not by a schedule")
        super().__init__(**fields)

    def _constraints(self):
        if self.operation == "div":
            yield Constraint("divisor", self.right.value != 0, "non-zero", self.right.value)

    def _value(self, step):
        return OPERATIONS[self.operation](self.left(step), self.right(step))


def _binary(operation: str, left, right) -> Binary:
    return Binary(left=left, right=right, operation=operation)


def minimum(first, second) -> Binary:
    """The pointwise minimum of two schedules (or a schedule and a number)."""
    return _binary("min", first, second)


def maximum(first, second) -> Binary:
    """The pointwise maximum of two schedules (or a schedule and a number)."""
    return _binary("max", first, second)


def clip(schedule, min_value=None, max_value=None) -> Schedule:
    r"""Clamp a schedule: :math:`v(t) = \min(\max(s(t), a), b)`.

    Example:
        >>> import optasched as osd
        >>> round(float(osd.clip(osd.linear(0.0, 1.0, 10), 0.2, 0.6)(9)), 4)
        0.6
    """
    if min_value is None and max_value is None:
        raise ValueError("clip: give min_value, max_value or both")
    result = as_schedule(schedule, "clip")
    if min_value is not None:
        result = maximum(result, as_schedule(min_value, "clip", "min_value"))
    if max_value is not None:
        result = minimum(result, as_schedule(max_value, "clip", "max_value"))
    return result


# -- restarts and cycle --------------------------------------------------------------------


class Restarts(GeometricCycles):
    _family = "restarts"
    _fields = {
        "schedule": Kind.SCHEDULE,
        "first_period": Kind.STEPS,
        "period_multiplier": Kind.VALUE,
        "peak_multiplier": Kind.VALUE,
    }

    def _value(self, step):
        _, position, period, amplitude = self._cycle(step)
        # Cycle i is stretched so the schedule covers its first-period course in T_i steps.
        stretched = jnp.where(
            self.period_multiplier == 1,
            position,
            position * to_float(self.first_period, self.dtype) / period,
        )
        return amplitude * self.schedule(stretched)


def restarts(schedule, first_period, period_multiplier=1.0, peak_multiplier=1.0) -> Restarts:
    r"""Warm restarts of any schedule (SGDR generalised).

    Cycle i lasts :math:`T_i = T_0 m^i` steps and replays the schedule's first
    :math:`T_0` steps stretched to that length, scaled by :math:`\mu^i`:

    .. math:: v(t) = \mu^i\, s(\tau\, T_0 / T_i), \quad \tau = t - \textstyle\sum_{j<i} T_j

    With ``period_multiplier == 1`` the cycle index is exact integer division
    and its derivative with respect to the multiplier is taken as 0; for
    m > 1 the index comes from the closed form, exact in float64 and in
    float32 while cycle starts stay below 2**24.

    Example:
        >>> import optasched as osd
        >>> s = osd.restarts(osd.linear(1.0, 0.0, 10), first_period=10, peak_multiplier=0.5)
        >>> float(s(5)), float(s(10)), float(s(15))
        (0.5, 0.5, 0.25)
    """
    return Restarts(
        schedule=schedule,
        first_period=first_period,
        period_multiplier=period_multiplier,
        peak_multiplier=peak_multiplier,
    )


def cycle(schedule, period) -> Restarts:
    r"""Repeat the schedule's first ``period`` steps forever: :math:`v(t) = s(t \bmod P)`.

    Example:
        >>> import optasched as osd
        >>> round(float(osd.cycle(osd.linear(0.0, 1.0, 10), period=10)(13)), 4)
        0.3
    """
    with renamed("cycle", "restarts", {"first_period": "period"}):
        return restarts(schedule, period, 1.0, 1.0)


# -- shift and staircase ------------------------------------------------------------------


class Shift(Schedule):
    _family = "shift"
    _fields = {"schedule": Kind.SCHEDULE, "offset": Kind.STEPS}

    def _value(self, step):
        shifted = step - self.offset
        if is_integer(shifted):  # a negative offset must not wrap a large integer step around
            shifted = jnp.where((self.offset < 0) & (shifted < step), jnp.iinfo(shifted.dtype).max, shifted)
        return self.schedule(jnp.maximum(shifted, 0))


def shift(schedule, offset) -> Shift:
    r"""Delay (``offset > 0``) or advance (``offset < 0``) a schedule.

    .. math:: v(t) = s(\max(t - \text{offset}, 0))

    Example:
        >>> import optasched as osd
        >>> float(osd.shift(osd.linear(1.0, 0.0, 10), offset=-5)(0))
        0.5
    """
    return Shift(schedule=schedule, offset=offset)


class Staircase(Schedule):
    _family = "staircase"
    _fields = {"schedule": Kind.SCHEDULE, "step_size": Kind.STEPS}

    def _constraints(self):
        yield at_least("step_size", self.step_size, 0, strict=True)

    def _value(self, step):
        return self.schedule(floor_div(step, self.step_size) * self.step_size)


def staircase(schedule, step_size) -> Staircase:
    r"""Hold the schedule constant over blocks of ``step_size`` steps.

    .. math:: v(t) = s(\lfloor t / k \rfloor k)

    Example:
        >>> import optasched as osd
        >>> round(float(osd.staircase(osd.linear(1.0, 0.0, 100), step_size=10)(19)), 4)
        0.9
    """
    return Staircase(schedule=schedule, step_size=step_size)


# -- escape hatch ------------------------------------------------------------------------


class FromFunction(Schedule):
    _family = "from_function"
    _fields = {"params": Kind.PARAMS, "function": Kind.STATIC}

    def _value(self, step):
        return jnp.asarray(self.function(step, self.params))


def from_function(function: Callable[[Any, Any], Any], params) -> FromFunction:
    r"""Turn a pure function ``function(step, params)`` into a schedule.

    ``params`` is any pytree of numbers: they become the schedule's leaves, so
    the result jits without retracing, stacks, vmaps over every parameter and
    differentiates like a built-in family. ``function`` is static structure:
    members of one sweep share it.

    Example:
        >>> import jax.numpy as jnp
        >>> import optasched as osd
        >>> s = osd.from_function(lambda t, p: p["lr"] * jnp.exp(-t / p["tau"]),
        ...                       {"lr": 1.0, "tau": 100.0})
        >>> round(float(s(100)), 4)
        0.3679
    """
    if not callable(function):
        raise ValueError(f"from_function: function must be callable, got {function!r}")
    return FromFunction(params=params, function=function)
