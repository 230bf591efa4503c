"""JSON round-trip of schedules: ``to_config`` writes a plain dict naming the
family and every hyperparameter; ``from_config`` rebuilds the schedule exactly,
validated like the constructors. No ``eval``, no pickle.

Family names are the public constructors' names (``linear``, ``multistep``,
``noam``, ``cycled_momentum``; arithmetic as ``add``, ``sub``, ``mul``,
``div``), and omitted arguments take the constructor's defaults, so a config
written by hand needs only what a call would need.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from ._constraints import plain_number
from ._convert import is_traced
from ._fields import Kind
from ._registry import families
from ._schedule import Schedule


def _numbers(x: Any) -> Any:
    if is_traced(x):
        raise ValueError("to_config: the schedule holds traced values; call it outside jit/vmap")
    array = np.asarray(x)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"to_config: non-finite value {array!r} cannot be written as JSON")
    return plain_number(array)


def to_config(schedule: Schedule) -> dict[str, Any]:
    """A JSON-safe dict describing ``schedule``: ``{"family": name, **hyperparameters}``.

    Numbers are written with the shortest text that reads back to the same
    value in the schedule's dtype (float32 0.1 is written 0.1). Composites
    nest; stacked sweeps write each hyperparameter as a nested list (leading
    member axes first). The inverse is :func:`from_config`.

    Example:
        >>> import optasched as osd
        >>> osd.to_config(osd.warmup(osd.cosine(0.1, 900), 100))["schedule"]
        {'family': 'cosine', 'init_value': 0.1, 'decay_steps': 900, 'end_value': 0.0, 'exponent': 1.0}
    """
    if not isinstance(schedule, Schedule):
        raise ValueError(f"to_config: expected an optasched schedule, got {schedule!r}")
    config: dict[str, Any] = {"family": schedule.family}
    for name, spec in schedule.fields.items():
        field_value = getattr(schedule, name)
        if field_value is None:
            continue
        if spec.kind is Kind.STATIC:
            if callable(field_value):
                raise ValueError(
                    f"to_config: a {schedule.family} schedule holds the Python function {field_value!r}, "
                    "which cannot be written to a config"
                )
            config[name] = field_value
        elif spec.kind is Kind.SCHEDULE:
            config[name] = to_config(field_value)
        elif spec.kind is Kind.SCHEDULES:
            config[name] = [to_config(c) for c in field_value]
        elif spec.kind is Kind.PARAMS:
            config[name] = jax.tree.map(_numbers, field_value)
        else:
            config[name] = _numbers(field_value)
    return config


def from_config(config: dict[str, Any]) -> Schedule:
    """Rebuild a schedule from :func:`to_config` output or a hand-written dict.

    Omitted arguments take the constructor's defaults; a number where a
    schedule is expected is a constant; every value is validated as by the
    constructor.

    Raises:
        ValueError: for an unknown family, an unknown or missing key, or a bad value.

    Example:
        >>> import optasched as osd
        >>> s = osd.from_config({"family": "cosine", "init_value": 0.1, "decay_steps": 900})
        >>> round(float(s(450)), 4)
        0.05
    """
    if not isinstance(config, dict):
        raise ValueError(f"from_config: expected a dict with a 'family' key, got {config!r}")
    known = families()
    family = config.get("family")
    if family not in known:
        raise ValueError(f"from_config: unknown family {family!r}; known: {', '.join(known)}")
    cls = known[family]
    unknown = set(config) - set(cls.fields) - {"family"}
    if unknown:
        raise ValueError(f"from_config: {family} has no argument {sorted(unknown)}; it takes {list(cls.fields)}")
    missing = [n for n, spec in cls.fields.items() if spec.required and n not in config]
    if missing:
        raise ValueError(f"from_config: {family} needs {', '.join(map(repr, missing))}")
    arguments: dict[str, Any] = {}
    for name, field_value in config.items():
        if name == "family":
            continue
        kind = cls.fields[name].kind
        if kind is Kind.SCHEDULE and isinstance(field_value, dict):
            field_value = from_config(field_value)
        elif kind is Kind.SCHEDULES:
            if not isinstance(field_value, list):
                raise ValueError(
                    f"from_config: {family}.{name} must be a list of schedule configs, got {field_value!r}"
                )
            field_value = [from_config(c) if isinstance(c, dict) else c for c in field_value]
        elif kind in (Kind.REALS, Kind.BOUNDARIES):
            field_value = np.asarray(field_value)
        elif kind is Kind.STATIC and isinstance(field_value, list):
            field_value = tuple(field_value)
        arguments[name] = field_value
    return cls(**arguments)


__all__ = ["from_config", "to_config"]
