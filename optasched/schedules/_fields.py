"""Field declarations: what a family's hyperparameter holds (:class:`Kind`) and
the specifiers that declare it on a :class:`~optasched.schedules.Schedule`
subclass (:func:`real`, :func:`steps`, :func:`reals`, :func:`boundaries`,
:func:`child`, :func:`children`, :func:`params`, :func:`static`).
"""

from __future__ import annotations

import enum
from typing import Any


class Kind(enum.Enum):
    """What a declared field holds; fixes conversion and the core rank."""

    REAL = "real"  # float scalar: a value or a continuous hyperparameter
    STEPS = "steps"  # step count: integer scalar (float allowed, for gradients)
    REALS = "reals"  # float vector
    BOUNDARIES = "boundaries"  # step-count vector
    SCHEDULE = "schedule"  # one child schedule (a number becomes a constant)
    SCHEDULES = "schedules"  # tuple of child schedules
    PARAMS = "params"  # any pytree of numbers (from_function); its ranks are recorded at construction
    STATIC = "static"  # hashable structure: a string mode, a flag, a function

    @property
    def core_rank(self) -> int:
        """The rank of one member's leaf (sweep axes come before it)."""
        return 1 if self in (Kind.REALS, Kind.BOUNDARIES) else 0

    @property
    def is_number(self) -> bool:
        """True for the kinds whose field is one array leaf."""
        return self in (Kind.REAL, Kind.STEPS, Kind.REALS, Kind.BOUNDARIES)


class _Missing:
    """The default of a required field (distinct from None, which means "absent")."""

    def __repr__(self) -> str:
        return "<required>"


MISSING: Any = _Missing()


class Field:
    """One declared hyperparameter: its kind, default, simple bounds and choices.

    Args:
        kind: what the field holds.
        default: the constructor's default; :data:`MISSING` for a required field,
            None for an optional (absent) one.
        bounds: ``(op, limit)`` pairs, op one of ``>=``, ``>``, ``<=``, ``<``.
        choices: the allowed values of a static option, or None for any.
    """

    __slots__ = ("name", "kind", "default", "bounds", "choices")

    def __init__(self, kind: Kind, default: Any = MISSING, bounds: tuple = (), choices: tuple | None = None):
        self.name = ""  # set when the class is created
        self.kind, self.default, self.bounds, self.choices = kind, default, bounds, choices

    @property
    def required(self) -> bool:
        """The constructor needs this argument."""
        return self.default is MISSING

    @property
    def optional(self) -> bool:
        """May be None (absent): the default is None."""
        return self.default is None


def _bounds(ge, gt, le, lt) -> tuple:
    pairs = ((">=", ge), (">", gt), ("<=", le), ("<", lt))
    return tuple((op, bound) for op, bound in pairs if bound is not None)


def real(default: Any = MISSING, *, ge=None, gt=None, le=None, lt=None) -> Any:
    """A real hyperparameter (a value, a rate, a factor): a float scalar leaf.

    Args:
        default: the constructor's default (omit for a required argument).
        ge, gt, le, lt: bounds checked at construction (and in checked mode).
    """
    return Field(Kind.REAL, default, _bounds(ge, gt, le, lt))


def steps(default: Any = MISSING, *, ge=None, gt=None, le=None, lt=None) -> Any:
    """A step count: an integer scalar leaf (a float one is differentiable).

    Args:
        default: the constructor's default (omit for a required argument).
        ge, gt, le, lt: bounds checked at construction (and in checked mode).
    """
    return Field(Kind.STEPS, default, _bounds(ge, gt, le, lt))


def reals(default: Any = MISSING, *, ge=None, gt=None, le=None, lt=None) -> Any:
    """A vector of reals: a rank-1 float leaf.

    Args:
        default: the constructor's default (omit for a required argument).
        ge, gt, le, lt: bounds on every entry.
    """
    return Field(Kind.REALS, default, _bounds(ge, gt, le, lt))


def boundaries(default: Any = MISSING, *, ge=None, gt=None, le=None, lt=None) -> Any:
    """A vector of step counts: a rank-1 integer leaf.

    Args:
        default: the constructor's default (omit for a required argument).
        ge, gt, le, lt: bounds on every entry.
    """
    return Field(Kind.BOUNDARIES, default, _bounds(ge, gt, le, lt))


def child(default: Any = MISSING) -> Any:
    """A child schedule (a number is a constant schedule).

    Args:
        default: the constructor's default (omit for a required argument).
    """
    return Field(Kind.SCHEDULE, default)


def children(default: Any = MISSING) -> Any:
    """A list of child schedules.

    Args:
        default: the constructor's default (omit for a required argument).
    """
    return Field(Kind.SCHEDULES, default)


def params(default: Any = MISSING) -> Any:
    """Any pytree of numbers: each number is a leaf.

    Args:
        default: the constructor's default (omit for a required argument).
    """
    return Field(Kind.PARAMS, default)


def static(default: Any = MISSING, *, choices: tuple | None = None) -> Any:
    """Structure: a string option, a flag or a function (not a leaf).

    Args:
        default: the constructor's default (omit for a required argument).
        choices: the allowed values; any other raises a ValueError naming them.
    """
    return Field(Kind.STATIC, default, choices=tuple(choices) if choices is not None else None)


SPECIFIERS = (real, steps, reals, boundaries, child, children, params, static)

__all__ = [
    "MISSING",
    "SPECIFIERS",
    "Field",
    "Kind",
    "boundaries",
    "child",
    "children",
    "params",
    "real",
    "reals",
    "static",
    "steps",
]
