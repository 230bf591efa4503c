"""Periodic schedules: cosine with warm restarts (SGDR) and cyclical learning rates."""

from __future__ import annotations

import jax.numpy as jnp

from ._base import Constraint, Kind, Schedule
from ._families import at_least
from ._kernels import cycle_position, decay_fraction, floor_div, safe_divide, to_float


class GeometricCycles(Schedule):
    r"""Shared by :func:`cosine_restarts` and :func:`restarts`: cycles of
    :math:`T_0 m^i` steps with amplitude :math:`\mu^i`. Subclasses declare
    ``first_period``, ``period_multiplier`` and ``peak_multiplier`` fields."""

    def _constraints(self):
        yield at_least("first_period", self.first_period, 0, strict=True)
        yield at_least("period_multiplier", self.period_multiplier, 1)
        yield at_least("peak_multiplier", self.peak_multiplier, 0)

    def _cycle(self, step):
        """(index, position, period) of ``step``, and the amplitude factor mu**index."""
        index, position, period = cycle_position(
            jnp.maximum(step, 0), self.first_period, self.period_multiplier, self.dtype
        )
        return index, position, period, self.peak_multiplier**index


class CosineRestarts(GeometricCycles):
    _family = "cosine_restarts"
    _fields = {
        "init_value": Kind.VALUE,
        "first_period": Kind.STEPS,
        "period_multiplier": Kind.VALUE,
        "peak_multiplier": Kind.VALUE,
        "end_value": Kind.VALUE,
    }

    def _value(self, step):
        _, position, period, amplitude = self._cycle(step)
        return self.end_value + (self.init_value - self.end_value) * amplitude * decay_fraction(
            position / period, "cosine"
        )


def cosine_restarts(
    init_value, first_period, period_multiplier=1.0, peak_multiplier=1.0, end_value=0.0
) -> CosineRestarts:
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
    return CosineRestarts(
        init_value=init_value,
        first_period=first_period,
        period_multiplier=period_multiplier,
        peak_multiplier=peak_multiplier,
        end_value=end_value,
    )


CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


class Cyclic(Schedule):
    _family = "cyclic"
    _optional = frozenset({"step_size_down"})
    _fields = {
        "base_value": Kind.VALUE,
        "max_value": Kind.VALUE,
        "step_size_up": Kind.STEPS,
        "step_size_down": Kind.STEPS,
        "gamma": Kind.VALUE,
        "mode": Kind.STATIC,
    }
    _choices = {"mode": CYCLIC_MODES}

    def _constraints(self):
        yield at_least("step_size_up", self.step_size_up, 0, strict=True)
        if self.step_size_down is not None:
            yield at_least("step_size_down", self.step_size_down, 0)
        yield at_least("gamma", self.gamma, 0, strict=True)
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


def cyclic(
    base_value, max_value, step_size_up=2000, step_size_down=None, mode="triangular", gamma=1.0
) -> Cyclic:
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
    return Cyclic(
        base_value=base_value,
        max_value=max_value,
        step_size_up=step_size_up,
        step_size_down=step_size_down,
        gamma=gamma,
        mode=mode,
    )
