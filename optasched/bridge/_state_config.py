"""Configs of the schedules an optimizer state holds, and putting them back.

``osd.to_config(opt_state)`` writes every schedule of every
:func:`~optasched.inject` state inside ``opt_state`` (a chain, ``MultiSteps``,
a partition, a Flax ``TrainState``, a tree holding one), keyed by the names
:func:`~optasched.hyperparams` reports (``learning_rate``,
``head/learning_rate``: where the schedule lives and the hyperparameter), so a
checkpoint can be saved with the schedules beside it, as JSON.
:func:`restore_schedules` puts them into a state built by the optimizer
factory alone, whose structure then matches the checkpoint's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..schedules import Schedule
from ..schedules import from_config as tree_from_config
from ..schedules import to_config as tree_to_config
from ._hyperparams import inject_states, no_inject_state, reported_names
from ._replace import replace_schedules
from ._state import InjectState, StepFunction

__all__ = ["restore_schedules", "state_schedules", "to_config"]


def _found(opt_state) -> list:
    return [(path, node) for path, node in inject_states(opt_state) if isinstance(node, InjectState)]


def state_schedules(opt_state) -> dict[str, Any]:
    """Every schedule of the inject states inside ``opt_state``, by reported name.

    Args:
        opt_state: an optimizer state holding :func:`~optasched.inject` states.

    Returns:
        ``{reported name: schedule}``, the names as :func:`~optasched.hyperparams`
        gives them; empty if the state holds no inject state.

    Raises:
        ValueError: for a hyperparameter given as a plain function of the step,
            which has no config.
    """
    found = _found(opt_state)
    held = {}
    for (_, node), names in zip(found, reported_names(found)):
        for reported, name in names.items():
            if name not in node.schedules:
                continue  # a Python number: the factory's structure, not a schedule
            schedule = node.schedules[name]
            if isinstance(schedule, StepFunction):
                raise ValueError(
                    f"to_config: the optimizer state's {reported} is a function of the step ({schedule!r}), "
                    "which cannot be written to a config; give an optasched schedule"
                )
            held[reported] = schedule
    return held


def _optimizer_state(node) -> dict[str, Any] | None:
    """The schedules of ``node`` if it is (or holds) an optimizer state, else None."""
    return state_schedules(node) if _found(node) else None


def to_config(tree: Any) -> dict[str, Any]:
    """A JSON-safe dict describing a schedule, a tree (a whole training setup)
    or the schedules of an optimizer state.

    As ``optasched.schedules.to_config`` (see there for the format:
    ``{"family": ...}`` for a schedule, ``{"$tree": ...}`` for anything
    else), and an optimizer state anywhere in ``tree`` (an
    :class:`~optasched.InjectState` or any optax state holding one: a chain,
    ``MultiSteps``, a partition, a Flax ``TrainState``) is written as
    ``{reported name: schedule config}``, the names as
    :func:`~optasched.hyperparams` gives them. Its arrays (moments, counts, a
    plateau's counters) are the checkpoint's business, not the config's.
    :func:`~optasched.from_config` reads it back; :func:`restore_schedules`
    puts the schedules into a fresh state.

    Args:
        tree: a schedule, a tree of numbers, strings, bools, ``None``, lists,
            tuples, dicts, schedules and optimizer states.

    Returns:
        The config: a dict of JSON values.

    Raises:
        ValueError: naming where in the tree, for what no config can hold (a
            function, an object, a traced value).

    Example:
        >>> import jax.numpy as jnp, optax, optasched as osd
        >>> opt = osd.inject(optax.sgd)(learning_rate=osd.constant(0.1), momentum=0.9)
        >>> osd.to_config(opt.init(jnp.zeros(2)))
        {'$tree': {'learning_rate': {'family': 'constant', 'value': 0.1}}}
    """
    return tree_to_config(tree, substitute=_optimizer_state)


def _schedules_given(config) -> dict[str, Any]:
    if isinstance(config, Mapping) and "$tree" in config:
        config = tree_from_config(dict(config))
    if not isinstance(config, Mapping):
        raise ValueError(
            "restore_schedules: config must be osd.to_config(opt_state) (or osd.from_config of it, "
            f"name -> schedule), got {config!r}"
        )
    schedules = {}
    for name, schedule in config.items():
        if isinstance(schedule, Mapping) and "family" in schedule:
            schedule = tree_from_config(dict(schedule))
        if not isinstance(schedule, Schedule):
            raise ValueError(
                f"restore_schedules: config[{name!r}] must be a schedule or a schedule's config, "
                f"got {schedule!r}"
            )
        schedules[name] = schedule
    return schedules


def restore_schedules(opt_state, config):
    """Put the schedules of a config into an optimizer state built afresh.

    ``config`` is what ``osd.to_config(opt_state)`` wrote when the
    checkpoint was saved (or ``osd.from_config`` of it). Build the optimizer
    with the factory alone (any schedules or numbers, even placeholders),
    ``init`` it, and restore: the state then holds the saved schedules, so its
    structure is the checkpoint's, and the checkpoint's arrays (step count,
    moments, plateau counters) restore into it; training continues bit for
    bit. The update reads schedules from the state, so the optimizer built
    with placeholders is the one to keep using.

    Args:
        opt_state: a state holding :func:`~optasched.inject` states (as for
            :func:`~optasched.replace_schedules`).
        config: ``osd.to_config(old_state)`` (as loaded from JSON), or
            ``{reported name: schedule or schedule config}``.

    Returns:
        ``opt_state`` with every schedule of the config in place (by
        :func:`~optasched.replace_schedules`).

    Raises:
        ValueError: for a config that is not one of those, a name the state
            does not hold, or a schedule the state holds that the config
            does not name (the state would silently keep its placeholder).

    Example:
        >>> import jax.numpy as jnp, optax, optasched as osd
        >>> make = lambda lr=0.0: osd.inject(optax.sgd)(learning_rate=lr)
        >>> saved = osd.to_config(make(osd.cosine(0.1, 100)).init(jnp.zeros(2)))
        >>> state = osd.restore_schedules(make().init(jnp.zeros(2)), saved)
        >>> state.schedules["learning_rate"]
        cosine(init_value=0.1, decay_steps=100, end_value=0.0, exponent=1.0)
    """
    schedules = _schedules_given(config)
    if not _found(opt_state):
        raise no_inject_state("restore_schedules", opt_state)
    unnamed = sorted(set(state_schedules(opt_state)) - set(schedules))
    if unnamed:
        raise ValueError(
            f"restore_schedules: the state holds schedules for {unnamed}, which the config does not name "
            f"(it names {sorted(schedules)}); build the optimizer with numbers there, or give those schedules"
        )
    if not schedules:
        return opt_state
    return replace_schedules(opt_state, **schedules)
