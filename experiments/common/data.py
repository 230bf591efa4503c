"""Offline datasets for experiments: MNIST-1D, generated procedurally and cached.

Nothing is downloaded: ``mnist1d.data.make_dataset`` builds the data from its
templates in about a second, and the arrays are cached as ``.npz``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def _cache_dir() -> Path:
    root = os.environ.get("OPTASCHED_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "optasched")
    return Path(root)


def load_mnist1d(seed: int = 42, cache_dir: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """MNIST-1D (Greydanus & Kobak, ICML 2024): 4000 train / 1000 test
    sequences of length 40, 10 classes, generated with the reference arguments.

    Returns:
        ``{"x_train": float32[4000, 40], "y_train": int32[4000],
        "x_test": float32[1000, 40], "y_test": int32[1000]}``.

    Requires the ``mnist1d`` package (``pip install optasched[experiments]``);
    its ``get_dataset`` is never called, so nothing is downloaded.
    """
    directory = Path(cache_dir) if cache_dir is not None else _cache_dir()
    path = directory / f"mnist1d_seed{seed}.npz"
    if path.exists():
        with np.load(path) as cached:
            return {k: cached[k] for k in cached.files}
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as err:
        raise ImportError("load_mnist1d needs the mnist1d package: pip install 'optasched[experiments]'") from err
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
