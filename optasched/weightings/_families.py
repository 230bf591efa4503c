"""Weightings of the cross-entropy: uniform (the baseline), the margin-based step
(high for easy examples, low for hard ones), small-loss selection with a
scheduled forget rate, and hard self-paced learning with a scheduled threshold.

Each loss is ``sum_i w_i l_i / n`` (``l_i`` the cross-entropy, ``n`` the
unmasked examples), so with plain SGD ``eta * w_i / n`` is example ``i``'s
learning rate (see :class:`~optasched.weightings.Weighting`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from ..schedules import Schedule
from ._base import Weighting
from ._fields import hyperparameter
from ._per_example import cross_entropy, margin
from ._selection import smallest


class UniformWeighting(Weighting, family="uniform_weighting"):
    r"""Plain mean cross-entropy: every unmasked example has weight 1 (the baseline).

    .. math:: L = \frac{1}{n} \sum_{i \le n} -\log p_{y_i}

    Example:
        >>> import jax.numpy as jnp, optasched as osd
        >>> logits, labels = jnp.array([[2.0, 0.0], [0.0, 2.0]]), jnp.array([0, 0])
        >>> osd.uniform_weighting().weights(logits, labels, step=0).tolist()
        [1.0, 1.0]
    """

    def _weights(self, logits, labels, step, mask):
        return mask.astype(logits.dtype)


class MarginWeighting(Weighting, family="margin_weighting"):
    r"""The margin-based step: weight rising with the margin of the labelled class,
    high for easy examples (large margin), low for hard ones.

    .. math::
        m_i = z_{i, y_i} - \max_{j \ne y_i} z_{ij}, \qquad
        w_i = f + (1 - f)\,\sigma(m_i / T), \qquad
        L = \frac{1}{n} \sum_i w_i\, \ell_i

    with :math:`\ell_i` the cross-entropy and the weights constants of the
    gradient. With plain SGD, :math:`\eta w_i / n` is example ``i``'s learning
    rate: the optimizer speeds up on familiar examples and slows down on the
    ones it gets wrong (the proposal in the project's mission). A weight is at
    least ``floor`` and below 1; a misclassified example (negative margin)
    has a weight below :math:`(1 + f) / 2`.

    Args:
        temperature: T > 0, the margin scale of the sigmoid (a number or a
            schedule of the step).
        floor: f in [0, 1], the smallest weight (a number or a schedule).

    Example:
        >>> import jax.numpy as jnp, optasched as osd
        >>> logits, labels = jnp.array([[3.0, 0.0], [0.0, 3.0]]), jnp.array([0, 0])
        >>> w = osd.margin_weighting(temperature=1.0, floor=0.1).weights(logits, labels, step=0)
        >>> [round(x, 3) for x in w.tolist()]  # easy (margin 3), hard (margin -3)
        [0.957, 0.143]
    """

    temperature: ArrayLike | Schedule = hyperparameter(1.0, gt=0)
    floor: ArrayLike | Schedule = hyperparameter(0.1, ge=0, le=1)

    def _weights(self, logits, labels, step, mask):
        floor = self._at("floor", step)
        easiness = jax.nn.sigmoid(margin(logits, labels) / self._at("temperature", step))
        return jnp.where(mask, floor + (1 - floor) * easiness, 0).astype(logits.dtype)


class SmallLoss(Weighting, family="small_loss"):
    r"""Small-loss selection: train on the ``1 - R(t)`` fraction of each batch with
    the smallest cross-entropy (the examples most likely clean under label
    noise), with the forget rate ``R(t)`` a number or a schedule of the step.

    Co-teaching (Han et al., 2018) ramps ``R`` from 0 to the noise rate over
    the first epochs, ``osd.linear(0.0, noise_rate, ramp_steps)``: networks fit
    clean labels before noisy ones (Arpit et al., 2017), so early on every
    example is kept. Of the ``n`` unmasked examples exactly
    ``k = round((1 - R) n)`` (halves to even) are kept, those first in the
    order (loss, index): every example below the ``k``-th smallest loss (a
    traced quantile of the unmasked losses) and, of those tied at it, the
    lowest indices. The threshold is found by a sort, never by ``top_k`` with
    a traced ``k``, so one compiled program serves every rate.

    .. math::
        L = \frac{1}{k} \sum_{i \in \text{kept}} \ell_i, \qquad
        w_i = \frac{n}{k}\,[i \in \text{kept}]

    so ``L = sum_i w_i l_i / n`` as for every weighting, and with plain SGD the
    kept examples' learning rate is ``eta / k``. An all-masked batch has no
    quantile: a ``ValueError`` when the mask is concrete (and in checked mode
    when traced); unchecked, a traced empty batch keeps nothing and the loss
    is 0, as it is whenever ``k`` rounds to 0.

    Args:
        forget_rate: R in [0, 1), the fraction of each batch dropped (a number
            or a schedule of the step, such as a linear ramp to the noise rate).

    Example:
        >>> import jax.numpy as jnp, optasched as osd
        >>> logits = jnp.array([[3.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 3.0]])
        >>> selection = osd.small_loss(forget_rate=osd.linear(0.0, 0.5, 100))
        >>> selection.weights(logits, jnp.zeros(4, int), step=100).tolist()  # keeps the 2 smallest
        [2.0, 2.0, 0.0, 0.0]
    """

    forget_rate: ArrayLike | Schedule = hyperparameter(ge=0, lt=1)

    def _weights(self, logits, labels, step, mask):
        self._require_examples(mask)
        kept = smallest(cross_entropy(logits, labels), mask, 1 - self._at("forget_rate", step))
        return selection_weights(kept, mask, logits.dtype)


class SelfPaced(Weighting, family="self_paced"):
    r"""Hard self-paced learning: train on the examples whose cross-entropy is
    below a threshold ``lambda(t)``, annealed upwards so that harder examples
    join as training goes on (Kumar, Packer & Koller, 2010).

    .. math::
        w_i = [\ell_i < \lambda(t)], \qquad L = \frac{1}{n} \sum_i w_i\, \ell_i

    Unlike :class:`small_loss` the kept fraction varies, so the sum is divided
    by the batch size ``n``, not by the kept count: with plain SGD each kept
    example's learning rate stays ``eta / n`` however many pass.

    Args:
        threshold: lambda >= 0, the loss below which an example is kept (a
            number or a schedule of the step, typically rising).

    Example:
        >>> import jax.numpy as jnp, optasched as osd
        >>> logits = jnp.array([[3.0, 0.0], [0.0, 3.0]])
        >>> paced = osd.self_paced(threshold=osd.linear(1.0, 5.0, 100))
        >>> paced.weights(logits, jnp.zeros(2, int), step=0).tolist(), paced.weights(
        ...     logits, jnp.zeros(2, int), step=100).tolist()
        ([1.0, 0.0], [1.0, 1.0])
    """

    threshold: ArrayLike | Schedule = hyperparameter(ge=0)

    def _weights(self, logits, labels, step, mask):
        easy = cross_entropy(logits, labels) < self._at("threshold", step)
        return (mask & easy).astype(logits.dtype)


def selection_weights(kept: jax.Array, mask: jax.Array, dtype) -> jax.Array:
    """``n / k`` on the ``k`` kept examples (``n`` unmasked), 0 elsewhere: the weights
    that make ``sum_i w_i l_i / n`` the mean over the kept examples.

    Args:
        kept: ``[B]`` bools, the selection.
        mask: ``[B]`` bools, False for padding.
        dtype: the weights' floating dtype.
    """
    count = jnp.sum(kept).astype(dtype)
    scale = jnp.sum(mask).astype(dtype) / jnp.maximum(count, 1)
    return jnp.where(kept, scale, 0).astype(dtype)


__all__ = ["MarginWeighting", "SelfPaced", "SmallLoss", "UniformWeighting", "selection_weights"]
