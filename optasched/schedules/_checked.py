"""Checked mode: the constraints of schedules built from traced values, checked
at run time with ``jax.experimental.checkify``.

Construction validates concrete arguments; values that are traced (built
inside ``jit`` or ``vmap``, or passed as jit arguments) can only be checked
when the program runs. Every constraint a constructor checks is checked here
too, stateful hyperparameters (``plateau``) included, under the same names.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
from jax.experimental import checkify

from ._trees import schedule_nodes


def check(tree: Any, path: str = "") -> None:
    """Check every schedule in ``tree`` with traced values, for ``checkify``.

    Construction validates concrete arguments; values that are traced (built
    inside ``jit`` or ``vmap``, or passed as jit arguments) can only be checked
    at run time. Call this inside a function transformed by
    ``jax.experimental.checkify.checkify``, or use :func:`checked`. For a
    stacked sweep, the error names the first failing member.
    """
    for path, node in schedule_nodes(tree, path):
        batch = node.batch_shape
        for constraint in node._all_constraints():
            ok = jnp.asarray(constraint.ok)
            flat_ok = ok.reshape(-1)
            value = jnp.asarray(constraint.value)
            if batch and ok.ndim:
                member = jnp.argmin(flat_ok)
                shown = value.reshape((flat_ok.shape[0], -1))[member]
                shown = shown[0] if shown.shape[0] == 1 else shown
                checkify.check(
                    jnp.all(flat_ok),
                    f"{node.family}{' at ' + path if path else ''}: {constraint.name} must be "
                    f"{constraint.requirement}, got {{value}} (sweep member {{member}})",
                    value=shown,
                    member=member,
                )
            else:
                checkify.check(
                    jnp.all(flat_ok),
                    f"{node.family}{' at ' + path if path else ''}: {constraint.name} must be "
                    f"{constraint.requirement}, got {{value}}",
                    value=value,
                )


def checked(function: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``function`` so every schedule among its arguments is checked first.

    Works on jitted functions and traced (stacked) schedules; a bad value
    raises ``ValueError`` naming the argument, the value and, in a sweep, the
    member. Example: ``osd.checked(jax.jit(train))(batched_config)``.
    """

    def checked_call(args, kwargs):
        for i, arg in enumerate(args):
            check(arg, f"argument {i}")
        for name, arg in kwargs.items():
            check(arg, f"argument {name}")
        return function(*args, **kwargs)

    checkified = checkify.checkify(checked_call)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        error, out = checkified(args, kwargs)
        message = error.get()
        if message:
            raise ValueError(message.split("\n")[0].replace(" (`check` failed)", ""))
        return out

    return wrapper


__all__ = ["check", "checked"]
