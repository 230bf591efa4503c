"""The protocol of hyperparameters whose value depends on a state as well as the
step (reduce on plateau): a :class:`StatefulSchedule` is a Schedule in every
other way, so it jits, vmaps, stacks, replaces and round-trips through configs."""

from __future__ import annotations

from typing import Any, ClassVar

import jax

from ._schedule import Schedule


class StatefulSchedule(Schedule):
    """A hyperparameter whose value depends on a state as well as the step, such
    as :func:`optasched.plateau` (reduce on plateau).

    It is a :class:`Schedule` in every other way: fields declared once, leaves
    that jit, vmap, stack, ``replace``, ``to_config`` and checked mode see. Give
    it to :func:`optasched.inject` as any hyperparameter; each update calls
    ``update_state`` (with the ``update``'s extra arguments, such as the
    monitored ``value=loss``) and then ``evaluate``. Subclasses implement:

    - ``init_state(dtype) -> state``: a pytree of arrays (kept in the optimizer state);
    - ``update_state(state, step, **extra_args) -> state``;
    - ``evaluate(state, step) -> array``: the hyperparameter's value.

    Example (a learning rate halved whenever the loss rises above 2x its
    running minimum):

    >>> import jax.numpy as jnp, optax
    >>> import optasched as osd
    >>> from optasched.schedules import StatefulSchedule, real
    >>> class HalveOnSpike(StatefulSchedule, family="halve_on_spike"):
    ...     peak_value: float = real(gt=0)
    ...     ratio: float = real(default=2.0, gt=1)
    ...     def init_state(self, dtype):
    ...         return {"scale": jnp.ones((), dtype), "best": jnp.full((), jnp.inf, dtype)}
    ...     def update_state(self, state, step, value=None, **extra_args):
    ...         spike = value > self.ratio * state["best"]
    ...         return {"scale": jnp.where(spike, state["scale"] / 2, state["scale"]),
    ...                 "best": jnp.minimum(state["best"], value)}
    ...     def evaluate(self, state, step):
    ...         return self.peak_value * state["scale"]
    >>> opt = osd.inject(optax.sgd)(learning_rate=HalveOnSpike(0.1))
    >>> state = opt.init(jnp.zeros(2))
    >>> for loss in [1.0, 0.5, 3.0]:
    ...     _, state = opt.update(jnp.ones(2), state, jnp.zeros(2), value=loss)
    >>> round(float(osd.hyperparams(state)["learning_rate"]), 4)
    0.05

    Reference: optax's ``StatefulSchedule`` protocol (``optax.schedules``).
    """

    _needs_state: ClassVar[bool] = True

    def init_state(self, dtype) -> Any:
        """The initial state, a pytree of arrays.

        Args:
            dtype: the floating dtype of the hyperparameter it drives.
        """
        raise NotImplementedError

    def update_state(self, state: Any, step, **extra_args) -> Any:
        """The state after one optimizer update.

        Args:
            state: the current state.
            step: the update's step count.
            **extra_args: the update's extra arguments (such as ``value=loss``).
        """
        raise NotImplementedError

    def evaluate(self, state: Any, step) -> jax.Array:
        """The hyperparameter's value in ``state`` at ``step``.

        Args:
            state: the current state.
            step: the step count.
        """
        raise NotImplementedError

    def __call__(self, step) -> jax.Array:
        raise TypeError(
            f"a {self.family} schedule depends on its state (a monitored value), so it has no value "
            "at a step alone; use it as a hyperparameter of optasched.inject, or call "
            ".evaluate(state, step) with a state from .init_state(dtype)"
        )

    def position(self, step):
        return None


__all__ = ["StatefulSchedule"]
