"""Coupled schedules: hyperparameters that follow another schedule.

Momentum cycled inversely to the learning rate (one-cycle / CyclicLR
``cycle_momentum``), weight decay tied to the learning rate, a BatchNorm EMA
decay or a contrastive temperature moving in step with it. Each is a
:class:`~optasched.Schedule` whose child is the base schedule, so it stacks,
vmaps and differentiates like any family, and a sweep over the base sweeps the
coupled value with it.

The coupling goes through the base schedule's *normalised position*

.. math:: p(t) = \\operatorname{clip}\\bigl((s(t) - s_{\\min}) / (s_{\\max} - s_{\\min}), 0, 1\\bigr)

with :math:`s_{\\min}, s_{\\max}` given, or inferred from the base's own
hyperparameters for the closed-form families (so they stay traced).
"""

from __future__ import annotations

import jax.numpy as jnp

from ._combinators import Binary, Join, Restarts, Shift, Staircase, Warmup
from ._base import Constraint, Kind, Schedule, as_schedule, is_traced
from ._cyclic import CosineRestarts, Cyclic
from ._families import Constant, Cosine, InverseSqrt, Polynomial, Rex, TanhDecay, at_least
from ._kernels import interpolate, safe_divide
from ._piecewise import OneCycle, PiecewiseConstant, PiecewiseLinear, Wsd


def _ordered(a, b):
    return jnp.minimum(a, b), jnp.maximum(a, b)


def value_range(schedule: Schedule):
    """(min, max) of a schedule's values over all steps, as traced arrays, or
    None when it cannot be read off the hyperparameters."""
    s = schedule
    if isinstance(s, Constant):
        return s.value, s.value
    if isinstance(s, (Polynomial, Cosine, Rex, TanhDecay)):
        return _ordered(s.init_value, s.end_value)
    if isinstance(s, Wsd):
        return _ordered(s.peak_value, s.end_value)
    if isinstance(s, CosineRestarts):
        return _ordered(s.init_value, s.end_value)
    if isinstance(s, Cyclic):
        return _ordered(s.base_value, s.max_value)
    if isinstance(s, InverseSqrt):
        return _ordered(0.0 * s.peak_value, s.peak_value)
    if isinstance(s, OneCycle):
        return s.max_value / (s.div_factor * s.final_div_factor), s.max_value
    if isinstance(s, PiecewiseLinear):
        return jnp.min(s.values, axis=-1), jnp.max(s.values, axis=-1)
    if isinstance(s, PiecewiseConstant):
        levels = s.init_value[..., None] * jnp.cumprod(s.scales, axis=-1)
        return (
            jnp.minimum(s.init_value, jnp.min(levels, axis=-1)),
            jnp.maximum(s.init_value, jnp.max(levels, axis=-1)),
        )
    if isinstance(s, Warmup):
        inner = value_range(s.schedule)
        return (
            None
            if inner is None
            else (jnp.minimum(inner[0], s.init_value), jnp.maximum(inner[1], s.init_value))
        )
    if isinstance(s, (Shift, Staircase, Restarts)):
        # Restarts scale later cycles by peak_multiplier**i; positions are clipped.
        return value_range(s.schedule)
    if isinstance(s, Join):
        ranges = [value_range(child) for child in s.schedules]
        if any(r is None for r in ranges):
            return None
        return jnp.min(jnp.stack([r[0] for r in ranges]), axis=0), jnp.max(
            jnp.stack([r[1] for r in ranges]), axis=0
        )
    if isinstance(s, Binary):
        return _binary_range(s)
    return None


def _binary_range(s: Binary):
    left, right = value_range(s.left), value_range(s.right)
    if left is None or right is None:
        return None
    if s.operation in ("min", "max"):
        op = jnp.minimum if s.operation == "min" else jnp.maximum
        return op(left[0], right[0]), op(left[1], right[1])
    if s.operation == "add":
        return left[0] + right[0], left[1] + right[1]
    if s.operation == "sub":
        return left[0] - right[1], left[1] - right[0]
    if isinstance(s.right, Constant):  # scaling by a number
        factor = s.right.value if s.operation == "mul" else 1.0 / s.right.value
        return _ordered(left[0] * factor, left[1] * factor)
    if s.operation == "mul" and isinstance(s.left, Constant):
        return _ordered(right[0] * s.left.value, right[1] * s.left.value)
    return None


def _one_cycle_position(s: OneCycle, step, dtype):
    """PyTorch OneCycleLR's interpolation factor of the momentum: 0 at the
    initial (and final) learning rate, 1 at the peak, phase by phase."""
    total = s.total_steps.astype(dtype)
    peak_at = s.pct_start * total - 1.0
    zero = 0.0 * total
    if s.three_phase:
        knots = jnp.stack([zero, peak_at, 2.0 * peak_at, total - 1.0])
        values = jnp.stack([zero, zero + 1.0, zero, zero])
    else:
        knots = jnp.stack([zero, peak_at, total - 1.0])
        values = jnp.stack([zero, zero + 1.0, zero])
    interpolation = "cosine" if s.anneal_strategy == "cos" else "linear"
    return interpolate(step, knots, values, interpolation, dtype)


class Coupled(Schedule):
    _family = "coupled"
    _optional = frozenset({"base_min", "base_max"})
    _fields = {
        "schedule": Kind.SCHEDULE,
        "low": Kind.VALUE,
        "high": Kind.VALUE,
        "base_min": Kind.VALUE,
        "base_max": Kind.VALUE,
        "inverse": Kind.STATIC,
    }

    def __init__(self, **fields):
        if (fields["base_min"] is None) != (fields["base_max"] is None):
            raise ValueError("coupled: give both base_min and base_max, or neither (to infer them)")
        super().__init__(**fields)
        if self.base_min is None and value_range(self.schedule) is None:
            raise ValueError(
                f"coupled: cannot read the value range of a {self.schedule._family} schedule off its "
                "hyperparameters; give base_min and base_max"
            )

    def _constraints(self):
        if self.base_min is not None:
            yield Constraint("base_max", self.base_max > self.base_min, "> base_min", self.base_max)

    def position(self, step):
        """The base schedule's normalised position p(t) in [0, 1]."""
        dtype = self.dtype
        if self.base_min is None and isinstance(self.schedule, OneCycle):
            return _one_cycle_position(self.schedule, step, dtype)
        low, high = (
            (self.base_min, self.base_max) if self.base_min is not None else value_range(self.schedule)
        )
        # A constant base is at its maximum: position 1.
        return jnp.clip(safe_divide(self.schedule(step) - low, high - low, 1.0), 0.0, 1.0)

    def _value(self, step):
        p = self.position(step)
        if self.inverse:
            return self.high - (self.high - self.low) * p
        return self.low + (self.high - self.low) * p


def coupled(schedule, low, high, base_min=None, base_max=None, inverse=False) -> Coupled:
    r"""A hyperparameter that moves with another schedule, between ``low`` and ``high``.

    .. math::
        v(t) = \begin{cases} L + (H - L)\, p(t) & \text{(in step)} \\
                             H - (H - L)\, p(t) & \text{(inverse)} \end{cases},
        \qquad p(t) = \operatorname{clip}\!\left(\frac{s(t) - s_{\min}}{s_{\max} - s_{\min}}, 0, 1\right)

    In step, ``v`` is ``high`` where the base is at its maximum; inversely, it
    is ``low`` there. The base range :math:`[s_{\min}, s_{\max}]` is inferred
    from the base's hyperparameters (traced, so sweeps over the base work)
    for constant, polynomial/linear, cosine, REX, tanh, WSD, cyclic, cosine
    restarts, inverse-sqrt, piecewise, one-cycle, and warmup / join / shift /
    staircase / restarts / clip / scaling of those; otherwise give
    ``base_min`` and ``base_max``. For a one-cycle base without an explicit
    range, ``p`` is PyTorch ``OneCycleLR``'s own phase interpolation factor,
    so momentum cycles exactly as PyTorch's ``cycle_momentum``.

    Uses: :func:`cycled_momentum`, :func:`coupled_ema_decay`,
    :func:`coupled_temperature`; a weight decay proportional to the learning
    rate is ``coupled(lr, 0.0, wd, base_min=0.0, base_max=peak_lr)``.

    Example:
        >>> import optasched as osd
        >>> lr = osd.cosine(1.0, decay_steps=100)
        >>> t = osd.coupled(lr, low=0.05, high=0.2)  # a temperature following the LR
        >>> round(float(t(0)), 4), round(float(t(50)), 4), round(float(t(100)), 4)
        (0.2, 0.125, 0.05)

    Reference: Smith, "A disciplined approach to neural network
    hyper-parameters", 2018 (cyclical momentum).
    """
    return Coupled(
        schedule=schedule, low=low, high=high, base_min=base_min, base_max=base_max, inverse=bool(inverse)
    )


def cycled_momentum(schedule, base_momentum=0.85, max_momentum=0.95, base_min=None, base_max=None) -> Coupled:
    r"""Momentum (or Adam's ``b1``) cycled inversely to the learning rate.

    .. math:: m(t) = m_{\max} - (m_{\max} - m_{\text{base}})\, p(t)

    ``max_momentum`` where the learning rate is lowest, ``base_momentum`` at
    its peak: PyTorch ``OneCycleLR`` / ``CyclicLR`` ``cycle_momentum=True``
    semantics (0.95 to 0.85 by default) for those bases, and the same affine
    rule for any other (see :func:`coupled` for :math:`p`).

    Example:
        >>> import optasched as osd
        >>> lr = osd.one_cycle(0.1, total_steps=100, pct_start=0.3)
        >>> b1 = osd.cycled_momentum(lr)
        >>> round(float(b1(0)), 4), round(float(b1(29)), 4), round(float(b1(99)), 4)
        (0.95, 0.85, 0.95)

    Reference: Smith & Topin, "Super-convergence", 2018.
    """
    return coupled(schedule, base_momentum, max_momentum, base_min, base_max, inverse=True)


def coupled_ema_decay(schedule, min_decay=0.9, max_decay=0.99, base_min=None, base_max=None) -> Coupled:
    r"""A BatchNorm (or any EMA) decay derived from the learning rate.

    .. math:: d(t) = d_{\max} - (d_{\max} - d_{\min})\, p(t)

    Flax ``nn.BatchNorm(momentum=...)`` convention (the weight of the old
    statistics; PyTorch's ``momentum`` is ``1 - d``): while the learning rate
    is high, the weights move fast and the running statistics follow them
    with a short average (``min_decay``); as it anneals the average
    lengthens to ``max_decay``.

    Example:
        >>> import optasched as osd
        >>> d = osd.coupled_ema_decay(osd.cosine(1.0, 100))
        >>> round(float(d(0)), 4), round(float(d(100)), 4)
        (0.9, 0.99)

    Reference: Ioffe & Szegedy, "Batch normalization", ICML 2015 (the
    running statistics); Smith 2018 (coupling hyperparameters to the LR).
    """
    return coupled(schedule, min_decay, max_decay, base_min, base_max, inverse=True)


def coupled_temperature(
    schedule, min_temperature=0.05, max_temperature=0.2, base_min=None, base_max=None
) -> Coupled:
    r"""A contrastive (softmax) temperature annealed in step with the learning rate.

    .. math:: \tau(t) = \tau_{\min} + (\tau_{\max} - \tau_{\min})\, p(t)

    High while the learning rate is high (soft targets, exploration), down to
    ``min_temperature`` as it anneals.

    Example:
        >>> import optasched as osd
        >>> tau = osd.coupled_temperature(osd.linear(1.0, 0.0, 100), 0.05, 0.2)
        >>> round(float(tau(0)), 4), round(float(tau(100)), 4)
        (0.2, 0.05)

    Reference: Kukleva et al., "Temperature schedules for self-supervised
    contrastive methods on long-tail data", ICLR 2023.
    """
    return coupled(schedule, min_temperature, max_temperature, base_min, base_max, inverse=False)


# -- weight decay ----------------------------------------------------------------------------


class Reciprocal(Schedule):
    _family = "reciprocal"
    _fields = {"schedule": Kind.SCHEDULE, "product": Kind.VALUE, "max_value": Kind.VALUE}

    def _constraints(self):
        yield at_least("product", self.product, 0)
        yield at_least("max_value", self.max_value, 0)

    def _value(self, step):
        base = self.schedule(step)
        positive = base > 0
        quotient = self.product / jnp.where(positive, base, 1.0)
        return jnp.where(positive, jnp.minimum(quotient, self.max_value), self.max_value)


def coupled_weight_decay(
    schedule, weight_decay, mode="constant_product", max_value=None, reference=None
) -> Schedule:
    r"""A weight decay tied to the learning-rate schedule.

    optax's ``adamw`` (like PyTorch's) shrinks the weights by
    :math:`\eta(t)\,\lambda(t)` per step. With :math:`\eta_{\text{ref}}` the
    schedule's peak (or ``reference``):

    - ``"constant_product"``: :math:`\lambda(t) = \lambda\, \eta_{\text{ref}} / \eta(t)`,
      capped at ``max_value`` (default ``1000 * weight_decay``; also used
      where :math:`\eta(t) \le 0`): the shrinkage
      :math:`\eta\lambda = \lambda\,\eta_{\text{ref}}` stays constant while
      the learning rate anneals ("independent" weight decay).
    - ``"proportional"``: :math:`\lambda(t) = \lambda\, \eta(t) / \eta_{\text{ref}}`:
      the decay follows the learning-rate shape (and the shrinkage its square).

    At the peak both equal ``weight_decay``. Any other weight-decay schedule
    is simply a schedule passed as ``weight_decay`` to :func:`inject`.

    Example:
        >>> import optasched as osd
        >>> lr = osd.cosine(1e-3, decay_steps=100, end_value=1e-4)
        >>> wd = osd.coupled_weight_decay(lr, 0.05)
        >>> [round(float(lr(t) * wd(t)), 8) for t in (0, 50, 100)]
        [5e-05, 5e-05, 5e-05]

    Reference: Loshchilov & Hutter, "Decoupled weight decay regularization",
    ICLR 2019; Wang & Aitchison, "How to set AdamW's weight decay as you scale
    model and dataset size", 2024.
    """
    schedule = as_schedule(schedule, "coupled_weight_decay")
    if mode not in ("constant_product", "proportional"):
        raise ValueError(
            f"coupled_weight_decay: mode must be one of ('constant_product', 'proportional'), got {mode!r}"
        )
    if reference is None:
        found = value_range(schedule)
        if found is None:
            raise ValueError(
                f"coupled_weight_decay: cannot read the peak of a {schedule._family} schedule off its "
                "hyperparameters; give reference (the learning rate at which the decay is weight_decay)"
            )
        reference = found[1]
    weight_decay = as_schedule(weight_decay, "coupled_weight_decay", "weight_decay")
    if not isinstance(weight_decay, Constant):
        raise ValueError(f"coupled_weight_decay: weight_decay must be a number, got {weight_decay!r}")
    wd = weight_decay.value
    if not is_traced(wd) and not bool(jnp.all(wd >= 0)):
        raise ValueError(f"coupled_weight_decay: weight_decay must be >= 0, got {weight_decay!r}")
    if mode == "proportional":
        return coupled(schedule, 0.0 * wd, wd, base_min=0.0 * wd, base_max=reference)
    return Reciprocal(
        schedule=schedule,
        product=wd * reference,
        max_value=1000.0 * wd if max_value is None else max_value,
    )
