"""Meta-gradients of a schedule: the validation loss after a truncated unroll of training
as a function of the schedule, its gradient with respect to the schedule's float
hyperparameters, and a small gradient-descent tuner over chosen ones (in log space)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = ["MetaTuneResult", "meta_gradient", "meta_tune", "unrolled_loss"]


def _check_horizon(where: str, horizon) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"{where}: horizon must be a Python int >= 1 (the number of steps), got {horizon!r}")
    return int(horizon)


def _batch_at(where: str, batches, horizon: int) -> Callable[[jax.Array], Any]:
    """``step -> batch``: ``batches`` itself if callable, else its leading axis indexed."""
    if callable(batches):
        return batches
    leaves = jax.tree.leaves(batches)
    if not leaves:
        raise ValueError(
            f"{where}: batches must be a pytree of arrays with a leading step axis, or a function; "
            f"got {batches!r}"
        )
    short = [np.shape(x) for x in leaves if np.ndim(x) == 0 or np.shape(x)[0] < horizon]
    if short:
        raise ValueError(
            f"{where}: batches need a leading axis of at least horizon={horizon} steps, "
            f"got shapes {short[:3]}"
        )
    return lambda step: jax.tree.map(lambda x: x[step], batches)


def unrolled_loss(
    train_step: Callable, schedule, state, batches, horizon: int, val_loss: Callable
) -> jax.Array:
    r"""The validation loss after ``horizon`` training steps, as a function of the schedule.

    .. math::

        s_{t+1} = \text{train\_step}(s_t, b_t, \eta(t)),\quad t = 0, \dots, H-1;
        \qquad L(\eta) = \text{val\_loss}(s_H)

    run as one ``lax.scan``, so ``jax.grad`` of it with respect to
    ``schedule`` (:func:`meta_gradient`) differentiates through the whole
    truncated unroll with respect to every float hyperparameter of the
    schedule (give ``warmup_steps`` as a float to differentiate through it).

    Args:
        train_step: ``(state, batch, value) -> state``, one training step with
            ``value = schedule(t)`` (a learning rate: ``params - value * grads``).
        schedule: any function of the step whose float leaves are the
            variables, an optasched schedule typically.
        state: the training state at step 0 (parameters, optimizer state).
        batches: a pytree with a leading axis of at least ``horizon`` steps,
            or a function ``step -> batch``.
        horizon: the number of steps :math:`H`, a Python int >= 1.
        val_loss: ``state -> scalar`` evaluated after the last step.

    Returns:
        The scalar :math:`L`.

    Raises:
        ValueError: for a ``horizon`` that is not an int >= 1, or ``batches``
            with fewer than ``horizon`` steps.

    Example:
        >>> import jax, jax.numpy as jnp, optasched as osd
        >>> step = lambda w, batch, lr: w - lr * 2 * (w - batch)   # SGD on (w - b)^2
        >>> loss = lambda s: osd.unrolled_loss(step, s, 1.0, jnp.zeros(3), 3, lambda w: w**2)
        >>> float(loss(osd.constant(0.25)))   # w halves each step: (1/8)^2
        0.015625
        >>> float(jax.grad(loss)(osd.constant(0.25)).value)   # d/dlr (1 - 2 lr)^6 = -12 (1 - 2 lr)^5
        -0.375
    """
    where = "unrolled_loss"
    horizon = _check_horizon(where, horizon)
    batch_at = _batch_at(where, batches, horizon)

    def body(carry, step):
        return train_step(carry, batch_at(step), schedule(step)), None

    final, _ = jax.lax.scan(body, state, jnp.arange(horizon, dtype=jnp.int32))
    return jnp.asarray(val_loss(final))


def meta_gradient(train_step: Callable, schedule, state, batches, horizon: int, val_loss: Callable):
    """The unrolled validation loss and its gradient with respect to the schedule.

    ``jax.value_and_grad`` of :func:`unrolled_loss` in ``schedule`` (integer
    leaves, such as an int ``warmup_steps``, get ``float0`` zeros).

    Args:
        train_step: ``(state, batch, value) -> state``.
        schedule: the schedule whose float leaves are differentiated.
        state: the training state at step 0.
        batches: a pytree with a leading step axis, or a function ``step -> batch``.
        horizon: the number of unrolled steps, a Python int >= 1.
        val_loss: ``state -> scalar``.

    Returns:
        ``(loss, gradient)``, the gradient a pytree shaped like ``schedule``.

    Example:
        >>> import jax.numpy as jnp, optasched as osd
        >>> step = lambda w, batch, lr: w - lr * 2 * (w - batch)
        >>> loss, grad = osd.meta_gradient(step, osd.constant(0.25), 1.0, jnp.zeros(3), 3, lambda w: w**2)
        >>> float(loss), float(grad.value)
        (0.015625, -0.375)
    """

    def loss(s):
        return unrolled_loss(train_step, s, state, batches, horizon, val_loss)

    return jax.value_and_grad(loss, allow_int=True)(schedule)


class MetaTuneResult(NamedTuple):
    """What :func:`meta_tune` returns.

    Attributes:
        schedule: the tuned schedule (the tuned leaves as floats).
        losses: the unrolled validation loss at each outer step, before its
            update. ``shape=(meta_steps,)``.
        values: tuned name -> its value at each outer step, before its update,
            then the final value. Each ``shape=(meta_steps + 1,)``.
    """

    schedule: Any
    losses: jax.Array
    values: dict[str, jax.Array]


def _dotted(path) -> str:
    """A leaf's dotted name, as :func:`optasched.leaf_names` writes it."""
    return ".".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)


def meta_tune(
    train_step: Callable,
    schedule,
    state,
    batches,
    horizon: int,
    val_loss: Callable,
    *,
    tune: Sequence[str],
    meta_steps: int = 20,
    meta_lr=0.1,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    optimizer: optax.GradientTransformation | None = None,
) -> MetaTuneResult:
    r"""Tune chosen float hyperparameters of a schedule by gradient descent on the unrolled loss.

    Each of ``meta_steps`` outer steps computes :func:`meta_gradient` from
    the same ``state`` and ``batches`` and moves the tuned leaves
    :math:`x` in log space, :math:`z = \log x`, with
    :math:`\partial L / \partial z = x\, \partial L / \partial x`, by Adam
    (scale-free: each step changes a value by about ``meta_lr`` in log units)
    or the given ``optimizer``; after each step :math:`x = \mathrm{clip}(e^z,
    lo, hi)`. All outer steps are one ``lax.scan`` (one compiled program).

    Args:
        train_step: ``(state, batch, value) -> state``.
        schedule: the starting schedule.
        state: the training state every unroll starts from.
        batches: a pytree with a leading step axis, or a function ``step -> batch``.
        horizon: unrolled steps per outer step, a Python int >= 1.
        val_loss: ``state -> scalar``.
        tune: dotted names of the leaves to tune (``"schedule.init_value"``,
            ``"warmup_steps"``: :func:`optasched.leaf_names` lists them); their
            starting values must be > 0. Integer leaves become floats.
        meta_steps: the number of outer steps, a Python int >= 1.
        meta_lr: the step size of the default Adam, in log units.
        bounds: name -> ``(lo, hi)`` with ``0 < lo <= hi``; unbounded (above 0)
            where not given.
        optimizer: an optax optimizer on the log values instead of
            ``optax.adam(meta_lr)``.

    Returns:
        A :class:`MetaTuneResult`.

    Raises:
        ValueError: naming the argument: an unknown name in ``tune`` or
            ``bounds``, a starting value <= 0, bounds not ``0 < lo <= hi``,
            ``meta_steps`` < 1, or a bad ``horizon``.

    Example:
        >>> import jax.numpy as jnp, optasched as osd
        >>> step = lambda w, batch, lr: w - lr * 2 * (w - batch)
        >>> result = osd.meta_tune(step, osd.constant(0.1), 1.0, jnp.zeros(3), 3, lambda w: w**2,
        ...                        tune=["value"], meta_steps=60, bounds={"value": (0.01, 0.4)})
        >>> round(float(result.schedule.value), 2), bool(result.losses[-1] < result.losses[0])
        (0.4, True)

    Reference: Maclaurin, Duvenaud and Adams, "Gradient-based hyperparameter
    optimization through reversible learning", ICML 2015 (hypergradients
    through unrolled training); Wu, Ren, Liao and Grosse, "Understanding
    short-horizon bias in stochastic meta-optimization", ICLR 2018 (why a
    short ``horizon`` favours small learning rates).
    """
    where = "meta_tune"
    horizon = _check_horizon(where, horizon)
    if isinstance(meta_steps, bool) or not isinstance(meta_steps, (int, np.integer)) or meta_steps < 1:
        raise ValueError(f"{where}: meta_steps must be a Python int >= 1, got {meta_steps!r}")
    tune = [tune] if isinstance(tune, str) else list(tune)
    bounds = dict(bounds or {})
    flat, treedef = jax.tree_util.tree_flatten_with_path(schedule)
    names = [_dotted(path) for path, _ in flat]
    index = _tuned_indices(where, names, tune, bounds)
    leaves = [leaf for _, leaf in flat]
    limits = {}
    for name, i in index.items():
        value = leaves[i]
        if not jnp.issubdtype(jnp.result_type(value), jnp.floating):
            value = jnp.asarray(value, jnp.float32)
        leaves[i] = value
        try:
            start = float(value)
        except (TypeError, jax.errors.ConcretizationTypeError):
            start = None
        if start is not None and not start > 0:
            raise ValueError(f"{where}: tuned leaf {name!r} must start > 0 (tuned in log space), got {start}")
        limits[name] = _checked_bounds(where, name, bounds.get(name))
    optimizer = optimizer if optimizer is not None else optax.adam(meta_lr)

    def build(logs):
        new = list(leaves)
        for name, i in index.items():
            lo, hi = limits[name]
            new[i] = jnp.clip(jnp.exp(logs[name]), lo, hi).astype(jnp.result_type(leaves[i]))
        return jax.tree.unflatten(treedef, new)

    def loss_of_logs(logs):
        return unrolled_loss(train_step, build(logs), state, batches, horizon, val_loss)

    def outer(carry, _):
        logs, opt_state = carry
        loss, grads = jax.value_and_grad(loss_of_logs)(logs)
        updates, opt_state = optimizer.update(grads, opt_state, logs)
        new_logs = optax.apply_updates(logs, updates)
        new_logs = {n: jnp.log(jnp.clip(jnp.exp(v), *limits[n])) for n, v in new_logs.items()}
        return (new_logs, opt_state), (loss, {n: jnp.exp(v) for n, v in logs.items()})

    logs0 = {name: jnp.log(leaves[i]) for name, i in index.items()}
    carry = (logs0, optimizer.init(logs0))
    (logs, _), (losses, history) = jax.lax.scan(outer, carry, None, length=meta_steps)
    values = {n: jnp.concatenate([history[n], jnp.exp(logs[n])[None]]) for n in index}
    return MetaTuneResult(build(logs), losses, values)


def _tuned_indices(
    where: str, names: list[str], tune: list[str], bounds: Mapping[str, Any]
) -> dict[str, int]:
    if not tune:
        raise ValueError(f"{where}: tune must name at least one leaf; the schedule's leaves are {names}")
    unknown = [n for n in tune if n not in names]
    if unknown:
        raise ValueError(f"{where}: tune names {unknown}, not leaves of the schedule; its leaves are {names}")
    stray = [n for n in bounds if n not in tune]
    if stray:
        raise ValueError(f"{where}: bounds names {stray}, which are not tuned (tune={tune})")
    return {n: names.index(n) for n in tune}


def _checked_bounds(where: str, name: str, given) -> tuple[float, float]:
    if given is None:
        return (float(np.finfo(np.float32).tiny), float("inf"))
    if not isinstance(given, (tuple, list)) or len(given) != 2:
        raise ValueError(f"{where}: bounds[{name!r}] must be a pair (lo, hi), got {given!r}")
    lo, hi = (float(v) for v in given)
    if not 0 < lo <= hi:
        raise ValueError(f"{where}: bounds[{name!r}] must have 0 < lo <= hi, got {given!r}")
    return lo, hi
