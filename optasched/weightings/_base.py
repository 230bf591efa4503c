"""The Weighting base: a per-sample weighting of a classification batch, declared
like a schedule (the same fields, pytree, ``replace``, sweeps, config round trip
and checked mode), whose hyperparameters are numbers or schedules of the step."""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

from ..schedules import Declared, Kind, bound, check_constraint, checking_inside, is_traced
from ._per_example import cross_entropy

_LOWER = (">=", ">")


class Weighting(Declared):
    """A per-sample weighting: the training loss of a batch as a weighted function
    of the per-example losses (or margins), at a step.

    Every hyperparameter is a leaf: a number, an array of numbers (a sweep) or
    an optasched schedule of the step, evaluated at ``step``. So a weighting
    jits without retracing, stacks into sweeps (:func:`optasched.grid`,
    :func:`optasched.sample`), ``replace``-s, round-trips through
    :func:`optasched.to_config` / :func:`optasched.from_config` and is
    checked by :func:`optasched.checked`, as a schedule is.

    Two methods, for ``logits [B, C]`` floats, ``labels [B]`` integers (the
    labels trained on, possibly noisy), a scalar integer ``step`` (traced or
    not) and an optional ``mask [B]`` of bools (False for padding: a masked
    example gets weight 0 and counts in no mean, quantile or normalisation):

    - ``loss(logits, labels, step, mask=None)``: the scalar training loss,
      differentiable in the logits;
    - ``weights(logits, labels, step, mask=None)``: the ``[B]`` per-example
      weights it applies, under ``stop_gradient``.

    Normalisation. For the families that weight the cross-entropy (uniform,
    margin, small-loss, self-paced, Co-teaching) ``loss = sum_i w_i l_i / n``
    with ``l_i`` the cross-entropy and ``n`` the number of unmasked examples,
    the weights being constants of the gradient. With plain SGD one step is
    then ``-eta * sum_i w_i grad l_i / n``: each example's own learning rate
    is ``eta * w_i / n``, so a weight IS a per-sample learning rate (relative
    to the uniform ``eta / n``). With momentum that holds for the step's
    contribution to the velocity; with Adam (or any optimizer that normalises
    the update) it does not: a global scale of the weights is absorbed by the
    normalisation, and only the weights' relative sizes within and across
    batches matter. GCE and focal loss are robust losses, not weighted
    cross-entropies; their ``weights`` say how they compare to it (see each).

    A sweep (leading member axes on the leaves) applies every member to the
    same batch: the results get the members' axes in front.
    """

    family: ClassVar[str] = "weighting"
    _noun: ClassVar[str] = "weighting"

    # -- the public methods: one member's work in _loss / _weights -------------------------------

    def loss(self, logits, labels, step, mask=None) -> jax.Array:
        """The weighted training loss of a batch, a scalar (differentiable in ``logits``).

        Args:
            logits: ``[B, C]`` unnormalised scores.
            labels: ``[B]`` integer labels (the labels trained on).
            step: the optimizer's step, a scalar integer (traced or not).
            mask: ``[B]`` bools, False for padding; None keeps every example.
        """
        return self._over_members(type(self)._loss, *self._inputs(logits, labels, step, mask))

    def weights(self, logits, labels, step, mask=None) -> jax.Array:
        """The ``[B]`` per-example weights the loss applies (``stop_gradient``-ed).

        Args:
            logits: ``[B, C]`` unnormalised scores.
            labels: ``[B]`` integer labels (the labels trained on).
            step: the optimizer's step, a scalar integer (traced or not).
            mask: ``[B]`` bools, False for padding (weight 0); None keeps every example.
        """
        found = self._over_members(type(self)._weights, *self._inputs(logits, labels, step, mask))
        return jax.lax.stop_gradient(found)

    def _loss(self, logits, labels, step, mask):
        """Default: the weighted mean cross-entropy ``sum_i w_i l_i / n``."""
        return weighted_mean(self._weights(logits, labels, step, mask), cross_entropy(logits, labels), mask)

    def _weights(self, logits, labels, step, mask):
        raise NotImplementedError(f"{type(self).__name__} defines no _weights")

    # -- shared helpers ---------------------------------------------------------------------------

    _logits_rank: ClassVar[int] = 2  # [B, C]; Co-teaching's two networks: [2, B, C]

    def _inputs(self, logits, labels, step, mask):
        """The arguments as arrays, their shapes checked (naming the argument)."""
        family, rank = self.family, self._logits_rank
        logits, labels = jnp.asarray(logits), jnp.asarray(labels)
        shape = "[2, batch, classes]" if rank == 3 else "[batch, classes]"
        if logits.ndim != rank or not jnp.issubdtype(logits.dtype, jnp.floating) or logits.shape[-1] < 2:
            raise ValueError(
                f"{family}: logits must be {shape} floats with at least 2 classes, "
                f"got shape {logits.shape} of dtype {logits.dtype}"
            )
        if rank == 3 and logits.shape[0] != 2:
            raise ValueError(
                f"{family}: logits must stack the two networks' logits, {shape}, got {logits.shape}"
            )
        batch = logits.shape[-2]
        if labels.shape != (batch,) or not jnp.issubdtype(labels.dtype, jnp.integer):
            raise ValueError(
                f"{family}: labels must be [batch] = ({batch},) integers, got shape {labels.shape} "
                f"of dtype {labels.dtype}"
            )
        if jnp.ndim(step) != 0:
            raise ValueError(f"{family}: step must be a scalar, got shape {jnp.shape(step)}")
        if mask is None:
            mask = jnp.ones((batch,), bool)
        mask = jnp.asarray(mask)
        if mask.shape != (batch,) or mask.dtype != jnp.bool_:
            raise ValueError(
                f"{family}: mask must be [batch] = ({batch},) bools, got {mask.shape} of {mask.dtype}"
            )
        return logits, labels, step, mask

    def _require_examples(self, mask) -> None:
        """A quantile of an empty batch is undefined: refuse an all-masked batch
        (at once when the mask is concrete, at run time in checked mode)."""
        message = (
            f"{self.family}: mask excludes every example; "
            "the small-loss quantile of an empty batch is undefined"
        )
        if not is_traced(mask):
            if not np.any(np.asarray(mask)):
                raise ValueError(message)
        elif checking_inside() is not None:
            checkify.check(jnp.any(mask), message)

    def _at(self, name: str, step) -> jax.Array:
        """Hyperparameter ``name`` at ``step`` (one member). In checked mode, a
        schedule whose range cannot be read off its hyperparameters (which
        construction and :func:`optasched.check` therefore skip) has its bounds
        checked on this value."""
        child = getattr(self, name)
        value = child(step)
        if checking_inside() is not None and child.value_range(jnp.asarray(0)) is None:
            for op, limit in self.fields[name].bounds:
                check_constraint(self.family, (), bound(name, value, op, limit), " at the step it is applied")
        return value

    def _over_members(self, method, *args):
        """``method(member, *args)`` for every member of a sweep (the same inputs)."""
        evaluate = lambda member: method(member, *args)  # noqa: E731
        for _ in self.batch_shape:
            evaluate = jax.vmap(evaluate)
        return evaluate(self)

    # -- validation: bounds hold on the schedule's range ------------------------------------------

    def _constraints(self):
        """Each hyperparameter's bounds on its schedule's range (where readable)."""
        for name, spec in self.fields.items():
            child = getattr(self, name)
            if spec.kind is not Kind.SCHEDULE or child is None or not spec.bounds:
                continue
            found = child.value_range(jnp.asarray(0))
            if found is None:
                continue  # a range the hyperparameters do not give: checked mode checks each value used
            low, high = found
            shown = name if child.family == "constant" else f"{name} (over its schedule's range)"
            for op, limit in spec.bounds:
                yield bound(shown, low if op in _LOWER else high, op, limit)


def weighted_mean(weights: jax.Array, losses: jax.Array, mask: jax.Array) -> jax.Array:
    """``sum_i w_i l_i / n`` over the ``n`` unmasked examples (0 for an empty batch).

    Args:
        weights: ``[B]`` per-example weights (constants of the gradient).
        losses: ``[B]`` per-example losses.
        mask: ``[B]`` bools, False for padding.
    """
    weights = jax.lax.stop_gradient(jnp.where(mask, weights, 0))
    total = jnp.sum(jnp.where(mask, weights * losses, 0))
    return total / jnp.maximum(jnp.sum(mask), 1).astype(total.dtype)


__all__ = ["Weighting", "weighted_mean"]
