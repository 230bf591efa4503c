"""Reduce on plateau: a stateful hyperparameter with PyTorch
``ReduceLROnPlateau`` semantics, every hyperparameter a traced leaf.

:class:`Plateau` (``osd.plateau``) multiplies any schedule by a scale that
drops by ``factor`` when the monitored value (``value=loss`` passed to
``update``, or once per epoch to ``osd.plateau_step``) stops improving; use it
as a hyperparameter of :func:`optasched.inject`. ``osd.reduce_on_plateau`` (in
the optax bridge) is the same logic as a transformation that scales the updates.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ._fields import child, real, static, steps
from ._schedule import Schedule
from ._stateful import StatefulSchedule

MODES = ("min", "max")
THRESHOLD_MODES = ("rel", "abs")


class PlateauState(NamedTuple):
    """Counters of :func:`plateau` (PyTorch ``ReduceLROnPlateau``'s attributes)."""

    scale: jax.Array  # multiplies the base schedule's value
    best: jax.Array  # best monitored value so far
    num_bad_steps: jax.Array  # shape=(), int32: PyTorch num_bad_epochs
    cooldown_counter: jax.Array  # shape=(), int32
    accumulated: jax.Array  # sum of the values of the current window
    accumulated_count: jax.Array  # shape=(), int32
    previous_scale: jax.Array  # the scale before the last reduction, used by updates before scale_from
    scale_from: jax.Array  # shape=(), int32: the first update that uses ``scale``


class Plateau(StatefulSchedule, family="plateau"):
    r"""Scale a schedule down by ``factor`` whenever a monitored value plateaus.

    A hyperparameter for :func:`inject`. Each monitored value is one PyTorch
    ``ReduceLROnPlateau.step(value)`` (with ``accumulation_size`` :math:`k > 1`,
    the mean of :math:`k` values is one step), and **a reduction takes effect
    from the first update after the one that received the value**, as
    ``scheduler.step(val_loss)`` after an epoch's last ``optimizer.step()``
    lowers the learning rate from the next epoch on. Give the value with an
    update (``update(grads, state, params, value=loss)``: its own learning rate
    is not changed by it) or, once per epoch, with :func:`optasched.plateau_step`
    after the epoch's last update (the next epoch's first update uses the
    reduction). Updates without a value leave the counters untouched. With
    :math:`v = s(t)\,c` (:math:`c` the scale, initially 1):

    .. math::
        \text{better}(a) = \begin{cases}
        a < b - \theta |b| & \text{min, rel} \qquad a < b - \theta \quad \text{min, abs} \\
        a > b + \theta |b| & \text{max, rel} \qquad a > b + \theta \quad \text{max, abs}
        \end{cases}

    A value that is not better for more than ``patience`` consecutive steps
    (bad steps during ``cooldown`` are ignored) sets
    :math:`v \leftarrow \max(v\,\gamma, v_{\min})` if that lowers it by more
    than ``eps``, then starts ``cooldown``. For :math:`b \ge 0` this is
    PyTorch's rule exactly; for a negative best, PyTorch (and
    ``optax.contrib.reduce_on_plateau``) use :math:`b(1 - \theta)`, a margin
    of the wrong sign under which a constant negative loss counts as an
    improvement forever; here the margin is :math:`\theta |b|`.

    It is a :class:`~optasched.StatefulSchedule`: every numeric argument is a
    traced leaf (vmap a sweep over ``patience`` or ``factor``; ``replace``,
    ``grid``, ``to_config`` and checked mode see them); ``mode`` and
    ``threshold_mode`` are static.

    Args:
        schedule: the base schedule (a number is a constant). A warmup
            composes: ``plateau(osd.warmup(osd.constant(lr), 100), begin_step=100)``
            warms up, then reduces on plateau.
        factor: :math:`\gamma \in [0, 1)`.
        patience: bad steps tolerated before a reduction.
        threshold: :math:`\theta \ge 0`, the significant change.
        threshold_mode: ``"rel"`` or ``"abs"``.
        cooldown: steps after a reduction during which bad steps do not count.
        min_value: floor :math:`v_{\min}` of the value (PyTorch ``min_lr``).
        eps: minimal change of the value for a reduction to be applied.
        mode: ``"min"`` (a loss) or ``"max"`` (an accuracy).
        accumulation_size: average this many values (updates without a value
            do not count) into each plateau step: ``steps_per_epoch`` with a
            training loss on every update gives one step per epoch, taking
            effect from the next epoch's first update.
        begin_step: values of the model before this many updates are ignored
            (no counting during a warmup): ``value=`` given with an update
            before ``begin_step``, or :func:`optasched.plateau_step` called
            before update ``begin_step``.

    Example (one plateau step per epoch, as ``scheduler.step(val_loss)``):
        >>> import jax.numpy as jnp, optax, optasched as osd
        >>> opt = osd.inject(optax.sgd)(learning_rate=osd.plateau(0.1, factor=0.5, patience=1))
        >>> params = jnp.zeros(2)
        >>> state = opt.init(params)
        >>> for val_loss in [1.0, 0.5, 0.5, 0.5]:                   # four epochs
        ...     for _ in range(3):                                    # of three updates
        ...         _, state = opt.update(jnp.ones(2), state, params)
        ...     state = osd.plateau_step(state, val_loss)           # the 2nd epoch without gain reduces
        >>> round(float(osd.hyperparams(state)["learning_rate"]), 6)  # the rate the last update used
        0.1
        >>> _, state = opt.update(jnp.ones(2), state, params)       # epoch 5 uses the reduced rate
        >>> round(float(osd.hyperparams(state)["learning_rate"]), 6)
        0.05

    Reference: PyTorch ``torch.optim.lr_scheduler.ReduceLROnPlateau``.
    """

    schedule: Schedule | ArrayLike = child()
    factor: ArrayLike = real(default=0.1, ge=0, lt=1)
    patience: ArrayLike = steps(default=10, ge=0)
    threshold: ArrayLike = real(default=1e-4, ge=0)
    threshold_mode: str = static(default="rel", choices=THRESHOLD_MODES)
    cooldown: ArrayLike = steps(default=0, ge=0)
    min_value: ArrayLike = real(default=0.0, ge=0)
    eps: ArrayLike = real(default=1e-8, ge=0)
    mode: str = static(default="min", choices=MODES)
    accumulation_size: ArrayLike = steps(default=1, ge=1)
    begin_step: ArrayLike = steps(default=0, ge=0)

    def value_range(self, step):
        inner = self.schedule.value_range(step)
        return None if inner is None else (jnp.minimum(inner[0], self.min_value), inner[1])

    # -- the state machine ---------------------------------------------------------------------

    def init_state(self, dtype) -> PlateauState:
        worst = jnp.inf if self.mode == "min" else -jnp.inf
        return PlateauState(
            scale=jnp.ones((), dtype),
            best=jnp.asarray(worst, dtype),
            num_bad_steps=jnp.zeros((), jnp.int32),
            cooldown_counter=jnp.zeros((), jnp.int32),
            accumulated=jnp.zeros((), dtype),
            accumulated_count=jnp.zeros((), jnp.int32),
            previous_scale=jnp.ones((), dtype),
            scale_from=jnp.zeros((), jnp.int32),
        )

    def _is_better(self, value, best):
        threshold = self.threshold.astype(best.dtype)
        if self.threshold_mode == "abs":
            return value < best - threshold if self.mode == "min" else value > best + threshold
        # Relative to |best|: PyTorch's best * (1 -/+ threshold) for best >= 0, and the
        # same margin (not a margin of the wrong sign) for a negative best.
        if self.mode == "min":
            bound = jnp.where(best >= 0, best * (1 - threshold), best * (1 + threshold))
            return value < jnp.where(jnp.isinf(best), best, bound)
        bound = jnp.where(best >= 0, best * (threshold + 1), best * (1 - threshold))
        return value > jnp.where(jnp.isinf(best), best, bound)

    def update_state(
        self, state: PlateauState, step, value=None, between_updates=False, **extra_args
    ) -> PlateauState:
        """The state after a monitored value (one ``ReduceLROnPlateau.step`` per complete window).

        Args:
            state: the current state.
            step: the update count: the value is of the model after ``step`` updates.
            value: the monitored value, a scalar; None (no value) leaves the state as it is.
            between_updates: False for a value given with update ``step`` (a reduction takes
                effect from update ``step + 1``), True for one given before it
                (:func:`optasched.plateau_step`: from update ``step`` on).
            **extra_args: the update's other extra arguments, ignored.
        """
        del extra_args
        if value is None:  # no metric with this update (the per-epoch recipe): nothing to count
            return state
        dtype = state.best.dtype
        value = jnp.asarray(value).astype(dtype)
        if value.shape != ():
            raise ValueError(f"plateau: value must be a scalar, got shape {value.shape}")
        active = step >= self.begin_step
        total = state.accumulated + value
        count = state.accumulated_count + 1
        ready = active & (count >= self.accumulation_size)
        metric = total / count.astype(dtype)

        # One PyTorch ReduceLROnPlateau.step(metric).
        better = self._is_better(metric, state.best)
        best = jnp.where(better, metric, state.best)
        bad = jnp.where(better, 0, state.num_bad_steps + 1)
        in_cooldown = state.cooldown_counter > 0
        cooldown_counter = jnp.where(in_cooldown, state.cooldown_counter - 1, state.cooldown_counter)
        bad = jnp.where(in_cooldown, 0, bad)
        reduce = bad > self.patience
        base = self.schedule(step).astype(dtype)
        old = base * state.scale
        new = jnp.maximum(old * self.factor.astype(dtype), self.min_value.astype(dtype))
        applied = reduce & (old - new > self.eps.astype(dtype)) & (base > 0)
        scale = jnp.where(applied, new / jnp.where(base > 0, base, 1), state.scale)
        cooldown_counter = jnp.where(reduce, self.cooldown, cooldown_counter).astype(jnp.int32)
        bad = jnp.where(reduce, 0, bad).astype(jnp.int32)
        # As PyTorch's scheduler.step(loss) after optimizer.step(): an update that received the value
        # keeps its scale; the reduction takes effect from the next update.
        first = jnp.asarray(step).astype(jnp.int32) + (0 if between_updates else 1)
        previous_scale = jnp.where(applied, self._scale_at(state, first - 1), state.previous_scale)
        scale_from = jnp.where(applied, first, state.scale_from)

        stepped = PlateauState(
            scale,
            best,
            bad,
            cooldown_counter,
            jnp.zeros((), dtype),
            jnp.zeros((), jnp.int32),
            previous_scale,
            scale_from,
        )
        waiting = state._replace(
            accumulated=jnp.where(active, total, state.accumulated),
            accumulated_count=jnp.where(active, count, state.accumulated_count).astype(jnp.int32),
        )
        return jax.tree.map(lambda a, b: jnp.where(ready, a, b), stepped, waiting)

    @staticmethod
    def _scale_at(state: PlateauState, step) -> jax.Array:
        """The scale update ``step`` uses: ``scale`` from ``scale_from`` on, the previous one before."""
        step = jnp.asarray(step)
        return jnp.where(step >= state.scale_from.astype(step.dtype), state.scale, state.previous_scale)

    def evaluate(self, state: PlateauState, step) -> jax.Array:
        return self.schedule(step) * self._scale_at(state, step)


__all__ = ["MODES", "THRESHOLD_MODES", "Plateau", "PlateauState"]
