"""Small-loss selection: the ``round(f * n)`` unmasked examples with the smallest
losses, chosen with a traced fraction ``f`` (a sort and a comparison of ranks,
never ``top_k`` with a traced ``k``, so one compiled program serves every
fraction)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def keep_count(keep_fraction: jax.Array, num_examples: jax.Array) -> jax.Array:
    """``round(keep_fraction * num_examples)``, an integer (NumPy's rounding: halves to even).

    Args:
        keep_fraction: the fraction to keep, in ``(0, 1]``.
        num_examples: the number of unmasked examples.
    """
    return jnp.round(keep_fraction * num_examples).astype(jnp.int32)


def smallest(losses: jax.Array, mask: jax.Array, keep_fraction: jax.Array) -> jax.Array:
    """``[B]`` bools: exactly ``k = round(keep_fraction * n)`` of the ``n`` unmasked
    examples, those with the smallest losses.

    The kept set is the first ``k`` in the order (loss, index): every example
    whose loss is below the ``k``-th smallest unmasked loss (the threshold, a
    traced quantile of the unmasked losses), and, of those tied at the
    threshold, the ones with the lowest indices, so the count is exact even
    with ties. Masked examples are never kept and do not count in ``n``.

    Args:
        losses: per-example losses, ``[B]``.
        mask: ``[B]`` bools, False for padding.
        keep_fraction: the fraction of the unmasked examples to keep.
    """
    # Unmasked first, then by loss, then by index (lexsort is stable; its last key is the primary).
    order = jnp.lexsort((losses, ~mask))
    rank = jnp.zeros(order.shape, jnp.int32).at[order].set(jnp.arange(order.shape[0], dtype=jnp.int32))
    return mask & (rank < keep_count(keep_fraction, jnp.sum(mask)))


__all__ = ["keep_count", "smallest"]
