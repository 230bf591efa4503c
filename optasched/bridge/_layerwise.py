"""Per-layer and per-parameter-group schedules.

:func:`layerwise_decay` scales each parameter's update by
``decay ** (depth from the top)`` (ELECTRA / BEiT layer-wise learning-rate
decay) with ``decay`` a traced, schedulable leaf of the state.
:func:`param_groups` gives each group of parameters, chosen by a label
function, its own :func:`inject` optimizer with its own schedules, on top of
``optax.partition``. Both take Flax parameter trees (linen dicts, NNX states).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..schedules import Kind, Schedule, convert_leaf, describe_difference, is_traced
from ..schedules import Constant as constant
from ._inject import inject

__all__ = [
    "along_layers",
    "check_num_layers",
    "depth_of_each",
    "layerwise_decay",
    "param_groups",
    "path_name",
    "top_depth",
]


def path_name(path) -> str:
    """``"encoder/layers_3/kernel"`` for a pytree key path.

    Args:
        path: a key path, as ``jax.tree_util.tree_flatten_with_path`` gives it.

    Returns:
        The keys' names (dict key, attribute name or index) joined by ``/``.
    """
    parts = []
    for key in path:
        for attribute in ("key", "name", "idx"):
            if hasattr(key, attribute):
                parts.append(str(getattr(key, attribute)))
                break
        else:
            parts.append(str(key))
    return "/".join(parts)


def _per_leaf(rule: Any, params: Any, what: str, where: str) -> Any:
    """Applies a labelling rule to a parameter tree.

    ``rule`` is a pytree with the parameters' structure, a function of the
    whole tree returning one (optax's convention), or a function
    ``rule(path, leaf)`` of each leaf's ``"a/b/c"`` path.
    """
    if callable(rule):
        try:
            arity = len(inspect.signature(rule).parameters)
        except (TypeError, ValueError):
            arity = 1
        if arity >= 2:
            return jax.tree_util.tree_map_with_path(lambda p, x: rule(path_name(p), x), params)
        rule = rule(params)
    params_structure = jax.tree.structure(params)
    try:
        labels = params_structure.flatten_up_to(rule)
    except (ValueError, TypeError):
        difference = describe_difference(params, rule) or "the top level"
        raise ValueError(
            f"{where}: {what} must have the structure of the parameters; they differ at {difference}"
        ) from None
    return jax.tree.unflatten(params_structure, labels)


def _leaf_paths(tree) -> list[str]:
    return [path_name(p) for p, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]


def check_num_layers(where: str, num_layers: int | None) -> None:
    """Raises the ValueError for a ``num_layers`` that is not None or a non-negative int.

    Args:
        where: the public function, for the message.
        num_layers: the top depth given.
    """
    if num_layers is not None and (
        isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 0
    ):
        raise ValueError(f"{where}: num_layers must be a non-negative integer, got {num_layers!r}")


def depth_of_each(where: str, depths: Any, params: Any, num_layers: int | None = None) -> Any:
    """The integer depth of every parameter, checked (shared by the per-layer transformations).

    A depth is an integer, or, for a stack of layers held in one array (the
    parameters of ``nn.scan`` / ``nnx.scan`` / ``jax.lax.scan`` over layers,
    whose leading axis is the layer), a 1-D sequence of integers, one per
    entry of the leaf's leading axis (``range(1, L + 1)`` for blocks ``0 ..
    L - 1``).

    Args:
        where: the public function, for the messages.
        depths: a pytree like the parameters, a function of the parameter
            tree, or a function ``depth(path, leaf)`` of each leaf's path.
        params: the parameters (or updates) to label.
        num_layers: the top depth, or None for no upper bound.

    Returns:
        A pytree like ``params`` whose leaves are Python ints or 1-D integer
        NumPy arrays (stacked layers).

    Raises:
        ValueError: naming the path of a depth that is not an integer (or a
            1-D integer sequence as long as the leaf's leading axis) in
            ``[0, num_layers]``, or depths of another structure.
    """
    tree = _per_leaf(depths, params, "depths", where)
    structure = jax.tree.structure(params)
    checked = []
    for path, leaf, depth in zip(_leaf_paths(params), jax.tree.leaves(params), structure.flatten_up_to(tree)):
        depth = _checked_depth(where, path, leaf, depth)
        low, high = (depth, depth) if isinstance(depth, int) else (int(depth.min()), int(depth.max()))
        if low < 0 or (num_layers is not None and high > num_layers):
            shown = depth if isinstance(depth, int) else depth.tolist()
            raise ValueError(
                f"{where}: the depth of {path} must be in [0, num_layers={num_layers}], got {shown!r}"
            )
        checked.append(depth)
    return jax.tree.unflatten(structure, checked)


def _checked_depth(where: str, path: str, leaf: Any, depth: Any) -> int | np.ndarray:
    """An int, or a 1-D int array matching ``leaf``'s leading (layer) axis."""
    if isinstance(depth, (int, np.integer)) and not isinstance(depth, (bool, np.bool_)):
        return int(depth)
    if isinstance(depth, (list, tuple, range, np.ndarray, jax.Array)) and not is_traced(depth):
        array = np.asarray(depth)
        rows = np.shape(leaf)[:1]
        if array.ndim == 1 and array.size and np.issubdtype(array.dtype, np.integer) and array.shape == rows:
            return array.astype(np.int64)
        raise ValueError(
            f"{where}: the depth of {path} (shape {tuple(np.shape(leaf))}) must be an integer or, for stacked "
            f"layers, a 1-D integer sequence as long as its leading axis; got {depth!r}"
        )
    raise ValueError(f"{where}: the depth of {path} must be an integer, got {depth!r}")


def top_depth(tree: Any) -> int:
    """The largest depth in a checked depth tree (0 for an empty one)."""
    return max((int(np.max(d)) for d in jax.tree.leaves(tree)), default=0)


def along_layers(value: jax.Array, update: jax.Array) -> jax.Array:
    """A per-parameter multiplier shaped to scale ``update``: a scalar, or ``[L]`` for stacked layers.

    Args:
        value: the multiplier: a scalar, or one value per entry of the update's leading (layer) axis.
        update: the parameter's update.
    """
    value = jnp.asarray(value, update.dtype)
    return value.reshape(value.shape + (1,) * (update.ndim - value.ndim))


# -- layer-wise decay -------------------------------------------------------------------------


def layerwise_decay(
    optimizer: optax.GradientTransformation,
    decay,
    depths: Any,
    num_layers: int | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Layer-wise learning-rate decay: scale each parameter's update by its depth.

    .. math:: u_p = \delta^{\,D - d(p)}\; u^{\text{optimizer}}_p

    with :math:`d(p)` the depth of parameter :math:`p` (0 for the embeddings,
    :math:`i + 1` for block :math:`i`, :math:`D` for the head) and :math:`D`
    = ``num_layers`` (default: the largest depth). For optimizers whose
    learning rate is the last scaling of the update (every optax alias:
    ``sgd``, ``adam``, ``adamw`` with its decoupled decay, ``lamb``,
    ``lion``, ...) this equals per-layer learning rates
    :math:`\eta\,\delta^{D - d}`, with one optimizer state instead of one per
    layer. ``decay`` is a number, array (a sweep) or schedule held in the
    state (logged as ``"layer_decay"``), so a sweep over it vmaps.

    Args:
        optimizer: the optimizer whose updates are scaled.
        decay: :math:`\delta`, typically 0.65 to 0.9.
        depths: integer depth per parameter: a pytree like the parameters, a
            function of the parameter tree returning one, or a function
            ``depth(path, leaf)`` of each leaf's ``"a/b/c"`` path. A stack
            of layers in one array (``nn.scan`` over blocks) takes a 1-D
            integer sequence, one depth per entry of its leading axis.
        num_layers: the top depth :math:`D`.

    Returns:
        ``optax.chain(optimizer, scaling)``; the scaling's state logs ``"layer_decay"``.

    Raises:
        ValueError: depths that do not match the parameters' structure, or
            that are not integers in ``[0, num_layers]`` (named by path).

    Example:
        >>> import jax, jax.numpy as jnp, optax, optasched as osd
        >>> params = {"embed": jnp.ones(2), "block_0": jnp.ones(2), "head": jnp.ones(2)}
        >>> depth = lambda path, leaf: {"embed": 0, "block_0": 1, "head": 2}[path]
        >>> opt = osd.layerwise_decay(optax.sgd(1.0), decay=0.5, depths=depth)
        >>> updates, _ = opt.update(jax.tree.map(jnp.ones_like, params), opt.init(params))
        >>> {k: float(v[0]) for k, v in updates.items()}
        {'block_0': -0.5, 'embed': -0.25, 'head': -1.0}

    Reference: Clark et al., "ELECTRA", ICLR 2020; Bao et al., "BEiT", ICLR 2022.
    """
    where = "layerwise_decay"
    check_num_layers(where, num_layers)
    depth_tree = functools.partial(depth_of_each, where, depths, num_layers=num_layers)

    def scale_by_depth(layer_decay) -> optax.GradientTransformation:
        def init_fn(params):
            depth_tree(params)  # validates at init, with the parameters' paths
            return optax.EmptyState()

        def update_fn(updates, state, params=None):
            tree = depth_tree(updates)
            top = num_layers if num_layers is not None else top_depth(tree)
            scale = lambda u, d: u * along_layers(jnp.asarray(layer_decay, u.dtype) ** (top - d), u)  # noqa: E731
            scaled = jax.tree.map(scale, updates, tree)
            return scaled, state

        return optax.GradientTransformation(init_fn, update_fn)

    return optax.chain(optimizer, inject(scale_by_depth)(layer_decay=_as_state_value(decay, where)))


def _as_state_value(x, where: str):
    """Numbers go into the state too (as constants), so decay is always logged and swept."""
    if isinstance(x, Schedule):
        return x
    value = convert_leaf(where, "decay", Kind.REAL, x)
    if not is_traced(value) and not bool(jnp.all(value > 0)):
        raise ValueError(f"{where}: decay must be > 0, got {x!r}")
    return constant(value)


# -- parameter groups ------------------------------------------------------------------------


def param_groups(
    factory: Callable[..., optax.GradientTransformation],
    labels: Any,
    groups: Mapping[str, Mapping[str, Any]],
    **shared,
) -> optax.GradientTransformationExtraArgs:
    r"""Per-parameter-group schedules: one :func:`inject` optimizer per group.

    .. math:: u_p = \text{factory}(h^{(g(p))}(t)).\text{update}(g_p)

    ``labels`` assigns each parameter a group name :math:`g(p)`;
    ``groups[g]`` holds that group's hyperparameters (schedules or numbers),
    on top of the ``shared`` ones. Built on ``optax.partition``, so the
    state is a ``PartitionState``; :func:`hyperparams` reports
    ``"group/name"``. PyTorch's ``param_groups``, with schedules that vmap.

    Args:
        factory: an optax optimizer factory, e.g. ``optax.adamw``.
        labels: group name per parameter: a pytree like the parameters, a
            function of the parameter tree (optax's ``param_labels``), or a
            function ``label(path, leaf)`` of each leaf's ``"a/b/c"`` path.
        groups: group name -> hyperparameters of that group.
        **shared: hyperparameters of every group.

    Returns:
        The ``optax.partition`` of one :func:`inject` optimizer per group.

    Raises:
        ValueError: a parameter labelled with a group that ``groups`` lacks, a
            group no parameter is labelled with (both named with the paths),
            or labels that do not match the parameters' structure.

    Example:
        >>> import jax.numpy as jnp, optax, optasched as osd
        >>> params = {"backbone": {"w": jnp.ones(2)}, "head": {"w": jnp.ones(2)}}
        >>> opt = osd.param_groups(
        ...     optax.adamw, lambda path, leaf: path.split("/")[0],
        ...     {"backbone": dict(learning_rate=osd.cosine(1e-4, 100)),
        ...      "head": dict(learning_rate=osd.cosine(1e-3, 100), weight_decay=0.0)})
        >>> state = opt.init(params)
        >>> {k: round(float(v), 6) for k, v in osd.hyperparams(state).items() if k.endswith(("_rate", "_decay"))}
        {'backbone/learning_rate': 0.0001, 'backbone/weight_decay': 0.0001, 'head/learning_rate': 0.001, 'head/weight_decay': 0.0}

    Reference: PyTorch ``torch.optim.Optimizer`` parameter groups;
    ``optax.partition``.
    """
    where = "param_groups"
    if not isinstance(groups, Mapping) or not groups:
        raise ValueError(
            f"{where}: groups must be a non-empty dict of group name -> hyperparameters, got {groups!r}"
        )
    build = inject(factory)
    transforms = {}
    for name, hyperparameters in groups.items():
        if not isinstance(hyperparameters, Mapping):
            raise ValueError(
                f"{where}: groups[{name!r}] must be a dict of hyperparameters, got {hyperparameters!r}"
            )
        try:
            transforms[name] = build(**{**shared, **hyperparameters})
        except ValueError as err:
            raise ValueError(f"{where}: group {name!r}: {err}") from None

    def label_tree(params):
        tree = _per_leaf(labels, params, "labels", where)
        paths, values = _leaf_paths(params), jax.tree.leaves(tree)
        unknown = {}
        for path, label in zip(paths, values):
            if label not in transforms:
                unknown.setdefault(label, []).append(path)
        if unknown:
            described = "; ".join(
                f"{label!r} (at {', '.join(p[:3])}{' ...' if len(p) > 3 else ''})"
                for label, p in unknown.items()
            )
            raise ValueError(f"{where}: labels {described} name no group; groups are {sorted(transforms)}")
        unused = sorted(set(transforms) - set(values))
        if unused:
            raise ValueError(
                f"{where}: groups {unused} label no parameter; labels used: {sorted(set(values))}"
            )
        return tree

    return optax.partition(transforms, label_tree)
