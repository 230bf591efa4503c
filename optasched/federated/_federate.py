"""The whole federation as one program: every round a ``lax.scan`` step, the
round's clients ``vmap``-ed, the server an optax optimizer of their deltas."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..schedules import is_traced
from ._clients import ClientData, check_clients, local_update
from ._devices import client_mesh, pad_slots, shard_slots
from ._participation import check_participation, sample_clients, slot_count

__all__ = ["CLIENT_CLOCKS", "FederationResult", "federate"]

CLIENT_CLOCKS = ("round", "participations")
WEIGHTINGS = ("examples", "uniform")


class FederationResult(NamedTuple):
    """What :func:`federate` returns.

    Attributes:
        params: the server model after the last round.
        server_state: the server optimizer's state after the last round.
        history: name -> array with a leading axis of rounds: ``"loss"`` (the
            participants' mean local training loss, weighted as the deltas),
            ``"participants"`` (clients that took part), ``"update_norm"``
            (global norm of the weighted mean delta), and whatever
            ``evaluate(params)`` returns after each round.
    """

    params: Any
    server_state: Any
    history: dict[str, jax.Array]


def _check(where, rounds, local_steps, batch_size, local_epochs, client_clock, weighting):
    for name, value in (("rounds", rounds), ("local_steps", local_steps)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{where}: {name} must be a positive int, got {value!r}")
    if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
        raise ValueError(f"{where}: batch_size must be a positive int or None, got {batch_size!r}")
    if local_epochs is not None and not is_traced(local_epochs):
        epochs = np.asarray(local_epochs)
        if epochs.ndim != 0 or not np.isfinite(epochs) or epochs <= 0:
            raise ValueError(f"{where}: local_epochs must be a positive number or None, got {local_epochs!r}")
    if client_clock not in CLIENT_CLOCKS:
        raise ValueError(f"{where}: client_clock must be one of {CLIENT_CLOCKS}, got {client_clock!r}")
    if weighting not in WEIGHTINGS:
        raise ValueError(f"{where}: weighting must be one of {WEIGHTINGS}, got {weighting!r}")


def _weighted_mean(deltas: Any, weights: jax.Array) -> tuple[Any, jax.Array]:
    """The weighted mean of the slots' deltas and each slot's share (all zero when no weight)."""
    dtype = jnp.result_type(*jax.tree.leaves(deltas))
    weights = weights.astype(dtype)
    share = weights / jnp.maximum(jnp.sum(weights), jnp.finfo(dtype).tiny)
    return jax.tree.map(lambda d: jnp.tensordot(share, d, axes=1), deltas), share


def federate(
    example_loss: Callable[[Any, Any], jax.Array],
    params: Any,
    clients: ClientData,
    key: jax.Array,
    *,
    rounds: int,
    local_steps: int,
    client_optimizer: optax.GradientTransformation,
    server_optimizer: optax.GradientTransformation,
    batch_size: int | None = None,
    local_epochs: float | jax.Array | None = None,
    participation: float | jax.Array = 1.0,
    sampling: str = "fixed",
    max_participants: int | None = None,
    weighting: str = "examples",
    client_clock: str = "round",
    evaluate: Callable[[Any], dict[str, jax.Array]] | None = None,
    devices: Sequence[jax.Device] | None = None,
) -> FederationResult:
    r"""Run a whole federation (FedAvg and its server optimizers) as one program.

    Round :math:`r` (:math:`0 \le r <` ``rounds``): draw the round's clients
    :math:`S_r` with ``fold_in(key, r)``; each client :math:`i \in S_r` starts
    from the server model :math:`x_r` with a fresh ``client_optimizer`` state
    whose :func:`~optasched.inject` counts start at the round clock
    :math:`rK` (``K = local_steps``), so a client schedule is read at
    :math:`t = rK + k` for local step :math:`k` (:func:`~optasched.round_clock`
    decodes it) whatever the client's history; it takes :math:`K` steps and
    returns :math:`\Delta_i = x_i - x_r`. The server forms the pseudo-gradient

    .. math:: g_r = -\frac{\sum_{i \in S_r} w_i \Delta_i}{\sum_{i \in S_r} w_i},
              \qquad w_i = n_i \text{ (example counts) or } 1,

    and applies ``server_optimizer`` once (its count is the round). A round
    without participants leaves the model and the server state unchanged.

    The rounds are one ``lax.scan`` and a round's clients one ``vmap``, so the
    federation traces once and compiles to ONE program whatever ``rounds``,
    and every number in it (schedules, ``participation``) may be traced: jit
    it, differentiate it, or call it from :func:`~optasched.sweep`'s
    ``train(config, key)`` to vmap a sweep over client and server schedules.

    Participation keeps shapes static either way: ``sampling="fixed"`` draws
    ``clip(round(participation * N), 1, max_participants)`` of the ``N``
    clients uniformly without replacement into ``max_participants`` slots
    (default ``ceil(participation * N)``, or ``N`` for a traced rate), unused
    slots masked; ``sampling="bernoulli"`` includes each client independently
    with probability ``participation`` and vmaps over all ``N`` clients (the
    compute of full participation). Ragged clients are padded
    (:func:`~optasched.pad_clients`) and the padding masked.

    Args:
        example_loss: ``example_loss(params, batch) -> losses`` of shape
            ``(batch,)``, one per example (padding is masked out here).
        params: the initial server model (a pytree of float arrays).
        clients: every client's padded examples (:func:`~optasched.pad_clients`).
        key: PRNG key for client sampling and batch orders.
        rounds: communication rounds (static).
        local_steps: client optimizer steps per round, :math:`K` (static).
        client_optimizer: the clients' optax optimizer, re-initialised every
            round; schedule it with :func:`~optasched.inject` and a
            :func:`~optasched.round_clock` (an optax schedule inside a plain
            optax optimizer counts from 0 every round instead).
        server_optimizer: an optax optimizer of the pseudo-gradient
            (:func:`~optasched.fedavg`, :func:`~optasched.fedavgm`,
            :func:`~optasched.fedadam`, :func:`~optasched.fedyogi`).
        batch_size: examples per local step, taken in passes over a random
            order of the client's examples (one order per client and round);
            None: all of them every step.
        local_epochs: optional :math:`E` (may be traced): client :math:`i`
            takes only :math:`\min(K, \lceil E n_i / B \rceil)` of the
            :math:`K` local steps (:math:`\lceil E \rceil` with full batches),
            FedAvg's "E epochs of batch B" with ``local_steps`` as the static
            cap; its later steps leave model and optimizer state unchanged.
        participation: the rate in (0, 1] (traced allowed).
        sampling: ``"fixed"`` or ``"bernoulli"`` (above).
        max_participants: client slots per round for ``"fixed"``.
        weighting: ``"examples"`` (FedAvg: by example count) or ``"uniform"``.
        client_clock: ``"round"`` (the round clock, above) or
            ``"participations"``: a client's counts start at (rounds it took
            part in before) :math:`\times K`, its own counter -- the bug of
            frameworks that keep a scheduler per client, for comparison only.
        evaluate: optional ``evaluate(params) -> dict`` of metrics recorded after each round.
        devices: spread each round's client slots over these devices (one
            mesh axis; the slots are padded with unused ones to a multiple of
            their number), as :func:`~optasched.sweep` shards its members.
            Default: one device. Inside a sharded sweep, leave it None.

    Returns:
        A :class:`FederationResult` (final model, server state, per-round history).

    Raises:
        ValueError: naming the argument: ``participation`` outside (0, 1],
            ``local_epochs`` not positive,
            ``clients`` with no example or arrays of mismatched shapes,
            non-positive ``rounds`` / ``local_steps`` / ``batch_size``, an
            unknown ``sampling``, ``weighting`` or ``client_clock``.

    Example:
        >>> import jax, jax.numpy as jnp, numpy as np, optax, optasched as osd
        >>> clients = osd.pad_clients([np.full(n, float(c)) for c, n in [(1, 3), (4, 1)]])
        >>> loss = lambda w, y: (w - y) ** 2  # the optimum is the mean label, 1.75
        >>> result = osd.federate(
        ...     loss, jnp.float32(0.0), clients, jax.random.key(0), rounds=200, local_steps=2,
        ...     client_optimizer=osd.inject(optax.sgd)(
        ...         learning_rate=osd.round_clock(osd.inverse_time(0.2, 1, 0.1), local_steps=2)),
        ...     server_optimizer=osd.fedavg(1.0))
        >>> round(float(result.params), 2)
        1.75

    Reference: McMahan et al. 2017 (FedAvg); Reddi et al., Adaptive Federated
    Optimization, ICLR 2021 (server optimizers over the pseudo-gradient).
    """
    where = "federate"
    _check(where, rounds, local_steps, batch_size, local_epochs, client_clock, weighting)
    check_participation(where, participation, sampling)
    num_clients = check_clients(where, clients)
    slots = slot_count(where, participation, sampling, num_clients, max_participants)
    mesh = client_mesh(where, devices)
    width = slots if mesh is None else math.ceil(slots / mesh.size) * mesh.size
    local = functools.partial(
        local_update, example_loss, client_optimizer=client_optimizer, local_steps=local_steps,
        batch_size=batch_size, local_epochs=local_epochs,
    )  # fmt: skip
    counts = jnp.asarray(clients.num_examples, jnp.int32)
    all_examples = jax.tree.map(jnp.asarray, clients.examples)

    def one_round(carry, round_index):
        params, server_state, taken = carry
        round_key = jax.random.fold_in(key, round_index)
        sample_key, batch_key = jax.random.split(round_key)
        drawn = sample_clients(sample_key, participation, sampling, num_clients, slots)
        index, in_use = pad_slots(*drawn, width)
        own = taken[index] if client_clock == "participations" else jnp.full((width,), round_index)
        examples = jax.tree.map(lambda leaf: leaf[index], all_examples)
        client_keys = jax.vmap(lambda i: jax.random.fold_in(batch_key, i))(index)
        deltas, losses = jax.vmap(local, in_axes=(None, 0, 0, 0, 0))(
            params, *shard_slots((examples, counts[index], client_keys, own * local_steps), mesh)
        )
        size = counts[index] if weighting == "examples" else (counts[index] > 0).astype(jnp.int32)
        mean_delta, share = _weighted_mean(deltas, jnp.where(in_use, size, 0))
        pseudo_gradient = jax.tree.map(jnp.negative, mean_delta)
        updates, new_state = server_optimizer.update(pseudo_gradient, server_state, params)
        stepped = (optax.apply_updates(params, updates), new_state)
        # A round without participants (Bernoulli sampling) must not move the model nor the server's moments.
        keep = lambda new, old: jnp.where(jnp.sum(share) > 0, new, old)  # noqa: E731
        params, server_state = jax.tree.map(keep, stepped, (params, server_state))
        taken = taken.at[index].add(in_use.astype(taken.dtype))
        record = {
            "loss": jnp.sum(share * losses),
            "participants": jnp.sum(in_use & (counts[index] > 0)).astype(jnp.int32),
            "update_norm": optax.tree.norm(mean_delta),
        }
        if evaluate is not None:
            record.update(evaluate(params))
        return (params, server_state, taken), record

    start = (params, server_optimizer.init(params), jnp.zeros((num_clients,), jnp.int32))
    (params, server_state, _), history = jax.lax.scan(one_round, start, jnp.arange(rounds))
    return FederationResult(params, server_state, history)
