"""Hypergradient descent (Baydin et al. 2018): a learning rate adapted online from the dot
product of the current gradient and the previous update direction, as an optax
transformation whose adapted learning rate lives in its state (logged by
:func:`~optasched.hyperparams`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._evaluation import float_dtype

__all__ = ["HypergradientState", "adam_hd", "hypergradient", "sgd_hd"]


class HypergradientState(NamedTuple):
    """State of a :func:`hypergradient` optimizer.

    Attributes:
        count: updates done so far. ``shape=(), dtype=int32``.
        learning_rate: the learning rate the last update used (after ``init``,
            the one the first update will use). ``shape=()``.
        hyper_lr: the hypergradient learning rate the last update used.
            ``shape=()``.
        direction: the previous update direction :math:`d_{t-1}` (the update
            is :math:`-\\alpha_t d_t`), zeros after ``init``; like the params.
        inner_state: the state of the direction's transformation (Adam's moments).
    """

    count: jax.Array  # shape=(), dtype=jnp.int32
    learning_rate: jax.Array  # shape=()
    hyper_lr: jax.Array  # shape=()
    direction: Any
    inner_state: Any

    @property
    def applied(self) -> dict[str, jax.Array]:
        """The hyperparameters the last update used, as :func:`~optasched.hyperparams` logs them."""
        return {"learning_rate": self.learning_rate, "hyper_lr": self.hyper_lr}


def _concrete(x) -> float | None:
    """``x`` as a Python float when it is a concrete scalar, else None (traced, a schedule)."""
    if isinstance(x, (int, float, np.number)) or (isinstance(x, (np.ndarray, jax.Array)) and np.ndim(x) == 0):
        try:
            return float(x)
        except (TypeError, jax.errors.ConcretizationTypeError):
            return None
    return None


def _checked_range(where: str, learning_rate, hyper_lr, lr_range) -> tuple[Any, Any] | None:
    if lr_range is None:
        lo = hi = None
    elif not isinstance(lr_range, (tuple, list)) or len(lr_range) != 2:
        raise ValueError(f"{where}: lr_range must be a pair (lo, hi) or None, got {lr_range!r}")
    else:
        lo, hi = lr_range
        low, high = _concrete(lo), _concrete(hi)
        if low is not None and not low >= 0.0:
            raise ValueError(f"{where}: lr_range's lower end must be >= 0 (a learning rate), got {lo!r}")
        if low is not None and high is not None and not high >= low:
            raise ValueError(f"{where}: lr_range must have lo <= hi, got {lr_range!r}")
    if np.ndim(learning_rate) != 0:
        raise ValueError(f"{where}: learning_rate must be a scalar, got shape {np.shape(learning_rate)}")
    value = _concrete(learning_rate)
    if value is not None and not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{where}: learning_rate must be finite and >= 0, got {learning_rate!r}")
    if not callable(hyper_lr):
        beta = _concrete(hyper_lr)
        if beta is not None and not (math.isfinite(beta) and beta >= 0.0):
            raise ValueError(f"{where}: hyper_lr must be finite and >= 0, got {hyper_lr!r}")
        if beta is None and np.ndim(hyper_lr) != 0:
            raise ValueError(
                f"{where}: hyper_lr must be a scalar or a schedule, got shape {np.shape(hyper_lr)} "
                "(for a sweep, jax.vmap over a function that builds the optimizer)"
            )
    return None if lr_range is None else (lo, hi)


def _wide(dtype) -> jnp.dtype:
    """``dtype``, or float32 if narrower: a bfloat16 learning rate could not move by small steps."""
    return jnp.promote_types(dtype, jnp.float32)


def _dot(a, b) -> jax.Array:
    """The dot product of two pytrees, accumulated in float32 or wider."""
    total = jnp.zeros((), jnp.float32)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        wide = _wide(jnp.result_type(x, y))
        part = jnp.vdot(x.astype(wide), y.astype(wide), precision=jax.lax.Precision.HIGHEST)
        total = total.astype(_wide(jnp.result_type(total, part))) + part
    return total


def hypergradient(
    direction: optax.GradientTransformation,
    learning_rate,
    hyper_lr,
    *,
    lr_range=(0.0, math.inf),
    multiplicative: bool = False,
) -> optax.GradientTransformationExtraArgs:
    r"""Hypergradient descent on the learning rate of any update direction (Baydin et al. 2018).

    With :math:`d_t` the direction ``direction`` computes from the gradient
    :math:`g_t` (the gradient itself for SGD, Adam's
    :math:`\hat m_t / (\sqrt{\hat v_t} + \epsilon)`), the update is
    :math:`u_t = -\alpha_t d_t`, so the derivative of the loss at step
    :math:`t` with respect to the learning rate of step :math:`t-1` is
    :math:`h_t = \partial f(\theta_{t-1}) / \partial \alpha = -g_t \cdot d_{t-1}`
    (their Eq. 3 for SGD, Algorithm 3 for Adam). Each update first adapts the
    learning rate, then applies it:

    .. math::

        \alpha_t = \mathrm{clip}(\alpha_{t-1} + \beta_t\, g_t \cdot d_{t-1},\ lo,\ hi)
        \qquad\text{(additive rule)}

        \alpha_t = \mathrm{clip}\Big(\alpha_{t-1}\big(1 + \beta_t
            \frac{g_t \cdot d_{t-1}}{\lVert g_t\rVert\, \lVert d_{t-1}\rVert}\big),\ lo,\ hi\Big)
        \qquad\text{(multiplicative rule)}

    with :math:`d_0 = 0` (so :math:`\alpha_1 = \alpha_0`) and the normalised
    term taken as 0 when either norm is 0. The multiplicative rule is their
    normalised update of :math:`\log \alpha`: :math:`\beta` is then
    dimensionless (the largest relative change per step) and
    :math:`\alpha` keeps its sign. ``lr_range`` is the safeguard their users
    asked for: the additive rule can turn the learning rate negative, and both
    can run it away; clipping to a declared range prevents both (``None``
    switches it off, for a study of what happens without it). Under the
    multiplicative rule a rate that reaches 0 stays there: give ``lo > 0``.

    Every value may be traced: ``jax.vmap`` over a function that builds the
    optimizer sweeps ``learning_rate``, ``hyper_lr`` and ``lr_range``;
    ``hyper_lr`` may also be a schedule (any function of the step count,
    an optasched schedule included), evaluated at the count of previous
    updates. :func:`~optasched.hyperparams` logs ``"learning_rate"`` (the
    adapted :math:`\alpha_t` the last update used) and ``"hyper_lr"``.

    Args:
        direction: the transformation giving :math:`d_t` (its output is
            scaled by :math:`-\alpha_t`), such as ``optax.scale_by_adam()``
            or ``optax.identity()``.
        learning_rate: the initial learning rate :math:`\alpha_0` (clipped to
            ``lr_range``), >= 0.
        hyper_lr: the hypergradient learning rate :math:`\beta`, >= 0; a
            scalar or a schedule. 0 gives the plain optimizer.
        lr_range: ``(lo, hi)``, the range the learning rate is clipped to
            after every adaptation, ``lo >= 0``; or ``None``: no clipping.
        multiplicative: use the multiplicative rule.

    Returns:
        A transformation with a :class:`HypergradientState`.

    Raises:
        ValueError: naming the argument, for a negative or non-finite
            ``learning_rate`` or ``hyper_lr``, a ``hyper_lr`` array that is
            not a scalar, or an ``lr_range`` that is not a pair with
            ``0 <= lo <= hi``.

    Example:
        >>> import jax.numpy as jnp, optax, optasched as osd
        >>> opt = osd.hypergradient(optax.identity(), 0.1, hyper_lr=0.01)
        >>> state = opt.init(jnp.zeros(2))
        >>> for g in [jnp.ones(2), jnp.ones(2)]:   # aligned gradients: the LR grows by 0.01 * 2
        ...     _, state = opt.update(g, state)
        >>> round(float(osd.hyperparams(state)["learning_rate"]), 4)
        0.12

    Reference: Baydin, Cornish, Martinez Rubio, Schmidt and Wood, "Online
    learning rate adaptation with hypergradient descent", ICLR 2018.
    """
    where = "hypergradient"
    bounds = _checked_range(where, learning_rate, hyper_lr, lr_range)
    beta_at: Callable = hyper_lr if callable(hyper_lr) else (lambda count: hyper_lr)

    def clipped(alpha):
        return alpha if bounds is None else jnp.clip(alpha, bounds[0], bounds[1])

    def init(params) -> HypergradientState:
        dtype = _wide(float_dtype(params) or jnp.float32)
        count = jnp.zeros((), jnp.int32)
        return HypergradientState(
            count=count,
            learning_rate=clipped(jnp.asarray(learning_rate, dtype)).astype(dtype),
            hyper_lr=jnp.asarray(beta_at(count), dtype),
            direction=jax.tree.map(jnp.zeros_like, params),
            inner_state=direction.init(params),
        )

    def update(updates, state: HypergradientState, params=None, **extra_args):
        inner = optax.with_extra_args_support(direction)
        new_direction, inner_state = inner.update(updates, state.inner_state, params, **extra_args)
        dtype = state.learning_rate.dtype
        beta = jnp.asarray(beta_at(state.count), dtype)
        aligned = _dot(updates, state.direction).astype(dtype)  # g_t . d_{t-1} = -h_t
        if multiplicative:
            norms = jnp.sqrt(_dot(updates, updates) * _dot(state.direction, state.direction)).astype(dtype)
            cosine = jnp.where(norms > 0, aligned / jnp.where(norms > 0, norms, 1), 0)
            alpha = state.learning_rate * (1 + beta * cosine)
        else:
            alpha = state.learning_rate + beta * aligned
        alpha = clipped(alpha).astype(dtype)
        scaled = jax.tree.map(lambda d: d * (-alpha).astype(d.dtype), new_direction)
        return scaled, HypergradientState(
            optax.safe_increment(state.count), alpha, beta, new_direction, inner_state
        )

    return optax.GradientTransformationExtraArgs(init, update)


def sgd_hd(learning_rate, hyper_lr, *, lr_range=(0.0, math.inf), multiplicative: bool = False):
    r"""SGD with hypergradient descent on its learning rate (SGD-HD, Baydin et al. 2018).

    :func:`hypergradient` with the gradient as the direction:

    .. math:: \alpha_t = \mathrm{clip}(\alpha_{t-1} + \beta\, g_t \cdot g_{t-1},\ lo,\ hi),
        \qquad u_t = -\alpha_t\, g_t

    With ``hyper_lr=0`` it is ``optax.sgd(learning_rate)``, bit for bit.

    Args:
        learning_rate: the initial learning rate, >= 0.
        hyper_lr: the hypergradient learning rate, >= 0 (a scalar or a schedule).
        lr_range: ``(lo, hi)`` the learning rate is clipped to, or ``None``.
        multiplicative: use the multiplicative (normalised) rule.

    Returns:
        A transformation with a :class:`HypergradientState`.

    Example:
        >>> import jax.numpy as jnp, optasched as osd
        >>> opt = osd.sgd_hd(0.1, hyper_lr=0.01, lr_range=(0.0, 0.11))
        >>> state = opt.init(jnp.zeros(2))
        >>> for g in [jnp.ones(2), jnp.ones(2), jnp.ones(2)]:
        ...     _, state = opt.update(g, state)
        >>> round(float(osd.hyperparams(state)["learning_rate"]), 4)   # 0.12, 0.14 clipped
        0.11

    Reference: Baydin et al., "Online learning rate adaptation with
    hypergradient descent", ICLR 2018, Algorithm 1 (SGD-HD).
    """
    return hypergradient(
        optax.identity(), learning_rate, hyper_lr, lr_range=lr_range, multiplicative=multiplicative
    )


def adam_hd(
    learning_rate,
    hyper_lr,
    b1=0.9,
    b2=0.999,
    eps=1e-8,
    eps_root=0.0,
    *,
    lr_range=(0.0, math.inf),
    multiplicative: bool = False,
):
    r"""Adam with hypergradient descent on its learning rate (Adam-HD, Baydin et al. 2018).

    :func:`hypergradient` with Adam's direction
    :math:`d_t = \hat m_t / (\sqrt{\hat v_t} + \epsilon)`:

    .. math:: \alpha_t = \mathrm{clip}(\alpha_{t-1} + \beta\, g_t \cdot d_{t-1},\ lo,\ hi),
        \qquad u_t = -\alpha_t\, d_t

    With ``hyper_lr=0`` it is ``optax.adam(learning_rate, b1, b2, eps, eps_root)``.
    Their experiments use :math:`\beta = 10^{-7}` for Adam-HD (the direction
    is not scaled by the gradient's size, so :math:`\beta` is much smaller than
    SGD-HD's).

    Args:
        learning_rate: the initial learning rate, >= 0.
        hyper_lr: the hypergradient learning rate, >= 0 (a scalar or a schedule).
        b1: Adam's first-moment decay.
        b2: Adam's second-moment decay.
        eps: added to the root of the second moment.
        eps_root: added inside the root (finite hypergradients through zero features).
        lr_range: ``(lo, hi)`` the learning rate is clipped to, or ``None``.
        multiplicative: use the multiplicative (normalised) rule.

    Returns:
        A transformation with a :class:`HypergradientState`.

    Example:
        >>> import jax.numpy as jnp, optasched as osd
        >>> opt = osd.adam_hd(1e-3, hyper_lr=1e-4, lr_range=(1e-5, 1e-2))
        >>> state = opt.init(jnp.zeros(2))
        >>> updates, state = opt.update(jnp.ones(2), state)
        >>> bool(jnp.allclose(updates, -1e-3))   # the first update is Adam's: about -alpha_0 * sign(g)
        True

    Reference: Baydin et al., "Online learning rate adaptation with
    hypergradient descent", ICLR 2018, Algorithm 3 (Adam-HD).
    """
    direction = optax.scale_by_adam(b1=b1, b2=b2, eps=eps, eps_root=eps_root)
    return hypergradient(direction, learning_rate, hyper_lr, lr_range=lr_range, multiplicative=multiplicative)
