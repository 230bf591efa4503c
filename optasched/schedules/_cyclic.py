"""Periodic schedules: cosine with warm restarts (SGDR) and cyclical learning rates."""

from __future__ import annotations

import jax.numpy as jnp
from jax.typing import ArrayLike

from ._base import Constraint, Schedule, ordered, static, steps, value
from ._kernels import cycle_position, decay_fraction, floor_div, safe_divide, to_float


class GeometricCycles(Schedule):
    r"""Shared by :class:`cosine_restarts` and :class:`restarts`: cycles of
    :math:`T_0 m^i` steps with amplitude :math:`\mu^i`. Subclasses declare
    ``first_period`` (> 0), ``period_multiplier`` (>= 1) and
    ``peak_multiplier`` (>= 0) fields."""

    def _cycle(self, step):
        """(index, position, period) of ``step``, and the amplitude factor mu**index."""
        index, position, period = cycle_position(
            jnp.maximum(step, 0), self.first_period, self.period_multiplier, self.dtype
        )
        return index, position, period, self.peak_multiplier**index

    def _amplitudes_so_far(self, step):
        """The range of amplitude factors mu**j over the cycles j up to the one of ``step``."""
        _, _, _, amplitude = self._cycle(step)
        return ordered(jnp.ones_like(amplitude), amplitude)


class CosineRestarts(GeometricCycles, family="cosine_restarts"):
    r"""Cosine decay with warm restarts (Loshchilov & Hutter, SGDR, 2017).

    Cycle i lasts :math:`T_i = T_0 m^i` steps; within it, at position
    :math:`\tau`,

    .. math:: v = E + (I - E)\, \mu^i\, \tfrac12 \bigl(1 + \cos(\pi \tau / T_i)\bigr)

    Equals Keras ``CosineDecayRestarts(I, T0, t_mul=m, m_mul=mu, alpha=E/I)``
    and, for integer m and :math:`\mu = 1`, PyTorch
    ``CosineAnnealingWarmRestarts(T_0, T_mult, eta_min=E)``. The period
    multiplier is real-valued (>= 1, 1 included).

    With ``period_multiplier == 1`` the cycle index is exact integer division
    and its derivative with respect to the multiplier is taken as 0; for
    m > 1 the index comes from the closed form, exact in float64 and in
    float32 while cycle starts stay below 2**24.

    Example:
        >>> import optasched as osd
        >>> s = osd.cosine_restarts(1.0, first_period=10, period_multiplier=2.0)
        >>> [round(float(s(t)), 4) for t in (5, 10, 20)]
        [0.5, 1.0, 0.5]
    """

    init_value: ArrayLike = value()
    first_period: ArrayLike = steps(gt=0)
    period_multiplier: ArrayLike = value(default=1.0, ge=1)
    peak_multiplier: ArrayLike = value(default=1.0, ge=0)
    end_value: ArrayLike = value(default=0.0)

    def _value(self, step):
        _, position, period, amplitude = self._cycle(step)
        return self.end_value + (self.init_value - self.end_value) * amplitude * decay_fraction(
            position / period, "cosine"
        )

    def value_range(self, step):
        _, largest = self._amplitudes_so_far(step)
        return ordered(self.end_value, self.end_value + (self.init_value - self.end_value) * largest)


CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


class Cyclic(Schedule, family="cyclic"):
    r"""Cyclical learning rates (Smith 2017), PyTorch ``CyclicLR`` semantics.

    A triangle wave from ``base_value`` up to ``max_value`` over
    ``step_size_up`` steps and back over ``step_size_down`` (default: the same).
    The amplitude is scaled by 1 (``"triangular"``), by :math:`2^{-c}` in cycle
    c (``"triangular2"``), or by :math:`\gamma^t` (``"exp_range"``).

    Example:
        >>> import optasched as osd
        >>> s = osd.cyclic(0.1, 1.0, step_size_up=10)
        >>> round(float(s(5)), 4), round(float(s(10)), 4), round(float(s(20)), 4)
        (0.55, 1.0, 0.1)
    """

    base_value: ArrayLike = value()
    max_value: ArrayLike = value()
    step_size_up: ArrayLike = steps(default=2000, gt=0)
    step_size_down: ArrayLike | None = steps(default=None, ge=0)
    mode: str = static(default="triangular", choices=CYCLIC_MODES)
    gamma: ArrayLike = value(default=1.0, gt=0)

    def _constraints(self):
        if self.mode == "exp_range":  # gamma**step must not overflow over the int32 step range
            yield Constraint("gamma", self.gamma <= 1, "<= 1 in exp_range mode", self.gamma)

    def _value(self, step):
        dtype = self.dtype
        step = jnp.maximum(step, 0)
        up = self.step_size_up
        down = up if self.step_size_down is None else self.step_size_down
        total = up + down
        completed = floor_div(step, total)
        position = step - completed * total  # exact for integer steps
        rising = position <= up
        scale = jnp.where(
            rising,
            safe_divide(to_float(position, dtype), to_float(up, dtype), 1.0),
            safe_divide(to_float(total - position, dtype), to_float(down, dtype), 1.0),
        )
        if self.mode == "triangular":
            factor = 1.0
        elif self.mode == "triangular2":
            factor = 0.5 ** to_float(completed, dtype)
        else:
            factor = self.gamma ** to_float(step, dtype)
        return self.base_value + (self.max_value - self.base_value) * scale * factor

    def value_range(self, step):
        return ordered(self.base_value, self.max_value)
