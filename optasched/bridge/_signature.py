"""Which arguments of an optax factory are numeric hyperparameters.

Read from the factory's real signature: each annotation is resolved to its
type and decided by the rules below; where there is no annotation (or it
cannot be resolved) the default decides. Nothing is guessed from the text of
an annotation.
"""

from __future__ import annotations

import collections.abc
import functools
import inspect
import numbers
import types
import typing
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np

from ..schedules import Schedule

__all__ = ["ANY_ARGUMENT", "Parameter", "parameters"]

# Types whose presence in an annotation makes the argument a numeric hyperparameter.
# A bare int is not one: int-only arguments are structure (sizes, step counts used in Python).
_NUMERIC_TYPES = (float, complex, jax.Array, np.ndarray, np.number)
_NOT_NUMERIC = (bool, str, int, bytes)


class Parameter(NamedTuple):
    """How :func:`~optasched.inject` reads one argument of the factory.

    Attributes:
        numeric: a numeric hyperparameter: it may be scheduled and is kept in the state.
        int_is_value: a Python int here is a value (``learning_rate=1``), not a seed or a flag.
        function_is_schedule: a function here is a schedule of the step, not a callback.
    """

    numeric: bool
    int_is_value: bool
    function_is_schedule: bool


# An argument of unknown meaning, held as anything may be (replace_schedules, **kwargs).
ANY_ARGUMENT = Parameter(numeric=True, int_is_value=True, function_is_schedule=True)


def _members(annotation) -> tuple:
    """The alternatives of a union (``Optional`` included), else the annotation itself."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return tuple(m for member in typing.get_args(annotation) for m in _members(member))
    return (annotation,)


def _is_class(member, classes) -> bool:
    return isinstance(member, type) and issubclass(member, classes)


def _is_function_type(member) -> bool:
    """``Callable[...]`` (optax's ``Schedule``) or an optasched schedule class."""
    origin = typing.get_origin(member) or member
    return origin is collections.abc.Callable or _is_class(member, Schedule)


def _resolve(annotation, factory: Callable):
    """The annotation as a type; a postponed (string) one evaluated in the factory's module.

    Returns ``inspect.Parameter.empty`` for none, or one that names what the
    module does not define (such as a name imported under ``TYPE_CHECKING``).
    """
    if not isinstance(annotation, str):
        return annotation
    function = inspect.unwrap(factory.func if isinstance(factory, functools.partial) else factory)
    namespace = getattr(function, "__globals__", {})
    try:
        return eval(annotation, dict(namespace))  # what inspect.signature(eval_str=True) does
    except Exception:  # noqa: BLE001 - any failure leaves the annotation undecided
        return inspect.Parameter.empty


def _numeric_by_annotation(annotation) -> bool | None:
    """True / False when the annotation decides, None when there is none."""
    if annotation is inspect.Parameter.empty:
        return None
    if annotation in _NOT_NUMERIC:
        return False
    return any(_is_class(member, _NUMERIC_TYPES) for member in _members(annotation))


def _numeric_by_default(default) -> bool:
    """Without an annotation: required, ``None`` or a real number is a hyperparameter."""
    if default is inspect.Parameter.empty or default is None:
        return True
    return isinstance(default, numbers.Real) and not isinstance(default, bool)


def _read(parameter: inspect.Parameter, factory: Callable) -> Parameter:
    annotation = _resolve(parameter.annotation, factory)
    default = parameter.default
    unannotated = annotation is inspect.Parameter.empty
    numeric = _numeric_by_annotation(annotation)
    if numeric is None:
        numeric = _numeric_by_default(default)
    takes_a_function = not unannotated and any(_is_function_type(m) for m in _members(annotation))
    required = default is inspect.Parameter.empty
    # ints are values where a schedule or a float is expected, or an unannotated required argument
    int_is_value = takes_a_function or isinstance(default, float) or (unannotated and required)
    return Parameter(
        numeric=numeric,
        int_is_value=numeric and int_is_value,
        # an unannotated argument defaulting to None is most often a callback (scale_fn=None)
        function_is_schedule=numeric and not (unannotated and default is None),
    )


def parameters(factory: Callable) -> dict[str, Parameter]:
    """How each named argument of ``factory`` is read (``*args`` / ``**kwargs`` left out).

    Rules, from the resolved annotation: ``bool``, ``str``, ``int`` and
    ``bytes`` are not hyperparameters; an annotation with a float, complex,
    JAX or NumPy array or NumPy number among its alternatives is one; any
    other annotation is not. Without an annotation, a required argument or
    one defaulting to ``None`` or a real number is one.

    Args:
        factory: the optimizer factory (a function, a ``functools.partial``,
            any callable ``inspect.signature`` reads).

    Returns:
        ``{argument name: Parameter}`` in signature order.

    Example:
        >>> import optax
        >>> found = parameters(optax.sgd)
        >>> [name for name, p in found.items() if p.numeric]
        ['learning_rate', 'momentum']
    """
    signature = inspect.signature(factory)
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return {
        name: _read(parameter, factory)
        for name, parameter in signature.parameters.items()
        if parameter.kind not in variadic
    }

