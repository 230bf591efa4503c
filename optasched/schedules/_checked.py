"""Checked mode: the constraints of schedules holding traced values, checked
at run time with ``jax.experimental.checkify``.

Construction validates concrete arguments; values that are traced (built
inside ``jit`` or ``vmap``, or passed as jit arguments) can only be checked
when the program runs. Every constraint a constructor checks is checked here
too, stateful hyperparameters (``plateau``) included, under the same names:
on every schedule among the arguments of a checked function, and on every
schedule constructed while it is traced (see :mod:`._check_context`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from jax.experimental import checkify

from ._check_context import check_constraint, checking
from ._trees import schedule_nodes


def check(tree: Any, path: str = "") -> None:
    """Check every schedule in ``tree`` with traced values, for ``checkify``.

    Construction validates concrete arguments; values that are traced (built
    inside ``jit`` or ``vmap``, or passed as jit arguments) can only be checked
    at run time. Call this inside a function transformed by
    ``jax.experimental.checkify.checkify``, or use :func:`checked`. For a
    stacked sweep, the error names the first failing member.

    Args:
        tree: any pytree; every schedule in it (nested ones included) is checked.
        path: names the tree in the error (``"argument 0"``).
    """
    for here, node in schedule_nodes(tree, path):
        for constraint in node._all_constraints():
            check_constraint(node.family, node.batch_shape, constraint, f" at {here}" if here else "")


def checkified(
    function: Callable[..., Any],
    *,
    inside: str = "the checked function",
    argument_names: Sequence[str] = (),
) -> Callable[..., tuple[checkify.Error, Any]]:
    """``function`` under ``checkify`` with every schedule it evaluates checked.

    Checks the schedules among the arguments (nested in any pytree) and every
    schedule constructed from traced values while ``function`` is traced
    (including inside ``jit``, ``vmap`` and ``lax`` loops within it). The
    returned function gives ``(error, out)`` as ``checkify.checkify`` does;
    :func:`checked` raises instead.

    Args:
        function: any function (jitted or not).
        inside: names ``function`` in the errors of schedules built inside it.
        argument_names: names of the positional arguments in the errors
            (default ``argument 0``, ``argument 1``, ...).
    """

    def checked_call(args, kwargs):
        for i, arg in enumerate(args):
            check(arg, argument_names[i] if i < len(argument_names) else f"argument {i}")
        for name, arg in kwargs.items():
            check(arg, f"argument {name}")
        return function(*args, **kwargs)

    checkified_call = checkify.checkify(checked_call)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with checking(inside):  # on while the call traces function: constructions inside add checks
            return checkified_call(args, kwargs)

    return wrapper


def first_line(message: str) -> str:
    """A checkify error's message without its traceback lines and its "(`check` failed)".

    Args:
        message: ``error.get()`` of a failed check.
    """
    return message.split("\n")[0].replace(" (`check` failed)", "")


def checked(function: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``function`` so every schedule it evaluates is checked: those among
    its arguments and those constructed from traced values inside it.

    Every constraint a constructor checks on concrete values (bounds,
    finiteness, sorted boundaries, ...) is checked at run time on traced
    ones: on each schedule in the arguments (nested in any pytree, stacked
    sweeps included), and on each schedule the function constructs while
    being traced, inside ``jit``, ``vmap`` and ``lax`` loops within it too
    (``osd.warmup(osd.cosine(0.1, 500 - w), w)`` with a traced ``w``). A
    schedule that is neither an argument nor constructed inside (a global
    captured by the function) is not checked: its concrete values were
    checked when it was built. With checking off (a plain call), programs are
    exactly as without checked mode: the checks exist only in the programs
    traced by the wrapper (a separate entry of JAX's caches).

    A bad value raises ``ValueError`` naming the family, the argument, its
    value and where it is: ``cosine at argument 0: decay_steps must be >= 0,
    got -3 (sweep member 1)``, or ``cosine built inside the checked function:
    ...`` for a schedule constructed inside.

    Args:
        function: any function (jitted or not) of pytrees that may hold
            schedules.

    Returns:
        ``function`` with checks: the same outputs, or a ``ValueError``.

    Example:
        >>> import jax, jax.numpy as jnp, optasched as osd
        >>> f = lambda w: osd.warmup(osd.cosine(0.1, 500 - w), w)(jnp.arange(500)).sum()
        >>> osd.checked(jax.jit(f))(600)
        Traceback (most recent call last):
        ValueError: cosine built inside the checked function: decay_steps must be >= 0, got -100
    """
    checked_function = checkified(function)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        error, out = checked_function(*args, **kwargs)
        message = error.get()
        if message:
            raise ValueError(first_line(message))
        return out

    return wrapper


__all__ = ["check", "checked", "checkified", "first_line"]
