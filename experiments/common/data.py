"""Offline datasets for the studies: nothing is ever downloaded.

- MNIST-1D (Greydanus & Kobak 2024), generated procedurally by
  ``mnist1d.data.make_dataset`` (about a second) and cached as ``.npz``;
  any generator seed gives a fresh draw.
- scikit-learn's bundled 8x8 digits.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def cache_dir() -> Path:
    """Where generated data and the compilation cache live: ``$OPTASCHED_CACHE``
    or ``~/.cache/optasched``."""
    root = os.environ.get("OPTASCHED_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "optasched")
    return Path(root)


def load_mnist1d(seed: int = 42, directory: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """MNIST-1D (Greydanus & Kobak, ICML 2024): 4000 train / 1000 test
    sequences of length 40, 10 classes, generated with the reference arguments.

    Returns:
        ``{"x_train": float32[4000, 40], "y_train": int32[4000],
        "x_test": float32[1000, 40], "y_test": int32[1000]}``.

    ``seed`` is the generator's seed (42 is the paper's data; another seed is
    a fresh draw from the same distribution). Requires the ``mnist1d``
    package (``pip install -e '.[experiments]'``);
    its ``get_dataset`` is never called, so nothing is downloaded.
    """
    directory = Path(directory) if directory is not None else cache_dir()
    path = directory / f"mnist1d_seed{seed}.npz"
    if path.exists():
        with np.load(path) as cached:
            return {k: cached[k] for k in cached.files}
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as err:
        raise ImportError("load_mnist1d needs the mnist1d package: pip install -e '.[experiments]'") from err
    args = get_dataset_args()
    args.seed = seed
    data = make_dataset(args)
    arrays = {
        "x_train": np.asarray(data["x"], np.float32),
        "y_train": np.asarray(data["y"], np.int32),
        "x_test": np.asarray(data["x_test"], np.float32),
        "y_test": np.asarray(data["y_test"], np.int32),
    }
    directory.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(temporary, **arrays)
    os.replace(temporary, path)  # atomic: concurrent processes never read half a file
    return arrays


def split_validation(data: dict[str, np.ndarray], size: int) -> dict[str, np.ndarray]:
    """Hold the first ``size`` training examples out as a validation set.

    Returns ``x_train, y_train`` (the rest), ``x_val, y_val``, ``x_test, y_test``.
    Choices (learning rates, checkpoints) are made on validation; test is only reported.
    """
    if not 0 < size < len(data["x_train"]):
        raise ValueError(f"split_validation: size must be in (0, {len(data['x_train'])}), got {size}")
    return {
        "x_train": data["x_train"][size:],
        "y_train": data["y_train"][size:],
        "x_val": data["x_train"][:size],
        "y_val": data["y_train"][:size],
        "x_test": data["x_test"],
        "y_test": data["y_test"],
    }


def load_digits(seed: int = 0, test_fraction: float = 0.2) -> dict[str, np.ndarray]:
    """scikit-learn's bundled 8x8 digits (1797 images, no download): pixels
    standardised with training statistics, a seeded train/test split."""
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(x))
    split = int(round((1 - test_fraction) * len(x)))
    train, test = order[:split], order[split:]
    mean, std = x[train].mean(0), x[train].std(0) + 1e-3
    return {
        "x_train": (x[train] - mean) / std,
        "y_train": y[train],
        "x_test": (x[test] - mean) / std,
        "y_test": y[test],
    }
