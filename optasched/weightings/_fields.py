"""How a weighting declares a hyperparameter: a number or an optasched schedule of
the step (a number becomes a constant schedule), with bounds that hold for every
value it takes."""

from __future__ import annotations

from typing import Any

from ..schedules import Field, Kind

_REQUIRED: Any = object()


def hyperparameter(default: Any = _REQUIRED, *, ge=None, gt=None, le=None, lt=None) -> Any:
    """A weighting's hyperparameter: a number, an array of numbers (a sweep) or a
    schedule of the step, evaluated at the step the weighting is applied at.

    Its bounds are checked on the schedule's range at construction and by
    :func:`optasched.check` (where the range can be read off its
    hyperparameters, as for a constant, a linear ramp or a cosine); a schedule
    whose range cannot be read (``from_function``) is checked in checked mode
    on its value at every step it is used.

    Args:
        default: the constructor's default (omit for a required argument).
        ge, gt, le, lt: bounds on every value.
    """
    pairs = ((">=", ge), (">", gt), ("<=", le), ("<", lt))
    bounds = tuple((op, limit) for op, limit in pairs if limit is not None)
    if default is _REQUIRED:
        return Field(Kind.SCHEDULE, bounds=bounds)
    return Field(Kind.SCHEDULE, default, bounds)


__all__ = ["hyperparameter"]
