"""JSON round-trip of schedules: ``to_config`` writes a plain dict naming the
family and every hyperparameter; ``from_config`` rebuilds the schedule exactly,
validated like the constructors. No ``eval``, no pickle."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from ._base import Kind, Schedule, is_traced


def _families() -> dict[str, type[Schedule]]:
    found: dict[str, type[Schedule]] = {}
    stack = list(Schedule.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls._fields:
            found.setdefault(cls._family, cls)
    return found


def _number_list(x: Any) -> Any:
    if is_traced(x):
        raise ValueError("to_config: the schedule holds traced values; call it outside jit/vmap")
    array = np.asarray(x)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"to_config: non-finite value {array!r} cannot be written as JSON")
    return array.tolist()


def to_config(schedule: Schedule) -> dict[str, Any]:
    """A JSON-safe dict describing ``schedule``: ``{"family": name, **hyperparameters}``.

    Composites nest; stacked sweeps write each hyperparameter as a nested list
    (leading member axes first). The inverse is :func:`from_config`.

    Example:
        >>> import optasched as osd
        >>> osd.to_config(osd.warmup(osd.cosine(0.1, 900), 100))["schedule"]
        {'family': 'cosine', 'init_value': 0.10000000149011612, 'decay_steps': 900, 'end_value': 0.0, 'exponent': 1.0}
    """
    if not isinstance(schedule, Schedule):
        raise ValueError(f"to_config: expected an optasched schedule, got {schedule!r}")
    config: dict[str, Any] = {"family": schedule._family}
    for name, kind in schedule._fields.items():
        value = getattr(schedule, name)
        if value is None:
            continue
        if kind is Kind.STATIC:
            if callable(value):
                raise ValueError(
                    f"to_config: a {schedule._family} schedule holds the Python function {value!r}, "
                    "which cannot be written to a config"
                )
            config[name] = value
        elif kind is Kind.SCHEDULE:
            config[name] = to_config(value)
        elif kind is Kind.SCHEDULES:
            config[name] = [to_config(child) for child in value]
        elif kind is Kind.PARAMS:
            config[name] = jax.tree.map(_number_list, value)
        else:
            config[name] = _number_list(value)
    return config


def from_config(config: dict[str, Any]) -> Schedule:
    """Rebuild a schedule from :func:`to_config` output (or a hand-written dict).

    Omitted optional hyperparameters take the field's absence (``None``);
    every value is validated as by the constructor.

    Raises:
        ValueError: for an unknown family, an unknown or missing key, or a bad value.

    Example:
        >>> import optasched as osd
        >>> s = osd.from_config({"family": "cosine", "init_value": 0.1, "decay_steps": 900,
        ...                      "end_value": 0.0, "exponent": 1.0})
        >>> round(float(s(450)), 4)
        0.05
    """
    if not isinstance(config, dict):
        raise ValueError(f"from_config: expected a dict with a 'family' key, got {config!r}")
    families = _families()
    family = config.get("family")
    if family not in families:
        raise ValueError(f"from_config: unknown family {family!r}; known: {sorted(families)}")
    cls = families[family]
    unknown = set(config) - set(cls._fields) - {"family"}
    if unknown:
        raise ValueError(f"from_config: {family} has no hyperparameter {sorted(unknown)}; has {sorted(cls._fields)}")
    fields: dict[str, Any] = {}
    for name, kind in cls._fields.items():
        if name not in config:
            if kind is Kind.STATIC:
                raise ValueError(f"from_config: {family} needs {name!r}")
            fields[name] = None
            continue
        value = config[name]
        if kind is Kind.SCHEDULE:
            value = from_config(value)
        elif kind is Kind.SCHEDULES:
            if not isinstance(value, list):
                raise ValueError(f"from_config: {family}.{name} must be a list of schedule configs, got {value!r}")
            value = tuple(from_config(child) for child in value)
        elif kind in (Kind.VALUES, Kind.BOUNDARIES):
            value = np.asarray(value)
        fields[name] = value
    try:
        return cls(**fields)
    except TypeError as err:
        raise ValueError(f"from_config: {family}: {err}") from None
