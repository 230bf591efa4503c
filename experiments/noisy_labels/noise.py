"""Label noise injected with a fixed seed and recorded (no jax).

Two kinds, as in Co-teaching (Han et al. 2018):

- ``"symmetric"``: an exact ``rate`` fraction of the examples get a label drawn
  uniformly from the OTHER classes;
- ``"pairflip"``: an exact ``rate`` fraction get the next class, ``(y + 1) mod C``.

The flipped examples are chosen by a seeded permutation, so the realised rate is
exactly ``round(rate * n) / n`` and the clean mask is known: the label precision of
what an arm keeps is measurable. The test set is never corrupted.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["KINDS", "Noise", "corrupt", "noisy_splits"]

KINDS = ("symmetric", "pairflip")


@dataclasses.dataclass(frozen=True)
class Noise:
    """One noise setting: its kind and rate (a fraction of the training labels)."""

    kind: str  # "symmetric" or "pairflip"
    rate: float  # fraction of corrupted labels, in [0, 1)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Noise: kind must be one of {KINDS}, got {self.kind!r}")
        if not 0 <= self.rate < 1:
            raise ValueError(f"Noise: rate must be in [0, 1), got {self.rate!r}")

    @property
    def name(self) -> str:
        """``"sym40"``, ``"pair40"``, ``"sym0"``."""
        return f"{'sym' if self.kind == 'symmetric' else 'pair'}{round(100 * self.rate)}"


def corrupt(labels: np.ndarray, noise: Noise, num_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Corrupt an exact ``noise.rate`` fraction of ``labels``.

    Args:
      labels: int labels ``[n]`` in ``[0, num_classes)``.
      noise: the setting.
      num_classes: C (at least 2).
      seed: the corruption's seed (fixed per data set and setting, the same for every training seed).

    Returns:
      ``(noisy_labels int32 [n], clean bool [n])``; ``clean[i]`` is False exactly where the label changed.

    >>> y, clean = corrupt(np.arange(10) % 5, Noise("pairflip", 0.4), 5, seed=0)
    >>> int((~clean).sum()), bool(np.all((y[~clean] - (np.arange(10) % 5)[~clean]) % 5 == 1))
    (4, True)
    """
    if num_classes < 2:
        raise ValueError(f"corrupt: num_classes must be >= 2, got {num_classes}")
    labels = np.asarray(labels, dtype=np.int32)
    rng = np.random.default_rng(seed)
    flipped = rng.permutation(labels.size)[: round(noise.rate * labels.size)]
    noisy = labels.copy()
    if noise.kind == "symmetric":  # an offset in 1..C-1 never gives the true class back
        noisy[flipped] = (labels[flipped] + rng.integers(1, num_classes, flipped.size)) % num_classes
    else:
        noisy[flipped] = (labels[flipped] + 1) % num_classes
    return noisy.astype(np.int32), noisy == labels


def noisy_splits(data: dict[str, np.ndarray], noises, num_classes: int, seed: int) -> dict[str, np.ndarray]:
    """Every noise setting of one data set, stacked along a leading noise axis.

    The training AND validation labels are corrupted (a practitioner's validation
    set is as noisy as the training set); test labels stay clean.

    Args:
      data: ``x_train, y_train, x_val, y_val, x_test, y_test`` (``common.data.split_validation``).
      noises: a sequence of :class:`Noise`.
      num_classes: C.
      seed: base corruption seed; setting ``k`` uses ``seed + k`` (train) and ``seed + 1000 + k``
        (validation).

    Returns:
      ``data`` plus ``y_train_noisy [noises, n_train]``, ``clean_train [noises, n_train]``,
      ``y_val_noisy [noises, n_val]``, ``clean_val`` and ``noise_rate_realised [noises]``.
    """
    train = [corrupt(data["y_train"], n, num_classes, seed + k) for k, n in enumerate(noises)]
    val = [corrupt(data["y_val"], n, num_classes, seed + 1000 + k) for k, n in enumerate(noises)]
    return {
        **data,
        "y_train_noisy": np.stack([y for y, _ in train]),
        "clean_train": np.stack([c for _, c in train]),
        "y_val_noisy": np.stack([y for y, _ in val]),
        "clean_val": np.stack([c for _, c in val]),
        "noise_rate_realised": np.asarray([1 - c.mean() for _, c in train]),
    }
