"""A ``lax.scan`` training loop that isolates divergence.

Written for ONE configuration; under ``vmap`` (as in :func:`optasched.sweep`)
every member runs the same loop, and a member whose state or metrics become
non-finite is frozen at its last finite state and flagged, without touching
the others (no operation mixes members).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["LoopResult", "all_finite", "stayed_finite", "train_loop"]


class LoopResult(NamedTuple):
    """What :func:`train_loop` returns.

    Attributes:
        state: the final state, or the last finite one if training diverged.
        history: the metrics of every ``record_every``-th step, stacked on a
            leading axis (NaN from the divergence on).
        diverged_at: the first step whose state or metrics were not finite,
            or -1 (int32, shape ()).
    """

    state: Any
    history: Any
    diverged_at: jax.Array


def _floating(tree: Any) -> list[jax.Array]:
    return [x for x in jax.tree.leaves(tree) if jnp.issubdtype(jnp.result_type(x), jnp.inexact)]


def all_finite(tree: Any) -> jax.Array:
    """True if every floating-point leaf of ``tree`` is finite.

    Args:
        tree: any pytree; integer and boolean leaves are ignored.

    Returns:
        A boolean scalar array (True for a tree without floating-point leaves).
    """
    leaves = [jnp.all(jnp.isfinite(x)) for x in _floating(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def stayed_finite(old: Any, new: Any) -> jax.Array:
    """True unless an entry that was finite in ``old`` is not finite in ``new``.

    Entries that start infinite on purpose (a plateau's best-so-far loss) are
    not divergence; a parameter turning into inf or NaN is.

    Args:
        old: a pytree before a step.
        new: the same pytree after it (same structure).

    Returns:
        A boolean scalar array.
    """
    checks = [jnp.all(jnp.isfinite(b) | ~jnp.isfinite(a)) for a, b in zip(_floating(old), _floating(new))]
    return jnp.all(jnp.stack(checks)) if checks else jnp.asarray(True)


def train_loop(
    step_fn: Callable[[Any, jax.Array], tuple[Any, Any]],
    state: Any,
    num_steps: int,
    *,
    record_every: int = 1,
    evaluate: Callable[[Any], Any] | None = None,
) -> LoopResult:
    """Run ``state, metrics = step_fn(state, step)`` for ``num_steps`` steps in ``lax.scan``.

    A step that turns a finite state entry non-finite, or produces a
    non-finite metric, is rolled back, and
    every later step is skipped: the member is frozen and ``diverged_at``
    records the step. Metrics are recorded every ``record_every`` steps (the
    last step of each block), so long runs keep a small history. If given,
    ``evaluate(state) -> metrics`` runs once per block on the block's final
    state (say, test accuracy) and its metrics join the history under
    ``"evaluation"``.

    Args:
        step_fn: ``step_fn(state, step) -> (state, metrics)`` for one step
            (``step`` an int32 scalar from 0).
        state: the initial state, any pytree.
        num_steps: steps to run, a positive int.
        record_every: record metrics every this many steps; a positive
            divisor of ``num_steps``.
        evaluate: ``evaluate(state) -> metrics``, run once per recorded block,
            or None.

    Returns:
        A :class:`LoopResult`: the final (or last finite) state, the recorded
        history, and the step that diverged (-1 if none).

    Example:
        >>> import jax.numpy as jnp, optasched as osd
        >>> step = lambda x, t: (x * 2.0, {"x": x})
        >>> result = osd.train_loop(step, jnp.float32(1.0), 200)
        >>> int(result.diverged_at), bool(jnp.isfinite(result.state))
        (127, True)
    """
    if not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"train_loop: num_steps must be a positive int, got {num_steps!r}")
    if not isinstance(record_every, int) or record_every < 1 or num_steps % record_every:
        raise ValueError(
            f"train_loop: record_every must be a positive divisor of num_steps={num_steps}, got {record_every!r}"
        )

    def guarded(carry, step):
        state, alive, diverged_at = carry
        new_state, metrics = step_fn(state, step)
        finite = stayed_finite(state, new_state) & all_finite(metrics)
        keep = alive & finite
        state = jax.tree.map(lambda new, old: jnp.where(keep, new, old), new_state, state)
        diverged_at = jnp.where(alive & ~finite, step, diverged_at)
        metrics = jax.tree.map(
            lambda m: jnp.where(keep, m, jnp.nan) if jnp.issubdtype(m.dtype, jnp.inexact) else m, metrics
        )
        return (state, keep, diverged_at), metrics

    def block(carry, first_step):
        steps = first_step + jnp.arange(record_every, dtype=jnp.int32)
        carry, metrics = jax.lax.scan(guarded, carry, steps)
        metrics = jax.tree.map(lambda m: m[-1], metrics)
        if evaluate is not None:
            metrics = {"train": metrics, "evaluation": evaluate(carry[0])}
        return carry, metrics

    carry = (state, jnp.asarray(True), jnp.asarray(-1, jnp.int32))
    if record_every == 1 and evaluate is None:
        carry, history = jax.lax.scan(guarded, carry, jnp.arange(num_steps, dtype=jnp.int32))
    else:
        starts = jnp.arange(0, num_steps, record_every, dtype=jnp.int32)
        carry, history = jax.lax.scan(block, carry, starts)
    state, _, diverged_at = carry
    return LoopResult(state, history, diverged_at)
