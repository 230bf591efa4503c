"""Finding inject states in any optimizer state, and logging their hyperparameters."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ._flax import is_state_dict, unwrap
from ._hypergradient import HypergradientState
from ._state import InjectState

__all__ = ["hyperparams", "inject_states", "no_inject_state", "reported_names"]


def _is_inject(x) -> bool:
    return isinstance(x, InjectState) or is_state_dict(x)


def _key_name(key) -> str:
    for attribute in ("key", "name", "idx"):
        if hasattr(key, attribute):
            return str(getattr(key, attribute))
    return str(key)


def _is_logged(x) -> bool:
    return _is_inject(x) or isinstance(x, HypergradientState)  # its adapted learning rate is logged too


def inject_states(tree, *, is_state=_is_inject) -> list[tuple[tuple[str, ...], Any]]:
    """Every inject state inside ``tree`` with its path, in flattening order.

    Args:
        tree: an optax state, a Flax ``TrainState``, an ``nnx.Optimizer`` (its
            ``opt_state`` is searched) or ``nnx.state`` of one.
        is_state: which nodes to return (by default inject states).

    Returns:
        ``[(path as strings, InjectState or its field mapping), ...]``.
    """
    if not is_state(tree) and hasattr(tree, "opt_state"):
        tree = tree.opt_state  # an nnx.Optimizer (a TrainState flattens to it anyway)
    found = jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_state)[0]
    return [(tuple(_key_name(k) for k in path), node) for path, node in found if is_state(node)]


def no_inject_state(function: str, tree) -> ValueError:
    """The error for a state that holds no inject state.

    Args:
        function: the public function that looked, such as ``"hyperparams"``.
        tree: what it was given.

    Returns:
        The ValueError, naming ``function`` and what to do.
    """
    return ValueError(
        f"{function}: found no optasched.inject state in this {type(tree).__name__}; build the optimizer "
        "with osd.inject, e.g. osd.inject(optax.adamw)(learning_rate=schedule) (for a state of "
        "optax.inject_hyperparams, read values with optax.tree_utils.tree_get(state, 'learning_rate'))"
    )


def _applied(node) -> dict[str, Any]:
    return node.applied if isinstance(node, (InjectState, HypergradientState)) else node["applied"]


def reported_names(found: list[tuple[tuple[str, ...], Any]]) -> list[dict[str, str]]:
    """Per inject state, ``{reported name: hyperparameter}``.

    A hyperparameter of one inject state only is reported by its name; one
    that several states have (a partition's groups, two injects in a chain)
    is prefixed by the parts of their paths that tell those states apart
    (``"head/learning_rate"``), the same for an optax state and its
    ``nnx.state``.

    Args:
        found: what :func:`inject_states` returns.

    Returns:
        One mapping per inject state, in the same order.
    """
    owners: dict[str, list[int]] = {}
    fields = [list(_applied(node).keys()) for _, node in found]
    for i, names in enumerate(fields):
        for name in names:
            owners.setdefault(name, []).append(i)
    result = []
    for (path, _), names in zip(found, fields):
        mapping = {}
        for name in names:
            sharing = owners[name]
            if len(sharing) == 1:
                mapping[name] = name
                continue
            common = set.intersection(*(set(found[j][0]) for j in sharing))
            prefix = [part for part in path if part not in common] or list(path)
            mapping["/".join([*prefix, name])] = name
        result.append(mapping)
    return result


def hyperparams(opt_state) -> dict[str, jax.Array]:
    """Every hyperparameter the last update used, by name, for logging.

    Finds every :class:`~optasched.InjectState` inside ``opt_state``. Names
    are the factory's argument names; one that several inject states share
    is prefixed by the group or chain position (``"head/learning_rate"``). A
    plateau transformation reports ``"plateau_scale"``; a hypergradient
    optimizer (:func:`~optasched.sgd_hd`) its adapted ``"learning_rate"`` and
    its ``"hyper_lr"``.

    Args:
        opt_state: an optax state (a chain, an ``optax.partition`` of groups),
            a Flax ``TrainState`` or its ``opt_state``, an ``nnx.Optimizer`` or
            its ``opt_state``, or the state ``nnx.state(optimizer)`` /
            ``nnx.split(optimizer)`` gives.

    Returns:
        ``{name: value}`` for every numeric hyperparameter of each factory:
        schedules, constants, Python numbers and the factory's defaults alike,
        as the most recent update used them (after ``init``: those the first
        update will use). For a sweep each value has a leading member axis.

    Raises:
        ValueError: if ``opt_state`` holds no inject state.

    Example:
        >>> import jax.numpy as jnp, optax, optasched as osd
        >>> opt = osd.inject(optax.sgd)(learning_rate=osd.linear(0.1, 0.0, 10), momentum=0.9)
        >>> state = opt.init(jnp.zeros(2))
        >>> for _ in range(3):
        ...     _, state = opt.update(jnp.ones(2), state)
        >>> {k: round(float(v), 4) for k, v in osd.hyperparams(state).items()}  # update 2 used these
        {'learning_rate': 0.08, 'momentum': 0.9}
    """
    found = inject_states(opt_state, is_state=_is_logged)
    if not found:
        raise no_inject_state("hyperparams", opt_state)
    result = {}
    for (_, node), names in zip(found, reported_names(found)):
        applied = _applied(node)
        for reported, name in names.items():
            result[reported] = jnp.asarray(unwrap(applied[name]))
    return result
