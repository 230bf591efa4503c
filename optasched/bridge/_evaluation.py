"""Evaluating a held hyperparameter at a step, in the dtype the update uses."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Iterator

import jax
import jax.numpy as jnp

from ..schedules import StatefulSchedule
from ._state import StepFunction

__all__ = ["cast", "evaluate", "float_dtype", "naming_control_flow", "number_array", "same_bits"]

_CONTROL_FLOW_ERRORS = (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError)


def float_dtype(tree, hyperparam_dtype=None):
    """The dtype floating hyperparameters are cast to.

    Args:
        tree: the parameters (or updates) the optimizer sees.
        hyperparam_dtype: a dtype chosen by the user, or None.

    Returns:
        ``hyperparam_dtype`` if given, else the highest floating dtype of the
        leaves of ``tree`` (as the plain optimizer's Python floats would be),
        else None (no floating leaves).
    """
    if hyperparam_dtype is not None:
        return jnp.dtype(hyperparam_dtype)
    floats = [
        jnp.result_type(x) for x in jax.tree.leaves(tree) if jnp.issubdtype(jnp.result_type(x), jnp.floating)
    ]
    if not floats:
        return None
    return functools.reduce(jnp.promote_types, floats)


def cast(value, dtype) -> jax.Array:
    """``value`` as an array, floating values cast to ``dtype``.

    Args:
        value: a number or array.
        dtype: the floating dtype, or None to keep the value's.

    Returns:
        The array.
    """
    value = jnp.asarray(value)
    if dtype is not None and jnp.issubdtype(value.dtype, jnp.floating):
        return value.astype(dtype)
    return value


def number_array(number, dtype) -> jax.Array:
    """A Python number as the array that logs it.

    Args:
        number: the number.
        dtype: the floating dtype, or None for JAX's default float.

    Returns:
        The array.
    """
    return jnp.asarray(number, dtype if dtype is not None else jax.dtypes.canonicalize_dtype(jnp.float64))


def same_bits(a: jax.Array, b: jax.Array) -> jax.Array:
    """Bitwise-equal values (NaN equals NaN): False where ``tree_set`` changed a value.

    Args:
        a: one value.
        b: the other.

    Returns:
        A boolean array.
    """
    equal = a == b
    if jnp.issubdtype(jnp.result_type(a), jnp.inexact):
        equal = equal | (jnp.isnan(a) & jnp.isnan(b))
    return equal


@contextlib.contextmanager
def naming_control_flow(where: str, names: Iterable[str], what: str) -> Iterator[None]:
    """Re-raises JAX's error for Python control flow on a traced value as a ValueError.

    Args:
        where: the caller, such as ``"inject(adamw)"``.
        names: the hyperparameters held as traced values.
        what: what ran the control flow (the factory's name, "the schedule").

    Raises:
        ValueError: naming ``where``, ``what`` and the hyperparameters.
    """
    try:
        yield
    except _CONTROL_FLOW_ERRORS as err:
        names = sorted(names)
        one = len(names) == 1
        raise ValueError(
            f"{where}: {what} ran Python control flow on {', '.join(names) or 'a hyperparameter'}, which "
            f"{'is' if one else 'are'} held in the optimizer state as a traced value "
            f"({type(err).__name__}); give {'it' if one else 'them'} as a Python number, "
            "or name it in static_args to pass it to the factory unchanged"
        ) from err


def evaluate(where: str, name: str, source, schedule_state, count, dtype) -> jax.Array:
    """The value of one held hyperparameter at ``count``.

    Args:
        where: the caller, for errors.
        name: the hyperparameter's name, for errors.
        source: a schedule, stateful hyperparameter or :class:`StepFunction`.
        schedule_state: the stateful hyperparameter's state (else ignored).
        count: the update count.
        dtype: the floating dtype of the value, or None.

    Returns:
        The value, as an array.

    Raises:
        ValueError: if the schedule or function runs Python control flow on the count.
    """
    if isinstance(source, StatefulSchedule):
        return cast(source.evaluate(schedule_state, count), dtype)
    what = "the function of the step" if isinstance(source, StepFunction) else "the schedule"
    with naming_control_flow(where, [name], what):
        return cast(source(count), dtype)
