"""Per-example quantities of a classification batch that weightings are functions of:
cross-entropy, the log-probability of the labelled class and the margin."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def label_log_probability(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """``log p_y`` of every example: ``[B, C]`` logits, ``[B]`` integer labels -> ``[B]``.

    Args:
        logits: the unnormalised scores, ``[B, C]``.
        labels: the (possibly noisy) labels, ``[B]`` integers in ``[0, C)``.
    """
    log_probabilities = jax.nn.log_softmax(logits, axis=-1)
    return jnp.take_along_axis(log_probabilities, labels[:, None], axis=-1)[:, 0]


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """``-log p_y`` of every example, ``[B]``.

    Args:
        logits: the unnormalised scores, ``[B, C]``.
        labels: the labels, ``[B]`` integers in ``[0, C)``.
    """
    return -label_log_probability(logits, labels)


def margin(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """``z_y - max_{j != y} z_j`` of every example, ``[B]``: positive when the
    labelled class wins, by how much.

    Args:
        logits: the unnormalised scores, ``[B, C]`` with ``C >= 2``.
        labels: the labels, ``[B]`` integers in ``[0, C)``.
    """
    labelled = jnp.take_along_axis(logits, labels[:, None], axis=-1)[:, 0]
    is_label = jnp.arange(logits.shape[-1])[None, :] == labels[:, None]  # explicit ranks (strict promotion)
    runner_up = jnp.max(jnp.where(is_label, -jnp.inf, logits), axis=-1)
    return labelled - runner_up


__all__ = ["cross_entropy", "label_log_probability", "margin"]
