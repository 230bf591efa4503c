"""Closed-form schedule families: polynomial/linear, exponential/step decay,
inverse time, inverse square root/Noam, cosine, REX and tanh decay.

Each family is a :class:`~optasched.Schedule` subclass whose class is the
public constructor (``osd.cosine`` is :class:`Cosine`). A reparameterisation
(``linear`` of ``polynomial``, ``step_decay`` of ``exponential``, ``noam`` of
``inverse_sqrt``) keeps its own arguments as its leaves and builds the general
family from them when it is evaluated, so ``replace``, sweeps and configs
speak its own names and never disagree with a fresh construction.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.typing import ArrayLike

from ._base import Constraint, Schedule, ordered, static, steps, value
from ._kernels import decay_fraction, floor_div, progress, safe_power, to_float

# -- polynomial / linear --------------------------------------------------------


class Polynomial(Schedule, family="polynomial"):
    r"""Polynomial transition from ``init_value`` to ``end_value``.

    .. math::
        v(t) = (I - E)\,\bigl(1 - \min(\max(t - B, 0), T) / T\bigr)^{p} + E

    Matches ``optax.polynomial_schedule`` (for ``transition_steps > 0``) and,
    with ``cycle=True``, Keras ``PolynomialDecay(cycle=True)``, whose horizon
    becomes the next multiple of T: :math:`T \lceil (t - B) / T \rceil`.

    Args:
        init_value: value before and at ``transition_begin``.
        end_value: value from ``transition_begin + transition_steps`` on.
        power: exponent p > 0 (1 is linear).
        transition_steps: length T >= 0 of the transition; 0 jumps to
            ``end_value`` at ``transition_begin`` (optax instead holds
            ``init_value``).
        transition_begin: steps B >= 0 held at ``init_value`` first.
        cycle: Keras-style cycling (static).

    Example:
        >>> import optasched as osd
        >>> s = osd.polynomial(1.0, 0.0, power=2, transition_steps=100)
        >>> round(float(s(50)), 4)
        0.25
    """

    init_value: ArrayLike = value()
    end_value: ArrayLike = value()
    power: ArrayLike = value(gt=0)
    transition_steps: ArrayLike = steps(ge=0)
    transition_begin: ArrayLike = steps(default=0, ge=0)
    cycle: bool = static(default=False, choices=(False, True))

    def _value(self, step):
        dtype = self.dtype
        elapsed = jnp.maximum(step - self.transition_begin, 0)
        length = self.transition_steps
        if self.cycle:
            # Keras: the horizon grows to the next multiple of transition_steps.
            cycles = jnp.maximum(-floor_div(-elapsed, length), 1)
            length = to_float(length, dtype) * to_float(cycles, dtype)
        frac = progress(elapsed, length, dtype)
        frac = jnp.where(step < self.transition_begin, 0.0, frac)  # T = 0 jumps at B, not before
        return (self.init_value - self.end_value) * safe_power(1.0 - frac, self.power) + self.end_value

    def value_range(self, step):
        return ordered(self.init_value, self.end_value)


class Linear(Schedule, family="linear"):
    r"""Linear transition: :class:`polynomial` with power 1 (``optax.linear_schedule``).

    .. math:: v(t) = I + (E - I) \min(\max(t - B, 0), T) / T

    Args:
        init_value: value before and at ``transition_begin``.
        end_value: value from ``transition_begin + transition_steps`` on.
        transition_steps: length T >= 0 (0 jumps to ``end_value``).
        transition_begin: steps B >= 0 held at ``init_value`` first.

    Example:
        >>> import optasched as osd
        >>> float(osd.linear(1.0, 0.0, transition_steps=4)(1))
        0.75
    """

    init_value: ArrayLike = value()
    end_value: ArrayLike = value()
    transition_steps: ArrayLike = steps(ge=0)
    transition_begin: ArrayLike = steps(default=0, ge=0)

    def _general(self) -> Polynomial:
        return Polynomial._build(
            init_value=self.init_value,
            end_value=self.end_value,
            power=jnp.ones((), self.dtype),
            transition_steps=self.transition_steps,
            transition_begin=self.transition_begin,
            cycle=False,
        )


# -- exponential / step ---------------------------------------------------------


class Exponential(Schedule, family="exponential"):
    r"""Exponential decay (or growth), continuous or staircase.

    .. math::
        v(t) = I \cdot r^{p}, \quad p = \max(t - B, 0) / T
        \quad(\lfloor p \rfloor \text{ if staircase})

    Matches ``optax.exponential_decay``, Keras ``ExponentialDecay`` and, with
    ``transition_steps=1``, PyTorch ``ExponentialLR``. ``end_value`` bounds
    the value as optax does: a floor when r < 1, a ceiling when r >= 1 (so at
    r = 1 the value is ``min(I, end_value)``). One deliberate difference:
    optax returns ``init_value`` forever for ``decay_rate=0``; here the formula
    holds (I at the first step, 0 after, as Keras and PyTorch give).

    Args:
        init_value: initial value I.
        transition_steps: T > 0, steps per factor of ``decay_rate``.
        decay_rate: r >= 0 (r > 1 grows).
        transition_begin: steps B >= 0 held at ``init_value``.
        staircase: decay in discrete jumps every T steps (exact integer
            arithmetic for integer steps).
        end_value: optional bound: a floor when r < 1, a ceiling when r >= 1.

    Example:
        >>> import optasched as osd
        >>> float(osd.exponential(1.0, transition_steps=10, decay_rate=0.5)(20))
        0.25
    """

    init_value: ArrayLike = value()
    transition_steps: ArrayLike = steps(gt=0)
    decay_rate: ArrayLike = value(ge=0)
    transition_begin: ArrayLike = steps(default=0, ge=0)
    staircase: bool = static(default=False, choices=(False, True))
    end_value: ArrayLike | None = value(default=None)

    def _bounded(self, x):
        if self.end_value is None:
            return x
        return jnp.where(self.decay_rate < 1, jnp.maximum(x, self.end_value), jnp.minimum(x, self.end_value))

    def _value(self, step):
        dtype = self.dtype
        elapsed = jnp.maximum(step - self.transition_begin, 0)
        if self.staircase:
            exponent = to_float(floor_div(elapsed, self.transition_steps), dtype)
        else:
            exponent = to_float(elapsed, dtype) / to_float(self.transition_steps, dtype)
        return self._bounded(self.init_value * self.decay_rate**exponent)

    def value_range(self, step):
        start, rate = self.init_value, self.decay_rate
        # The unbounded course runs from I towards 0 (r < 1), stays (r = 1) or grows without bound.
        grown = jnp.where(start == 0, 0.0, jnp.where(start > 0, jnp.inf, -jnp.inf))
        limit = jnp.where(rate < 1, 0.0 * start, jnp.where(rate > 1, grown, start))
        low, high = ordered(start, limit)
        return self._bounded(low), self._bounded(high)  # the bound is monotone


class StepDecay(Schedule, family="step_decay"):
    r"""PyTorch ``StepLR``: multiply by ``gamma`` every ``step_size`` steps.

    .. math:: v(t) = I \cdot \gamma^{\lfloor t / \text{step\_size} \rfloor}

    The staircase case of :class:`exponential`.

    Args:
        init_value: initial value I.
        step_size: steps between multiplications (> 0).
        gamma: the factor (>= 0).

    Example:
        >>> import optasched as osd
        >>> round(float(osd.step_decay(1.0, step_size=30, gamma=0.1)(65)), 6)
        0.01
    """

    init_value: ArrayLike = value()
    step_size: ArrayLike = steps(gt=0)
    gamma: ArrayLike = value(ge=0)

    def _general(self) -> Exponential:
        return Exponential._build(
            init_value=self.init_value,
            transition_steps=self.step_size,
            decay_rate=self.gamma,
            staircase=True,
            transition_begin=jnp.zeros((), jnp.result_type(self.step_size)),
            end_value=None,
        )


# -- inverse time -----------------------------------------------------------------


class InverseTime(Schedule, family="inverse_time"):
    r"""Inverse-time decay (Keras ``InverseTimeDecay``).

    .. math:: v(t) = I / (1 + r\, t / T) \quad(\lfloor t / T \rfloor \text{ if staircase})

    Example:
        >>> import optasched as osd
        >>> float(osd.inverse_time(1.0, decay_steps=10, decay_rate=1.0)(10))
        0.5
    """

    init_value: ArrayLike = value()
    decay_steps: ArrayLike = steps(gt=0)
    decay_rate: ArrayLike = value(ge=0)
    staircase: bool = static(default=False, choices=(False, True))

    def _value(self, step):
        dtype = self.dtype
        step = jnp.maximum(step, 0)
        if self.staircase:
            p = to_float(floor_div(step, self.decay_steps), dtype)
        else:
            p = to_float(step, dtype) / to_float(self.decay_steps, dtype)
        return self.init_value / (1.0 + self.decay_rate * p)

    def value_range(self, step):
        return ordered(self.init_value, 0.0 * self.init_value)


# -- inverse square root ----------------------------------------------------------


class InverseSqrt(Schedule, family="inverse_sqrt"):
    r"""Linear warmup, then inverse square-root decay (Transformer / HF).

    .. math::
        v(t) = P \begin{cases} t / \max(W, 1) & t < W \\
        \sqrt{\tau / (t - W + \tau)} & t \ge W \end{cases}

    With ``timescale`` :math:`\tau` = ``None`` (:math:`\tau = W`) this is the
    Noam schedule of Vaswani et al. 2017 normalised to peak P at step W; with a
    given ``timescale`` it is HF ``get_inverse_sqrt_schedule``.

    Example:
        >>> import optasched as osd
        >>> s = osd.inverse_sqrt(1.0, warmup_steps=100)
        >>> float(s(50)), float(s(400))
        (0.5, 0.5)
    """

    peak_value: ArrayLike = value()
    warmup_steps: ArrayLike = steps(ge=0)
    timescale: ArrayLike | None = steps(default=None, gt=0)

    def _constraints(self):
        if self.timescale is None:
            yield Constraint(
                "warmup_steps", self.warmup_steps > 0, "> 0 when timescale is not given", self.warmup_steps
            )

    def _value(self, step):
        dtype = self.dtype
        warmup = to_float(self.warmup_steps, dtype)
        timescale = warmup if self.timescale is None else to_float(self.timescale, dtype)
        timescale = jnp.maximum(timescale, 1.0)
        t = to_float(jnp.maximum(step, 0), dtype)
        rising = t / jnp.maximum(warmup, 1.0)
        decaying = 1.0 / jnp.sqrt((jnp.maximum(t, warmup) - warmup + timescale) / timescale)
        return self.peak_value * jnp.where(t < warmup, rising, decaying)

    def value_range(self, step):
        return ordered(0.0 * self.peak_value, self.peak_value)


class Noam(Schedule, family="noam"):
    r"""The Transformer schedule of Vaswani et al. 2017 ("Attention is all you need").

    .. math:: v(t) = s \cdot d^{-1/2} \min(t^{-1/2},\ t\, W^{-3/2})

    :class:`inverse_sqrt` with peak :math:`s\, d^{-1/2} W^{-1/2}` at step W,
    computed when evaluated, so ``d_model``, ``warmup_steps`` and ``scale``
    are all traced leaves (sweep any of them).

    Args:
        d_model: the model width d (> 0).
        warmup_steps: W > 0.
        scale: a factor s (the original is 1).

    Example:
        >>> import optasched as osd
        >>> s = osd.noam(d_model=512, warmup_steps=4000)
        >>> round(float(s(4000)), 7)
        0.0006988
    """

    d_model: ArrayLike = value(gt=0)
    warmup_steps: ArrayLike = steps(gt=0)
    scale: ArrayLike = value(default=1.0)

    def _general(self) -> InverseSqrt:
        dtype = self.dtype
        peak = self.scale * self.d_model**-0.5 * to_float(self.warmup_steps, dtype) ** -0.5
        return InverseSqrt._build(peak_value=peak, warmup_steps=self.warmup_steps, timescale=None)


# -- cosine -------------------------------------------------------------------------


class Cosine(Schedule, family="cosine"):
    r"""Cosine decay (Loshchilov & Hutter, SGDR, 2017), optax semantics.

    .. math::
        v(t) = E + (I - E) \left[\tfrac12 \bigl(1 + \cos(\pi \min(t, T) / T)\bigr)\right]^{e}

    ``optax.cosine_decay_schedule(I, T, alpha, exponent)`` is this with
    ``end_value = alpha * I``; PyTorch ``CosineAnnealingLR(T_max=T, eta_min=E)``
    agrees for ``t <= T``. ``decay_steps=0`` gives ``end_value`` at once.

    Example:
        >>> import optasched as osd
        >>> round(float(osd.cosine(1.0, decay_steps=100)(50)), 4)
        0.5
    """

    init_value: ArrayLike = value()
    decay_steps: ArrayLike = steps(ge=0)
    end_value: ArrayLike = value(default=0.0)
    exponent: ArrayLike = value(default=1.0, gt=0)

    def _value(self, step):
        frac = progress(step, self.decay_steps, self.dtype)
        shape = safe_power(decay_fraction(frac, "cosine"), self.exponent)
        return self.end_value + (self.init_value - self.end_value) * shape

    def value_range(self, step):
        return ordered(self.init_value, self.end_value)


# -- REX -------------------------------------------------------------------------------


class Rex(Schedule, family="rex"):
    r"""REX decay (Chen, Wolfe & Kyrillidis, "REX: Revisiting budgeted training
    with an improved schedule", MLSys 2022).

    .. math:: v(t) = E + (I - E)\, \frac{1 - z}{\tfrac12 + \tfrac12 (1 - z)}, \quad z = \min(t / T, 1)

    Example:
        >>> import optasched as osd
        >>> round(float(osd.rex(1.0, total_steps=100)(50)), 4)
        0.6667
    """

    init_value: ArrayLike = value()
    total_steps: ArrayLike = steps(ge=0)
    end_value: ArrayLike = value(default=0.0)

    def _value(self, step):
        remaining = 1.0 - progress(step, self.total_steps, self.dtype)
        shape = remaining / (0.5 + 0.5 * remaining)
        return self.end_value + (self.init_value - self.end_value) * shape

    def value_range(self, step):
        return ordered(self.init_value, self.end_value)


# -- tanh ----------------------------------------------------------------------------


class TanhDecay(Schedule, family="tanh_decay"):
    r"""Hyperbolic-tangent decay (Hsueh et al. 2019; timm ``TanhLRScheduler``).

    .. math::
        v(t) = E + \tfrac12 (I - E)\bigl(1 - \tanh(L (1 - t/T) + U\, t/T)\bigr)
        \text{ for } t < T, \quad E \text{ after}

    Example:
        >>> import optasched as osd
        >>> s = osd.tanh_decay(1.0, decay_steps=100)
        >>> round(float(s(0)), 4), float(s(100))
        (1.0, 0.0)
    """

    init_value: ArrayLike = value()
    decay_steps: ArrayLike = steps(ge=0)
    end_value: ArrayLike = value(default=0.0)
    lower_bound: ArrayLike = value(default=-7.0)
    upper_bound: ArrayLike = value(default=3.0)

    def _constraints(self):
        yield Constraint("upper_bound", self.upper_bound > self.lower_bound, "> lower_bound", self.upper_bound)

    def _value(self, step):
        frac = progress(step, self.decay_steps, self.dtype)
        argument = self.lower_bound * (1.0 - frac) + self.upper_bound * frac
        shape = 0.5 * (1.0 - jnp.tanh(argument))
        # timm: the decay ends exactly at end_value once the cycle is over.
        shape = jnp.where(step >= self.decay_steps, 0.0, shape)
        return self.end_value + (self.init_value - self.end_value) * shape

    def value_range(self, step):
        return ordered(self.init_value, self.end_value)
