"""Configs of whole trees: a training setup's numbers, strings, lists, tuples,
dicts and schedules in one JSON-safe value, read back validated. No ``eval``,
no pickle.

The format (what :func:`to_config` writes):

- a schedule alone is its one-schedule config, ``{"family": name, ...}``
  (``_config``), exactly as before;
- anything else is ``{"$tree": value}``, where ``value`` is JSON: numbers,
  strings, bools, ``None``, lists and dicts (string keys) as themselves; a
  schedule anywhere as its one-schedule config; a tuple as
  ``{"$tuple": [...]}``; a non-finite float as ``{"$float": "inf"}``
  (``"-inf"``, ``"nan"``); a dict that would read as one of those (a key
  ``"family"`` or a key starting with ``$``) as ``{"$dict": {...}}``, its keys
  taken literally. Arrays and NumPy scalars become numbers or nested lists
  (their dtype is not kept; a schedule's leaves keep theirs).

So a hand-written tree needs no tags: ``{"$tree": {"lr": {"family": "cosine",
"init_value": 0.1, "decay_steps": 1000}, "seed": 0}}``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from ._config import from_config as _schedule_from_config
from ._config import to_config as _schedule_to_config
from ._constraints import plain_number
from ._convert import is_traced
from ._registry import declared_families
from ._schedule import Declared

__all__ = ["TAGS", "from_config", "to_config"]

TREE, TUPLE, DICT, FLOAT = "$tree", "$tuple", "$dict", "$float"
# The tags a tree may hold below its top; ``$tree`` marks the top only.
TAGS = (DICT, FLOAT, TUPLE)
_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}
_HOLDS = "a config holds numbers, strings, bools, None, lists, tuples, dicts (string keys) and schedules"


def _where(path: tuple) -> str:
    return "at " + ("".join(f"[{p!r}]" for p in path) if path else "the top")


def _float(x: float) -> Any:
    if math.isfinite(x):
        return x
    return {FLOAT: "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def _array(x, path: tuple) -> Any:
    if is_traced(x):
        raise ValueError(f"to_config {_where(path)}: a traced value; call to_config outside jit/vmap")
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"to_config {_where(path)}: cannot write an array of dtype {array.dtype}; {_HOLDS}")
    return jax.tree.map(lambda v: _float(v) if isinstance(v, float) else v, plain_number(array))


def _encode(node, path: tuple, substitute: Callable[[Any], Any] | None) -> Any:
    if node is None or isinstance(node, (bool, int, str)):
        return node
    if isinstance(node, float):
        return _float(node)
    if isinstance(node, Declared):  # a schedule or a sibling (a weighting)
        try:
            return _schedule_to_config(node)
        except ValueError as err:
            raise ValueError(f"to_config {_where(path)}: {str(err).removeprefix('to_config: ')}") from err
    if isinstance(node, (np.ndarray, np.generic, jax.Array)):
        return _array(node, path)
    if isinstance(node, list):
        return [_encode(v, (*path, i), substitute) for i, v in enumerate(node)]
    if isinstance(node, dict):
        bad = [k for k in node if not isinstance(k, str)]
        if bad:
            raise ValueError(
                f"to_config {_where(path)}: dict keys must be strings (JSON's), got {bad[0]!r}; {_HOLDS}"
            )
        encoded = {k: _encode(v, (*path, k), substitute) for k, v in node.items()}
        tag_like = "family" in node or any(k.startswith("$") for k in node)
        return {DICT: encoded} if tag_like else encoded
    replacement = substitute(node) if substitute is not None else None
    if replacement is not None:
        return _encode(replacement, path, None)
    if type(node) is tuple:
        return {TUPLE: [_encode(v, (*path, i), substitute) for i, v in enumerate(node)]}
    what = f"a NamedTuple ({type(node).__name__})" if isinstance(node, tuple) else f"a {type(node).__name__}"
    raise ValueError(f"to_config {_where(path)}: cannot write {node!r}, {what}; {_HOLDS}")


def to_config(tree: Any, *, substitute: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """A JSON-safe dict describing ``tree``: a schedule, or any tree of numbers,
    strings, bools, ``None``, lists, tuples, dicts and schedules (a whole
    training setup).

    A schedule alone gives ``{"family": name, **hyperparameters}`` (composites
    nest; stacked sweeps write nested lists; a leaf whose dtype a plain number
    would not give back is named in ``"dtypes"``). Anything else gives
    ``{"$tree": ...}``: schedules anywhere inside as their configs, tuples as
    ``{"$tuple": [...]}``, non-finite floats as ``{"$float": "inf"}``, arrays
    and NumPy scalars as numbers or nested lists (see the module docstring).
    The inverse is :func:`from_config`; ``json.dumps`` writes the result.

    Args:
        tree: the schedule or tree.
        substitute: for a node the format does not know (a tuple or another
            object), a function giving what to write instead (a tree), or
            None to treat it as usual; ``osd.to_config`` passes one that
            writes an optimizer state's schedules.

    Returns:
        The config: a dict of JSON values.

    Raises:
        ValueError: naming where in the tree, for anything else (a function, an
            object, a NamedTuple, a non-string dict key, a traced value).

    Example:
        >>> import optasched as osd
        >>> osd.to_config(osd.warmup(osd.cosine(0.1, 900), 100))["schedule"]
        {'family': 'cosine', 'init_value': 0.1, 'decay_steps': 900, 'end_value': 0.0, 'exponent': 1.0}
        >>> osd.to_config({"lr": osd.constant(0.1), "seed": 0, "widths": (64, 64)})
        {'$tree': {'lr': {'family': 'constant', 'value': 0.1}, 'seed': 0, 'widths': {'$tuple': [64, 64]}}}
    """
    if isinstance(tree, Declared):
        return _schedule_to_config(tree)
    return {TREE: _encode(tree, (), substitute)}


def _decode_schedule(config: dict, path: tuple) -> Declared:
    try:
        return _schedule_from_config(config)
    except ValueError as err:
        raise ValueError(f"from_config {_where(path)}: {str(err).removeprefix('from_config: ')}") from err


def _decode_tag(tag: str, value, path: tuple) -> Any:
    if tag == TUPLE:
        if not isinstance(value, list):
            raise ValueError(f"from_config {_where(path)}: {TUPLE} must hold a list, got {value!r}")
        return tuple(_decode(v, (*path, i)) for i, v in enumerate(value))
    if tag == DICT:
        if not isinstance(value, dict):
            raise ValueError(f"from_config {_where(path)}: {DICT} must hold a dict, got {value!r}")
        return _decode_dict(value, path)
    if tag == FLOAT:
        if not isinstance(value, str) or value not in _NON_FINITE:
            raise ValueError(
                f"from_config {_where(path)}: {FLOAT} must be one of {sorted(_NON_FINITE)}, got {value!r}"
            )
        return _NON_FINITE[value]
    raise ValueError(f"from_config {_where(path)}: unknown tag {tag!r}; known: {', '.join(TAGS)}")


def _decode_dict(node: dict, path: tuple) -> dict:
    bad = [k for k in node if not isinstance(k, str)]
    if bad:
        raise ValueError(f"from_config {_where(path)}: dict keys must be strings, got {bad[0]!r}")
    return {k: _decode(v, (*path, k)) for k, v in node.items()}


def _decode(node, path: tuple) -> Any:
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode(v, (*path, i)) for i, v in enumerate(node)]
    if isinstance(node, dict):
        if "family" in node:
            return _decode_schedule(node, path)
        tags = [k for k in node if isinstance(k, str) and k.startswith("$")]
        if not tags:
            return _decode_dict(node, path)
        if len(node) != 1:
            raise ValueError(
                f"from_config {_where(path)}: the tag {tags[0]!r} must be the only key of its dict, "
                f"got the keys {sorted(map(str, node))}"
            )
        return _decode_tag(tags[0], node[tags[0]], path)
    raise ValueError(f"from_config {_where(path)}: cannot read {node!r} (a {type(node).__name__}); {_HOLDS}")


def from_config(config: dict[str, Any]) -> Any:
    """Rebuild a schedule or a tree from :func:`to_config` output or a
    hand-written dict (JSON or YAML loaded).

    A schedule's config (``{"family": ...}``) takes the constructor's defaults
    for omitted arguments and is validated like the constructor; a number
    where a schedule is expected is a constant. A tree's config is
    ``{"$tree": ...}``: inside it every dict with a ``"family"`` key is a
    schedule, ``{"$tuple": [...]}`` a tuple, ``{"$float": "inf"}`` a
    non-finite float, ``{"$dict": {...}}`` a dict with literal keys, and
    anything else plain JSON.

    Args:
        config: a schedule's config or a tree's.

    Returns:
        The schedule, or the tree with every schedule rebuilt.

    Raises:
        ValueError: naming where in the tree, for a missing, malformed or
            unknown family, tag or key, or a bad value.

    Example:
        >>> import optasched as osd
        >>> s = osd.from_config({"family": "cosine", "init_value": 0.1, "decay_steps": 900})
        >>> round(float(s(450)), 4)
        0.05
        >>> osd.from_config({"$tree": {"seed": 0, "widths": {"$tuple": [64, 64]}}})
        {'seed': 0, 'widths': (64, 64)}
    """
    if not isinstance(config, dict):
        raise ValueError(
            "from_config: expected a dict with a 'family' key (a schedule's config) or {'$tree': ...} "
            f"(a tree's), got {config!r}"
        )
    if TREE in config and "family" not in config:
        if len(config) != 1:
            raise ValueError(
                f"from_config: {TREE!r} must be the only key of a tree's config, got the keys "
                f"{sorted(map(str, config))}"
            )
        return _decode(config[TREE], ())
    if "family" not in config:
        raise ValueError(
            f"from_config: the config needs a 'family' key naming one of "
            f"{', '.join(declared_families())} (a schedule's config), or to be {{'$tree': ...}} (a tree's, "
            f"as osd.to_config writes it); got the keys {sorted(map(str, config))}"
        )
    return _schedule_from_config(config)
