"""The algebra every schedule needs: the constant schedule, pointwise arithmetic
(what ``s1 + s2``, ``s * 0.5`` and ``s / 4`` build), the pointwise minimum and
maximum, and the range arithmetic their ``value_range`` uses."""

from __future__ import annotations

from typing import Any, ClassVar

import jax.numpy as jnp
from jax.typing import ArrayLike

from ._constraints import Constraint
from ._fields import child, real
from ._schedule import Schedule


def ordered(a, b):
    """``(min(a, b), max(a, b))``: the range between two values.

    Args:
        a, b: two values (arrays of one shape, or broadcastable).
    """
    return jnp.minimum(a, b), jnp.maximum(a, b)


def _interval_product(a, b):
    corners = jnp.stack([a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]])
    return jnp.min(corners, axis=0), jnp.max(corners, axis=0)


class Constant(Schedule, family="constant"):
    r"""A constant schedule.

    .. math:: v(t) = \text{value}

    Args:
        value: the value at every step.

    Example:
        >>> import optasched as osd
        >>> float(osd.constant(0.1)(1000))  # doctest: +ELLIPSIS
        0.1...
    """

    value: ArrayLike = real()

    def _value(self, step):
        return jnp.broadcast_to(self.value, jnp.shape(step))

    def value_range(self, step):
        return self.value, self.value


class _Pointwise(Schedule):
    """A pointwise operation of two schedules (a number is a constant)."""

    _operation: ClassVar[Any]

    def _operands(self) -> tuple[Schedule, Schedule]:
        return tuple(getattr(self, n) for n in self._leaf_names)  # type: ignore[return-value]

    def _value(self, step):
        a, b = self._operands()
        return type(self)._operation(a(step), b(step))

    def value_range(self, step):
        a, b = (s.value_range(step) for s in self._operands())
        if a is None or b is None:
            return None
        return self._combine_ranges(a, b)


class Add(_Pointwise, family="add"):
    """``left + right`` (what ``s1 + s2`` builds).

    Args:
        left: a schedule or a number.
        right: a schedule or a number.
    """

    left: Schedule | ArrayLike = child()
    right: Schedule | ArrayLike = child()
    _operation = staticmethod(jnp.add)

    def _combine_ranges(self, a, b):
        return a[0] + b[0], a[1] + b[1]


class Sub(_Pointwise, family="sub"):
    """``left - right`` (what ``s1 - s2`` builds).

    Args:
        left: a schedule or a number.
        right: a schedule or a number.
    """

    left: Schedule | ArrayLike = child()
    right: Schedule | ArrayLike = child()
    _operation = staticmethod(jnp.subtract)

    def _combine_ranges(self, a, b):
        return a[0] - b[1], a[1] - b[0]


class Mul(_Pointwise, family="mul"):
    """``left * right`` (what ``s * 0.5`` or ``s1 * s2`` builds).

    Args:
        left: a schedule or a number.
        right: a schedule or a number.
    """

    left: Schedule | ArrayLike = child()
    right: Schedule | ArrayLike = child()
    _operation = staticmethod(jnp.multiply)

    def _combine_ranges(self, a, b):
        return _interval_product(a, b)


class Div(_Pointwise, family="div"):
    """``left / right`` with ``right`` a non-zero number (what ``s / 4`` builds).

    Args:
        left: a schedule or a number.
        right: a non-zero number (a constant schedule).
    """

    left: Schedule | ArrayLike = child()
    right: Schedule | ArrayLike = child()
    _operation = staticmethod(jnp.divide)

    def _check_structure(self):
        if not isinstance(self.right, Constant):
            raise ValueError("div: a schedule can only be divided by a number, not by a schedule")

    def _constraints(self):
        yield Constraint("right (the divisor)", self.right.value != 0, "non-zero", self.right.value)

    def _combine_ranges(self, a, b):
        inverse = 1.0 / b[0]
        return _interval_product(a, (inverse, inverse))


class Minimum(_Pointwise, family="minimum"):
    """The pointwise minimum of two schedules (or a schedule and a number).

    Args:
        first: a schedule or a number.
        second: a schedule or a number.

    Example:
        >>> import optasched as osd
        >>> float(osd.minimum(osd.linear(0.0, 1.0, 10), 0.5)(8))
        0.5
    """

    first: Schedule | ArrayLike = child()
    second: Schedule | ArrayLike = child()
    _operation = staticmethod(jnp.minimum)

    def _combine_ranges(self, a, b):
        return jnp.minimum(a[0], b[0]), jnp.minimum(a[1], b[1])


class Maximum(_Pointwise, family="maximum"):
    """The pointwise maximum of two schedules (or a schedule and a number).

    Args:
        first: a schedule or a number.
        second: a schedule or a number.

    Example:
        >>> import optasched as osd
        >>> float(osd.maximum(osd.linear(1.0, 0.0, 10), 0.5)(8))
        0.5
    """

    first: Schedule | ArrayLike = child()
    second: Schedule | ArrayLike = child()
    _operation = staticmethod(jnp.maximum)

    def _combine_ranges(self, a, b):
        return jnp.maximum(a[0], b[0]), jnp.maximum(a[1], b[1])


__all__ = ["Add", "Constant", "Div", "Maximum", "Minimum", "Mul", "Sub", "ordered"]
