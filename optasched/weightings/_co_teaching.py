"""Co-teaching: two networks trained side by side, each on the small-loss
examples chosen by its peer, as two stacked parameter sets in one program."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ..schedules import Schedule
from ._base import Weighting, weighted_mean
from ._families import selection_weights
from ._fields import hyperparameter
from ._per_example import cross_entropy
from ._selection import smallest


class CoTeaching(Weighting, family="co_teaching"):
    r"""Co-teaching (Han et al., 2018): networks A and B each pick the ``1 - R(t)``
    fraction of the batch with the smallest loss under THEIR OWN logits, and
    each trains on the selection made by its PEER, so the errors one network
    has memorised are not fed back to itself.

    .. math::
        K_A = \text{small}(\ell^B, 1 - R(t)), \quad K_B = \text{small}(\ell^A, 1 - R(t)), \quad
        L_A = \frac{1}{|K_A|} \sum_{i \in K_A} \ell^A_i, \quad
        L_B = \frac{1}{|K_B|} \sum_{i \in K_B} \ell^B_i

    with the selection of :class:`small_loss` (exactly ``round((1 - R) n)``
    kept, ties by index) and the forget rate a number or a schedule (the paper
    ramps it linearly to the noise rate over the first 10 epochs).

    - ``loss_pair(logits_a, logits_b, labels, step, mask=None) -> (loss_a, loss_b)``;
    - ``selections(logits_a, logits_b, labels, step, mask=None) -> (keep_for_a, keep_for_b)``,
      ``[B]`` bools;
    - ``loss(logits, ...)`` and ``weights(logits, ...)`` take the two networks'
      logits stacked, ``[2, B, C]`` (``jax.vmap`` of one apply over two stacked
      parameter sets), and give ``loss_a + loss_b`` and the ``[2, B]`` weights
      (``n / k`` on the kept examples, as :class:`small_loss`). The selections
      are constants of the gradient, so the gradient of ``loss_a + loss_b``
      with respect to the stacked parameters is ``(grad loss_a, grad loss_b)``:
      one optimizer over the stacked pair trains each network on its own loss.

    Args:
        forget_rate: R in [0, 1), the fraction of each batch dropped (a number
            or a schedule of the step).

    Example:
        >>> import jax.numpy as jnp, optasched as osd
        >>> logits_a = jnp.array([[3.0, 0.0], [0.0, 3.0]])  # A finds example 0 easy
        >>> logits_b = jnp.array([[0.0, 3.0], [3.0, 0.0]])  # B finds example 1 easy
        >>> keep_a, keep_b = osd.co_teaching(0.5).selections(logits_a, logits_b, jnp.zeros(2, int), 0)
        >>> keep_a.tolist(), keep_b.tolist()  # A trains on B's pick, B on A's
        ([False, True], [True, False])
    """

    forget_rate: ArrayLike | Schedule = hyperparameter(ge=0, lt=1)

    _logits_rank = 3

    def selections(self, logits_a, logits_b, labels, step, mask=None) -> tuple[jax.Array, jax.Array]:
        """``(keep_for_a, keep_for_b)``: the ``[B]`` bools each network trains on,
        chosen by its peer.

        Args:
            logits_a: ``[B, C]`` network A's logits.
            logits_b: ``[B, C]`` network B's logits.
            labels: ``[B]`` integer labels.
            step: the optimizer's step, a scalar integer.
            mask: ``[B]`` bools, False for padding; None keeps every example.
        """
        logits, labels, step, mask = self._inputs(jnp.stack([logits_a, logits_b]), labels, step, mask)
        kept = self._over_members(type(self)._selections, logits, labels, step, mask)
        return jax.lax.stop_gradient(kept[..., 0, :]), jax.lax.stop_gradient(kept[..., 1, :])

    def loss_pair(self, logits_a, logits_b, labels, step, mask=None) -> tuple[jax.Array, jax.Array]:
        """``(loss_a, loss_b)``: each network's mean cross-entropy over the examples its peer kept.

        Args:
            logits_a: ``[B, C]`` network A's logits.
            logits_b: ``[B, C]`` network B's logits.
            labels: ``[B]`` integer labels.
            step: the optimizer's step, a scalar integer.
            mask: ``[B]`` bools, False for padding; None keeps every example.
        """
        logits, labels, step, mask = self._inputs(jnp.stack([logits_a, logits_b]), labels, step, mask)
        losses = self._over_members(type(self)._pair, logits, labels, step, mask)
        return losses[..., 0], losses[..., 1]

    def _selections(self, logits, labels, step, mask):
        """``[2, B]``: row 0 what A trains on (B's small-loss pick), row 1 B's."""
        self._require_examples(mask)
        keep_fraction = 1 - self._at("forget_rate", step)
        own_losses = jax.vmap(cross_entropy, in_axes=(0, None))(logits, labels)
        picked = jax.vmap(smallest, in_axes=(0, None, None))(own_losses, mask, keep_fraction)
        return picked[::-1]  # each network trains on its peer's pick

    def _weights(self, logits, labels, step, mask):
        kept = self._selections(logits, labels, step, mask)
        return jax.vmap(selection_weights, in_axes=(0, None, None))(kept, mask, logits.dtype)

    def _pair(self, logits, labels, step, mask):
        weights = self._weights(logits, labels, step, mask)
        losses = jax.vmap(cross_entropy, in_axes=(0, None))(logits, labels)
        return jax.vmap(weighted_mean, in_axes=(0, 0, None))(weights, losses, mask)

    def _loss(self, logits, labels, step, mask):
        return jnp.sum(self._pair(logits, labels, step, mask))


__all__ = ["CoTeaching"]
