"""Requirements on hyperparameters (:class:`Constraint`): declaring them, checking
them on concrete values at construction (traced ones are checked in checked
mode), and the number formatting their messages and configs use (the shortest
text that reads back to the same number)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from ._check_context import check_traced
from ._convert import is_traced
from ._fields import Kind

if TYPE_CHECKING:
    from ._schedule import Schedule


class Constraint:
    """A requirement on a field: ``ok`` is a boolean array over the sweep axes.

    Args:
        name: the argument named in the error.
        ok: True where the requirement holds (one entry per sweep member).
        requirement: what the argument must be, as read after "must be".
        value: the argument's value, shown in the error.
    """

    __slots__ = ("name", "ok", "requirement", "value")

    def __init__(self, name: str, ok, requirement: str, value):
        self.name, self.ok, self.requirement, self.value = name, ok, requirement, value


_COMPARE = {">=": jnp.greater_equal, ">": jnp.greater, "<=": jnp.less_equal, "<": jnp.less}


def bound(name: str, value, op: str, limit, core_axes: int = 0, limit_name: str | None = None) -> Constraint:
    """Constraint ``value op limit``, reduced over the core axes.

    Args:
        name: the argument named in the error.
        value: its value.
        op: one of ``>=``, ``>``, ``<=``, ``<``.
        limit: the bound (a number or another argument's value).
        core_axes: trailing axes of one member (1 for a vector field).
        limit_name: names a limit that is another argument.
    """
    ok = _COMPARE[op](value, limit)
    if core_axes:
        ok = jnp.all(ok, axis=tuple(range(-core_axes, 0)))
    return Constraint(name, ok, f"{op} {limit_name or format_number(limit)}", value)


def declared_bounds(name: str, field_value, bounds: tuple, core_axes: int) -> Iterator[Constraint]:
    """A field's declared bounds: one "in [a, b)" constraint for a lower and an upper one.

    Args:
        name: the argument named in the error.
        field_value: its value.
        bounds: ``(op, limit)`` pairs from the field's declaration.
        core_axes: trailing axes of one member.
    """
    lower = [(op, x) for op, x in bounds if op in (">=", ">")]
    upper = [(op, x) for op, x in bounds if op in ("<=", "<")]
    if len(lower) == 1 and len(upper) == 1:
        (low_op, low), (high_op, high) = lower[0], upper[0]
        ok = _COMPARE[low_op](field_value, low) & _COMPARE[high_op](field_value, high)
        if core_axes:
            ok = jnp.all(ok, axis=tuple(range(-core_axes, 0)))
        opening, closing = "[" if low_op == ">=" else "(", "]" if high_op == "<=" else ")"
        interval = f"{opening}{format_number(low)}, {format_number(high)}{closing}"
        yield Constraint(name, ok, f"in {interval}", field_value)
        return
    for op, limit in bounds:
        yield bound(name, field_value, op, limit, core_axes)


def all_constraints(schedule: Schedule) -> Iterator[Constraint]:
    """Every requirement on a schedule's own fields: finiteness of every float leaf, the
    declared bounds, then the family's ``_constraints()`` (children check their own).

    Args:
        schedule: a schedule, possibly a sweep (a bad member is named by its index).
    """
    batch_rank = len(schedule.batch_shape)
    for name in schedule._leaf_names:
        spec, field_value = schedule.fields[name], getattr(schedule, name)
        if field_value is None or spec.kind in (Kind.SCHEDULE, Kind.SCHEDULES):
            continue
        for path, leaf in jax.tree_util.tree_leaves_with_path(field_value):
            if jnp.issubdtype(leaf.dtype, jnp.floating):
                # Reduce over the core axes only, keeping the sweep axes (so a bad member is named).
                extra = tuple(range(batch_rank, leaf.ndim))
                finite = jnp.all(jnp.isfinite(leaf), axis=extra)
                yield Constraint(name + jax.tree_util.keystr(path), finite, "finite", leaf)
        yield from declared_bounds(name, field_value, spec.bounds, spec.kind.core_rank)
    yield from schedule._constraints()


def validate(schedule: Schedule) -> None:
    """Raises ValueError for the first violated constraint on concrete values; traced values
    are checked at run time in checked mode (see ``_check_context``), else skipped.

    Args:
        schedule: a schedule just built or edited.
    """
    for c in all_constraints(schedule):
        if is_traced(c.ok) or is_traced(c.value):
            check_traced(schedule, c)  # a run-time check in checked mode, else nothing
            continue
        ok = np.asarray(c.ok)
        if not ok.all():
            raise ValueError(_violation_message(schedule, c, ok))


def _violation_message(schedule: Schedule, c: Constraint, ok: np.ndarray) -> str:
    shown = np.asarray(c.value)
    where = ""
    if schedule.batch_shape and ok.ndim:
        index = np.unravel_index(int(np.argmin(ok.reshape(-1))), ok.shape)
        shown = shown[index] if shown.shape[: len(index)] == ok.shape else shown
        where = f" (sweep member {index[0] if len(index) == 1 else index})"
    return f"{schedule.family}: {c.name} must be {c.requirement}, got {format_number(shown)}{where}"


def format_number(x) -> str:
    """Shortest text that reads back to the same number in its own dtype
    (``0.1`` for float32 0.1, not ``0.10000000149011612``).

    Args:
        x: a number or an array (written as a nested list).
    """
    x = np.asarray(x)
    if x.ndim == 0:
        # NumPy's str is the shortest text for the value's own dtype; Python's repr lays it out.
        return str(x.item()) if x.dtype.kind in "iub" else repr(float(str(x)))
    return "[" + ", ".join(format_number(v) for v in x) + "]"


def plain_number(x) -> Any:
    """A Python number (nested lists for arrays) with the shortest text of its dtype,
    so a float32 0.1 becomes the Python float 0.1 and reads back bit-identically.

    Args:
        x: a number or an array.
    """
    x = np.asarray(x)
    if x.ndim:
        return [plain_number(v) for v in x]
    if x.dtype.kind in "iu":
        return int(x)
    if x.dtype.kind == "b":
        return bool(x)
    return float(str(x))


__all__ = [
    "Constraint",
    "all_constraints",
    "bound",
    "declared_bounds",
    "format_number",
    "plain_number",
    "validate",
]
