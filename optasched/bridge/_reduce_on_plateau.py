"""Reduce on plateau as a transformation that scales the updates (a drop-in for
``optax.contrib.reduce_on_plateau``): the :class:`~optasched.schedules.Plateau`
schedule on a constant 1, injected."""

from __future__ import annotations

import optax

from ..schedules import Plateau as plateau
from ._inject import inject


def _scale(plateau_scale) -> optax.GradientTransformation:
    return optax.scale(plateau_scale)


def reduce_on_plateau(
    factor=0.1,
    patience=10,
    threshold=1e-4,
    threshold_mode="rel",
    cooldown=0,
    min_scale=0.0,
    eps=1e-8,
    mode="min",
    accumulation_size=1,
    begin_step=0,
) -> optax.GradientTransformationExtraArgs:
    r"""Scale the updates by a factor reduced on plateau (``update(..., value=loss)``).

    .. math:: u_t = c_t\, g_t

    with :math:`c_t` the scale of :func:`plateau` on a constant 1 (so
    ``min_scale`` is the floor and ``eps`` is in scale units). Chain it after
    an optimizer: ``optax.chain(osd.inject(optax.adam)(learning_rate=warmup),
    osd.reduce_on_plateau(patience=5))``. Unlike
    ``optax.contrib.reduce_on_plateau``, every hyperparameter is traced, the
    threshold is PyTorch's (``threshold_mode`` rel/abs, ``mode`` min/max,
    ``eps``) and a negative loss plateaus too. The scale is logged by
    :func:`hyperparams` as ``"plateau_scale"``.

    Args:
        factor: the scale is multiplied by it on each plateau, in [0, 1).
        patience: bad steps tolerated before a reduction.
        threshold: the significant change, >= 0.
        threshold_mode: ``"rel"`` or ``"abs"``.
        cooldown: steps after a reduction during which bad steps do not count.
        min_scale: the floor of the scale.
        eps: minimal change of the scale for a reduction to be applied.
        mode: ``"min"`` (a loss) or ``"max"`` (an accuracy).
        accumulation_size: average this many values before each plateau step.
        begin_step: updates before this step are ignored.

    Returns:
        A transformation whose ``update`` takes the monitored ``value=``.

    Example:
        >>> import jax.numpy as jnp, optax, optasched as osd
        >>> opt = optax.chain(optax.sgd(0.1), osd.reduce_on_plateau(factor=0.5, patience=0))
        >>> params = jnp.zeros(1)
        >>> state = opt.init(params)
        >>> for loss in [-1.0, -1.0, -1.0]:
        ...     _, state = opt.update(jnp.ones(1), state, params, value=loss)
        >>> float(osd.hyperparams(state)["plateau_scale"])
        0.25

    Reference: PyTorch ``ReduceLROnPlateau``; ``optax.contrib.reduce_on_plateau``.
    """
    return inject(_scale)(
        plateau_scale=plateau(
            1.0,
            factor=factor,
            patience=patience,
            threshold=threshold,
            threshold_mode=threshold_mode,
            cooldown=cooldown,
            min_value=min_scale,
            eps=eps,
            mode=mode,
            accumulation_size=accumulation_size,
            begin_step=begin_step,
        )
    )


__all__ = ["reduce_on_plateau"]
