"""Swapping the schedules held in an optimizer state (after a checkpoint restore)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from ..schedules import StatefulSchedule
from ._arguments import NUMBER, PASSED, classify
from ._evaluation import evaluate, number_array
from ._flax import loaded_nnx, replace_in_nnx_optimizer
from ._hyperparams import inject_states, no_inject_state, reported_names
from ._signature import ANY_ARGUMENT
from ._state import InjectState, Slots, StaticNumber

__all__ = ["replace_schedules"]

_WHERE = "replace_schedules"


def _broadcast_to_sweep(name: str, schedule, batch: tuple[int, ...]):
    shape = schedule.batch_shape
    if shape == batch:
        return schedule
    if shape == ():
        return jax.tree.map(lambda x: jnp.broadcast_to(x, batch + jnp.shape(x)), schedule)
    raise ValueError(
        f"{_WHERE}: {name} is a sweep of shape {shape}, but the state holds a sweep of shape {batch}; "
        "give one schedule (used by every member) or a stack with one member per state member"
    )


def _same_shapes(a, b) -> bool:
    return jax.tree.structure(a) == jax.tree.structure(b) and all(
        jnp.shape(x) == jnp.shape(y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))
    )


def _per_member(function, batch: tuple[int, ...], *args):
    for _ in batch:
        function = jax.vmap(function)
    return function(*args)


def _held_schedule(state: InjectState, name: str, schedule, dtype):
    """``(value at the state's count, schedule state or None)`` of a new schedule."""
    batch = tuple(jnp.shape(state.count))
    schedule_state = None
    if isinstance(schedule, StatefulSchedule):
        schedule_state = _per_member(lambda s: s.init_state(dtype), batch, schedule)
        old_state = state.schedule_states.get(name)
        if old_state is not None and _same_shapes(old_state, schedule_state):
            schedule_state = old_state  # the plateau's counters carry over
    value = _per_member(
        lambda s, st, count: evaluate(_WHERE, name, s, st, count, dtype),
        batch,
        schedule,
        schedule_state,
        state.count,
    )
    return value, schedule_state


def _replaced(state: InjectState, changes: Mapping[str, Any]) -> InjectState:
    batch = tuple(jnp.shape(state.count))
    hyperparams, schedules = dict(state.hyperparams), dict(state.schedules)
    schedule_states, applied, overridden = map(dict, (state.schedule_states, state.applied, state.overridden))
    for name, new in changes.items():
        dtype = jnp.result_type(state.applied[name])
        how, what = classify(_WHERE, name, new, ANY_ARGUMENT)
        for held in (schedules, schedule_states, overridden):
            held.pop(name, None)
        if how == PASSED:
            raise ValueError(
                f"{_WHERE}: {name} must be a schedule, a number, an array of values or a function of the "
                f"step, got {new!r}"
            )
        if how == NUMBER:
            hyperparams[name] = StaticNumber(what)
            applied[name] = jnp.broadcast_to(number_array(what, dtype), batch)
            continue
        schedule = _broadcast_to_sweep(name, what, batch)
        value, schedule_state = _held_schedule(state, name, schedule, dtype)
        schedules[name] = schedule
        if schedule_state is not None:
            schedule_states[name] = schedule_state
        hyperparams[name] = applied[name] = value
        overridden[name] = jnp.zeros(batch, bool)
    return InjectState(
        state.count,
        hyperparams,
        Slots(schedules),
        Slots(schedule_states),
        Slots(applied),
        Slots(overridden),
        state.inner_state,
    )


def _changes_by_state(names: list[dict[str, str]], schedules: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    """``{index of the inject state: {hyperparameter: new}}`` for reported names."""
    changes: dict[int, dict[str, Any]] = {}
    for reported, new in schedules.items():
        hits = [(i, mapping[reported]) for i, mapping in enumerate(names) if reported in mapping]
        if not hits:
            held = sorted(n for mapping in names for n in mapping)
            raise ValueError(f"{_WHERE}: the state holds no hyperparameter {reported!r}; it holds {held}")
        ((index, name),) = hits
        changes.setdefault(index, {})[name] = new
    return changes


def replace_schedules(opt_state, **schedules):
    """Swap hyperparameter schedules in an optimizer state, keeping everything else.

    The step count, the optimizer's moments and a plateau's counters stay as
    they are; the new schedules take over from the state's step count, so
    after a checkpoint restore training continues on the new curve at the
    step it had reached. Any family may replace any other (the state's
    structure changes with it, so a jitted update compiles once more).

    Typical use: restore a checkpoint with the optimizer *as it was saved*
    (its schedules are part of the checkpoint's structure), then swap:

    ``state = osd.replace_schedules(restored, learning_rate=osd.wsd(...))``.

    Args:
        opt_state: a state holding :func:`~optasched.inject` states (an optax
            state, a chain or partition of them, a Flax ``TrainState``), or an
            ``nnx.Optimizer``, whose state is replaced in place (it is
            returned too).
        **schedules: reported name (as :func:`~optasched.hyperparams` gives
            it, such as ``learning_rate`` or ``head/learning_rate``) -> the new
            schedule, stateful hyperparameter, number, array or function of
            the step. For a sweep state, one schedule applies to every member;
            a stacked one gives each member its own.

    Returns:
        The state with those schedules replaced; ``osd.hyperparams`` of it
        gives the values the next update will use.

    Raises:
        ValueError: for a name the state does not hold (listing those it
            holds), or a sweep of another size.

    Example:
        >>> import jax.numpy as jnp, optax, optasched as osd
        >>> opt = osd.inject(optax.sgd)(learning_rate=osd.cosine(0.1, 100))
        >>> state = opt.init(jnp.zeros(2))
        >>> for _ in range(50):
        ...     _, state = opt.update(jnp.ones(2), state)
        >>> state = osd.replace_schedules(state, learning_rate=osd.linear(0.2, 0.0, 100))
        >>> int(state.count), round(float(osd.hyperparams(state)["learning_rate"]), 4)
        (50, 0.1)
    """
    if not schedules:
        raise ValueError(f"{_WHERE}: give at least one hyperparameter, as name=schedule")
    found = [(path, node) for path, node in inject_states(opt_state) if isinstance(node, InjectState)]
    if not found:
        raise no_inject_state(_WHERE, opt_state)
    changes = _changes_by_state(reported_names(found), schedules)
    nnx = loaded_nnx()
    if nnx is not None and isinstance(opt_state, nnx.Optimizer):
        return replace_in_nnx_optimizer(nnx, opt_state, replace_schedules, schedules)
    is_train_state = hasattr(opt_state, "opt_state") and hasattr(opt_state, "replace")
    if is_train_state and not isinstance(opt_state, InjectState):
        return opt_state.replace(opt_state=replace_schedules(opt_state.opt_state, **schedules))
    position = iter(range(len(found)))

    def rebuild(node):
        if not isinstance(node, InjectState):
            return node
        index = next(position)
        return _replaced(node, changes[index]) if index in changes else node

    return jax.tree.map(rebuild, opt_state, is_leaf=lambda x: isinstance(x, InjectState))
