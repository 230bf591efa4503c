"""2-D Gaussian mixtures whose every diffusion quantity is closed form.

A mixture of isotropic Gaussians stays a mixture of isotropic Gaussians under
the diffusion corruption ``x_t = alpha * x_0 + sigma * eps``, so its noised
density, its score and the optimal (minimum mean-squared error) denoiser
``E[x_0 | x_t]`` are exact at every noise level. That makes it the data set on
which a generative model's quality is measurable without a learned metric:
exact log-densities (hence KL against a model's likelihood), the exact
denoiser to compare a learned one against, and known modes to count.

Everything is pure ``jax.numpy`` (jittable, vmappable); sample distances are
NumPy-free too so they can run inside a sweep.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp


class Mixture(NamedTuple):
    """An equal-or-weighted mixture of isotropic Gaussians in the plane.

    Attributes:
        means: float[K, 2], the component centres.
        std: the common per-coordinate standard deviation of every component.
        log_weights: float[K], log mixing weights (normalised).
    """

    means: jax.Array
    std: jax.Array
    log_weights: jax.Array

    @property
    def num_modes(self) -> int:
        return self.means.shape[0]

    def coordinate_std(self) -> jax.Array:
        """Per-coordinate standard deviation of the whole mixture (pooled over both axes)."""
        weights = jnp.exp(self.log_weights)
        mean = weights @ self.means
        spread = weights @ jnp.sum((self.means - mean[None, :]) ** 2, axis=-1) / 2
        return jnp.sqrt(spread + self.std**2)


def ring(num_modes: int = 8, radius: float = 1.0, std: float = 0.1) -> Mixture:
    """``num_modes`` equal Gaussians of standard deviation ``std`` on a circle of ``radius``.

    The classic 8-Gaussians toy of the GAN and diffusion literature.
    """
    if num_modes < 1 or radius < 0 or std <= 0:
        raise ValueError(f"ring: need num_modes >= 1, radius >= 0, std > 0; got {num_modes}, {radius}, {std}")
    angles = 2 * math.pi * jnp.arange(num_modes) / num_modes
    means = radius * jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=-1)
    return Mixture(means, jnp.asarray(std, jnp.float32), jnp.full((num_modes,), -math.log(num_modes)))


def sample(mixture: Mixture, key: jax.Array, num: int) -> jax.Array:
    """``num`` draws, float[num, 2]."""
    k_mode, k_noise = jax.random.split(key)
    # inverse CDF of the mode index: one uniform per draw (cheaper than Gumbel-max over K logits)
    cumulative = jnp.cumsum(jnp.exp(mixture.log_weights))
    uniform = jax.random.uniform(k_mode, (num,))
    modes = jnp.sum(uniform[:, None] >= (cumulative / cumulative[-1])[None, :-1], axis=1)
    return mixture.means[modes] + mixture.std * jax.random.normal(k_noise, (num, 2))


def noised(mixture: Mixture, alpha, sigma) -> Mixture:
    """The law of ``alpha * x_0 + sigma * eps``: means scaled, variances ``alpha^2 s^2 + sigma^2``."""
    return Mixture(alpha * mixture.means, jnp.sqrt(alpha**2 * mixture.std**2 + sigma**2), mixture.log_weights)


def _squared_distances(points: jax.Array, means: jax.Array) -> jax.Array:
    """float[N, 2], float[K, 2] -> float[N, K]."""
    return jnp.sum((points[:, None, :] - means[None, :, :]) ** 2, axis=-1)


def _component_log_probs(mixture: Mixture, x: jax.Array) -> jax.Array:
    """log w_k + log N(x; mu_k, s^2 I) for every component: float[N, K]."""
    variance = mixture.std**2
    squared = _squared_distances(x, mixture.means)
    return mixture.log_weights[None, :] - squared / (2 * variance) - jnp.log(2 * math.pi * variance)


def log_prob(mixture: Mixture, x: jax.Array) -> jax.Array:
    """Exact log-density at ``x`` (float[N, 2] -> float[N])."""
    return jax.nn.logsumexp(_component_log_probs(mixture, x), axis=-1)


def entropy(
    mixture: Mixture, key: jax.Array, num: int = 1_000_000, chunk: int = 100_000
) -> tuple[jax.Array, jax.Array]:
    """Differential entropy by Monte Carlo with the exact log-density: (estimate, standard error).

    A mixture's entropy has no closed form; with ``num = 10**6`` draws the
    standard error is about 1e-3 nats.
    """
    chunks = max(1, num // chunk)

    def one(k):
        values = -log_prob(mixture, sample(mixture, k, chunk))
        return values.mean(), (values**2).mean()

    means, squares = jax.lax.map(one, jax.random.split(key, chunks))
    mean = means.mean()
    variance = squares.mean() - mean**2
    return mean, jnp.sqrt(variance / (chunks * chunk))


def denoiser(mixture: Mixture, x_t: jax.Array, alpha, sigma) -> jax.Array:
    """The optimal denoiser ``E[x_0 | x_t]`` for ``x_t = alpha x_0 + sigma eps``: float[N, 2].

    Posterior responsibilities of the components under the noised mixture,
    times each component's Gaussian posterior mean
    ``mu_k + alpha s^2 / (alpha^2 s^2 + sigma^2) (x_t - alpha mu_k)``.
    ``alpha`` and ``sigma`` are scalars or float[N].
    """
    num = x_t.shape[0]
    alpha = jnp.broadcast_to(alpha, (num,))[:, None, None]  # [N, 1, 1]
    sigma = jnp.broadcast_to(sigma, (num,))[:, None, None]
    variance = alpha**2 * mixture.std**2 + sigma**2
    offsets = x_t[:, None, :] - alpha * mixture.means[None, :, :]  # [N, K, 2]
    squared = jnp.sum(offsets**2, axis=-1, keepdims=True)  # [N, K, 1]
    logits = mixture.log_weights[None, :, None] - squared / (2 * variance)
    responsibilities = jax.nn.softmax(logits, axis=1)  # [N, K, 1]
    component_means = mixture.means[None, :, :] + (alpha * mixture.std**2 / variance) * offsets
    return jnp.sum(responsibilities * component_means, axis=1)


def mode_statistics(
    mixture: Mixture, samples: jax.Array, radius_in_stds: float = 3.0, min_fraction: float = 0.25
) -> dict[str, jax.Array]:
    """How samples spread over the modes.

    Returns:
        ``high_quality``: fraction of samples within ``radius_in_stds`` standard
        deviations of some mode (about 0.989 for the data itself at 3);
        ``modes_covered``: modes that received at least ``min_fraction`` of
        their expected share of the high-quality samples;
        ``mode_tv``: total-variation distance between the samples' mode
        frequencies (nearest mode) and the mixing weights (0 for the data up to
        sampling noise).
    """
    squared = _squared_distances(samples, mixture.means)
    nearest = jnp.argmin(squared, axis=-1)
    close = jnp.min(squared, axis=-1) <= (radius_in_stds * mixture.std) ** 2
    one_hot = jax.nn.one_hot(nearest, mixture.num_modes)
    counts = jnp.sum(one_hot * close[:, None], axis=0)
    weights = jnp.exp(mixture.log_weights)
    covered = counts >= min_fraction * weights * samples.shape[0]
    frequencies = jnp.mean(one_hot, axis=0)
    return {
        "high_quality": jnp.mean(close),
        "modes_covered": jnp.sum(covered),
        "mode_tv": 0.5 * jnp.sum(jnp.abs(frequencies - weights)),
    }


def sliced_wasserstein(a: jax.Array, b: jax.Array, num_directions: int = 128) -> jax.Array:
    """Sliced 2-Wasserstein distance between two equal-size point clouds in the plane.

    Uses ``num_directions`` evenly spaced directions on the half circle (a
    deterministic quadrature of the slicing integral, so two calls agree
    exactly): the root mean, over directions, of the squared 1-D Wasserstein-2
    distance between the sorted projections.
    """
    if a.shape != b.shape:
        raise ValueError(
            f"sliced_wasserstein: point clouds must have equal shapes, got {a.shape} and {b.shape}"
        )
    angles = jnp.pi * (jnp.arange(num_directions) + 0.5) / num_directions
    directions = jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=0)  # [2, D]
    pa = jnp.sort(a @ directions, axis=0)
    pb = jnp.sort(b @ directions, axis=0)
    return jnp.sqrt(jnp.mean((pa - pb) ** 2))


__all__ = [
    "Mixture",
    "denoiser",
    "entropy",
    "log_prob",
    "mode_statistics",
    "noised",
    "ring",
    "sample",
    "sliced_wasserstein",
]
