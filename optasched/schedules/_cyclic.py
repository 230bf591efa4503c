"""Periodic schedules: cosine with warm restarts (SGDR) and cyclical learning rates."""

from __future__ import annotations

import jax.numpy as jnp
from jax.typing import ArrayLike

from ._algebra import ordered
from ._constraints import Constraint
from ._fields import real, static, steps
from ._schedule import Schedule
from ._kernels import as_steps, cycle_position, decay_fraction, floor_div, safe_divide, step_dtype, to_float


class GeometricCycles(Schedule):
    r"""Shared by :class:`cosine_restarts` and :class:`restarts`: cycles of
    :math:`T_0 m^i` steps with amplitude :math:`\mu^i`. Subclasses declare
    ``first_period`` (> 0), ``period_multiplier`` (>= 1) and
    ``peak_multiplier`` (>= 0) fields."""

    def _cycle(self, step):
        """(index, position, period) of ``step`` (steps: at least float32), and the
        amplitude factor mu**index (a value: in the schedule's dtype)."""
        index, position, period = cycle_position(
            jnp.maximum(as_steps(step), 0), self.first_period, self.period_multiplier, self.dtype
        )
        return index, position, period, (self.peak_multiplier**index).astype(self.dtype)

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

    Args:
        init_value: the peak I of the first cycle.
        first_period: T_0 > 0 steps of the first cycle.
        period_multiplier: m >= 1, each cycle is m times longer than the one
            before (default 1: equal cycles; PyTorch's ``T_mult``, Keras'
            ``t_mul``).
        peak_multiplier: mu >= 0, each cycle's amplitude ``I - E`` is mu times the
            one before (default 1; Keras' ``m_mul``).
        end_value: the value E each cycle decays to (default 0; PyTorch's
            ``eta_min``).

    Example:
        >>> import optasched as osd
        >>> s = osd.cosine_restarts(1.0, first_period=10, period_multiplier=2.0)
        >>> [round(float(s(t)), 4) for t in (5, 10, 20)]
        [0.5, 1.0, 0.5]
    """

    init_value: ArrayLike = real()
    first_period: ArrayLike = steps(gt=0)
    period_multiplier: ArrayLike = real(default=1.0, ge=1)
    peak_multiplier: ArrayLike = real(default=1.0, ge=0)
    end_value: ArrayLike = real(default=0.0)

    def _value(self, step):
        _, position, period, amplitude = self._cycle(step)
        return self.end_value + (self.init_value - self.end_value) * amplitude * decay_fraction(
            (position / period).astype(self.dtype), "cosine"
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

    Args:
        base_value: the lowest value (PyTorch's ``base_lr``), at step 0 and at the
            end of every cycle.
        max_value: the top of the first cycle (PyTorch's ``max_lr``).
        step_size_up: steps > 0 from ``base_value`` up to the top (default 2000,
            PyTorch's).
        step_size_down: steps >= 0 back down; ``None`` (default) is
            ``step_size_up``.
        mode: how the amplitude shrinks: ``"triangular"`` (never, the default),
            ``"triangular2"`` (halved every cycle) or ``"exp_range"`` (by
            ``gamma`` per step) (static).
        gamma: the per-step factor > 0 of ``"exp_range"`` (default 1; ignored by
            the other modes).

    Example:
        >>> import optasched as osd
        >>> s = osd.cyclic(0.1, 1.0, step_size_up=10)
        >>> round(float(s(5)), 4), round(float(s(10)), 4), round(float(s(20)), 4)
        (0.55, 1.0, 0.1)
    """

    base_value: ArrayLike = real()
    max_value: ArrayLike = real()
    step_size_up: ArrayLike = steps(default=2000, gt=0)
    step_size_down: ArrayLike | None = steps(default=None, ge=0)
    mode: str = static(default="triangular", choices=CYCLIC_MODES)
    gamma: ArrayLike = real(default=1.0, gt=0)

    def _constraints(self):
        if self.mode == "exp_range":  # gamma**step must not overflow over the int32 step range
            yield Constraint("gamma", self.gamma <= 1, "<= 1 in exp_range mode", self.gamma)

    def _value(self, step):
        dtype, wide = self.dtype, step_dtype(self.dtype)  # steps in at least float32, the value in dtype
        step = jnp.maximum(as_steps(step), 0)
        up = as_steps(self.step_size_up)
        down = up if self.step_size_down is None else as_steps(self.step_size_down)
        total = up + down
        completed = floor_div(step, total)
        position = step - completed * total  # exact for integer steps
        rising = position <= up
        scale = jnp.where(
            rising,
            safe_divide(to_float(position, wide), to_float(up, wide), 1.0),
            safe_divide(to_float(total - position, wide), to_float(down, wide), 1.0),
        )
        if self.mode == "triangular":
            factor = jnp.ones((), wide)
        elif self.mode == "triangular2":
            factor = 0.5 ** to_float(completed, wide)
        else:
            factor = self.gamma ** to_float(step, wide)
        return self.base_value + (self.max_value - self.base_value) * (scale * factor).astype(dtype)

    def value_range(self, step):
        return ordered(self.base_value, self.max_value)


__all__ = ["CYCLIC_MODES", "CosineRestarts", "Cyclic", "GeometricCycles"]
