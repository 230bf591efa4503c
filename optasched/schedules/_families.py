"""Closed-form schedule families: constant, polynomial, exponential, inverse-time,
inverse-sqrt, cosine, REX and tanh decay.

Each family is a :class:`~optasched.Schedule` subclass plus a lowercase
constructor (the public name). Families that are reparameterisations of
another (``linear`` of ``polynomial``, ``step_decay`` of ``exponential``,
``noam`` of ``inverse_sqrt``) return the general family.
"""

from __future__ import annotations

import numbers

import jax.numpy as jnp

from ._base import Constraint, Kind, Schedule, convert_leaf, renamed
from ._kernels import decay_fraction, floor_div, progress, safe_power, safe_sqrt, to_float


def at_least(name: str, value, bound, strict: bool = False, core_axes: int = 0) -> Constraint:
    """Constraint ``value >= bound`` (``>`` if strict), reduced over core axes."""
    ok = value > bound if strict else value >= bound
    if core_axes:
        ok = jnp.all(ok, axis=tuple(range(-core_axes, 0)))
    return Constraint(name, ok, f"{'>' if strict else '>='} {bound}", value)


# -- constant -------------------------------------------------------------------


class Constant(Schedule):
    _family = "constant"
    _fields = {"value": Kind.VALUE}

    def _value(self, step):
        return jnp.broadcast_to(self.value, jnp.shape(step))


def constant(value) -> Constant:
    r"""A constant schedule.

    .. math:: v(t) = \text{value}

    Example:
        >>> import optasched as osd
        >>> float(osd.constant(0.1)(1000))  # doctest: +ELLIPSIS
        0.1...
    """
    return Constant(value=value)


# -- polynomial / linear --------------------------------------------------------


class Polynomial(Schedule):
    _family = "polynomial"
    _fields = {
        "init_value": Kind.VALUE,
        "end_value": Kind.VALUE,
        "power": Kind.VALUE,
        "transition_steps": Kind.STEPS,
        "transition_begin": Kind.STEPS,
        "cycle": Kind.STATIC,
    }

    def _constraints(self):
        yield at_least("power", self.power, 0, strict=True)
        yield at_least("transition_steps", self.transition_steps, 0)
        yield at_least("transition_begin", self.transition_begin, 0)

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


def polynomial(init_value, end_value, power, transition_steps, transition_begin=0, cycle=False) -> Polynomial:
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
    return Polynomial(
        init_value=init_value,
        end_value=end_value,
        power=power,
        transition_steps=transition_steps,
        transition_begin=transition_begin,
        cycle=bool(cycle),
    )


def linear(init_value, end_value, transition_steps, transition_begin=0) -> Polynomial:
    r"""Linear transition: :func:`polynomial` with ``power=1`` (``optax.linear_schedule``).

    .. math:: v(t) = I + (E - I) \min(\max(t - B, 0), T) / T

    Example:
        >>> import optasched as osd
        >>> float(osd.linear(1.0, 0.0, transition_steps=4)(1))
        0.75
    """
    with renamed("linear", "polynomial", {}):
        return polynomial(init_value, end_value, 1.0, transition_steps, transition_begin)


# -- exponential / step ---------------------------------------------------------


class Exponential(Schedule):
    _family = "exponential"
    _optional = frozenset({"end_value"})
    _fields = {
        "init_value": Kind.VALUE,
        "transition_steps": Kind.STEPS,
        "decay_rate": Kind.VALUE,
        "transition_begin": Kind.STEPS,
        "end_value": Kind.VALUE,
        "staircase": Kind.STATIC,
    }

    def _constraints(self):
        yield at_least("transition_steps", self.transition_steps, 0, strict=True)
        yield at_least("decay_rate", self.decay_rate, 0)
        yield at_least("transition_begin", self.transition_begin, 0)

    def _value(self, step):
        dtype = self.dtype
        elapsed = jnp.maximum(step - self.transition_begin, 0)
        if self.staircase:
            exponent = to_float(floor_div(elapsed, self.transition_steps), dtype)
        else:
            exponent = to_float(elapsed, dtype) / to_float(self.transition_steps, dtype)
        value = self.init_value * self.decay_rate**exponent
        if self.end_value is not None:
            # a floor while decaying, a ceiling while growing, no bound at rate 1
            value = jnp.where(
                self.decay_rate < 1,
                jnp.maximum(value, self.end_value),
                jnp.where(self.decay_rate > 1, jnp.minimum(value, self.end_value), value),
            )
        return value


def exponential(
    init_value, transition_steps, decay_rate, transition_begin=0, staircase=False, end_value=None
) -> Exponential:
    r"""Exponential decay (or growth), continuous or staircase.

    .. math::
        v(t) = I \cdot r^{p}, \quad p = \max(t - B, 0) / T
        \quad(\lfloor p \rfloor \text{ if staircase})

    Matches ``optax.exponential_decay``, Keras ``ExponentialDecay`` and, with
    ``transition_steps=1``, PyTorch ``ExponentialLR``.

    Args:
        init_value: initial value I.
        transition_steps: T > 0, steps per factor of ``decay_rate``.
        decay_rate: r >= 0 (r > 1 grows).
        transition_begin: steps B >= 0 held at ``init_value``.
        staircase: decay in discrete jumps every T steps (exact integer
            arithmetic for integer steps).
        end_value: optional bound: a floor when r < 1, a ceiling when r > 1.

    Example:
        >>> import optasched as osd
        >>> float(osd.exponential(1.0, transition_steps=10, decay_rate=0.5)(20))
        0.25
    """
    return Exponential(
        init_value=init_value,
        transition_steps=transition_steps,
        decay_rate=decay_rate,
        transition_begin=transition_begin,
        end_value=end_value,
        staircase=bool(staircase),
    )


def step_decay(init_value, step_size, gamma) -> Exponential:
    r"""PyTorch ``StepLR``: multiply by ``gamma`` every ``step_size`` steps.

    .. math:: v(t) = I \cdot \gamma^{\lfloor t / \text{step\_size} \rfloor}

    The staircase case of :func:`exponential`.

    Example:
        >>> import optasched as osd
        >>> round(float(osd.step_decay(1.0, step_size=30, gamma=0.1)(65)), 6)
        0.01
    """
    with renamed("step_decay", "exponential", {"transition_steps": "step_size", "decay_rate": "gamma"}):
        return exponential(init_value, step_size, gamma, staircase=True)


# -- inverse time -----------------------------------------------------------------


class InverseTime(Schedule):
    _family = "inverse_time"
    _fields = {
        "init_value": Kind.VALUE,
        "decay_steps": Kind.STEPS,
        "decay_rate": Kind.VALUE,
        "staircase": Kind.STATIC,
    }

    def _constraints(self):
        yield at_least("decay_steps", self.decay_steps, 0, strict=True)
        yield at_least("decay_rate", self.decay_rate, 0)

    def _value(self, step):
        dtype = self.dtype
        step = jnp.maximum(step, 0)
        if self.staircase:
            p = to_float(floor_div(step, self.decay_steps), dtype)
        else:
            p = to_float(step, dtype) / to_float(self.decay_steps, dtype)
        return self.init_value / (1.0 + self.decay_rate * p)


def inverse_time(init_value, decay_steps, decay_rate, staircase=False) -> InverseTime:
    r"""Inverse-time decay (Keras ``InverseTimeDecay``).

    .. math:: v(t) = I / (1 + r\, t / T) \quad(\lfloor t / T \rfloor \text{ if staircase})

    Example:
        >>> import optasched as osd
        >>> float(osd.inverse_time(1.0, decay_steps=10, decay_rate=1.0)(10))
        0.5
    """
    return InverseTime(
        init_value=init_value, decay_steps=decay_steps, decay_rate=decay_rate, staircase=bool(staircase)
    )


# -- inverse square root ----------------------------------------------------------


class InverseSqrt(Schedule):
    _family = "inverse_sqrt"
    _optional = frozenset({"timescale"})
    _fields = {"peak_value": Kind.VALUE, "warmup_steps": Kind.STEPS, "timescale": Kind.STEPS}

    def _constraints(self):
        yield at_least("warmup_steps", self.warmup_steps, 0)
        if self.timescale is not None:
            yield at_least("timescale", self.timescale, 0, strict=True)
        else:
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


def inverse_sqrt(peak_value, warmup_steps, timescale=None) -> InverseSqrt:
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
    return InverseSqrt(peak_value=peak_value, warmup_steps=warmup_steps, timescale=timescale)


def noam(d_model, warmup_steps, scale=1.0) -> InverseSqrt:
    r"""The Transformer schedule of Vaswani et al. 2017 ("Attention is all you need").

    .. math:: v(t) = s \cdot d^{-1/2} \min(t^{-1/2},\ t\, W^{-3/2})

    :func:`inverse_sqrt` with peak :math:`s\, d^{-1/2} W^{-1/2}`.

    Example:
        >>> import optasched as osd
        >>> s = osd.noam(d_model=512, warmup_steps=4000)
        >>> round(float(s(4000)), 7)
        0.0006988
    """
    if isinstance(d_model, bool) or not (isinstance(d_model, numbers.Real) and 0 < d_model < float("inf")):
        raise ValueError(f"noam: d_model must be a positive finite number, got {d_model!r}")
    if isinstance(warmup_steps, (int, float)) and not warmup_steps > 0:
        raise ValueError(f"noam: warmup_steps must be > 0, got {warmup_steps!r}")
    warmup_steps = convert_leaf("noam", "warmup_steps", Kind.STEPS, warmup_steps)
    scale = convert_leaf("noam", "scale", Kind.VALUE, scale)
    peak = scale * float(d_model) ** -0.5 * jnp.asarray(warmup_steps, dtype=float) ** -0.5
    with renamed("noam", "inverse_sqrt", {"peak_value": "scale"}):
        return inverse_sqrt(peak, warmup_steps)


# -- cosine -------------------------------------------------------------------------


class Cosine(Schedule):
    _family = "cosine"
    _fields = {
        "init_value": Kind.VALUE,
        "decay_steps": Kind.STEPS,
        "end_value": Kind.VALUE,
        "exponent": Kind.VALUE,
    }

    def _constraints(self):
        yield at_least("decay_steps", self.decay_steps, 0)
        yield at_least("exponent", self.exponent, 0, strict=True)

    def _value(self, step):
        frac = progress(step, self.decay_steps, self.dtype)
        shape = safe_power(decay_fraction(frac, "cosine"), self.exponent)
        return self.end_value + (self.init_value - self.end_value) * shape


def cosine(init_value, decay_steps, end_value=0.0, exponent=1.0) -> Cosine:
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
    return Cosine(init_value=init_value, decay_steps=decay_steps, end_value=end_value, exponent=exponent)


# -- REX -------------------------------------------------------------------------------


class Rex(Schedule):
    _family = "rex"
    _fields = {"init_value": Kind.VALUE, "total_steps": Kind.STEPS, "end_value": Kind.VALUE}

    def _constraints(self):
        yield at_least("total_steps", self.total_steps, 0)

    def _value(self, step):
        remaining = 1.0 - progress(step, self.total_steps, self.dtype)
        shape = remaining / (0.5 + 0.5 * remaining)
        return self.end_value + (self.init_value - self.end_value) * shape


def rex(init_value, total_steps, end_value=0.0) -> Rex:
    r"""REX decay (Chen, Wolfe & Kyrillidis, "REX: Revisiting budgeted training
    with an improved schedule", MLSys 2022).

    .. math:: v(t) = E + (I - E)\, \frac{1 - z}{\tfrac12 + \tfrac12 (1 - z)}, \quad z = \min(t / T, 1)

    Example:
        >>> import optasched as osd
        >>> round(float(osd.rex(1.0, total_steps=100)(50)), 4)
        0.6667
    """
    return Rex(init_value=init_value, total_steps=total_steps, end_value=end_value)


# -- tanh ----------------------------------------------------------------------------


class TanhDecay(Schedule):
    _family = "tanh_decay"
    _fields = {
        "init_value": Kind.VALUE,
        "decay_steps": Kind.STEPS,
        "end_value": Kind.VALUE,
        "lower_bound": Kind.VALUE,
        "upper_bound": Kind.VALUE,
    }

    def _constraints(self):
        yield at_least("decay_steps", self.decay_steps, 0)
        yield Constraint(
            "upper_bound", self.upper_bound > self.lower_bound, "> lower_bound", self.upper_bound
        )

    def _value(self, step):
        frac = progress(step, self.decay_steps, self.dtype)
        argument = self.lower_bound * (1.0 - frac) + self.upper_bound * frac
        shape = 0.5 * (1.0 - jnp.tanh(argument))
        # timm: the decay ends exactly at end_value once the cycle is over.
        shape = jnp.where(step >= self.decay_steps, 0.0, shape)
        return self.end_value + (self.init_value - self.end_value) * shape


def tanh_decay(init_value, decay_steps, end_value=0.0, lower_bound=-7.0, upper_bound=3.0) -> TanhDecay:
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
    return TanhDecay(
        init_value=init_value,
        decay_steps=decay_steps,
        end_value=end_value,
        lower_bound=lower_bound,
        upper_bound=upper_bound,
    )
