"""Reduce on plateau: a stateful hyperparameter with PyTorch
``ReduceLROnPlateau`` semantics, every hyperparameter a traced leaf.

:func:`plateau` multiplies any schedule by a scale that drops by ``factor``
when the monitored value (``value=loss`` passed to ``update``) stops
improving; use it as a hyperparameter of :func:`optasched.inject`.
:func:`reduce_on_plateau` is the same logic as a transformation that scales
the updates (a drop-in for ``optax.contrib.reduce_on_plateau``).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..schedules._base import Kind, as_schedule, convert_leaf, is_traced
from ._inject import Stateful, inject

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


class Plateau(Stateful):
    """A schedule scaled down when a monitored value plateaus; see :func:`plateau`."""

    _family = "plateau"
    _leaves = {
        "schedule": Kind.SCHEDULE,
        "factor": Kind.VALUE,
        "patience": Kind.STEPS,
        "threshold": Kind.VALUE,
        "cooldown": Kind.STEPS,
        "min_value": Kind.VALUE,
        "eps": Kind.VALUE,
        "accumulation_size": Kind.STEPS,
        "begin_step": Kind.STEPS,
    }
    _statics = ("mode", "threshold_mode")

    def __init__(self, **fields):
        for name in self._statics:
            setattr(self, name, fields[name])
        for name, kind in self._leaves.items():
            value = fields[name]
            if kind is Kind.SCHEDULE:
                setattr(self, name, as_schedule(value, self._family, name))
            else:
                setattr(self, name, convert_leaf(self._family, name, kind, value))
        self._broadcast_batch()
        self._validate()

    def _broadcast_batch(self) -> None:
        """Hyperparameters given as arrays of values make a sweep: broadcast the rest to it."""
        child_ranks = jax.tree.leaves(self.schedule._core_ranks())
        child_leaves, child_def = jax.tree.flatten(self.schedule)
        numbers = [n for n, k in self._leaves.items() if k is not Kind.SCHEDULE]
        shapes = [jnp.shape(getattr(self, n)) for n in numbers]
        shapes += [jnp.shape(x)[: jnp.ndim(x) - r] for x, r in zip(child_leaves, child_ranks)]
        try:
            batch = jnp.broadcast_shapes(*shapes)
        except ValueError as err:
            raise ValueError(
                f"plateau: hyperparameters given as arrays must share sweep axes: {err}"
            ) from None
        if not batch:
            return
        for name in numbers:
            setattr(self, name, jnp.broadcast_to(getattr(self, name), batch))
        self.schedule = jax.tree.unflatten(
            child_def,
            [
                jnp.broadcast_to(x, batch + jnp.shape(x)[jnp.ndim(x) - r :])
                for x, r in zip(child_leaves, child_ranks)
            ],
        )

    def _validate(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"plateau: mode must be one of {MODES}, got {self.mode!r}")
        if self.threshold_mode not in THRESHOLD_MODES:
            raise ValueError(
                f"plateau: threshold_mode must be one of {THRESHOLD_MODES}, got {self.threshold_mode!r}"
            )
        checks = [
            ("factor", lambda x: (x >= 0) & (x < 1), "in [0, 1)"),
            ("patience", lambda x: x >= 0, ">= 0"),
            ("threshold", lambda x: x >= 0, ">= 0"),
            ("cooldown", lambda x: x >= 0, ">= 0"),
            ("min_value", lambda x: x >= 0, ">= 0"),
            ("eps", lambda x: x >= 0, ">= 0"),
            ("accumulation_size", lambda x: x >= 1, ">= 1"),
            ("begin_step", lambda x: x >= 0, ">= 0"),
        ]
        for name, ok, requirement in checks:
            value = getattr(self, name)
            if is_traced(value):
                continue
            good = np.asarray(ok(value)) & np.isfinite(np.asarray(value))
            if not good.all():
                bad = np.asarray(value).reshape(-1)[int(np.argmin(good.reshape(-1)))]
                where = f" (sweep member {int(np.argmin(good.reshape(-1)))})" if np.ndim(value) else ""
                raise ValueError(f"plateau: {name} must be {requirement}, got {bad.item()!r}{where}")

    # -- pytree ------------------------------------------------------------------------------

    def _flatten_with_keys(self):
        keys = tuple(jax.tree_util.GetAttrKey(n) for n in self._leaves)
        return tuple(zip(keys, (getattr(self, n) for n in self._leaves))), tuple(
            getattr(self, n) for n in self._statics
        )

    def _flatten(self):
        return tuple(getattr(self, n) for n in self._leaves), tuple(getattr(self, n) for n in self._statics)

    @classmethod
    def _unflatten(cls, statics, children):
        obj = object.__new__(cls)
        for name, value in zip(cls._statics, statics):
            setattr(obj, name, value)
        for name, value in zip(cls._leaves, children):
            setattr(obj, name, value)
        return obj

    @property
    def batch_shape(self) -> tuple[int, ...]:
        shapes = {
            tuple(jnp.shape(getattr(self, n))) for n, k in self._leaves.items() if k is not Kind.SCHEDULE
        }
        shapes.add(self.schedule.batch_shape)
        shapes.discard(())
        if len(shapes) > 1:
            raise ValueError(f"plateau: hyperparameters have inconsistent sweep axes {shapes}")
        return shapes.pop() if shapes else ()

    def __repr__(self) -> str:
        parts = [f"{n}={getattr(self, n)!r}" for n in self._leaves]
        parts += [f"{n}={getattr(self, n)!r}" for n in self._statics]
        return f"plateau({', '.join(parts)})"

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

    def update_state(self, state: PlateauState, step, value=None, **extra_args) -> PlateauState:
        del extra_args
        if value is None:
            raise ValueError(
                "plateau: the update needs the monitored value; call update(grads, state, params, value=loss)"
            )
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

        stepped = PlateauState(
            scale, best, bad, cooldown_counter, jnp.zeros((), dtype), jnp.zeros((), jnp.int32)
        )
        waiting = state._replace(
            accumulated=jnp.where(active, total, state.accumulated),
            accumulated_count=jnp.where(active, count, state.accumulated_count).astype(jnp.int32),
        )
        return jax.tree.map(lambda a, b: jnp.where(ready, a, b), stepped, waiting)

    def value(self, state: PlateauState, step) -> jax.Array:
        return self.schedule(step) * state.scale


jax.tree_util.register_pytree_with_keys(
    Plateau, Plateau._flatten_with_keys, Plateau._unflatten, Plateau._flatten
)


def plateau(
    schedule,
    factor=0.1,
    patience=10,
    threshold=1e-4,
    threshold_mode="rel",
    cooldown=0,
    min_value=0.0,
    eps=1e-8,
    mode="min",
    accumulation_size=1,
    begin_step=0,
) -> Plateau:
    r"""Scale a schedule down by ``factor`` whenever a monitored value plateaus.

    A hyperparameter for :func:`inject`: each ``update(..., value=loss)`` is
    one PyTorch ``ReduceLROnPlateau.step(loss)``, taken *before* the update's
    hyperparameters are read (so a reduction applies to that update, as the
    next epoch's learning rate does in PyTorch). With :math:`v = s(t)\,c`
    (:math:`c` the scale, initially 1):

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

    Every numeric argument is a traced leaf (vmap a sweep over ``patience``
    or ``factor``); ``mode`` and ``threshold_mode`` are static.

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
        accumulation_size: average this many values before each plateau step
            (one step per epoch of ``accumulation_size`` updates).
        begin_step: updates before this step are ignored (no counting during
            a warmup).

    Example:
        >>> import jax.numpy as jnp, optax, optasched as osd
        >>> opt = osd.inject(optax.sgd)(learning_rate=osd.plateau(0.1, factor=0.5, patience=1))
        >>> params = jnp.zeros(2)
        >>> state = opt.init(params)
        >>> for loss in [1.0, 0.5, 0.5, 0.5, 0.5]:
        ...     _, state = opt.update(jnp.ones(2), state, params, value=loss)
        >>> round(float(osd.hyperparams(state)["learning_rate"]), 6)
        0.05

    Reference: PyTorch ``torch.optim.lr_scheduler.ReduceLROnPlateau``.
    """
    return Plateau(
        schedule=schedule,
        factor=factor,
        patience=patience,
        threshold=threshold,
        cooldown=cooldown,
        min_value=min_value,
        eps=eps,
        accumulation_size=accumulation_size,
        begin_step=begin_step,
        mode=mode,
        threshold_mode=threshold_mode,
    )


def _scale(plateau_scale) -> optax.GradientTransformation:
    return optax.scale(plateau_scale)


def reduce_on_plateau(
    factor=0.1,
    patience=10,
    threshold=1e-4,
    threshold_mode="rel",
    cooldown=0,
    min_scale=0.0,
    eps=1e-8,
    mode="min",
    accumulation_size=1,
    begin_step=0,
) -> optax.GradientTransformationExtraArgs:
    r"""Scale the updates by a factor reduced on plateau (``update(..., value=loss)``).

    .. math:: u_t = c_t\, g_t

    with :math:`c_t` the scale of :func:`plateau` on a constant 1 (so
    ``min_scale`` is the floor and ``eps`` is in scale units). Chain it after
    an optimizer: ``optax.chain(osd.inject(optax.adam)(learning_rate=warmup),
    osd.reduce_on_plateau(patience=5))``. Unlike
    ``optax.contrib.reduce_on_plateau``, every hyperparameter is traced, the
    threshold is PyTorch's (``threshold_mode`` rel/abs, ``mode`` min/max,
    ``eps``) and a negative loss plateaus too. The scale is logged by
    :func:`hyperparams` as ``"plateau_scale"``.

    Example:
        >>> import jax.numpy as jnp, optax, optasched as osd
        >>> opt = optax.chain(optax.sgd(0.1), osd.reduce_on_plateau(factor=0.5, patience=0))
        >>> params = jnp.zeros(1)
        >>> state = opt.init(params)
        >>> for loss in [-1.0, -1.0, -1.0]:
        ...     _, state = opt.update(jnp.ones(1), state, params, value=loss)
        >>> float(osd.hyperparams(state)["plateau_scale"])
        0.25

    Reference: PyTorch ``ReduceLROnPlateau``; ``optax.contrib.reduce_on_plateau``.
    """
    return inject(_scale)(
        plateau_scale=plateau(
            1.0,
            factor=factor,
            patience=patience,
            threshold=threshold,
            threshold_mode=threshold_mode,
            cooldown=cooldown,
            min_value=min_scale,
            eps=eps,
            mode=mode,
            accumulation_size=accumulation_size,
            begin_step=begin_step,
        )
    )
