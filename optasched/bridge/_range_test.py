"""The learning-rate range test (Smith 2017; fastai ``lr_find``), as one jitted,
vmappable program: an exponential ramp, a debiased smoothed loss, a stop at
divergence inside ``jax.lax.while_loop``, and fastai's suggestions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..schedules import Exponential as exponential

__all__ = ["RangeTest", "lr_range_test", "plot_range_test", "suggestions"]


class RangeTest(NamedTuple):
    """Result of :func:`lr_range_test` (a pytree: vmapped over seeds, every
    field gains a leading axis).

    Attributes:
        learning_rates: the ramp, ``[num_steps]``.
        losses: the loss of each step (measured before that step's update),
            NaN after the stop.
        smoothed_losses: the debiased exponential moving average, NaN after
            the stop.
        num_steps_run: steps run, the diverging one included.
        steepest: learning rate at the steepest descent of the smoothed loss
            over log learning rate.
        valley: fastai's "valley": inside the longest descending stretch of
            the smoothed loss, about half-way down.
        minimum_over_10: the learning rate of the lowest smoothed loss, / 10.
    """

    learning_rates: jax.Array
    losses: jax.Array
    smoothed_losses: jax.Array
    num_steps_run: jax.Array
    steepest: jax.Array
    valley: jax.Array
    minimum_over_10: jax.Array


def _check_positive(name: str, value, integer: bool = False) -> None:
    bad = isinstance(value, bool) or not isinstance(value, (int, float) if not integer else int)
    if bad or not np.isfinite(value) or value <= 0:
        kind = "a positive integer" if integer else "a positive finite number"
        raise ValueError(f"lr_range_test: {name} must be {kind}, got {value!r}")


def lr_range_test(
    loss_fn: Callable[..., jax.Array],
    params: Any,
    optimizer: Callable[..., optax.GradientTransformation] = optax.sgd,
    batches: Any = None,
    *,
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    num_steps: int = 100,
    smoothing: float = 0.98,
    diverge_factor: float = 4.0,
) -> RangeTest:
    r"""Train with an exponentially growing learning rate and suggest one.

    Step :math:`i` uses :math:`\eta_i = \eta_{\min} (\eta_{\max}/\eta_{\min})^{i/(n-1)}`
    (an :func:`optasched.exponential` schedule) and records the loss
    :math:`\ell_i` of that step's batch and its debiased moving average

    .. math:: a_i = \beta a_{i-1} + (1 - \beta)\,\ell_i, \qquad \bar\ell_i = a_i / (1 - \beta^{i+1}).

    It stops (inside ``jit``, in a ``while_loop``) after the first step with
    :math:`\bar\ell_i - \bar\ell^* > (k - 1)\,|\bar\ell^*|` (fastai's
    :math:`\bar\ell_i > 4 \bar\ell^*` for positive losses; :math:`\bar\ell^*` the
    best so far, :math:`k` = ``diverge_factor``) or a non-finite loss.
    Suggestions follow fastai on the recorded steps ``[num_steps // 10, run - 5)``:
    steepest descent of :math:`\bar\ell` over :math:`\log\eta`, "valley"
    and the minimum's learning rate / 10.

    The function is pure and jittable; ``jax.vmap`` it over seeds (a
    different initialisation or data order per member) for a band of curves.

    Args:
        loss_fn: ``loss_fn(params, batch) -> scalar`` (``loss_fn(params)`` if
            ``batches`` is None).
        params: initial parameters.
        optimizer: a factory called as ``optimizer(learning_rate=schedule)``,
            e.g. ``optax.sgd``, ``functools.partial(optax.adamw, weight_decay=0.01)``.
        batches: a pytree whose leaves have a leading axis of ``num_steps``
            (step i uses entry i), a function ``batches(step)`` of the traced
            step, or None.
        min_lr, max_lr: the range of the ramp.
        num_steps: the most steps to run.
        smoothing: :math:`\beta` of the moving average.
        diverge_factor: :math:`k`.

    Returns:
        A :class:`RangeTest`. Plot it with :func:`plot_range_test`.

    Example:
        >>> import jax, jax.numpy as jnp, optax, optasched as osd
        >>> loss = lambda w: jnp.sum((w - 3.0) ** 2)
        >>> result = jax.jit(lambda w: osd.lr_range_test(loss, w, optax.sgd,
        ...     min_lr=1e-4, max_lr=10.0, num_steps=60))(jnp.zeros(2))
        >>> bool(result.num_steps_run < 60), bool(1e-3 < result.valley < 1.0)
        (True, True)

    Reference: Smith, "Cyclical learning rates for training neural
    networks", WACV 2017; fastai ``Learner.lr_find``.
    """
    _check_positive("min_lr", min_lr)
    _check_positive("max_lr", max_lr)
    _check_positive("num_steps", num_steps, integer=True)
    _check_positive("diverge_factor", diverge_factor)
    if not min_lr < max_lr:
        raise ValueError(f"lr_range_test: min_lr must be < max_lr, got min_lr={min_lr!r}, max_lr={max_lr!r}")
    if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)) or not 0 <= smoothing < 1:
        raise ValueError(f"lr_range_test: smoothing must be in [0, 1), got {smoothing!r}")
    if num_steps < 2:
        raise ValueError(f"lr_range_test: num_steps must be >= 2, got {num_steps!r}")
    if batches is not None and not callable(batches):
        lengths = {jnp.shape(x)[0] if jnp.ndim(x) else None for x in jax.tree.leaves(batches)}
        if lengths != {num_steps} and lengths:
            raise ValueError(
                f"lr_range_test: every leaf of batches needs a leading axis of num_steps={num_steps}, "
                f"got leading sizes {sorted(lengths, key=str)}"
            )

    ramp = exponential(min_lr, transition_steps=num_steps - 1, decay_rate=max_lr / min_lr)
    transformation = optimizer(learning_rate=ramp)
    learning_rates = ramp(jnp.arange(num_steps))
    dtype = learning_rates.dtype

    def batch_at(step):
        if batches is None:
            return ()
        if callable(batches):
            return (batches(step),)
        return (jax.tree.map(lambda x: x[step], batches),)

    class Carry(NamedTuple):
        step: jax.Array
        params: Any
        opt_state: Any
        average: jax.Array
        best: jax.Array
        stop: jax.Array
        losses: jax.Array
        smoothed: jax.Array

    def body(carry: Carry) -> Carry:
        step = carry.step
        loss, grads = jax.value_and_grad(loss_fn)(carry.params, *batch_at(step))
        loss = jnp.asarray(loss, dtype)
        updates, opt_state = transformation.update(grads, carry.opt_state, carry.params)
        params = optax.apply_updates(carry.params, updates)
        average = smoothing * carry.average + (1 - smoothing) * loss
        smoothed = average / (1 - smoothing ** (step + 1).astype(dtype))
        best = jnp.minimum(carry.best, smoothed)
        diverged = (smoothed - best > (diverge_factor - 1) * jnp.abs(best)) | ~jnp.isfinite(smoothed)
        return Carry(
            step + 1,
            params,
            opt_state,
            average,
            best,
            diverged,
            carry.losses.at[step].set(loss),
            carry.smoothed.at[step].set(smoothed),
        )

    def running(carry: Carry):
        return (carry.step < num_steps) & ~carry.stop

    nan = jnp.full((num_steps,), jnp.nan, dtype)
    initial = Carry(
        jnp.zeros((), jnp.int32),
        params,
        transformation.init(params),
        jnp.zeros((), dtype),
        jnp.asarray(jnp.inf, dtype),
        jnp.zeros((), bool),
        nan,
        nan,
    )
    final = jax.lax.while_loop(running, body, initial)
    steepest, valley, minimum = suggestions(learning_rates, final.smoothed, final.step, num_steps)
    return RangeTest(learning_rates, final.losses, final.smoothed, final.step, steepest, valley, minimum)


def suggestions(learning_rates, smoothed, num_run, num_steps: int):
    """fastai's three suggestions over the recorded window ``[num_steps // 10, num_run - 5)``.

    Args:
        learning_rates: the ramp, ``[num_steps]``.
        smoothed: the debiased smoothed losses, NaN after the stop.
        num_run: steps run (a traced integer).
        num_steps: the ramp's length (static).

    Returns:
        ``(steepest, valley, minimum / 10)``, NaN where the window holds
        fewer than two steps.
    """
    n = learning_rates.shape[0]
    index = jnp.arange(n)
    start = num_steps // 10
    end = num_run - 5
    window = (index >= start) & (index < end)
    enough = end - start >= 2
    nan = jnp.asarray(jnp.nan, learning_rates.dtype)
    losses = jnp.where(window, smoothed, jnp.inf)

    minimum = learning_rates[jnp.argmin(losses)] / 10

    log_lr = jnp.log(learning_rates)
    slopes = (smoothed[1:] - smoothed[:-1]) / (log_lr[1:] - log_lr[:-1])
    pair_ok = window[1:] & window[:-1]
    steepest = learning_rates[jnp.argmin(jnp.where(pair_ok, slopes, jnp.inf))]

    valley = learning_rates[_valley_index(smoothed, window, start)]
    return tuple(jnp.where(enough, x, nan) for x in (steepest, valley, minimum))


def _valley_index(losses, window, start):
    """fastai ``valley``: the longest decreasing subsequence of the windowed
    losses, with fastai's exact bookkeeping of where it starts; then the
    index a third plus a sixth of the way along it."""
    n = losses.shape[0]
    index = jnp.arange(n)

    def visit(i, carry):
        lds, max_start, max_end = carry
        active = window[i] & (i > start)
        before = window & (index < i) & (losses[i] < losses)
        longest = 1 + jnp.max(jnp.where(before, lds, 0))
        # fastai moves the valley's end to i at the first earlier point that makes
        # i's run longer than the current best, and fixes the start there.
        trigger = before & (lds >= lds[max_end])
        moved = active & jnp.any(trigger)
        first = jnp.argmax(trigger)
        lds = lds.at[i].set(jnp.where(active, longest, lds[i]))
        max_start = jnp.where(moved, i - (lds[first] + 1), max_start)
        max_end = jnp.where(moved, i, max_end)
        return lds, max_start, max_end

    start = jnp.asarray(start, jnp.int32)
    _, max_start, max_end = jax.lax.fori_loop(0, n, visit, (jnp.ones(n, jnp.int32), start, start))
    sections = (max_end - max_start) / 3
    chosen = max_start + sections.astype(jnp.int32) + (sections / 2).astype(jnp.int32)
    return jnp.clip(chosen, start, n - 1)


def plot_range_test(result: RangeTest, ax=None, show_suggestions: bool = True):
    """Plot a :class:`RangeTest`: smoothed loss (and raw loss, faint) against
    the learning rate on a log axis, with the suggestions marked. A vmapped
    result draws one curve per member. Needs matplotlib.

    Args:
        result: what :func:`lr_range_test` returned (vmapped or not).
        ax: the matplotlib axes to draw on; a new figure's if None.
        show_suggestions: mark the steepest, valley and minimum / 10 suggestions.

    Returns:
        The matplotlib axes.

    Example:
        >>> import jax.numpy as jnp, optax, optasched as osd
        >>> import matplotlib; matplotlib.use("Agg")
        >>> result = osd.lr_range_test(lambda w: jnp.sum((w - 3.0) ** 2), jnp.zeros(2),
        ...                            min_lr=1e-4, max_lr=10.0, num_steps=40)
        >>> ax = osd.plot_range_test(result)
        >>> ax.get_xscale()
        'log'
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover
        raise ImportError("plot_range_test needs matplotlib (pip install matplotlib)") from err
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    fields = {name: np.asarray(value) for name, value in result._asdict().items()}
    lrs = fields["learning_rates"]
    batched = lrs.ndim == 2
    members = range(lrs.shape[0]) if batched else [None]
    colors = {"steepest": "tab:red", "valley": "tab:green", "minimum_over_10": "tab:purple"}
    for m in members:
        pick = (lambda x, m=m: x[m]) if batched else (lambda x: x)
        line = ax.plot(
            pick(lrs), pick(fields["smoothed_losses"]), label=None if batched else "smoothed loss"
        )[0]
        ax.plot(pick(lrs), pick(fields["losses"]), color=line.get_color(), alpha=0.25)
        if show_suggestions:
            for name, color in colors.items():
                value = float(pick(fields[name]))
                if np.isfinite(value):
                    label = f"{name} {value:.2g}" if not batched or m == 0 else None
                    ax.axvline(value, color=color, linestyle="--", linewidth=1, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.legend(fontsize="small")
    return ax
