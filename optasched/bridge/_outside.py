"""Hyperparameters that live outside the optimizer, evaluated at the optimizer's step.

A BatchNorm momentum, a dropout rate, an augmentation strength or a loss
temperature is used by the model or the data pipeline, not by optax, but it
should move with the learning rate. :func:`schedule_values` evaluates such
schedules at the step count held in the :func:`~optasched.inject` state, the
step at which the next update evaluates the learning rate. Because the count
is part of the optimizer state, these values resume with a checkpoint and
follow each member of a sweep, with no counter of their own to keep in step.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..schedules import StatefulSchedule
from ._flax import unwrap
from ._hyperparams import inject_states, no_inject_state
from ._state import InjectState

__all__ = ["schedule_values", "step_count"]


def step_count(opt_state) -> jax.Array:
    """The optimizer's step: the count at which its next update evaluates its schedules.

    Args:
        opt_state: an optax state holding an :func:`~optasched.inject` state
            (in a chain, a partition of :func:`~optasched.param_groups`, ...),
            a Flax ``TrainState``, an ``nnx.Optimizer`` or the state
            ``nnx.state`` / ``nnx.split`` give.

    Returns:
        The update count of the first inject state found (every inject
        state of one optimizer counts the same updates), ``int32``; under
        ``jax.vmap`` over a sweep's states, each member's own.

    Raises:
        ValueError: if ``opt_state`` holds no inject state.

    Example:
        >>> import jax.numpy as jnp, optax, optasched as osd
        >>> opt = osd.inject(optax.sgd)(learning_rate=osd.cosine(0.1, 100))
        >>> state = opt.init(jnp.zeros(2))
        >>> _, state = opt.update(jnp.ones(2), state)
        >>> int(osd.step_count(state))
        1
    """
    return _count("step_count", opt_state)


def _count(where: str, opt_state) -> jax.Array:
    found = inject_states(opt_state)
    if not found:
        raise no_inject_state(where, opt_state)
    node = found[0][1]
    return jnp.asarray(unwrap(node.count if isinstance(node, InjectState) else node["count"]))


def _checked(name: str, schedule: Any) -> Callable[[jax.Array], Any]:
    """A function of the step for one entry, or the ValueError naming it."""
    if isinstance(schedule, StatefulSchedule):
        raise ValueError(
            f"schedule_values: schedules[{name!r}] is a stateful hyperparameter ({type(schedule).__name__}); "
            "its value depends on its own state, so hold it in the optimizer (osd.inject) and read it "
            "with osd.hyperparams"
        )
    if callable(schedule):
        return schedule
    is_number = isinstance(schedule, (numbers.Real, jax.Array, np.ndarray, np.generic))
    if is_number and not isinstance(schedule, bool):
        return lambda step: schedule
    raise ValueError(
        f"schedule_values: schedules[{name!r}] must be a schedule, a function of the step or a number, "
        f"got {schedule!r}"
    )


def schedule_values(opt_state, schedules: Mapping[str, Any]) -> dict[str, jax.Array]:
    r"""Schedules of hyperparameters outside the optimizer, at the optimizer's step.

    .. math:: v_k = s_k(t), \qquad t = \text{the inject state's count}

    The values to use in the forward and backward pass whose gradients the
    next update applies, so the model's hyperparameters and the learning
    rate of that update come from the same step. Pass them into the model as
    traced arguments: a new value never retraces, and under ``jax.vmap`` (a
    sweep, ``osd.sweep``) each member gets its own schedule at its own count.

    Args:
        opt_state: the optimizer state whose count is the step, as for
            :func:`step_count`.
        schedules: name -> an optasched schedule (``osd.coupled_ema_decay(lr)``,
            ``osd.coupled_temperature(lr)``, any family), a function of the
            step, or a number (a constant).

    Returns:
        ``{name: value}`` as arrays (a number stays a constant array).

    Raises:
        ValueError: naming ``schedules`` and the entry: not a dict, an entry
            that is neither a schedule, a function nor a number, or a
            stateful hyperparameter (held in the optimizer instead); or an
            ``opt_state`` with no inject state.

    Example:
        >>> import jax.numpy as jnp, optax, optasched as osd
        >>> lr = osd.cosine(0.1, decay_steps=100)
        >>> opt = osd.inject(optax.sgd)(learning_rate=lr)
        >>> state = opt.init(jnp.zeros(2))
        >>> for _ in range(50):
        ...     _, state = opt.update(jnp.ones(2), state)
        >>> values = osd.schedule_values(state, {"bn_momentum": osd.coupled_ema_decay(lr, 0.9, 0.99),
        ...                                      "temperature": osd.coupled_temperature(lr, 0.05, 0.2)})
        >>> {k: round(float(v), 4) for k, v in values.items()}
        {'bn_momentum': 0.945, 'temperature': 0.125}

    Reference: Smith, "A disciplined approach to neural network
    hyper-parameters", 2018 (hyperparameters moved together with the
    learning rate).
    """
    if not isinstance(schedules, Mapping):
        raise ValueError(
            f"schedule_values: schedules must be a dict of name -> schedule, got {type(schedules).__name__} "
            f"{schedules!r}"
        )
    functions = {name: _checked(name, schedule) for name, schedule in schedules.items()}
    step = _count("schedule_values", opt_state)
    return {name: jnp.asarray(function(step)) for name, function in functions.items()}
