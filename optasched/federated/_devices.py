"""Client work over several devices: a round's client slots sharded along one
mesh axis, as the sweep engine shards its members."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = ["client_mesh", "pad_slots", "shard_slots"]

AXIS = "clients"


def client_mesh(where: str, devices: Sequence[jax.Device] | None) -> Mesh | None:
    """A one-axis mesh over ``devices``, or None for one device (nothing to shard).

    Args:
        where: the calling function's name, for the messages.
        devices: the devices to spread a round's clients over, or None.
    """
    if devices is None:
        return None
    devices = list(devices)
    if not devices or not all(isinstance(d, jax.Device) for d in devices):
        raise ValueError(f"{where}: devices must be a non-empty list of jax devices, got {devices!r}")
    if len(set(devices)) != len(devices):
        raise ValueError(f"{where}: devices must not repeat a device, got {devices!r}")
    return Mesh(np.asarray(devices), (AXIS,)) if len(devices) > 1 else None


def pad_slots(index: jax.Array, in_use: jax.Array, width: int) -> tuple[jax.Array, jax.Array]:
    """Extend a round's slots to ``width`` with unused slots (client 0, masked out).

    Args:
        index: the client of each slot.
        in_use: whether each slot takes part.
        width: the padded number of slots (a multiple of the device count).
    """
    extra = width - index.shape[0]
    if extra == 0:
        return index, in_use
    return (
        jnp.concatenate([index, jnp.zeros((extra,), index.dtype)]),
        jnp.concatenate([in_use, jnp.zeros((extra,), bool)]),
    )


def shard_slots(tree: Any, mesh: Mesh | None) -> Any:
    """Lay every array of ``tree`` out along its leading (slot) axis over the mesh.

    Args:
        tree: arrays with a leading slot axis.
        mesh: the clients' mesh, or None (returns ``tree`` unchanged).
    """
    if mesh is None:
        return tree
    sharding = NamedSharding(mesh, PartitionSpec(AXIS))
    return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, sharding), tree)
