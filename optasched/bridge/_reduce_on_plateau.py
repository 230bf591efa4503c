"""Reduce on plateau on the optax side: a transformation that scales the updates
(a drop-in for ``optax.contrib.reduce_on_plateau``: the
:class:`~optasched.schedules.Plateau` schedule on a constant 1, injected), and
:func:`plateau_step`, PyTorch's once-per-epoch ``scheduler.step(val_loss)`` on
an optimizer state."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from ..schedules import Plateau as plateau
from ..schedules import StatefulSchedule
from ._flax import loaded_nnx, unwrap
from ._hyperparams import inject_states, no_inject_state
from ._inject import inject
from ._state import InjectState, Slots

_WHERE = "plateau_step"


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
    r"""Scale the updates by a factor reduced on plateau (``value=loss`` or :func:`plateau_step`).

    .. math:: u_t = c_t\, g_t

    with :math:`c_t` the scale of :func:`plateau` on a constant 1 (so
    ``min_scale`` is the floor and ``eps`` is in scale units). Chain it after
    an optimizer: ``optax.chain(osd.inject(optax.adam)(learning_rate=warmup),
    osd.reduce_on_plateau(patience=5))``. Unlike
    ``optax.contrib.reduce_on_plateau``, every hyperparameter is traced, the
    threshold is PyTorch's (``threshold_mode`` rel/abs, ``mode`` min/max,
    ``eps``) and a negative loss plateaus too. The scale is logged by
    :func:`hyperparams` as ``"plateau_scale"``. As with :func:`plateau`, a
    reduction takes effect from the first update after the one that received
    the value; once per epoch, ``osd.plateau_step(state, val_loss)`` after the
    epoch's last update feeds it.

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
        >>> for loss in [-1.0, -1.0, -1.0]:   # the 2nd and 3rd values each halve the scale
        ...     _, state = opt.update(jnp.ones(1), state, params, value=loss)
        >>> float(osd.hyperparams(state)["plateau_scale"])   # the 3rd update used one halving
        0.5

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


def _member_steps(node: InjectState, value) -> dict:
    """The schedule states of one (unbatched) inject state after the value."""
    return {
        name: schedule.update_state(node.schedule_states[name], node.count, value=value, between_updates=True)
        for name, schedule in node.schedules.items()
        if isinstance(schedule, StatefulSchedule)
    }


def _stepped(node: InjectState, value) -> InjectState:
    batch = jnp.shape(node.count)
    if len(batch) > 1:
        raise ValueError(f"{_WHERE}: a sweep must have one member axis, got sweep shape {batch}")
    if batch and jnp.shape(value) not in ((), batch):
        raise ValueError(
            f"{_WHERE}: value must be a scalar or one value per sweep member, shape {batch}; "
            f"got shape {jnp.shape(value)}"
        )
    if not batch and jnp.shape(value) != ():
        raise ValueError(f"{_WHERE}: value must be a scalar, got shape {jnp.shape(value)}")
    step = _member_steps
    if batch:
        step = jax.vmap(step, in_axes=(0, 0 if jnp.shape(value) else None))
    return node._replace(schedule_states=Slots({**node.schedule_states, **step(node, value)}))


def plateau_step(opt_state, value):
    r"""Feed a monitored value to every plateau of an optimizer state, with no update.

    PyTorch's ``scheduler.step(val_loss)`` at the end of an epoch: every
    stateful hyperparameter (:func:`plateau`, :func:`reduce_on_plateau`, a
    switch or sweep with a plateau member) held by an :func:`~optasched.inject`
    state counts ``value``, the metric of the model after :math:`n` updates
    (:math:`n` the state's count), and a reduction it triggers takes effect
    from the next update, update :math:`n` (the next epoch's first): each
    stateful hyperparameter's state :math:`\sigma` becomes

    .. math:: \sigma' = \text{update\_state}(\sigma, n, \text{value}, \text{between\_updates} = \text{True})

    Updates in between need no ``value`` (they leave the plateau untouched),
    so an epoch of updates can be one jitted scan. With a constant base
    schedule and ``begin_step`` 0, this equals giving ``value=`` to the
    epoch's last update. Nothing else changes: the step count, the moments,
    and the logged values (those the last update used).

    Args:
        opt_state: a state holding inject states (an optax state, a chain,
            ``optax.MultiSteps``, a Flax ``TrainState``), or an
            ``nnx.Optimizer``, updated in place (and returned).
        value: the monitored value, a scalar (for a sweep state, a scalar for
            every member or one value per member). Works under ``jax.jit`` and
            ``jax.vmap``.

    Returns:
        The state with every plateau stepped.

    Raises:
        ValueError: for a state without inject states or without a stateful
            hyperparameter, or a value of the wrong shape.

    Example:
        >>> import jax.numpy as jnp, optax, optasched as osd
        >>> opt = osd.inject(optax.sgd)(learning_rate=osd.plateau(0.1, factor=0.5, patience=0))
        >>> params = jnp.zeros(2)
        >>> state = opt.init(params)
        >>> for val_loss in [1.0, 2.0]:                  # two epochs of one update
        ...     _, state = opt.update(jnp.ones(2), state, params)
        ...     state = osd.plateau_step(state, val_loss)
        >>> _, state = opt.update(jnp.ones(2), state, params)   # the third epoch uses the halved rate
        >>> round(float(osd.hyperparams(state)["learning_rate"]), 6)
        0.05

    Reference: PyTorch ``ReduceLROnPlateau.step(metrics)``.
    """
    nnx = loaded_nnx()
    if nnx is not None and isinstance(opt_state, nnx.Optimizer):
        return _step_nnx_optimizer(nnx, opt_state, value)
    is_train_state = hasattr(opt_state, "opt_state") and hasattr(opt_state, "replace")
    if is_train_state and not isinstance(opt_state, InjectState):
        return opt_state.replace(opt_state=plateau_step(opt_state.opt_state, value))
    found = [node for _, node in inject_states(opt_state) if isinstance(node, InjectState)]
    if not found:
        raise no_inject_state(_WHERE, opt_state)
    if not any(isinstance(s, StatefulSchedule) for node in found for s in node.schedules.values()):
        held = sorted(name for node in found for name in node.schedules)
        raise ValueError(
            f"{_WHERE}: the state holds no plateau (no stateful hyperparameter) to step; its schedules are "
            f"{held}; build it with osd.plateau(...) as a hyperparameter or chain osd.reduce_on_plateau()"
        )
    value = jnp.asarray(value)
    return jax.tree.map(
        lambda node: _stepped(node, value) if isinstance(node, InjectState) else node,
        opt_state,
        is_leaf=lambda x: isinstance(x, InjectState),
    )


def _step_nnx_optimizer(nnx, optimizer, value):
    """:func:`plateau_step` on an ``nnx.Optimizer``: new values in its variables, in place."""
    is_variable = lambda x: isinstance(x, nnx.Variable)  # noqa: E731
    variables = jax.tree.leaves(optimizer.opt_state, is_leaf=is_variable)
    plain = jax.tree.map(unwrap, optimizer.opt_state, is_leaf=is_variable)
    stepped = jax.tree.leaves(plateau_step(plain, value))
    for variable, new in zip(variables, stepped, strict=True):
        if is_variable(variable):
            variable.set_value(new)
    return optimizer


__all__ = ["plateau_step", "reduce_on_plateau"]
