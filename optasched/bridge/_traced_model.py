"""Passing traced hyperparameter values into a model: dropout and per-call attributes.

Flax's ``nn.Dropout`` and ``nnx.Dropout`` run Python ``if``s on their rate
(``rate == 0.0``), so a traced, scheduled rate raises; :func:`dropout` is the
same operation with the rate an array. ``nnx.BatchNorm`` keeps its momentum
as a Python attribute, and an array left there leaks a tracer out of
``nnx.jit``; :func:`overriding` sets it for one call and puts the old value
back. (Linen modules take a traced value as a constructor argument inside
``@nn.compact``: ``nn.BatchNorm(momentum=momentum)(x)``; nothing is needed.)
Nothing here imports Flax.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["dropout", "overriding"]


def dropout(x: jax.Array, rate, key: jax.Array, *, deterministic: bool = False) -> jax.Array:
    r"""Inverted dropout whose rate is a traced value (a schedule's, a sweep's).

    .. math:: y = \frac{m \odot x}{1 - r}, \qquad m_i \sim \text{Bernoulli}(1 - r)

    The operation of Flax's ``nn.Dropout`` (the same mask for the same key,
    the same values up to the float32 rounding of ``1 - rate``), without its
    Python branches on the rate: ``rate``
    may be traced, so a scheduled rate never retraces and a sweep over it
    vmaps. At ``rate = 1`` every element is 0 (not NaN).

    Args:
        x: the inputs.
        rate: the probability :math:`r` of dropping each element, in
            ``[0, 1]``; a number or a (traced) scalar array.
        key: the PRNG key of the mask (``self.make_rng("dropout")`` in a linen
            module, ``rngs.dropout()`` in NNX).
        deterministic: return ``x`` unchanged (evaluation); a Python bool.

    Returns:
        An array like ``x``.

    Raises:
        ValueError: a concrete ``rate`` outside ``[0, 1]`` or not a scalar.

    Example:
        >>> import jax, jax.numpy as jnp, optasched as osd
        >>> y = jax.jit(osd.dropout)(jnp.ones(4), jnp.float32(0.5), jax.random.key(0))
        >>> sorted(set(y.tolist())) in ([0.0, 2.0], [0.0], [2.0])
        True

    Reference: Srivastava et al., "Dropout: a simple way to prevent neural
    networks from overfitting", JMLR 2014.
    """
    if jnp.ndim(rate) != 0:
        raise ValueError(f"dropout: rate must be a scalar, got shape {jnp.shape(rate)}")
    if isinstance(rate, (numbers.Real, np.ndarray, np.generic)) and not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"dropout: rate must be in [0, 1], got {rate!r}")
    if deterministic:
        return x
    keep = 1.0 - jnp.asarray(rate, jnp.result_type(x))
    mask = jax.random.bernoulli(key, keep, x.shape)
    safe_keep = jnp.where(keep > 0, keep, 1.0)  # rate 1: the mask is all False, and no 0 / 0
    return jax.lax.select(mask, x / safe_keep, jnp.zeros_like(x))


@contextlib.contextmanager
def overriding(module: Any, **attributes) -> Iterator[Any]:
    """Set a module's attributes for the duration of one call, then restore them.

    For a Flax NNX layer whose hyperparameter is a Python attribute, such as
    ``nnx.BatchNorm.momentum``: inside ``nnx.jit`` (or ``jax.jit`` of
    ``nnx.merge``) the traced value is used by the call and the Python value
    is back when the function returns, so nothing traced leaks out and a
    new value never retraces.

    Args:
        module: the object whose attributes are set (an ``nnx.Module``).
        **attributes: attribute name -> value for the call (traced arrays welcome).

    Yields:
        ``module``, with the attributes set.

    Raises:
        ValueError: naming an attribute the module does not have (a typo
            would otherwise set a new attribute that nothing reads), or no
            attribute given.

    Example:
        >>> import types, jax.numpy as jnp, optasched as osd
        >>> layer = types.SimpleNamespace(momentum=0.99)
        >>> with osd.overriding(layer, momentum=jnp.float32(0.9)):
        ...     print(round(float(layer.momentum), 2))
        0.9
        >>> layer.momentum
        0.99
    """
    if not attributes:
        raise ValueError("overriding: give at least one attribute to set, e.g. momentum=value")
    missing = [name for name in attributes if not hasattr(module, name)]
    if missing:
        raise ValueError(
            f"overriding: {type(module).__name__} has no attribute {', '.join(map(repr, missing))} "
            f"(attributes given: {', '.join(attributes)})"
        )
    saved = {name: getattr(module, name) for name in attributes}
    try:
        for name, value in attributes.items():
            setattr(module, name, value)
        yield module
    finally:
        for name, value in saved.items():
            setattr(module, name, value)
