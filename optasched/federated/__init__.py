"""Federated learning: a round clock for client schedules, server optimizers
over client deltas (FedAvg, FedAvgM, FedAdam, FedYogi, built with
:func:`~optasched.inject`), and :func:`federate`, the whole federation as one
compiled program that :func:`~optasched.sweep` can vmap. Above the bridge;
the sweeps layer is not needed (a federation is a ``train(config, key)`` body).

Other layers and the top-level package import from here only.
"""

from ._clients import ClientData as ClientData
from ._clients import local_update as local_update
from ._clients import pad_clients as pad_clients
from ._clients import set_clock as set_clock
from ._federate import FederationResult as FederationResult
from ._federate import federate as federate
from ._round_clock import RoundClock as RoundClock
from ._server import ServerAdamState as ServerAdamState
from ._server import fedadam as fedadam
from ._server import fedavg as fedavg
from ._server import fedavgm as fedavgm
from ._server import fedyogi as fedyogi
from ._server import scale_by_server_adam as scale_by_server_adam
from ._server import server_adam as server_adam

__all__ = [
    "ClientData",
    "FederationResult",
    "RoundClock",
    "ServerAdamState",
    "fedadam",
    "fedavg",
    "fedavgm",
    "federate",
    "fedyogi",
    "local_update",
    "pad_clients",
    "scale_by_server_adam",
    "server_adam",
    "set_clock",
]
