"""Per-layer schedules: a schedule with a depth axis, one curve per depth.

:func:`per_layer` scales each parameter's update by the schedule of its depth,
``s_d(t)``: the per-depth generalisation of :func:`~optasched.layerwise_decay`
(whose multipliers ``decay ** (D - d)`` are constant in time), with the same
depth functions. The depth schedules are held in an :func:`~optasched.inject`
state, so they are logged, checkpointed and swept like any other
hyperparameter, with one optimizer state for every layer.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..schedules import Schedule
from ._inject import inject
from ._layerwise import along_layers, check_num_layers, depth_of_each

__all__ = ["per_layer"]


def _name(depth: int) -> str:
    return f"depth_{depth}"


def _depth_schedules(where: str, schedules, num_layers: int | None) -> list[Any]:
    """One schedule per depth 0 .. num_layers, from a function of the depth or a sequence."""
    check_num_layers(where, num_layers)
    if isinstance(schedules, Schedule):  # callable too, but of the step: depth would be read as a step
        raise ValueError(
            f"{where}: schedules is one schedule ({schedules.family}); give a function depth -> schedule "
            "(lambda depth: ...) or a list of one schedule per depth"
        )
    if callable(schedules) and not isinstance(schedules, Sequence):
        if num_layers is None:
            raise ValueError(
                f"{where}: schedules is a function of the depth, so num_layers (the top depth) is needed "
                "to know how many schedules to build"
            )
        schedules = [schedules(depth) for depth in range(num_layers + 1)]
    elif isinstance(schedules, (str, bytes)) or not isinstance(schedules, Sequence) or not schedules:
        raise ValueError(
            f"{where}: schedules must be a function depth -> schedule or a non-empty list of one schedule "
            f"per depth, got {schedules!r}"
        )
    schedules = list(schedules)
    if num_layers is not None and len(schedules) != num_layers + 1:
        raise ValueError(
            f"{where}: schedules holds {len(schedules)} schedules; num_layers={num_layers} needs one per "
            f"depth 0 .. {num_layers}, {num_layers + 1} in all"
        )
    for depth, schedule in enumerate(schedules):
        is_number = isinstance(schedule, (numbers.Real, jax.Array, np.ndarray, np.generic))
        if isinstance(schedule, bool) or not (callable(schedule) or is_number):
            raise ValueError(
                f"{where}: schedules[{depth}] must be a schedule, a function of the step or a number, "
                f"got {schedule!r}"
            )
    return schedules


def per_layer(
    optimizer: optax.GradientTransformation,
    schedules: Callable[[int], Any] | Sequence[Any],
    depths: Any,
    num_layers: int | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Per-layer schedules: scale each parameter's update by the schedule of its depth.

    .. math:: u_p(t) = s_{d(p)}(t)\; u^{\text{optimizer}}_p(t)

    with :math:`d(p)` the depth of parameter :math:`p`, as for
    :func:`~optasched.layerwise_decay` (0 for the embeddings, :math:`i + 1`
    for block :math:`i`, :math:`D` = ``num_layers`` for the head). Give the
    optimizer ``learning_rate=1.0`` and :math:`s_d` *is* the learning rate of
    depth :math:`d`: for every optax alias (``sgd``, ``adam``, ``adamw`` with
    its decoupled decay, ``lion``, ...) the learning rate is the last scaling
    of the update, so this equals :func:`~optasched.param_groups` with one
    group per depth and ``learning_rate=s_d``, with one optimizer state
    instead of one per depth. Deeper layers decaying more slowly:
    ``lambda depth: osd.cosine(peak, decay_steps=base * (1 + depth))``;
    layer-wise decay with a shape per depth: ``lambda depth: decay ** (D -
    depth) * osd.warmup(...)``.

    Each depth's schedule is held in the state as the hyperparameter
    ``"depth_<d>"`` (logged by :func:`~optasched.hyperparams`, swapped by
    :func:`~optasched.replace_schedules`). Built from traced values (inside
    ``jax.vmap`` or :func:`~optasched.sweep`), a sweep over their
    hyperparameters is one program; stacked (``osd.stack`` per depth),
    ``init`` returns one state per member, as for :func:`~optasched.inject`.

    Args:
        optimizer: the optimizer whose updates are scaled (usually with
            ``learning_rate=1.0``; any other learning rate multiplies).
        schedules: ``schedule(depth)`` called for each depth ``0 ..
            num_layers``, or a list of one schedule (or number) per depth.
        depths: integer depth per parameter: a pytree like the parameters, a
            function of the parameter tree returning one, or a function
            ``depth(path, leaf)`` of each leaf's ``"a/b/c"`` path (the same
            as :func:`~optasched.layerwise_decay`'s). A stack of layers in
            one array (``nn.scan`` / ``nnx.scan`` over blocks, the leading
            axis the layer) takes a 1-D integer sequence, one depth per
            layer: ``range(1, L + 1)``.
        num_layers: the top depth :math:`D`; needed when ``schedules`` is a
            function, else ``len(schedules) - 1``.

    Returns:
        ``optax.chain(optimizer, scaling)``; the scaling's state holds the
        depth schedules.

    Raises:
        ValueError: naming ``per_layer`` and the argument: a function of the
            depth without ``num_layers``, a list of the wrong length, a
            bad ``num_layers``, depths that do not match the parameters'
            structure or are not integers in ``[0, num_layers]`` (named by
            path), or a schedule that :func:`~optasched.inject` refuses.

    Example:
        >>> import jax, jax.numpy as jnp, optax, optasched as osd
        >>> params = {"embed": jnp.ones(2), "block_0": jnp.ones(2), "head": jnp.ones(2)}
        >>> depth = lambda path, leaf: {"embed": 0, "block_0": 1, "head": 2}[path]
        >>> opt = osd.per_layer(optax.sgd(1.0), lambda d: osd.cosine(0.1, decay_steps=10 * (1 + d)),
        ...                     depths=depth, num_layers=2)
        >>> state = opt.init(params)
        >>> for _ in range(10):
        ...     updates, state = opt.update(jax.tree.map(jnp.ones_like, params), state)
        >>> {k: round(float(v[0]), 4) for k, v in updates.items()}  # step 9 of 10, 20, 30
        {'block_0': -0.0578, 'embed': -0.0024, 'head': -0.0794}

    Reference: Clark et al., "ELECTRA", ICLR 2020 and Bao et al., "BEiT",
    ICLR 2022 (layer-wise learning-rate decay); Howard & Ruder, "ULMFiT",
    ACL 2018 (discriminative fine-tuning).
    """
    where = "per_layer"
    per_depth = _depth_schedules(where, schedules, num_layers)
    top = len(per_depth) - 1
    depth_tree = functools.partial(depth_of_each, where, depths, num_layers=top)

    def scale_by_depth_schedule(**values) -> optax.GradientTransformation:
        def init_fn(params):
            depth_tree(params)  # validates at init, with the parameters' paths
            return optax.EmptyState()

        def update_fn(updates, state, params=None):
            def scale(u, d):
                if isinstance(d, int):
                    return u * jnp.asarray(values[_name(d)], u.dtype)
                # a stack of layers in one array: one schedule's value per entry of its layer axis
                per_depth = jnp.stack([jnp.asarray(values[_name(k)], u.dtype) for k in range(top + 1)])
                return u * along_layers(per_depth[d], u)

            scaled = jax.tree.map(scale, updates, depth_tree(updates))
            return scaled, state

        return optax.GradientTransformation(init_fn, update_fn)

    try:
        scaling = inject(scale_by_depth_schedule)(**{_name(d): s for d, s in enumerate(per_depth)})
    except ValueError as err:
        raise ValueError(f"{where}: schedules: {err}") from None
    return optax.chain(optimizer, scaling)
