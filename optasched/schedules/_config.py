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
from ._registry import declared_families
from ._schedule import Declared


def _numbers(x: Any) -> Any:
    if is_traced(x):
        raise ValueError("to_config: the schedule holds traced values; call it outside jit/vmap")
    array = np.asarray(x)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"to_config: non-finite value {array!r} cannot be written as JSON")
    return plain_number(array)


def _natural_dtype(leaf) -> np.dtype:
    """The dtype a leaf gets from the plain number ``to_config`` writes for it."""
    integer = np.issubdtype(np.asarray(leaf).dtype, np.integer)
    return jax.dtypes.canonicalize_dtype(np.int64 if integer else np.float64)


def _dtype_name(leaf) -> str | None:
    """The leaf's dtype name when a plain number would not read back in it (bfloat16, float16)."""
    dtype = np.asarray(leaf).dtype
    return None if dtype == _natural_dtype(leaf) else str(dtype)


def _read_dtypes(family: str, config: dict[str, Any]) -> dict[str, np.dtype]:
    """The ``"dtypes"`` entry of a config, checked: ``{argument: dtype name}``."""
    recorded = config.get("dtypes", {})
    if not isinstance(recorded, dict):
        raise ValueError(
            f"from_config: {family}.dtypes must map argument names to dtype names, got {recorded!r}"
        )
    dtypes = {}
    for name, dtype_name in recorded.items():
        if name not in config or name in ("family", "dtypes"):
            raise ValueError(f"from_config: {family}.dtypes names {name!r}, not a number in the config")
        try:
            dtype = jax.numpy.dtype(dtype_name) if isinstance(dtype_name, str) else None
        except (TypeError, ValueError):
            dtype = None
        numeric = dtype is not None and any(jax.numpy.issubdtype(dtype, k) for k in (np.floating, np.integer))
        if not numeric:
            raise ValueError(
                f"from_config: {family}.dtypes[{name!r}] must name a float or integer dtype, "
                f"got {dtype_name!r}"
            )
        dtypes[name] = dtype
    return dtypes


def to_config(schedule: Declared) -> dict[str, Any]:
    """A JSON-safe dict describing ``schedule``: ``{"family": name, **hyperparameters}``.

    Numbers are written with the shortest text that reads back to the same
    value in the schedule's dtype (float32 0.1 is written 0.1). A leaf whose
    dtype a plain number would not give back (bfloat16, float16; float32
    under x64) is named in ``"dtypes": {argument: dtype name}``, so the
    round trip keeps it. Composites nest; stacked sweeps write each
    hyperparameter as a nested list (leading member axes first). The inverse
    is :func:`from_config`.

    Example:
        >>> import optasched as osd
        >>> osd.to_config(osd.warmup(osd.cosine(0.1, 900), 100))["schedule"]
        {'family': 'cosine', 'init_value': 0.1, 'decay_steps': 900, 'end_value': 0.0, 'exponent': 1.0}
    """
    if not isinstance(schedule, Declared):
        raise ValueError(f"to_config: expected an optasched schedule, got {schedule!r}")
    config: dict[str, Any] = {"family": schedule.family}
    dtypes: dict[str, str] = {}
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
            if _dtype_name(field_value) is not None:
                dtypes[name] = _dtype_name(field_value)
    if dtypes:
        config["dtypes"] = dtypes
    return config


def from_config(config: dict[str, Any]) -> Declared:
    """Rebuild a schedule from :func:`to_config` output or a hand-written dict.

    Omitted arguments take the constructor's defaults; a number where a
    schedule is expected is a constant; every value is validated as by the
    constructor. An optional ``"dtypes"`` entry (written by :func:`to_config`)
    gives arguments a dtype other than the default.

    Raises:
        ValueError: for a missing, malformed or unknown family, an unknown or
            missing key, or a bad value.

    Example:
        >>> import optasched as osd
        >>> s = osd.from_config({"family": "cosine", "init_value": 0.1, "decay_steps": 900})
        >>> round(float(s(450)), 4)
        0.05
    """
    if not isinstance(config, dict):
        raise ValueError(f"from_config: expected a dict with a 'family' key, got {config!r}")
    known = declared_families()
    if "family" not in config:
        raise ValueError(
            f"from_config: the config needs a 'family' key naming one of {', '.join(known)}; "
            f"got the keys {sorted(map(str, config))}"
        )
    family = config["family"]
    if not isinstance(family, str):  # a list or dict would fail as a dict key with a bare TypeError
        raise ValueError(f"from_config: 'family' must be a family name (a string), got {family!r}")
    if family not in known:
        raise ValueError(f"from_config: unknown family {family!r}; known: {', '.join(known)}")
    cls = known[family]
    unknown = set(config) - set(cls.fields) - {"family", "dtypes"}
    if unknown:
        # Keys may be of mixed types (YAML gives ints): list them as strings, which sort.
        raise ValueError(
            f"from_config: {family} has no argument {sorted(map(str, unknown))}; it takes {list(cls.fields)}"
        )
    dtypes = _read_dtypes(family, config)
    missing = [n for n, spec in cls.fields.items() if spec.required and n not in config]
    if missing:
        raise ValueError(f"from_config: {family} needs {', '.join(map(repr, missing))}")
    arguments: dict[str, Any] = {}
    for name, field_value in config.items():
        if name in ("family", "dtypes"):
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
        if name in dtypes:
            if kind in (Kind.SCHEDULE, Kind.SCHEDULES, Kind.STATIC, Kind.PARAMS):
                raise ValueError(f"from_config: {family}.dtypes names {name!r}, not a number in the config")
            try:
                field_value = np.asarray(field_value, dtype=dtypes[name])
            except (TypeError, ValueError) as err:
                message = f"from_config: {family}.{name} must be numeric, got {field_value!r}"
                raise ValueError(message) from err
        arguments[name] = field_value
    return cls(**arguments)


__all__ = ["from_config", "to_config"]
