"""One federation of the study: the zoo's MLP on MNIST-1D split over clients, for ONE member.

``make_train(data, setting)`` returns ``train(member, key)``, a pure function of one member
``{"index", "client_lr", "server_lr", "seed"}``: ``index`` is the seed's partition (client i's
example indices into the training pool, ``[clients, per_client]``), the two schedules are
leaves, and ``seed`` fixes the initialisation and, through ``osd.federate``'s key, the client
sampling and batch orders. Every arm of a seed therefore shares init, partition and client
sampling (common random numbers); the study runs all members of a setting through
``osd.sweep``: one compiled program per setting, whatever the schedule families (``osd.stack``
switches between them) or partitions.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optasched as osd
from experiments.common.models import MLP

__all__ = ["SERVERS", "Setting", "client_schedule", "make_train"]

SERVERS = ("fedavg", "fedavgm", "fedadam", "fedyogi")
CLIENT_FAMILIES = ("constant", "inverse_time", "cosine", "step", "within")


@dataclasses.dataclass(frozen=True)
class Setting:
    """What is static in one compiled federation (one program per setting).

    Args:
      rounds: communication rounds.
      local_steps: client SGD steps per round (E epochs of the client's equal-size data at batch B).
      batch_size: B.
      participation: fraction of the clients sampled per round (fixed count, without replacement).
      server: one of :data:`SERVERS`.
      client_clock: ``"round"`` (osd's round clock) or ``"participations"`` (the PFLlib bug).
      momentum: FedAvgM's server momentum.
      eps: FedAdam / FedYogi's tau.
    """

    rounds: int
    local_steps: int
    batch_size: int
    participation: float = 0.1
    server: str = "fedavg"
    client_clock: str = "round"
    momentum: float = 0.9
    eps: float = 1e-3

    def __post_init__(self):
        if self.server not in SERVERS:
            raise ValueError(f"Setting: server must be one of {SERVERS}, got {self.server!r}")


def client_schedule(family: str, peak: float, rounds: int, local_steps: int, rho: float, drop_every: int):
    """The client LR of one Q2 family on the round clock (``lr(r, k)``).

    ``constant``; ``inverse_time``: ``peak / (1 + r / rho)``; ``cosine`` over the rounds to 0;
    ``step``: x0.1 every ``drop_every`` rounds (drops aligned with rounds); ``within``: cosine
    from ``peak`` to 0 over each round's local steps, restarted every round.
    """
    across = {
        "constant": lambda: osd.constant(peak),
        "inverse_time": lambda: osd.inverse_time(peak, decay_steps=rho, decay_rate=1.0),
        "cosine": lambda: osd.cosine(peak, rounds),
        "step": lambda: osd.step_decay(peak, step_size=drop_every, gamma=0.1),
    }
    if family == "within":
        return osd.round_clock(osd.cosine(peak, local_steps), local_steps=local_steps, mode="within")
    if family not in across:
        raise ValueError(f"client_schedule: family must be one of {CLIENT_FAMILIES}, got {family!r}")
    return osd.round_clock(across[family](), local_steps=local_steps, mode="across")


def _server(setting: Setting, learning_rate):
    if setting.server == "fedavg":
        return osd.fedavg(learning_rate)
    if setting.server == "fedavgm":
        return osd.fedavgm(learning_rate, momentum=setting.momentum)
    if setting.server == "fedadam":
        return osd.fedadam(learning_rate, eps=setting.eps)
    return osd.fedyogi(learning_rate, eps=setting.eps)


def make_train(data: dict[str, np.ndarray], setting: Setting):
    """``train(member, key) -> {"val_acc", "test_acc", "val_loss", "train_loss"}`` for one member.

    Args:
      data: ``x_train, y_train`` (the pool the partitions index), ``x_val, y_val``, ``x_test, y_test``.
      setting: the static part (:class:`Setting`).
    """
    model = MLP()
    x_pool, y_pool = jnp.asarray(data["x_train"]), jnp.asarray(data["y_train"])
    x_val, y_val = jnp.asarray(data["x_val"]), jnp.asarray(data["y_val"])
    x_test, y_test = jnp.asarray(data["x_test"]), jnp.asarray(data["y_test"])

    def example_loss(params, batch):
        x, y = batch
        return optax.softmax_cross_entropy_with_integer_labels(model.apply(params, x), y)

    def scores(params, x, y):
        logits = model.apply(params, x)
        return jnp.mean(jnp.argmax(logits, -1) == y), jnp.mean(
            optax.softmax_cross_entropy_with_integer_labels(logits, y))

    def train(member, key):
        del key  # the seed is a leaf of the member: arms of a seed share everything random
        seed_key = jax.random.key(member["seed"])
        init_key, run_key = jax.random.split(seed_key)
        params = model.init(init_key, x_pool[:1])
        index = member["index"]
        sizes = np.full(index.shape[0], index.shape[1], np.int32)  # equal-size clients
        clients = osd.ClientData((x_pool[index], y_pool[index]), sizes)
        result = osd.federate(
            example_loss, params, clients, run_key, rounds=setting.rounds, local_steps=setting.local_steps,
            batch_size=setting.batch_size, participation=setting.participation,
            client_optimizer=osd.inject(optax.sgd)(learning_rate=member["client_lr"]),
            server_optimizer=_server(setting, member["server_lr"]), client_clock=setting.client_clock,
        )  # fmt: skip
        val_acc, val_loss = scores(result.params, x_val, y_val)
        test_acc, test_loss = scores(result.params, x_test, y_test)
        train_loss = jnp.mean(result.history["loss"][-max(1, setting.rounds // 10):])
        return {"val_acc": val_acc, "val_loss": val_loss, "test_acc": test_acc, "test_loss": test_loss,
                "train_loss": train_loss}  # fmt: skip

    return train
