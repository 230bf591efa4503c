"""Coupled schedules: hyperparameters that follow another schedule.

Momentum cycled inversely to the learning rate (one-cycle / CyclicLR
``cycle_momentum``), weight decay tied to the learning rate, a BatchNorm EMA
decay or a contrastive temperature moving in step with it. Each is a
:class:`~optasched.Schedule` whose child is the base schedule, so it stacks,
vmaps and differentiates like any family, and a sweep over the base sweeps the
coupled value with it.

The coupling goes through the base schedule's *normalised position*
(:meth:`Schedule.position`)

.. math:: p(t) = \\operatorname{clip}\\bigl((s(t) - s_{\\min}) / (s_{\\max} - s_{\\min}), 0, 1\\bigr)

with :math:`[s_{\\min}, s_{\\max}]` given, or the base's own
:meth:`Schedule.value_range`, read off its hyperparameters (so they stay
traced). A new family gets coupling by defining ``value_range``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from ._base import Constraint, Schedule, bound, child, is_traced, ordered, static, value
from ._kernels import safe_divide


class _CoupledFields(Schedule):
    """The base schedule and the optional explicit range of every coupled family."""

    def _check_structure(self):
        if (self.base_min is None) != (self.base_max is None):
            raise ValueError(f"{self.family}: give both base_min and base_max, or neither (to infer them)")
        if self.base_min is None:
            found = self.schedule.value_range(jnp.zeros((), jnp.int32))
            if found is None:
                raise ValueError(
                    f"{self.family}: cannot read the value range of a {self.schedule.family} schedule off its "
                    "hyperparameters; give base_min and base_max"
                )
            if not all(is_traced(x) or np.all(np.isfinite(np.asarray(x))) for x in found):
                raise ValueError(
                    f"{self.family}: the {self.schedule.family} schedule's values are unbounded "
                    f"(range {np.asarray(found[0])} to {np.asarray(found[1])}); give base_min and base_max"
                )

    def _constraints(self):
        if self.base_min is not None:
            yield bound("base_max", self.base_max, ">", self.base_min, limit_name="base_min")

    def _position(self, step):
        """The base's normalised position p(t) in [0, 1]."""
        if self.base_min is not None:
            return jnp.clip(
                safe_divide(self.schedule(step) - self.base_min, self.base_max - self.base_min, 1.0), 0.0, 1.0
            )
        return self.schedule.position(step)


class Coupled(_CoupledFields, family="coupled"):
    r"""A hyperparameter that moves with another schedule, between ``low`` and ``high``.

    .. math::
        v(t) = \begin{cases} L + (H - L)\, p(t) & \text{(in step)} \\
                             H - (H - L)\, p(t) & \text{(inverse)} \end{cases},
        \qquad p(t) = \operatorname{clip}\!\left(\frac{s(t) - s_{\min}}{s_{\max} - s_{\min}}, 0, 1\right)

    In step, ``v`` is ``high`` where the base is at its maximum; inversely, it
    is ``low`` there. The base range :math:`[s_{\min}, s_{\max}]` is the base's
    :meth:`~Schedule.value_range` (traced, so sweeps over the base work), or
    ``base_min`` and ``base_max`` when given. For a one-cycle base without an
    explicit range, ``p`` is PyTorch ``OneCycleLR``'s own phase factor, so
    momentum cycles exactly as PyTorch's ``cycle_momentum``; for restarts
    whose peaks grow (``peak_multiplier > 1``) the range grows with them.

    Uses: :class:`cycled_momentum`, :class:`coupled_ema_decay`,
    :class:`coupled_temperature`, :class:`coupled_weight_decay`.

    Example:
        >>> import optasched as osd
        >>> lr = osd.cosine(1.0, decay_steps=100)
        >>> t = osd.coupled(lr, low=0.05, high=0.2)  # a temperature following the LR
        >>> round(float(t(0)), 4), round(float(t(50)), 4), round(float(t(100)), 4)
        (0.2, 0.125, 0.05)

    Reference: Smith, "A disciplined approach to neural network
    hyper-parameters", 2018 (cyclical momentum).
    """

    schedule: Schedule | ArrayLike = child()
    low: ArrayLike = value()
    high: ArrayLike = value()
    base_min: ArrayLike | None = value(default=None)
    base_max: ArrayLike | None = value(default=None)
    inverse: bool = static(default=False, choices=(False, True))

    def _value(self, step):
        p = self._position(step)
        if self.inverse:
            return self.high - (self.high - self.low) * p
        return self.low + (self.high - self.low) * p

    def value_range(self, step):
        return ordered(self.low, self.high)


class _Reparameterised(_CoupledFields):
    """A coupled family under its own argument names: ``low``/``high`` are its
    ``_low``/``_high`` fields, ``inverse`` its class constant."""

    _names: tuple[str, str]
    _inverse: bool

    def _general(self) -> Coupled:
        low, high = (getattr(self, n) for n in self._names)
        return Coupled._build(schedule=self.schedule, low=low, high=high, base_min=self.base_min,
                              base_max=self.base_max, inverse=self._inverse)


class CycledMomentum(_Reparameterised, family="cycled_momentum"):
    r"""Momentum (or Adam's ``b1``) cycled inversely to the learning rate.

    .. math:: m(t) = m_{\max} - (m_{\max} - m_{\text{base}})\, p(t)

    ``max_momentum`` where the learning rate is lowest, ``base_momentum`` at
    its peak: PyTorch ``OneCycleLR`` / ``CyclicLR`` ``cycle_momentum=True``
    semantics (0.95 to 0.85 by default) for those bases, and the same affine
    rule for any other (see :class:`coupled` for :math:`p`).

    Example:
        >>> import optasched as osd
        >>> lr = osd.one_cycle(0.1, total_steps=100, pct_start=0.3)
        >>> b1 = osd.cycled_momentum(lr)
        >>> round(float(b1(0)), 4), round(float(b1(29)), 4), round(float(b1(99)), 4)
        (0.95, 0.85, 0.95)

    Reference: Smith & Topin, "Super-convergence", 2018.
    """

    schedule: Schedule | ArrayLike = child()
    base_momentum: ArrayLike = value(default=0.85)
    max_momentum: ArrayLike = value(default=0.95)
    base_min: ArrayLike | None = value(default=None)
    base_max: ArrayLike | None = value(default=None)
    _names = ("base_momentum", "max_momentum")
    _inverse = True


class CoupledEmaDecay(_Reparameterised, family="coupled_ema_decay"):
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

    schedule: Schedule | ArrayLike = child()
    min_decay: ArrayLike = value(default=0.9)
    max_decay: ArrayLike = value(default=0.99)
    base_min: ArrayLike | None = value(default=None)
    base_max: ArrayLike | None = value(default=None)
    _names = ("min_decay", "max_decay")
    _inverse = True


class CoupledTemperature(_Reparameterised, family="coupled_temperature"):
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

    schedule: Schedule | ArrayLike = child()
    min_temperature: ArrayLike = value(default=0.05)
    max_temperature: ArrayLike = value(default=0.2)
    base_min: ArrayLike | None = value(default=None)
    base_max: ArrayLike | None = value(default=None)
    _names = ("min_temperature", "max_temperature")
    _inverse = False


# -- weight decay ----------------------------------------------------------------------------

WEIGHT_DECAY_MODES = ("constant_product", "proportional")


class CoupledWeightDecay(Schedule, family="coupled_weight_decay"):
    r"""A weight decay tied to the learning-rate schedule.

    optax's ``adamw`` (like PyTorch's) shrinks the weights by
    :math:`\eta(t)\,\lambda(t)` per step. With :math:`\eta_{\text{ref}}` the
    schedule's peak (the top of its :meth:`~Schedule.value_range`, computed
    when evaluated) or ``reference``:

    - ``"constant_product"``: :math:`\lambda(t) = \lambda\, \eta_{\text{ref}} / \eta(t)`,
      capped at ``max_value`` (default ``1000 * weight_decay``; also used
      where :math:`\eta(t) \le 0`): the shrinkage
      :math:`\eta\lambda = \lambda\,\eta_{\text{ref}}` stays constant while
      the learning rate anneals ("independent" weight decay).
    - ``"proportional"``: :math:`\lambda(t) = \lambda\, \operatorname{clip}(\eta(t) / \eta_{\text{ref}}, 0, 1)`:
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

    schedule: Schedule | ArrayLike = child()
    weight_decay: ArrayLike = value(ge=0)
    mode: str = static(default="constant_product", choices=WEIGHT_DECAY_MODES)
    max_value: ArrayLike | None = value(default=None, ge=0)
    reference: ArrayLike | None = value(default=None, gt=0)

    def _check_structure(self):
        if self.reference is None and self.schedule.value_range(jnp.zeros((), jnp.int32)) is None:
            raise ValueError(
                f"coupled_weight_decay: cannot read the peak of a {self.schedule.family} schedule off its "
                "hyperparameters; give reference (the learning rate at which the decay is weight_decay)"
            )

    def _constraints(self):
        if self.reference is None:
            peak = self.schedule.value_range(jnp.zeros((), jnp.int32))[1]
            yield Constraint("reference", peak > 0, "> 0 (the schedule's peak, when not given)", peak)

    def _reference(self, step):
        return self.reference if self.reference is not None else self.schedule.value_range(step)[1]

    def _value(self, step):
        rate, reference = self.schedule(step), self._reference(step)
        if self.mode == "proportional":
            return self.weight_decay * jnp.clip(safe_divide(rate, reference, 1.0), 0.0, 1.0)
        cap = 1000.0 * self.weight_decay if self.max_value is None else self.max_value
        positive = rate > 0
        quotient = self.weight_decay * reference / jnp.where(positive, rate, 1.0)
        return jnp.where(positive, jnp.minimum(quotient, cap), cap)

    def value_range(self, step):
        cap = 1000.0 * self.weight_decay if self.max_value is None else self.max_value
        if self.mode == "proportional":
            return 0.0 * self.weight_decay, self.weight_decay
        return jnp.minimum(self.weight_decay, cap), cap


__all__ = ["Coupled", "CycledMomentum", "CoupledEmaDecay", "CoupledTemperature", "CoupledWeightDecay",
           "Constraint"]
