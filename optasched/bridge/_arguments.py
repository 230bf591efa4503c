"""How each argument given to an :func:`~optasched.inject` optimizer is held.

Three ways: in the state as a schedule (``SCHEDULED``), in the state as a
Python number passed to the factory unchanged (``NUMBER``), or passed to the
factory untouched, not a hyperparameter (``PASSED``).
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..schedules import Constant, Schedule
from ._signature import ANY_ARGUMENT, Parameter
from ._state import StepFunction

__all__ = ["NUMBER", "PASSED", "SCHEDULED", "Arguments", "classify", "sort_arguments"]

SCHEDULED, NUMBER, PASSED = "scheduled", "number", "passed"


def _list_of_functions_error(where: str, name: str, value: list | tuple) -> ValueError:
    if all(isinstance(v, Schedule) for v in value):
        return ValueError(
            f"{where}: {name} is a list of schedules; a sweep is one stacked schedule: "
            f"{name}=osd.stack([...]) (or osd.grid)"
        )
    return ValueError(
        f"{where}: {name} is a list of functions, which cannot be swept: a plain function of the step "
        "has no hyperparameters (leaves) to stack. Build the members with optasched schedules "
        "(osd.warmup(osd.cosine(peak_value, decay_steps), warmup_steps), ...) and stack those, "
        "or give an array of values"
    )


def _classify_array(where: str, name: str, value, parameter: Parameter) -> tuple[str, Any]:
    dtype = value.dtype
    if jnp.issubdtype(dtype, jax.dtypes.prng_key) or not jnp.issubdtype(dtype, jnp.floating):
        return PASSED, value  # PRNG keys (new or legacy uint32), masks, integer flags
    if not parameter.numeric:
        return PASSED, value
    try:
        return SCHEDULED, Constant(value)
    except ValueError as err:
        raise ValueError(f"{where}: {name}: {err}") from None


def classify(where: str, name: str, value: Any, parameter: Parameter) -> tuple[str, Any]:
    """How one argument is held: ``(SCHEDULED | NUMBER | PASSED, what is held)``.

    Args:
        where: the caller for error messages, such as ``"inject(adamw)"``.
        name: the argument's name.
        value: the value given (or the factory's default).
        parameter: how the factory reads that argument.

    Returns:
        ``(SCHEDULED, schedule)`` for a schedule, a floating array (as a
        constant) or a function of the step; ``(NUMBER, number)`` for a
        Python number of a numeric hyperparameter; else ``(PASSED, value)``.

    Raises:
        ValueError: naming ``where`` and ``name``: a schedule for an argument
            that is not a numeric hyperparameter, a list of schedules or
            functions, or a constant array that is not finite.
    """
    if isinstance(value, Schedule):  # StatefulSchedule included
        if not parameter.numeric:
            raise ValueError(
                f"{where}: {name} is not a numeric hyperparameter, so it cannot be scheduled; got {value!r} "
                "(list it in static_args to pass it to the factory as it is)"
            )
        return SCHEDULED, value
    if value is None or isinstance(value, (bool, np.bool_, str, bytes, type, np.dtype)):
        return PASSED, value
    if isinstance(value, (jax.Array, np.ndarray, np.generic)):
        return _classify_array(where, name, value, parameter)
    if isinstance(value, (list, tuple)) and value and all(callable(v) for v in value):
        raise _list_of_functions_error(where, name, value)
    if callable(value):
        if parameter.numeric and parameter.function_is_schedule:
            return SCHEDULED, StepFunction(value)
        return PASSED, value
    if isinstance(value, numbers.Real) and parameter.numeric:
        if isinstance(value, float) or parameter.int_is_value:
            return NUMBER, value
    return PASSED, value


class Arguments(NamedTuple):
    """The arguments of one factory call, sorted by how they are held.

    Attributes:
        passed: name -> value given to the factory as it is.
        numbers: name -> Python number, passed unchanged and kept in the state.
        scheduled: name -> schedule, stateful hyperparameter or function of the step.
    """

    passed: dict[str, Any]
    numbers: dict[str, Any]
    scheduled: dict[str, Any]


def _bound(where: str, signature: inspect.Signature, args: tuple, kwargs: dict) -> dict[str, Any]:
    """Every argument by name, the factory's defaults included; ``**kwargs`` flattened."""
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as err:
        raise ValueError(f"{where}: {err}") from None
    bound.apply_defaults()
    arguments: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            if value:
                raise ValueError(
                    f"{where}: pass hyperparameters by name; variadic positional arguments "
                    f"(*{name} = {value!r}) are not supported"
                )
        elif kind is inspect.Parameter.VAR_KEYWORD:
            arguments.update(value)
        else:
            arguments[name] = value
    return arguments


def sort_arguments(
    where: str,
    factory: Callable,
    parameters: dict[str, Parameter],
    static_names: Iterable[str],
    args: tuple,
    kwargs: dict,
) -> Arguments:
    """Binds one call of the factory and sorts its arguments by how they are held.

    Args:
        where: the caller for error messages, such as ``"inject(adamw)"``.
        factory: the optimizer factory.
        parameters: how the factory reads each argument (:func:`parameters`).
        static_names: arguments passed to the factory as they are.
        args: positional arguments of the call.
        kwargs: keyword arguments of the call.

    Returns:
        The :class:`Arguments`.

    Raises:
        ValueError: naming ``where`` and the argument: an argument the factory
            does not take, a missing one, or one :func:`classify` refuses.
    """
    signature = inspect.signature(factory)
    takes_any_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    unknown = [name for name in kwargs if name not in signature.parameters]
    if unknown and not takes_any_keyword:
        raise ValueError(
            f"{where}: unknown hyperparameter {', '.join(map(repr, unknown))} "
            f"(= {', '.join(repr(kwargs[n]) for n in unknown)}); "
            f"{getattr(factory, '__name__', type(factory).__name__)} takes {', '.join(parameters)}"
        )
    sorted_ = Arguments({}, {}, {})
    held = {SCHEDULED: sorted_.scheduled, NUMBER: sorted_.numbers, PASSED: sorted_.passed}
    for name, value in _bound(where, signature, args, kwargs).items():
        if name in static_names:
            sorted_.passed[name] = value
            continue
        how, what = classify(where, name, value, parameters.get(name, ANY_ARGUMENT))
        held[how][name] = what
    return sorted_
