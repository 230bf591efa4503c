"""Combinators: schedules built from schedules (warmup, join, clip, restarts and
cycle, shift, staircase) and :class:`from_function`. Pointwise arithmetic
(``s1 + s2``, ``minimum``, ``maximum``) lives with the base class.

Each result is a :class:`~optasched.Schedule` whose children are schedules, so
a nested composite stacks, vmaps and differentiates like a single family.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
from jax.typing import ArrayLike

from ._base import Schedule, bound, boundaries, child, children, params, static, steps, value
from ._cyclic import GeometricCycles
from ._kernels import decay_fraction, floor_div, is_integer, progress, to_float
from ._piecewise import sorted_constraint

# -- warmup -----------------------------------------------------------------------------

WARMUP_SHAPES = ("linear", "cosine", "exponential", "constant")


class Warmup(Schedule, family="warmup"):
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

    schedule: Schedule | ArrayLike = child()
    warmup_steps: ArrayLike = steps(ge=0)
    init_value: ArrayLike = value(default=0.0)
    shape: str = static(default="linear", choices=WARMUP_SHAPES)

    def _constraints(self):
        if self.shape == "exponential":
            yield bound("init_value", self.init_value, ">", 0)

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

    def value_range(self, step):
        inner = self.schedule.value_range(jnp.maximum(step - self.warmup_steps, 0))
        if inner is None:
            return None
        return jnp.minimum(inner[0], self.init_value), jnp.maximum(inner[1], self.init_value)


# -- join -----------------------------------------------------------------------------------


class Join(Schedule, family="join"):
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

    schedules: list[Schedule] = children()
    boundaries: ArrayLike = boundaries(ge=0)

    def _check_structure(self):
        if not self.schedules:
            raise ValueError("join: schedules must hold at least one schedule, got none")
        if self.boundaries.shape[-1] != len(self.schedules) - 1:
            raise ValueError(
                f"join: boundaries must have one entry fewer than schedules ({len(self.schedules) - 1}),"
                f" got {self.boundaries.shape[-1]}"
            )

    def _constraints(self):
        yield sorted_constraint("boundaries", self.boundaries)

    def _local_steps(self, step):
        starts = [0] + [self.boundaries[i] for i in range(len(self.schedules) - 1)]
        return [jnp.maximum(step - start, 0) for start in starts]

    def _value(self, step):
        local = self._local_steps(step)
        result = self.schedules[0](local[0])
        for i, schedule in enumerate(self.schedules[1:], start=1):
            result = jnp.where(step >= self.boundaries[i - 1], schedule(local[i]), result)
        return result

    def value_range(self, step):
        ranges = [s.value_range(t) for s, t in zip(self.schedules, self._local_steps(step))]
        if any(r is None for r in ranges):
            return None
        return jnp.min(jnp.stack([r[0] for r in ranges]), axis=0), jnp.max(jnp.stack([r[1] for r in ranges]), axis=0)


# -- bounds -------------------------------------------------------------------------------------


class Clip(Schedule, family="clip"):
    r"""Clamp a schedule: :math:`v(t) = \min(\max(s(t), a(t)), b(t))`; either bound may be
    omitted, and each is a number or a schedule.

    Example:
        >>> import optasched as osd
        >>> round(float(osd.clip(osd.linear(0.0, 1.0, 10), 0.2, 0.6)(9)), 4)
        0.6
    """

    schedule: Schedule | ArrayLike = child()
    min_value: Schedule | ArrayLike | None = child(default=None)
    max_value: Schedule | ArrayLike | None = child(default=None)

    def _check_structure(self):
        if self.min_value is None and self.max_value is None:
            raise ValueError("clip: give min_value, max_value or both")

    def _bounds(self):
        return [b for b in (self.min_value, self.max_value) if b is not None]

    def _value(self, step):
        x = self.schedule(step)
        if self.min_value is not None:
            x = jnp.maximum(x, self.min_value(step))
        if self.max_value is not None:
            x = jnp.minimum(x, self.max_value(step))
        return x

    def value_range(self, step):
        low, high = self.schedule.value_range(step) or (None, None)
        if low is None or any(b.value_range(step) is None for b in self._bounds()):
            return None
        if self.min_value is not None:
            floor = self.min_value.value_range(step)
            low, high = jnp.maximum(low, floor[0]), jnp.maximum(high, floor[1])
        if self.max_value is not None:
            ceiling = self.max_value.value_range(step)
            low, high = jnp.minimum(low, ceiling[0]), jnp.minimum(high, ceiling[1])
        return low, high


# -- restarts and cycle --------------------------------------------------------------------


class Restarts(GeometricCycles, family="restarts"):
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

    schedule: Schedule | ArrayLike = child()
    first_period: ArrayLike = steps(gt=0)
    period_multiplier: ArrayLike = value(default=1.0, ge=1)
    peak_multiplier: ArrayLike = value(default=1.0, ge=0)

    def _value(self, step):
        _, position, period, amplitude = self._cycle(step)
        # Cycle i is stretched so the schedule covers its first-period course in T_i steps.
        stretched = jnp.where(
            self.period_multiplier == 1,
            position,
            position * to_float(self.first_period, self.dtype) / period,
        )
        return amplitude * self.schedule(stretched)

    def value_range(self, step):
        inner = self.schedule.value_range(self.first_period)
        if inner is None:
            return None
        low, high = self._amplitudes_so_far(step)
        corners = jnp.stack([inner[0] * low, inner[0] * high, inner[1] * low, inner[1] * high])
        return jnp.min(corners, axis=0), jnp.max(corners, axis=0)


class Cycle(Schedule, family="cycle"):
    r"""Repeat the schedule's first ``period`` steps forever: :math:`v(t) = s(t \bmod P)`.

    :class:`restarts` with equal, unscaled cycles.

    Example:
        >>> import optasched as osd
        >>> round(float(osd.cycle(osd.linear(0.0, 1.0, 10), period=10)(13)), 4)
        0.3
    """

    schedule: Schedule | ArrayLike = child()
    period: ArrayLike = steps(gt=0)

    def _general(self) -> Restarts:
        one = jnp.ones((), self.dtype)
        return Restarts._build(schedule=self.schedule, first_period=self.period, period_multiplier=one,
                               peak_multiplier=one)


# -- shift and staircase ------------------------------------------------------------------


class Shift(Schedule, family="shift"):
    r"""Delay (``offset > 0``) or advance (``offset < 0``) a schedule.

    .. math:: v(t) = s(\max(t - \text{offset}, 0))

    Example:
        >>> import optasched as osd
        >>> float(osd.shift(osd.linear(1.0, 0.0, 10), offset=-5)(0))
        0.5
    """

    schedule: Schedule | ArrayLike = child()
    offset: ArrayLike = steps()

    def _shifted(self, step):
        shifted = step - self.offset
        if is_integer(shifted):  # a negative offset must not wrap a large integer step around
            shifted = jnp.where((self.offset < 0) & (shifted < step), jnp.iinfo(shifted.dtype).max, shifted)
        return jnp.maximum(shifted, 0)

    def _value(self, step):
        return self.schedule(self._shifted(jnp.asarray(step)))

    def value_range(self, step):
        return self.schedule.value_range(self._shifted(jnp.asarray(step)))


class Staircase(Schedule, family="staircase"):
    r"""Hold the schedule constant over blocks of ``step_size`` steps.

    .. math:: v(t) = s(\lfloor t / k \rfloor k)

    Example:
        >>> import optasched as osd
        >>> round(float(osd.staircase(osd.linear(1.0, 0.0, 100), step_size=10)(19)), 4)
        0.9
    """

    schedule: Schedule | ArrayLike = child()
    step_size: ArrayLike = steps(gt=0)

    def _value(self, step):
        return self.schedule(floor_div(step, self.step_size) * self.step_size)

    def value_range(self, step):
        return self.schedule.value_range(floor_div(step, self.step_size) * self.step_size)


# -- escape hatch ------------------------------------------------------------------------


class FromFunction(Schedule, family="from_function"):
    r"""Turn a pure function ``function(step, params)`` into a schedule.

    ``params`` is any pytree of numbers: they become the schedule's leaves, so
    the result jits without retracing, stacks, vmaps over every parameter,
    differentiates and sweeps (``grid(s, **{"params.lr": [...]})``) like a
    built-in family. ``function`` is static structure: members of one sweep
    share it.

    Example:
        >>> import jax.numpy as jnp
        >>> import optasched as osd
        >>> s = osd.from_function(lambda t, p: p["lr"] * jnp.exp(-t / p["tau"]),
        ...                       {"lr": 1.0, "tau": 100.0})
        >>> round(float(s(100)), 4)
        0.3679
    """

    function: Callable[[Any, Any], Any] = static()
    params: Any = params()

    def _check_structure(self):
        if not callable(self.function):
            raise ValueError(f"from_function: function must be callable, got {self.function!r}")

    def _value(self, step):
        return jnp.asarray(self.function(step, self.params))
