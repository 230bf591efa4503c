"""Walking pytrees of schedules: every schedule inside one (for checked mode) and
where two differ in structure or shape (for the errors of stack, grid and the
optax bridge)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from ._schedule import Declared


def schedule_nodes(tree: Any, path: str = "") -> Iterator[tuple[str, Declared]]:
    """Every schedule inside a pytree (nested composites and siblings such as weightings
    included), with its path.

    Args:
        tree: any pytree.
        path: the text before every path (the tree's own place).
    """
    is_schedule = lambda x: isinstance(x, Declared)  # noqa: E731
    for key_path, node in jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_schedule)[0]:
        if not isinstance(node, Declared):
            continue
        here = path + jax.tree_util.keystr(key_path)
        yield here, node
        for name in node._leaf_names:
            field_value = getattr(node, name)
            if isinstance(field_value, (Declared, tuple)):
                yield from schedule_nodes(field_value, f"{here}.{name}")


def describe_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Says where two pytrees (of schedules) differ in structure or shape, or None.

    Args:
        a, b: two pytrees.
        path: the text before every path in the answer.
    """
    where = path or "the top level"
    if isinstance(a, Declared) or isinstance(b, Declared):
        return _schedule_difference(a, b, path)
    if (a is None) != (b is None):
        return f"{where}: {'None' if a is None else 'given'} vs {'None' if b is None else 'given'}"
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        if len(a) != len(b):
            return f"{where}: {len(a)} entries vs {len(b)}"
        return _first(describe_difference(x, y, f"{path}[{i}]") for i, (x, y) in enumerate(zip(a, b)))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        if set(a) != set(b):
            return f"{where}: keys {sorted(a)} vs {sorted(b)}"
        return _first(describe_difference(a[key], b[key], f"{path}[{key!r}]") for key in a)
    if jax.tree.structure(a) != jax.tree.structure(b):
        return f"{where}: {jax.tree.structure(a)} vs {jax.tree.structure(b)}"
    for (p, x), y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b)):
        if jnp.shape(x) != jnp.shape(y):
            return f"{path}{jax.tree_util.keystr(p) or ''}: shape {jnp.shape(x)} vs {jnp.shape(y)}"
    return None


def _schedule_difference(a: Any, b: Any, path: str) -> str | None:
    if type(a) is not type(b):
        return f"{path or 'the top level'}: {_kind_of(a)} vs {_kind_of(b)}"
    for name in a._static_names:
        if getattr(a, name) != getattr(b, name):
            return f"{path}.{name}: {getattr(a, name)!r} vs {getattr(b, name)!r}"
    return _first(describe_difference(getattr(a, n), getattr(b, n), f"{path}.{n}") for n in a._leaf_names)


def _first(differences: Iterator[str | None]) -> str | None:
    return next((d for d in differences if d), None)


def _kind_of(x: Any) -> str:
    return f"{x.family} {x._noun}" if isinstance(x, Declared) else f"{type(x).__name__} {x!r}"


__all__ = ["describe_difference", "schedule_nodes"]
