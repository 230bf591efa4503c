"""What successive halving and PBT share: a population is ONE stacked pytree
(configs and training states with a leading member axis) run through the
step-level protocol ``init(config, key) -> state`` and ``advance(config, state,
num_steps) -> (state, metrics)``, vmapped over the members in one compiled
program, placed on the devices like the sweep engine's chunks, and ranked by a
validation metric.
"""

from __future__ import annotations

import functools
import numbers
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ._checkpoint import (
    fingerprint_differences, load_checked, program_fingerprint, save_atomic, sweep_fingerprint,
)  # fmt: skip
from ._inputs import _member_count, _member_labels, _sweep_devices, _typed_key
from ._loop import LoopResult
from ._stack import Batch

__all__ = [
    "MODES",
    "PopulationInputs",
    "advance_members",
    "check_positive_int",
    "checkpoint_path",
    "init_members",
    "latest_decision",
    "member_scores",
    "place",
    "ranking",
    "save_decision",
    "search_fingerprint",
    "state_shapes",
    "to_host",
]

MODES = ("min", "max")


class PopulationInputs:
    """A search's common arguments, checked (each bad one a ``ValueError`` naming it).

    Args:
        name: the search's name, for messages.
        init: ``init(config, key) -> state``.
        advance: ``advance(config, state, num_steps) -> (state, metrics)``.
        configs: a :class:`Batch` or a stacked pytree.
        key: None, an int seed or a PRNG key.
        devices: None (all devices) or a non-empty sequence of devices.
        labels: None or one label per member.
        metric: the validation metric's name in ``advance``'s metrics (a key
            path such as ``loss`` or ``eval/accuracy``).
        mode: ``"min"`` or ``"max"``.

    Attributes:
        configs: the stacked configurations (NumPy leaves).
        labels: one label per member.
        num_members: members in the population.
        key: a single typed PRNG key.
        mesh: a one-axis ``("sweep",)`` mesh over the devices, or None for one device.
        device: the first device (where a population the device count does not divide runs).
    """

    def __init__(self, name: str, init, advance, configs, key, devices, labels, metric, mode):
        for arg, fn in (("init", init), ("advance", advance)):
            if not callable(fn):
                raise ValueError(f"{name}: {arg} must be a function (the step-level protocol), got {fn!r}")
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"{name}: metric must be the name of a metric advance returns, got {metric!r}")
        if mode not in MODES:
            raise ValueError(f"{name}: mode must be one of {MODES}, got {mode!r}")
        if isinstance(configs, Batch):
            labels = labels if labels is not None else configs.labels
            configs = configs.config
        self.num_members = _member_count(configs)
        self.labels = _member_labels(labels, self.num_members)
        self.configs = jax.tree.map(np.asarray, configs)
        self.key = _typed_key(key)
        devices = _sweep_devices(devices)
        self.mesh = Mesh(np.array(devices), ("sweep",)) if len(devices) > 1 else None
        self.device = devices[0]


def check_positive_int(name: str, arg: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int, or a ``ValueError`` naming ``arg``.

    Args:
        name: the search's name, for the message.
        arg: the argument's name.
        value: the value given.
        minimum: the smallest allowed value.

    Returns:
        ``int(value)``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name}: {arg} must be an int >= {minimum}, got {value!r}")
    return int(value)


def place(tree: Any, mesh: Mesh | None, device: jax.Device) -> Any:
    """Put a population on the devices: its member axis sharded over ``mesh``
    when the device count divides it (as the sweep engine shards a chunk),
    else whole on ``device``.

    Args:
        tree: a stacked pytree (leading member axis on every leaf).
        mesh: the ``("sweep",)`` mesh, or None for one device.
        device: the device for a population the mesh does not divide.

    Returns:
        The tree as placed JAX arrays.
    """
    size = _member_count(tree)
    if mesh is None or size % mesh.size:
        return jax.device_put(tree, device)
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec("sweep")))


def to_host(tree: Any) -> Any:
    """A placed population back as NumPy (typed PRNG keys stay JAX key arrays).

    Args:
        tree: a pytree of JAX arrays.

    Returns:
        The same tree with NumPy leaves (key arrays unchanged).
    """
    return jax.tree.map(lambda x: x if jnp.issubdtype(x.dtype, jax.dtypes.prng_key) else np.asarray(x), tree)


@functools.partial(jax.jit, static_argnums=(0, 3))
def _init_all(init: Callable, configs: Any, key: jax.Array, split_keys: bool, indices: jax.Array) -> Any:
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(indices) if split_keys else None
    if split_keys:
        return jax.vmap(init)(configs, keys)
    return jax.vmap(init, in_axes=(0, None))(configs, key)


def init_members(init: Callable, configs: Any, key: jax.Array, split_keys: bool, indices: np.ndarray) -> Any:
    """Every member's initial state, in one compiled program.

    Args:
        init: ``init(config, key) -> state`` for ONE member.
        configs: the placed stacked configurations.
        key: the key every member starts from (common random numbers), or
            with ``split_keys`` the key folded with each member's index.
        split_keys: fold the member's index into its key.
        indices: the members' indices in the population (for ``split_keys``).

    Returns:
        The stacked states.
    """
    return _init_all(init, configs, key, split_keys, jnp.asarray(indices, jnp.int32))


@functools.partial(jax.jit, static_argnums=(0, 3))
def _advance_all(advance: Callable, configs: Any, states: Any, num_steps: int) -> tuple[Any, Any]:
    def one(config, state):
        out = advance(config, state, num_steps)
        if isinstance(out, LoopResult):  # osd.train_loop's result as it is: a diverged member's metrics are NaN
            return out.state, out.history
        return out

    return jax.vmap(one)(configs, states)


def state_shapes(init: Callable, configs: Any, key: jax.Array, split_keys: bool) -> Any:
    """The stacked initial states' shapes and dtypes for these configurations, without computing them.

    Args:
        init: ``init(config, key) -> state`` for ONE member.
        configs: stacked configurations.
        key: the key ``init`` gets.
        split_keys: fold each member's index into its key.

    Returns:
        A pytree of ``jax.ShapeDtypeStruct``.
    """
    indices = np.arange(_member_count(configs))
    return jax.eval_shape(lambda c: init_members(init, c, key, split_keys, indices), configs)


def advance_members(advance: Callable, configs: Any, states: Any, num_steps: int) -> tuple[Any, Any]:
    """Advance every member ``num_steps`` steps in one compiled program
    (compiled once per population size and ``num_steps``).

    Args:
        advance: ``advance(config, state, num_steps) -> (state, metrics)`` for ONE
            member, or ``-> LoopResult`` (:func:`optasched.train_loop`'s, whose
            history is the metrics: NaN from a divergence on).
        configs: the placed stacked configurations.
        states: the placed stacked states.
        num_steps: steps to advance (static).

    Returns:
        ``(states, metrics)``, stacked.
    """
    return _advance_all(advance, configs, states, num_steps)


def member_scores(name: str, metrics: Any, metric: str) -> Any:
    """Each member's value of ``metric`` (its last entry if the metric is a history).

    Args:
        name: the search's name, for the message.
        metrics: the stacked metrics ``advance`` returned (NumPy or JAX).
        metric: a metric name, a key path such as ``loss`` or ``eval/accuracy``.

    Returns:
        A float array of shape (members,), the same kind (NumPy or JAX) as the metrics.
    """
    flat = {}
    for path, leaf in jax.tree_util.tree_leaves_with_path(metrics):
        # metric names as SweepResult writes them: key paths joined by "/"
        flat["/".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)] = leaf
    if metric not in flat:
        raise ValueError(f"{name}: metric {metric!r} is not among advance's metrics {sorted(flat)}")
    values = flat[metric]
    return values.reshape(values.shape[0], -1)[:, -1].astype(jnp.float32)


def ranking(scores: Any, mode: str, xp: Any = np) -> Any:
    """Members from best to worst; a NaN score ranks last, ties keep member order.

    Args:
        scores: one score per member.
        mode: ``"min"`` or ``"max"``.
        xp: ``np`` on the host, ``jnp`` inside a compiled program.

    Returns:
        Member indices, best first.
    """
    signed = scores if mode == "min" else -scores
    return xp.argsort(xp.where(xp.isnan(signed), xp.inf, signed), stable=True)


# -- checkpoints: one atomic file per decision, in the sweep's checkpoint store ----------------


def checkpoint_path(directory: str | os.PathLike, prefix: str, index: int) -> Path:
    """The file of decision ``index`` (a rung, a generation) of a search.

    Args:
        directory: the search's ``checkpoint_dir``.
        prefix: the search's file prefix (``"halving_rung"``, ``"pbt_generation"``).
        index: the decision's index.

    Returns:
        The path.
    """
    return Path(directory) / f"{prefix}_{index:05d}.ckpt"


def save_decision(path: Path, trees: dict[str, Any], meta: dict[str, Any]) -> None:
    """Save a search's state after a decision as ONE atomic checkpoint file.

    Trees holding schedules (custom pytree nodes) are stored as their lists of
    leaves, so the file is read back without a template and its fingerprint
    checked before anything is rebuilt.

    Args:
        path: the file (:func:`checkpoint_path`).
        trees: name -> pytree (configs, states, scores, ...).
        meta: JSON facts (the fingerprint, the decision's index, ...).
    """
    save_atomic(path, {name: jax.tree.leaves(tree) for name, tree in trees.items()}, meta)


def latest_decision(
    name: str,
    directory: str | os.PathLike,
    prefix: str,
    fingerprint: dict[str, Any],
    templates: Callable[[int], dict[str, Any]],
    overwrite: bool,
) -> tuple[int, dict[str, Any], dict[str, Any]] | None:
    """The newest complete checkpoint of this search in ``directory``, or None.

    A partial or corrupt file (a kill during a save) is skipped for the one
    before it. A checkpoint of another search (its fingerprint differs) raises
    unless ``overwrite``, which deletes this prefix's files and starts afresh.

    Args:
        name: the search's name, for messages.
        directory: the ``checkpoint_dir``.
        prefix: the search's file prefix.
        fingerprint: this search's fingerprint.
        templates: decision index -> name -> a tree of the saved tree's
            structure (its leaves may be ``jax.ShapeDtypeStruct``).
        overwrite: start afresh over another search's checkpoints.

    Returns:
        ``(index, trees, meta)`` of the newest usable checkpoint, or None.

    Raises:
        ValueError: naming the fingerprint parts that differ.
    """
    paths = sorted(Path(directory).glob(f"{prefix}_*.ckpt"), reverse=True)
    for path in paths:
        loaded = load_checked(path)
        if loaded is None:
            continue  # partial or corrupt: never read
        leaves, meta = loaded
        differences = fingerprint_differences(meta.get("fingerprint", {}), fingerprint)
        if differences and overwrite:
            for stale in paths:
                stale.unlink(missing_ok=True)
            return None
        if differences:
            raise ValueError(
                f"{name}: checkpoint_dir {os.fspath(directory)!r} holds a checkpoint of another search "
                f"({path.name}: it differs in {', '.join(differences)}); point checkpoint_dir elsewhere or "
                "pass overwrite=True"
            )
        index = int(meta["index"])
        trees = {}
        for part, template in templates(index).items():
            template_leaves, treedef = jax.tree.flatten(template)
            if len(leaves[part]) != len(template_leaves):
                raise ValueError(f"{name}: {path.name} does not hold this search's {part}")
            trees[part] = jax.tree.unflatten(treedef, leaves[part])
        return index, trees, meta
    return None


def search_fingerprint(
    name: str,
    init: Callable,
    advance: Callable,
    configs: Any,
    key: jax.Array,
    num_steps: int,
    **settings: Any,
) -> dict[str, Any]:
    """What identifies a search's checkpoints: its configurations and key, the
    programs of ``init`` and ``advance`` (for one member), and its settings.

    Args:
        name: the search's name (part of the fingerprint).
        init: the protocol's ``init``.
        advance: the protocol's ``advance``.
        configs: the stacked configurations (NumPy leaves).
        key: the search's key.
        num_steps: the ``num_steps`` of the first advance (fixes the program lowered).
        **settings: the search's other arguments (JSON-serialisable).

    Returns:
        The fingerprint (:func:`sweep_fingerprint`'s parts).
    """
    config = jax.tree.map(lambda x: x[0], configs)
    state = jax.eval_shape(init, config, key)
    programs = (
        program_fingerprint(init, config, key),
        program_fingerprint(lambda c, s: advance(c, s, num_steps), config, state),
    )
    return sweep_fingerprint(
        batch=configs, key=key, program=":".join(programs), chunk_size=_member_count(configs),
        search=name, **settings,
    )  # fmt: skip
