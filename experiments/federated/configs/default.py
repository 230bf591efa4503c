"""The federated study: MNIST-1D over 100 clients, the zoo's MLP, FedAvg and its server optimizers
(about 15 min on 2 shared CPU cores), and the convex check of Q1 (seconds).

Every arm of a seed shares init, partition and client sampling; each arm's peak LR is chosen on
validation accuracy (``stats.select``) and its test accuracy reported. The declared analysis
below is fixed before the run (``experiments.common.analysis``).
"""

from __future__ import annotations

import dataclasses

from experiments.common.analysis import Question

STATISTIC = "test accuracy of the final server model, each arm at its validation-chosen peak LR"
FAMILIES = ("constant", "inverse_time", "cosine", "step", "within")  # Q2's client schedules
SERVERS = ("fedavgm", "fedadam", "fedyogi")  # Q4's server optimizers against FedAvg


def questions(primary: str = "dir0.1", contrast: str = "dir100", families: tuple[str, ...] = FAMILIES,
              servers: tuple[str, ...] = SERVERS) -> tuple[Question, ...]:
    """Q1-Q4 of issue 19, declared before the run (Q2: every family against the first, constant)."""

    def q(name, question, statistic, family, test="paired_t"):
        return Question(name=name, question=question, statistic=statistic, test=test,
                        correction_family=family)

    one = "one_sample_t"
    q1 = (
        q("q1_floor_slope", "Q1: with a constant client LR and K = 5 local steps, does FedAvg stall at a "
          "distance from the optimum that grows with eta (Li et al.: proportional, slope 1)?",
          "per seed (problem instance), the least-squares slope of log ||w_R - w*|| against log eta over the "
          "eta grid; t interval of the mean slope, tested against 0", "q1", one),
        q("q1_decay", "Q1: does decaying the client LR remove the floor?",
          "log10 ||w_R - w*|| of the decaying arm (eta_0 / (1 + r / rho) from the grid's largest eta) minus "
          "the constant arm at that eta, per seed", "q1"),
    )
    q2 = tuple(
        q(f"q2_{f}", f"Q2: at Dirichlet alpha = {primary[3:]}, E = 5, 10% participation, is the {f} client "
          "schedule better than a constant client LR?", f"{STATISTIC}: {f} minus constant, per seed", "q2")
        for f in families[1:]
    )
    q3 = (
        q("q3_participation", "Q3: does the rate of participation change what a decaying schedule gives?",
          f"{STATISTIC}: (cosine - constant at 5% participation) - (cosine - constant at 50%), per seed, "
          f"{primary}, E = 5", "q3", one),
        q("q3_own_counter_cosine", "Q3: does a client schedule read from the client's own counter (PFLlib's "
          "bug) hurt, for cosine over rounds?", f"{STATISTIC}: cosine on each client's participation count "
          f"minus cosine on the round clock, per seed, 10% participation, {primary}, E = 5", "q3"),
        q("q3_own_counter_step", "Q3: the same for step drops aligned with rounds",
          f"{STATISTIC}: step drops on the client's own counter minus on the round clock, per seed", "q3"),
    )
    q4 = tuple(
        q(f"q4_{s}_{part}", f"Q4: how much does {s} (server LR on a cosine over rounds) add over "
          f"FedAvg at {part}?",
          f"{STATISTIC} (server LR chosen; client LR fixed): {s} minus FedAvg, per seed, E = 5",
          "q4")
        for s in servers for part in (primary, contrast)
    ) + tuple(
        q(f"q4_{s}_interaction", f"Q4: does {s} add more at {primary} than at {contrast}?",
          f"({s} - FedAvg at {primary}) - ({s} - FedAvg at {contrast}), per seed", "q4_interaction", one)
        for s in servers
    )
    return q1 + q2 + q3 + q4


@dataclasses.dataclass(frozen=True)
class Config:
    # the federation (MNIST-1D, the zoo's MLP, client SGD)
    num_clients: int = 100  # clients; each holds per_client examples of the training pool
    per_client: int = 30  # equal sizes: every client of a round takes E * per_client / batch_size steps
    batch_size: int = 10  # client batch B
    rounds: int = 100  # communication rounds
    participation: float = 0.1  # 10 clients a round (Q2, Q4)
    partitions: tuple[str, ...] = ("dir0.1", "dir0.5", "dir100", "one_label")  # Dirichlet alpha / one label
    primary: str = "dir0.1"  # where Q2-Q4 are declared
    contrast: str = "dir100"  # Q4's near-IID comparison
    local_epochs: tuple[int, ...] = (1, 5)  # E
    primary_epochs: int = 5  # Q2-Q4's E
    families: tuple[str, ...] = FAMILIES  # client schedules (train.client_schedule)
    peaks: tuple[float, ...] = (0.1, 0.2, 0.4, 0.8)  # client peak LRs, chosen per arm (quick: 0.4, its top)
    rho_fraction: float = 0.1  # inverse_time: rho = rho_fraction * rounds
    drops: int = 3  # step: x0.1 every rounds // drops rounds
    q3_participations: tuple[float, ...] = (0.05, 0.5)  # besides 0.1
    q4_client_lr: float = 0.4  # Q4: the clients' constant LR (FedAvg's arm is Q2's constant at this peak)
    server_lrs: tuple[tuple[str, tuple[float, ...]], ...] = (
        ("fedavgm", (0.3, 1.0, 3.0)),  # momentum 0.9: effective step lr / (1 - 0.9)
        ("fedadam", (0.01, 0.03, 0.1)),  # quick chose 0.03, its top; Reddi et al.'s EMNIST best 10^-2.5
        ("fedyogi", (0.01, 0.03, 0.1)),
    )  # server peak LRs (cosine over rounds), chosen on validation per server and partition
    server_eps: float = 1e-3  # FedAdam / FedYogi tau (Reddi et al.'s grid holds 1e-3)
    seeds: int = 4  # seeds: init, partition, client sampling and batch orders, shared by every arm
    data_seed: int = 42  # MNIST-1D generator seed
    validation_size: int = 500  # held-out training examples for every choice
    # Q1: federated least squares
    convex_seeds: int = 8  # problem instances
    convex_clients: int = 10
    convex_per_client: int = 50
    convex_dim: int = 10
    convex_heterogeneity: float = 0.5  # spread of the clients' own solutions
    convex_noise: float = 0.1
    convex_etas: tuple[float, ...] = (0.02, 0.04, 0.08, 0.16)  # constant client LRs
    convex_rounds: int = 2000  # enough for the constant arms to reach their floor
    convex_local_steps: int = 5  # K
    convex_rho: float = 100.0  # decaying arm: eta_max / (1 + r / rho)
    analyses: tuple[Question, ...] = questions()  # declared before the run


def get_config() -> Config:
    return Config()
