"""The sweep's arguments, checked and put in one form: each bad argument is a
``ValueError`` that names it and the value given."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from ._stack import Batch

__all__ = ["STRATEGIES", "SweepInputs", "check_inputs"]

STRATEGIES = ("auto", "vmap", "chunked", "map")


class SweepInputs(NamedTuple):
    """A sweep's arguments after checking.

    Attributes:
        configs: the stacked configurations, leaves as NumPy arrays.
        labels: one label per member.
        values: the swept values per argument (from a :class:`Batch`), or ``{}``.
        num_members: members in the sweep (at least 1).
        key: a single typed PRNG key.
        devices: the devices to shard chunks over (at least one).
        mesh: a one-axis ``("sweep",)`` mesh over ``devices``, or None for one device.
    """

    configs: Any
    labels: list[str]
    values: dict[str, np.ndarray]
    num_members: int
    key: jax.Array
    devices: list
    mesh: Mesh | None


def check_inputs(
    train: Callable,
    configs: Any,
    key: Any,
    *,
    strategy: str,
    chunk_size: Any,
    memory_budget: Any,
    devices: Sequence[jax.Device] | None,
    labels: Sequence[str] | None,
    check: Any = False,
) -> SweepInputs:
    """Check :func:`optasched.sweep`'s arguments and put them in one form.

    Args:
        train: must be callable.
        configs: a :class:`Batch` or a stacked pytree with at least one member.
        key: None (``jax.random.key(0)``), an int seed, a typed PRNG key or
            a legacy ``uint32`` key.
        strategy: one of ``STRATEGIES``.
        chunk_size: None or a positive int.
        memory_budget: None or a positive, finite number of bytes.
        devices: None (all devices) or a non-empty sequence of devices.
        labels: None or one label per member.
        check: True or False.

    Returns:
        The :class:`SweepInputs`.

    Raises:
        ValueError: naming the first bad argument and its value.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"sweep: strategy must be one of {STRATEGIES}, got {strategy!r}")
    if not isinstance(check, bool):
        raise ValueError(f"sweep: check must be True or False, got {check!r}")
    if not callable(train):
        raise ValueError(f"sweep: train must be a function train(config, key), got {train!r}")
    values: dict[str, np.ndarray] = {}
    if isinstance(configs, Batch):
        labels = labels if labels is not None else configs.labels
        configs, values = configs.config, configs.values
    num_members = _member_count(configs)
    labels = _member_labels(labels, num_members)
    _check_chunk_size(chunk_size)
    _check_memory_budget(memory_budget)
    devices = _sweep_devices(devices)
    mesh = Mesh(np.array(devices), ("sweep",)) if len(devices) > 1 else None
    host_configs = jax.tree.map(np.asarray, configs)
    return SweepInputs(host_configs, labels, values, num_members, _typed_key(key), devices, mesh)


def _member_count(configs: Any) -> int:
    sizes = {np.shape(x)[0] if np.ndim(x) else None for x in jax.tree.leaves(configs)}
    if not sizes or None in sizes or len(sizes) != 1:
        raise ValueError(
            "sweep: configs must be a stacked pytree whose leaves share one leading member axis "
            f"(use osd.stack, osd.grid or osd.sample), got leading sizes {sorted(map(str, sizes))}"
        )
    size = sizes.pop()
    if size == 0:
        raise ValueError(
            "sweep: configs has no members (its leading member axis has size 0); a sweep needs at least one"
        )
    return size


def _member_labels(labels: Sequence[str] | None, num_members: int) -> list[str]:
    labels = list(labels) if labels is not None else [f"member {i}" for i in range(num_members)]
    if len(labels) != num_members:
        raise ValueError(f"sweep: labels must have one entry per member ({num_members}), got {len(labels)}")
    return labels


def _check_chunk_size(chunk_size: Any) -> None:
    if chunk_size is None:
        return
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral) or chunk_size < 1:
        raise ValueError(f"sweep: chunk_size must be a positive int, got {chunk_size!r}")


def _check_memory_budget(memory_budget: Any) -> None:
    # Strings such as "1GB" are refused rather than parsed: GB or GiB would be a guess.
    if memory_budget is None:
        return
    if (
        isinstance(memory_budget, bool) or not isinstance(memory_budget, numbers.Real)
        or not math.isfinite(memory_budget) or memory_budget <= 0
    ):  # fmt: skip
        raise ValueError(
            "sweep: memory_budget must be a positive, finite number of bytes (such as 2**30 for 1 GiB), "
            f"got {memory_budget!r}"
        )


def _sweep_devices(devices: Sequence[jax.Device] | None) -> list:
    if devices is None:
        return jax.devices()
    devices = list(devices)
    if not devices or not all(isinstance(d, jax.Device) for d in devices):
        raise ValueError(
            f"sweep: devices must be a non-empty sequence of jax devices (or None for all), got {devices!r}"
        )
    return devices


def _typed_key(key: Any) -> jax.Array:
    """A single typed PRNG key from None, an int seed, a typed key or a legacy uint32 key."""
    if key is None:
        return jax.random.key(0)
    if isinstance(key, numbers.Integral) and not isinstance(key, bool):
        return jax.random.key(key)
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key):
        typed = key
    elif dtype == jnp.uint32:
        try:
            typed = jax.random.wrap_key_data(key)  # a legacy PRNGKey
        except (TypeError, ValueError):
            typed = None
    else:
        typed = None
    if typed is None or typed.shape != ():
        raise ValueError(
            "sweep: key must be one PRNG key (jax.random.key(seed)), a legacy jax.random.PRNGKey, "
            f"an int seed or None, got {key!r}"
        )
    return typed
