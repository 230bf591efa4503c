"""Q1's convex check (Li et al. 2020): federated least squares with a known optimum.

Client ``i`` holds ``n`` examples ``x ~ N(0, I_d)``, ``y = x . w_i + noise`` with its own
``w_i = w_0 + h * N(0, I_d)`` (heterogeneity ``h``). The federation minimises the mean of the
clients' mean squared errors; its optimum ``w*`` is the pooled least-squares solution (equal
client sizes), computed in float64. Every client takes part every round with full-batch
gradient steps, so the only error left at a constant LR is FedAvg's client drift: with K > 1
local steps the fixed point sits O(eta) from ``w*``; with K = 1 FedAvg is gradient descent and
has no floor.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optasched as osd

__all__ = ["Problem", "make_problem", "distances"]


@dataclasses.dataclass(frozen=True)
class Problem:
    """One seed's federated least-squares instance: client data and the optimum."""

    clients: osd.ClientData
    optimum: np.ndarray


def make_problem(seed: int, clients: int, per_client: int, dim: int, heterogeneity: float,
                 noise: float) -> Problem:  # fmt: skip
    """A seeded instance (see the module docstring).

    Args:
      seed: numpy seed of the instance.
      clients: number of clients.
      per_client: examples per client.
      dim: features.
      heterogeneity: h, the spread of the clients' own solutions around a shared one.
      noise: label noise standard deviation.
    """
    rng = np.random.default_rng(seed)
    w0 = rng.normal(size=dim)
    x = rng.normal(size=(clients, per_client, dim))
    w = w0 + heterogeneity * rng.normal(size=(clients, dim))
    y = np.einsum("cnd,cd->cn", x, w) + noise * rng.normal(size=(clients, per_client))
    optimum = np.linalg.lstsq(x.reshape(-1, dim), y.reshape(-1), rcond=None)[0]
    sizes = np.full(clients, per_client, np.int32)
    data = osd.ClientData((x.astype(np.float32), y.astype(np.float32)), sizes)
    return Problem(data, optimum)


def _example_loss(w, batch):
    x, y = batch
    return 0.5 * (x @ w - y) ** 2


def distances(problems: list[Problem], schedules, rounds: int, local_steps: int) -> np.ndarray:
    """``[schedules, seeds]`` distances ``||w_R - w*||`` after ``rounds`` of FedAvg (server LR 1).

    Args:
      problems: one instance per seed.
      schedules: client LR schedules of the round (``osd.stack``-able; each goes through the
        round clock with ``mode="across"``: constant within a round).
      rounds: R.
      local_steps: K full-batch client steps per round.
    """
    stacked = osd.stack([osd.round_clock(s, local_steps=local_steps) for s in schedules])
    data = jax.tree.map(lambda *leaves: jnp.stack(leaves), *[p.clients for p in problems])
    dim = problems[0].optimum.size

    def run(schedule, clients):
        result = osd.federate(
            _example_loss, jnp.zeros(dim), clients, jax.random.key(0), rounds=rounds, local_steps=local_steps,
            client_optimizer=osd.inject(optax.sgd)(learning_rate=schedule), server_optimizer=osd.fedavg(1.0),
        )  # fmt: skip
        return result.params

    final = jax.jit(jax.vmap(jax.vmap(run, in_axes=(None, 0)), in_axes=(0, None)))(stacked, data)
    optimum = np.stack([p.optimum for p in problems])
    return np.linalg.norm(np.asarray(final, np.float64) - optimum[None], axis=-1)
