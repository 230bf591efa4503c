"""Which clients take part in a round: a fixed-size draw or a Bernoulli mask,
both with a static number of client slots, so the rate may be traced."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from ..schedules import is_traced

__all__ = ["SAMPLINGS", "check_participation", "sample_clients", "slot_count"]

SAMPLINGS = ("fixed", "bernoulli")


def check_participation(where: str, participation, sampling: str) -> None:
    """Raise a ValueError for a concrete rate outside (0, 1] or an unknown sampling.

    Args:
        where: the calling function's name, for the messages.
        participation: the participation rate (a traced one is not checked).
        sampling: ``"fixed"`` or ``"bernoulli"``.
    """
    if sampling not in SAMPLINGS:
        raise ValueError(f"{where}: sampling must be one of {SAMPLINGS}, got {sampling!r}")
    if is_traced(participation):
        return
    rate = np.asarray(participation)
    if rate.ndim != 0 or not np.isfinite(rate) or not 0 < rate <= 1:
        raise ValueError(f"{where}: participation must be a rate in (0, 1], got {participation!r}")


def slot_count(
    where: str, participation, sampling: str, num_clients: int, max_participants: int | None
) -> int:
    """How many client slots a round vmaps over (a static number).

    Args:
        where: the calling function's name, for the messages.
        participation: the participation rate.
        sampling: ``"fixed"`` or ``"bernoulli"``.
        num_clients: the number of clients.
        max_participants: the slots asked for, or None for the default.
    """
    if sampling == "bernoulli":
        return num_clients
    if max_participants is not None:
        if not isinstance(max_participants, int) or not 1 <= max_participants <= num_clients:
            raise ValueError(
                f"{where}: max_participants must be an int in [1, num_clients={num_clients}], "
                f"got {max_participants!r}"
            )
        return max_participants
    if is_traced(participation):
        return num_clients
    return max(1, math.ceil(float(participation) * num_clients - 1e-9))


def sample_clients(key: jax.Array, participation, sampling: str, num_clients: int, slots: int):
    """The clients of one round: ``(client index per slot, slot in use)``.

    ``"fixed"``: ``clip(round(participation * num_clients), 1, slots)``
    clients drawn uniformly without replacement (the first of a random
    permutation). ``"bernoulli"``: every client independently with
    probability ``participation`` (possibly none), one slot per client.

    Args:
        key: this round's key.
        participation: the participation rate (may be traced).
        sampling: ``"fixed"`` or ``"bernoulli"``.
        num_clients: the number of clients.
        slots: the static number of slots (:func:`slot_count`).
    """
    if sampling == "bernoulli":
        return jnp.arange(num_clients), jax.random.uniform(key, (num_clients,)) < participation
    chosen = jnp.clip(jnp.round(participation * num_clients), 1, slots)
    return jax.random.permutation(key, num_clients)[:slots], jnp.arange(slots) < chosen
