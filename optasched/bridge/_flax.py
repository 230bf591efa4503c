"""Flax glue: inject states as Flax NNX holds them, without importing Flax.

An ``nnx.Optimizer`` keeps each array of the optax state in a variable, and
``nnx.state`` / ``nnx.split`` flatten an :class:`~optasched.InjectState` to a
mapping of its fields. Flax is imported only when the user has loaded it.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

from ._state import InjectState, Slots

__all__ = ["is_state_dict", "loaded_nnx", "replace_in_nnx_optimizer", "to_opt_state", "unwrap"]


def unwrap(x):
    """The array inside a Flax NNX variable (an ``nnx.Optimizer`` state), else ``x``.

    Args:
        x: a value of an optimizer state.

    Returns:
        The variable's value, or ``x`` itself.
    """
    if isinstance(x, (jax.Array, np.ndarray, np.generic, numbers.Number)) or x is None:
        return x
    for attribute in ("get_value", "value"):
        inner = getattr(x, attribute, None)
        if inner is not None:
            return inner() if callable(inner) else inner
    return x


def is_state_dict(x) -> bool:
    """Whether ``x`` is an inject state as ``nnx.state`` / ``nnx.split`` flatten it.

    Args:
        x: any node of a state tree.

    Returns:
        True for a mapping of an inject state's fields.
    """
    return isinstance(x, Mapping) and not isinstance(x, Slots) and "applied" in x and "count" in x


def loaded_nnx():
    """``flax.nnx`` if the user has imported it, else None (never imports Flax).

    Returns:
        The module or None.
    """
    return sys.modules.get("flax.nnx")


def to_opt_state():
    """Flax's function that wraps an optax state's arrays in NNX variables.

    Not exported by ``flax.nnx``; ``tests/test_optax_internals.py`` fails,
    naming it, if Flax moves it.

    Returns:
        ``flax.nnx.training.optimizer.to_opt_state``.
    """
    from flax.nnx.training.optimizer import to_opt_state as wrap_in_variables

    return wrap_in_variables


def replace_in_nnx_optimizer(nnx, optimizer, replace: Callable[..., Any], schedules: Mapping[str, Any]):
    """``replace_schedules`` on an ``nnx.Optimizer``: its ``opt_state`` is replaced in place.

    The count and the moments keep their variables (and their metadata, such
    as sharding); the schedules' structure may change (another family), which
    nnx's in-place update cannot do, so the whole ``opt_state`` is rebuilt.

    Args:
        nnx: the ``flax.nnx`` module.
        optimizer: the ``nnx.Optimizer``.
        replace: :func:`~optasched.replace_schedules`, applied to the plain optax state.
        schedules: reported name -> new schedule.

    Returns:
        ``optimizer``, its state replaced.
    """
    is_variable = lambda x: isinstance(x, nnx.Variable)  # noqa: E731
    current = optimizer.opt_state
    replaced = replace(jax.tree.map(unwrap, current, is_leaf=is_variable), **schedules)
    is_inject = lambda x: isinstance(x, InjectState)  # noqa: E731
    originals = iter([node for node in jax.tree.leaves(current, is_leaf=is_inject) if is_inject(node)])

    def keep_variables(node):
        if not is_inject(node):
            return node
        original = next(originals)
        return node._replace(count=original.count, inner_state=original.inner_state)

    mixed = jax.tree.map(keep_variables, replaced, is_leaf=is_inject)
    optimizer.opt_state = nnx.data(to_opt_state()(mixed))
    return optimizer
