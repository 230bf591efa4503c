"""Splitting a labelled training set over clients (numpy only, no jax).

Both splits give every client the same number of examples, so every client of a
round takes the same number of local steps (E epochs of batch B):

- ``dirichlet``: Hsu et al. 2019's split. Client ``i`` draws its label mix
  ``q_i ~ Dir(alpha * 1)`` and takes ``n`` examples with labels drawn from
  ``q_i``, without replacement from what the clients before it left; a label
  whose examples are used up is dropped from ``q_i`` (renormalised). Small
  ``alpha`` gives one or two labels a client, ``alpha = 100`` nearly IID.
- ``one_label``: every client holds examples of one label only (client ``i``
  label ``i mod classes``), the most skewed split of NIID-Bench.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dirichlet", "label_histogram", "one_label", "partition"]


def _check(labels, num_clients: int, per_client: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"partition: labels must be 1-D, got shape {labels.shape}")
    if num_clients < 1 or per_client < 1:
        raise ValueError(f"partition: num_clients and per_client must be >= 1, "
                         f"got {num_clients}, {per_client}")
    if num_clients * per_client > labels.size:
        raise ValueError(f"partition: num_clients * per_client = {num_clients * per_client} exceeds the "
                         f"{labels.size} examples")  # fmt: skip
    return labels


def dirichlet(labels, num_clients: int, per_client: int, alpha: float,
              rng: np.random.Generator) -> np.ndarray:
    """Indices ``[num_clients, per_client]`` into ``labels``: each client's label mix ~ Dir(alpha).

    Args:
      labels: int labels of the pool, shape ``(n,)``.
      num_clients: clients.
      per_client: examples per client.
      alpha: Dirichlet concentration (> 0).
      rng: numpy generator (the seed's partition).
    """
    labels = _check(labels, num_clients, per_client)
    if not alpha > 0:
        raise ValueError(f"dirichlet: alpha must be > 0, got {alpha!r}")
    classes = np.unique(labels)
    pools = {c: list(rng.permutation(np.flatnonzero(labels == c))) for c in classes}
    out = np.empty((num_clients, per_client), np.int64)
    for i in range(num_clients):
        q = rng.dirichlet(np.full(classes.size, float(alpha)))
        taken = []
        while len(taken) < per_client:
            left = np.array([len(pools[c]) > 0 for c in classes])
            p = np.where(left, q, 0.0)
            # a mix that puts all its mass on used-up labels (tiny alpha) falls back to what is left
            p = p / p.sum() if p.sum() > 0 else left / left.sum()
            c = classes[rng.choice(classes.size, p=p)]
            taken.append(pools[c].pop())
        out[i] = taken
    return out


def one_label(labels, num_clients: int, per_client: int, rng: np.random.Generator) -> np.ndarray:
    """Indices ``[num_clients, per_client]``: client ``i`` holds only label ``classes[i mod C]``.

    Raises:
      ValueError: when a label has fewer than ``per_client`` times its clients' count of examples.
    """
    labels = _check(labels, num_clients, per_client)
    classes = np.unique(labels)
    out = np.empty((num_clients, per_client), np.int64)
    pools = {c: rng.permutation(np.flatnonzero(labels == c)) for c in classes}
    for c_index, c in enumerate(classes):
        owners = np.arange(c_index, num_clients, classes.size)
        if owners.size * per_client > pools[c].size:
            raise ValueError(f"one_label: label {c} has {pools[c].size} examples, its {owners.size} clients "
                             f"need {owners.size * per_client}")  # fmt: skip
        out[owners] = pools[c][: owners.size * per_client].reshape(owners.size, per_client)
    return out


def partition(kind: str, labels, num_clients: int, per_client: int, seed: int) -> np.ndarray:
    """``kind`` ``"dir<alpha>"`` (``"dir0.1"``) or ``"one_label"``; the same ``seed`` gives the same split."""
    rng = np.random.default_rng(seed)
    if kind == "one_label":
        return one_label(labels, num_clients, per_client, rng)
    if kind.startswith("dir"):
        return dirichlet(labels, num_clients, per_client, float(kind[3:]), rng)
    raise ValueError(f"partition: kind must be 'one_label' or 'dir<alpha>', got {kind!r}")


def label_histogram(labels, index: np.ndarray, classes: int = 10) -> np.ndarray:
    """Per-client label counts ``[num_clients, classes]`` of a partition."""
    return np.stack([np.bincount(np.asarray(labels)[row], minlength=classes) for row in index])
