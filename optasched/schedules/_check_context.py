"""Checked mode's switch, and the run-time check of one constraint.

:func:`optasched.checked` turns the switch on while it traces the checked
function; a schedule constructed then from traced values (inside ``jit``,
``vmap`` or the checked function itself) adds a ``checkify`` check for each
constraint construction could not decide. The switch is a JAX user context,
part of the key of JAX's tracing and compilation caches: a jitted function
traced with checking on (holding checks) and off (holding none) are two
cache entries, so turning checking on never changes a program traced with
it off, nor the reverse.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.experimental import checkify

__all__ = ["check_constraint", "check_traced", "checking", "checking_inside"]

# None: checking off. Else the text naming where schedules are being built ("the checked function").
_INSIDE = jax.make_user_context(None)


def checking(inside: str):
    """A context manager turning checked mode on while a function is traced.

    Args:
        inside: names the traced function in the errors of schedules built
            inside it (``"the checked function"``, ``"train"``).
    """
    return _INSIDE(inside)


def checking_inside() -> str | None:
    """The text given to the innermost :func:`checking`, or None when checking is off."""
    return _INSIDE.value


def check_constraint(family: str, batch_shape: tuple, constraint: Any, where: str) -> None:
    """Add a ``checkify`` check of one constraint (the caller runs under ``checkify``).

    Args:
        family: the schedule's family, first in the message.
        batch_shape: the schedule's sweep axes (a failing member is named by its index).
        constraint: a ``Constraint`` (``name``, ``ok``, ``requirement``, ``value``).
        where: text after the family, such as ``" at argument 0"``, or ``""``.
    """
    ok = jnp.asarray(constraint.ok)
    flat_ok = ok.reshape(-1)
    value = jnp.asarray(constraint.value)
    message = f"{family}{where}: {constraint.name} must be {constraint.requirement}, got {{value}}"
    if batch_shape and ok.ndim:
        member = jnp.argmin(flat_ok)
        shown = value.reshape((flat_ok.shape[0], -1))[member]
        shown = shown[0] if shown.shape[0] == 1 else shown
        checkify.check(jnp.all(flat_ok), message + " (sweep member {member})", value=shown, member=member)
    else:
        checkify.check(jnp.all(flat_ok), message, value=value)


def check_traced(schedule: Any, constraint: Any) -> None:
    """In checked mode, check a constraint that construction could not decide
    (its values are traced); else nothing, so no program changes.

    Args:
        schedule: the schedule being constructed.
        constraint: one of its constraints.
    """
    inside = checking_inside()
    if inside is not None:
        check_constraint(schedule.family, schedule.batch_shape, constraint, f" built inside {inside}")
