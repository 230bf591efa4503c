"""The state of an :func:`~optasched.inject` optimizer and the pytree nodes it holds.

Everything a hyperparameter needs between updates lives here, so a state built
from a stacked sweep is one batched pytree that ``jax.vmap(opt.update)`` maps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["InjectState", "Slots", "StaticNumber", "StepFunction"]


class StaticNumber(float):
    """A Python number given to :func:`~optasched.inject` (or a factory default).

    The update passes the number itself to the factory, so the optimizer is
    bit-identical to the plain one (optax issue 1532: ``1 - b2`` from a float32
    array differs from the Python value). In ``InjectState.hyperparams`` it is a
    pytree node without leaves that reads as the number (``tree_get`` returns
    it; it is a ``float``). Replacing it with ``optax.tree_utils.tree_set``
    changes the state's structure, which the next update sees when it is
    traced, and from then on that hyperparameter is the value set.

    Args:
        number: the int or float given; kept as ``number`` and passed on unchanged.
    """

    number: int | float

    def __new__(cls, number):
        self = super().__new__(cls, number)
        self.number = number
        return self

    def __repr__(self) -> str:
        return repr(self.number)

    def __reduce__(self):
        return (StaticNumber, (self.number,))


jax.tree_util.register_pytree_node(
    StaticNumber, lambda s: ((), s.number), lambda number, _: StaticNumber(number)
)


class StepFunction:
    """A plain function of the step given as a hyperparameter.

    ``optax.warmup_cosine_decay_schedule(...)`` or a lambda: held in the state
    as structure (a pytree node without leaves), evaluated and logged by every
    update, but with no hyperparameters to stack, so it cannot be swept.

    Args:
        function: the function of the step count.
    """

    def __init__(self, function: Callable):
        self.function = function

    def __call__(self, step) -> jax.Array:
        """The function's value at ``step``, as an array.

        Args:
            step: the update count.

        Returns:
            ``jnp.asarray(function(step))``.
        """
        return jnp.asarray(self.function(step))

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Always ``()``: a function of the step is never a sweep."""
        return ()

    def __repr__(self) -> str:
        return f"function({getattr(self.function, '__qualname__', self.function)!r})"


jax.tree_util.register_pytree_node(
    StepFunction, lambda f: ((), f.function), lambda function, _: StepFunction(function)
)


class Slots(Mapping):
    """``name -> value``, sorted by name, as a pytree.

    ``optax.tree_utils.tree_get`` / ``tree_set`` search dicts and NamedTuples
    only, so they do not look inside a ``Slots``: ``tree_get(state,
    "learning_rate")`` finds the one value in ``InjectState.hyperparams``, not
    the copies held here.

    Args:
        items: a mapping or ``(name, value)`` pairs.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()):
        self._items = dict(sorted(dict(items).items()))

    def __getitem__(self, name: str) -> Any:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return repr(self._items)


jax.tree_util.register_pytree_with_keys(
    Slots,
    lambda s: (tuple((jax.tree_util.GetAttrKey(k), v) for k, v in s._items.items()), tuple(s._items)),
    lambda names, values: Slots(zip(names, values)),
    lambda s: (tuple(s._items.values()), tuple(s._items)),
)


class InjectState(NamedTuple):
    """State of an :func:`~optasched.inject` optimizer.

    Attributes:
        count: updates done so far; the next update evaluates the schedules
            here. ``shape=(), dtype=int32``.
        hyperparams: name -> every numeric hyperparameter of the factory, as
            optax's ``inject_hyperparams`` keeps them: the value the last
            update used (after ``init``, the one the first update will use).
            Read and set them with ``optax.tree_utils.tree_get`` /
            ``tree_set``; a value set here replaces that hyperparameter (its
            schedule too) from the next update on. Python numbers appear as
            themselves.
        schedules: name -> the schedule, stateful hyperparameter or function
            of the step (its leaves are its hyperparameters, so a stacked
            sweep gives a batched state). Change them with
            :func:`~optasched.replace_schedules`.
        schedule_states: name -> state of a stateful hyperparameter (plateau
            counters).
        applied: name -> the value the last update used, as an array, for
            every hyperparameter (read it with :func:`~optasched.hyperparams`).
        overridden: name -> whether a value set with ``tree_set`` replaces
            that schedule. ``shape=(), dtype=bool``.
        inner_state: the wrapped optimizer's state.
    """

    count: jax.Array  # shape=(), dtype=jnp.int32
    hyperparams: dict[str, Any]
    schedules: Mapping[str, Any]
    schedule_states: Mapping[str, Any]
    applied: Mapping[str, jax.Array]
    overridden: Mapping[str, jax.Array]  # each shape=(), dtype=bool
    inner_state: Any
