"""Robust losses as weightings: generalized cross-entropy (truncated Lq), which
down-weights examples the model finds unlikely, and focal loss, which does the
opposite (hard examples up). Neither is a weighted cross-entropy; each one's
``weights`` says how its gradient compares to the cross-entropy's."""

from __future__ import annotations

import jax.numpy as jnp
from jax.typing import ArrayLike

from ..schedules import Schedule
from ._base import Weighting, weighted_mean
from ._fields import hyperparameter
from ._per_example import label_log_probability


class GCE(Weighting, family="gce"):
    r"""Generalized cross-entropy, the Lq loss (Zhang & Sabuncu, 2018), optionally truncated.

    .. math::
        \ell^{q}_i = \frac{1 - p_{y_i}^{\,q}}{q}, \qquad
        \ell^{q,k}_i = \ell^{q}\bigl(\max(p_{y_i}, k)\bigr), \qquad
        L = \frac{1}{n} \sum_i \ell^{q,k}_i

    ``q -> 0`` is the cross-entropy, ``q = 1`` the mean absolute error
    ``1 - p_y``. Its gradient in the logits is the cross-entropy's times
    :math:`p_{y_i}^{\,q}` (zero where truncated, :math:`p_{y_i} \le k`), so
    ``weights`` returns :math:`p_{y_i}^{\,q}\,[p_{y_i} > k]` and ``loss`` has
    the gradient of ``sum_i w_i l_i / n`` exactly: examples the model finds
    unlikely (often the mislabelled ones) are down-weighted.

    Args:
        q: in (0, 1] (a number or a schedule of the step); 0.7 in the paper.
        truncation: k in [0, 1), the probability below which an example's loss
            is held constant (truncated Lq); 0 is plain Lq.

    Example:
        >>> import jax.numpy as jnp, optasched as osd
        >>> logits, labels = jnp.array([[0.0, 0.0]]), jnp.array([0])
        >>> round(float(osd.gce(q=0.5).loss(logits, labels, step=0)), 4)  # (1 - 0.5**0.5) / 0.5
        0.5858
    """

    q: ArrayLike | Schedule = hyperparameter(0.7, gt=0, le=1)
    truncation: ArrayLike | Schedule = hyperparameter(0.0, ge=0, lt=1)

    def _loss(self, logits, labels, step, mask):
        q = self._at("q", step)
        log_p = jnp.maximum(label_log_probability(logits, labels), jnp.log(self._at("truncation", step)))
        per_example = -jnp.expm1(q * log_p) / q  # (1 - p**q) / q, exact for small q * log p
        return weighted_mean(jnp.ones_like(per_example), per_example, mask)

    def _weights(self, logits, labels, step, mask):
        log_p = label_log_probability(logits, labels)
        kept = mask & (log_p > jnp.log(self._at("truncation", step)))
        return jnp.where(kept, jnp.exp(self._at("q", step) * log_p), 0).astype(logits.dtype)


class Focal(Weighting, family="focal"):
    r"""Focal loss (Lin et al., 2017): the cross-entropy scaled up on hard examples.

    .. math::
        \ell_i = -(1 - p_{y_i})^{\gamma} \log p_{y_i}, \qquad L = \frac{1}{n} \sum_i \ell_i

    The opposite direction to the margin weighting and GCE: hard (low
    :math:`p_y`) examples keep their weight, easy ones lose it. ``weights``
    returns :math:`(1 - p_{y_i})^{\gamma}`, the factor on the loss; the focal
    gradient is NOT exactly that weight times the cross-entropy's gradient: it
    has the extra term :math:`\gamma (1 - p)^{\gamma - 1} \log p \; \nabla p`
    (the factor itself depends on the logits). ``gamma = 0`` is the
    cross-entropy.

    Args:
        gamma: >= 0, the focusing exponent (a number or a schedule of the step).

    Example:
        >>> import jax.numpy as jnp, optasched as osd
        >>> logits, labels = jnp.array([[0.0, 0.0]]), jnp.array([0])
        >>> osd.focal(gamma=2.0).weights(logits, labels, step=0).tolist()  # (1 - 0.5)**2
        [0.25]
    """

    gamma: ArrayLike | Schedule = hyperparameter(2.0, ge=0)

    def _factor(self, logits, labels, step):
        log_p = label_log_probability(logits, labels)
        # 1 - p, kept away from 0 so (1 - p)**gamma has a finite gradient when p rounds to 1.
        miss = jnp.maximum(-jnp.expm1(log_p), jnp.finfo(logits.dtype).tiny)
        return miss ** self._at("gamma", step), log_p

    def _loss(self, logits, labels, step, mask):
        factor, log_p = self._factor(logits, labels, step)
        per_example = -factor * log_p
        return weighted_mean(jnp.ones_like(per_example), per_example, mask)

    def _weights(self, logits, labels, step, mask):
        factor, _ = self._factor(logits, labels, step)
        return jnp.where(mask, factor, 0).astype(logits.dtype)


__all__ = ["Focal", "GCE"]
