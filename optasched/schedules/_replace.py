"""Dotted-path edits below one field of a schedule, for :meth:`Schedule.replace`:
``"schedule.init_value"`` (a child), ``"schedules.1.decay_steps"`` (one of a
list of children) and ``"params.lr"`` (a parameter tree)."""

from __future__ import annotations

from typing import Any

import jax

from ._fields import Kind


def replace_inside(family: str, head: str, kind: Kind, current: Any, sub: dict[str, Any]) -> Any:
    """The value of field ``head`` with the dotted-path changes ``sub`` applied below it.

    Args:
        family: the family being edited, for errors.
        head: the field's name.
        kind: the field's kind, which says how to go below it.
        current: the field's value: a schedule, a tuple of schedules or a parameter tree.
        sub: the new values by path below the field (``{"init_value": 0.3}``).

    Raises:
        ValueError: for a path that leads nowhere.
    """
    if kind is Kind.SCHEDULE and current is not None:
        return current.replace(**sub)
    if kind is Kind.SCHEDULES:
        return _replace_in_children(family, head, current, sub)
    if kind is Kind.PARAMS and isinstance(current, (dict, list, tuple)):  # dotted keys or indices
        return _replace_in_tree(family, head, current, sub)
    raise ValueError(f"{family}: {head} is not a schedule; cannot replace {sub}")


def _replace_in_children(family: str, head: str, current: tuple, sub: dict[str, Any]) -> tuple:
    updated = list(current)
    for path, new in sub.items():
        index, _, rest = path.partition(".")
        if not index.isdigit() or int(index) >= len(updated) or not rest:
            raise ValueError(
                f"{family}: bad path {head + '.' + path!r}; expected "
                f"'{head}.<index below {len(updated)}>.<hyperparameter>'"
            )
        updated[int(index)] = updated[int(index)].replace(**{rest: new})
    return tuple(updated)


def _replace_in_tree(family: str, head: str, current: Any, sub: dict[str, Any]) -> Any:
    tree = jax.tree.map(lambda x: x, current)  # a copy whose containers can be edited
    for path, new in sub.items():
        node = tree
        keys = path.split(".")
        for key in keys[:-1]:
            node = node[int(key) if isinstance(node, list) else key]
        last = keys[-1]
        try:
            node[int(last) if isinstance(node, list) else last]
        except (KeyError, IndexError, ValueError, TypeError):
            raise ValueError(f"{family}: no parameter {head + '.' + path!r}") from None
        node[int(last) if isinstance(node, list) else last] = new
    return tree


__all__ = ["replace_inside"]
