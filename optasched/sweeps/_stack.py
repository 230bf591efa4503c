"""Building sweeps: stack members into one batched pytree, cartesian grids,
random search, and the traced (checked-mode) validation of a sweep.

A sweep is ONE pytree whose leaves carry a leading member axis, so
``jax.vmap`` over it runs every configuration in one compiled program.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..schedules import Declared, Schedule, describe_difference, switch

__all__ = [
    "Batch",
    "Distribution",
    "choice",
    "grid",
    "int_uniform",
    "log_uniform",
    "sample",
    "stack",
    "uniform",
]


def stack(members: Sequence[Any]) -> Any:
    """Stack schedules (or pytrees holding schedules) into one sweep.

    The result has the members' structure with a leading axis of
    ``len(members)`` on every leaf: ``jax.vmap(lambda s: s(step))(stacked)``
    evaluates every member and ``stacked[i]`` gives member ``i`` back.

    Members whose schedules differ in family or structure (a cosine and a
    WSD, cyclic modes ``triangular`` and ``triangular2``) are stacked through
    :func:`switch`: each member holds every structure's hyperparameters and a
    traced index choosing its own, so the sweep over families is still ONE
    pytree, evaluated (and trained) by one compiled program.

    Args:
        members: the schedules, or pytrees holding schedules, one per member
            (at least one).

    Returns:
        One pytree of the members' structure, leading axis = members.

    Raises:
        ValueError: if members differ in anything but their schedules (say,
            arrays of different shapes or different config keys), naming the
            member and the place that differs.

    Example:
        >>> import optasched as osd
        >>> sweep = osd.stack([osd.cosine(0.1, 1000), osd.cosine(0.3, 2000)])
        >>> len(sweep), sweep(500).shape
        (2, (2,))
        >>> mixed = osd.stack([osd.cosine(0.1, 1000), osd.wsd(0.1, 100, 700, 200)])
        >>> mixed.family, mixed(500).shape
        ('switch', (2,))
    """
    members = list(members)
    if not members:
        raise ValueError("stack: members must hold at least one schedule, got none")
    for i, member in enumerate(members):
        for path, leaf in jax.tree_util.tree_flatten_with_path(member)[0]:
            if callable(leaf):
                raise ValueError(
                    f"stack: member {i} holds the function {leaf!r} at {jax.tree_util.keystr(path) or 'the top'}; "
                    "a function of the step has no hyperparameters to stack: build the members from optasched "
                    "schedules (osd.cosine, osd.warmup, ... or osd.from_function)"
                )
    members = _unify(members)
    first = members[0]
    for i, member in enumerate(members[1:], start=1):
        difference = describe_difference(first, member)
        if difference:
            raise ValueError(
                f"stack: member {i} differs in structure from member 0 at {difference}; "
                "only the schedules of a config may differ between members (through osd.switch)"
            )
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *members)


def _unify(members: list[Any]) -> list[Any]:
    """Members with equal structure, schedules of different structure turned into
    switches over the distinct structures (each member's own values in its branch,
    the first member of each other structure's values in the rest)."""
    if all(isinstance(m, Schedule) for m in members):
        if all(describe_difference(members[0], m) is None for m in members[1:]):
            return members
        templates: list[Schedule] = []
        kinds = []
        for member in members:
            for k, template in enumerate(templates):
                if describe_difference(template, member) is None:
                    break
            else:
                k = len(templates)
                templates.append(member)
            kinds.append(k)
        return [
            switch([member if j == k else template for j, template in enumerate(templates)], k)
            for member, k in zip(members, kinds)
        ]
    first = members[0]
    if isinstance(first, dict) and all(isinstance(m, dict) and m.keys() == first.keys() for m in members):
        columns = {key: _unify([m[key] for m in members]) for key in first}
        return [type(first)({key: columns[key][i] for key in first}) for i in range(len(members))]
    if isinstance(first, (list, tuple)) and not hasattr(first, "_fields") and all(
        type(m) is type(first) and len(m) == len(first) for m in members
    ):
        columns = [_unify([m[j] for m in members]) for j in range(len(first))]
        return [type(first)(column[i] for column in columns) for i in range(len(members))]
    return members


class Batch(NamedTuple):
    """A sweep made by :func:`grid` or :func:`sample`.

    Attributes:
        config: the stacked pytree (a schedule, or whatever ``build`` returns).
        labels: one human-readable label per member, such as
            ``"peak_value=0.1, warmup_steps=100"``.
        values: each swept argument's value for every member, as NumPy arrays.
    """

    config: Any
    labels: list[str]
    values: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.labels)


def _builder(build: Callable[..., Any] | Declared) -> Callable[..., Any]:
    if isinstance(build, Declared):  # a schedule or a sibling (a weighting)
        return build.replace
    if not callable(build):
        raise ValueError(f"build must be a schedule or a callable, got {build!r}")
    return build


def _label(name: str, value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{name}={float(value):.4g}"
    return f"{name}={value}"


def _batch(build, names: list[str], rows: list[tuple]) -> Batch:
    make = _builder(build)
    labels = [", ".join(_label(n, v) for n, v in zip(names, row)) for row in rows]
    members = []
    for i, row in enumerate(rows):
        try:
            members.append(make(**dict(zip(names, row))))
        except ValueError as err:
            raise ValueError(f"{err} (sweep member {i}: {labels[i]})") from err
    values = {n: np.asarray([row[i] for row in rows]) for i, n in enumerate(names)}
    return Batch(stack(members), labels, values)


def grid(build: Callable[..., Any] | Schedule, **axes: Sequence[Any]) -> Batch:
    """The cartesian product of hyperparameter values, as one stacked sweep.

    Args:
        build: a function of the swept arguments returning a schedule (or any
            pytree, such as a training config holding schedules); or a
            schedule, whose hyperparameters (dotted paths into composites, as
            in :meth:`Schedule.replace`) are swept.
        **axes: argument name -> the values to try.

    Returns:
        A :class:`Batch`, one member per combination (the last axis varying
        fastest).

    Example:
        >>> import optasched as osd
        >>> make = lambda peak_value, warmup_steps: osd.warmup(
        ...     osd.cosine(peak_value, 1000), warmup_steps)
        >>> sweep = osd.grid(make, peak_value=[0.1, 0.3], warmup_steps=[0, 100, 200])
        >>> len(sweep), sweep.labels[1]
        (6, 'peak_value=0.1, warmup_steps=100')
    """
    if not axes:
        raise ValueError("grid: give at least one axis, as name=[values]")
    for name, values in axes.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray) or len(values) == 0:
            raise ValueError(f"grid: axis {name} must be a non-empty list of values, got {values!r}")
    names = list(axes)
    rows = list(itertools.product(*(list(v) for v in axes.values())))
    return _batch(build, names, rows)


class Distribution(NamedTuple):
    """A distribution to draw one hyperparameter from in :func:`sample`.

    Made by :func:`uniform`, :func:`log_uniform`, :func:`int_uniform` or
    :func:`choice`.

    Attributes:
        kind: ``"uniform"``, ``"log_uniform"``, ``"int_uniform"`` or ``"choice"``.
        low: the lower bound (not used by ``choice``).
        high: the upper bound (not used by ``choice``).
        choices: the values of ``choice``.
    """

    kind: str
    low: float
    high: float
    choices: tuple = ()

    def draw(self, key: jax.Array, num: int) -> np.ndarray:
        """Draw ``num`` values.

        Args:
            key: the PRNG key to draw with.
            num: how many values.

        Returns:
            A NumPy array of ``num`` values (an object array for ``choice``).
        """
        if self.kind == "uniform":
            return np.asarray(jax.random.uniform(key, (num,), minval=self.low, maxval=self.high))
        if self.kind == "log_uniform":
            log = jax.random.uniform(key, (num,), minval=math.log(self.low), maxval=math.log(self.high))
            return np.exp(np.asarray(log, dtype=np.float64))
        if self.kind == "int_uniform":
            return np.asarray(jax.random.randint(key, (num,), int(self.low), int(self.high) + 1))
        index = np.asarray(jax.random.randint(key, (num,), 0, len(self.choices)))
        drawn = np.empty(num, dtype=object)  # choices may be lists (boundaries) or strings
        drawn[:] = [self.choices[i] for i in index]
        return drawn


def _finite_range(kind: str, low, high, positive: bool = False) -> None:
    numeric = all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in (low, high))
    if not (numeric and np.isfinite(low) and np.isfinite(high) and low <= high):
        raise ValueError(f"{kind}: need finite low <= high, got low={low!r}, high={high!r}")
    if positive and low <= 0:
        raise ValueError(f"{kind}: low must be > 0, got {low!r}")


def uniform(low: float, high: float) -> Distribution:
    """Uniform on [low, high).

    Args:
        low: the lower bound, finite.
        high: the upper bound, finite, at least ``low``.

    Returns:
        The :class:`Distribution`.
    """
    _finite_range("uniform", low, high)
    return Distribution("uniform", float(low), float(high))


def log_uniform(low: float, high: float) -> Distribution:
    """Log-uniform on [low, high): the usual prior for learning rates.

    Args:
        low: the lower bound, finite and positive.
        high: the upper bound, finite, at least ``low``.

    Returns:
        The :class:`Distribution`.
    """
    _finite_range("log_uniform", low, high, positive=True)
    return Distribution("log_uniform", float(low), float(high))


def int_uniform(low: int, high: int) -> Distribution:
    """Uniform over the integers low..high inclusive (step counts).

    Args:
        low: the smallest value, an integer.
        high: the largest value, an integer at least ``low``.

    Returns:
        The :class:`Distribution`.
    """
    for name, bound in (("low", low), ("high", high)):
        if isinstance(bound, bool) or not isinstance(bound, (int, np.integer)):
            raise ValueError(f"int_uniform: {name} must be an integer, got {bound!r}")
    _finite_range("int_uniform", low, high)
    return Distribution("int_uniform", int(low), int(high))


def choice(options: Sequence[Any]) -> Distribution:
    """Uniform over a list of values.

    Args:
        options: a non-empty list of values (numbers, strings, lists such as
            boundaries).

    Returns:
        The :class:`Distribution`.
    """
    if isinstance(options, (str, bytes)) or not isinstance(options, (Sequence, np.ndarray)) or len(options) == 0:
        raise ValueError(f"choice: options must be a non-empty list of values, got {options!r}")
    return Distribution("choice", 0.0, 0.0, tuple(options))


def sample(build: Callable[..., Any] | Schedule, key: jax.Array, num_samples: int, **distributions) -> Batch:
    """Random search: ``num_samples`` members with hyperparameters drawn from a key.

    Args:
        build: a function of the sampled arguments returning a schedule (or
            any pytree holding schedules); or a schedule, whose
            hyperparameters (dotted paths) are sampled.
        key: the PRNG key to draw with.
        num_samples: members to draw, a positive integer.
        **distributions: argument name -> a :class:`Distribution`.

    Returns:
        A :class:`Batch` of ``num_samples`` members.

    Example:
        >>> import jax, optasched as osd
        >>> sweep = osd.sample(lambda peak_value, warmup_steps: osd.warmup(
        ...     osd.cosine(peak_value, 1000), warmup_steps), jax.random.key(0), 16,
        ...     peak_value=osd.log_uniform(1e-4, 1e-1), warmup_steps=osd.int_uniform(0, 500))
        >>> len(sweep)
        16
    """
    if not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
        raise ValueError(f"sample: num_samples must be a positive integer, got {num_samples!r}")
    if not distributions:
        raise ValueError("sample: give at least one distribution, as name=osd.uniform(...)")
    names = list(distributions)
    keys = jax.random.split(key, len(names))
    columns = []
    for name, subkey in zip(names, keys):
        distribution = distributions[name]
        if not isinstance(distribution, Distribution):
            raise ValueError(
                f"sample: {name} must be a distribution (osd.uniform, osd.log_uniform, "
                f"osd.int_uniform, osd.choice), got {distribution!r}"
            )
        columns.append([v.item() if hasattr(v, "item") else v for v in distribution.draw(subkey, num_samples)])
    return _batch(build, names, list(zip(*columns)))
