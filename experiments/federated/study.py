"""The federated study, one function per question (issue 19).

``study(config, context)`` runs the grids (one compiled program per static setting,
``osd.sweep`` over every family x peak x partition x seed inside it), chooses every arm's peak
on validation accuracy (``stats.select``: an arm with a failed seed at a peak is never chosen
there), and answers the declared questions with ``analysis.answer_all``; the rest is labelled
exploratory.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

import optasched as osd
from experiments.common import analysis, stats
from experiments.common.data import load_mnist1d, split_validation

from . import convex
from .partition import partition
from .train import Setting, client_schedule, make_train

__all__ = ["study", "q1_convex", "q2_schedules", "q3_participation", "q4_servers"]


# -- running grids -------------------------------------------------------------------------------


def _local_steps(config, epochs: int) -> int:
    return epochs * math.ceil(config.per_client / config.batch_size)


def _client_lr(config, family: str, peak: float, epochs: int):
    return client_schedule(family, peak, config.rounds, _local_steps(config, epochs),
                           rho=config.rho_fraction * config.rounds,
                           drop_every=max(1, config.rounds // config.drops))


def _run(context, data, setting: Setting, cells: list[tuple], make_member, seeds: int, label: str) -> dict:
    """Run ``make_member(cell, seed)`` for every cell x seed in one sweep; ``{metric: [cells, seeds]}``."""
    members = [make_member(cell, seed) for cell in cells for seed in range(seeds)]
    result = context.sweep(make_train(data, setting), osd.stack(members), 0, label=label)
    return {k: np.asarray(v, np.float64).reshape(len(cells), seeds) for k, v in result.metrics.items()}


def _arm(metrics: dict, rows: list[int], labels: list) -> dict:
    """An arm's grid (rows of ``metrics``), its validation choice and its test accuracy per seed."""
    val, test = metrics["val_acc"][rows], metrics["test_acc"][rows]
    failed = ~np.isfinite(metrics["val_loss"][rows])
    choice = stats.select(val, failed=failed, labels=labels)
    chosen = np.full(val.shape[1], np.nan) if choice.index is None else test[choice.index]
    return {"labels": labels, "val_acc": val, "test_acc": test, "failed": failed,
            "selection": choice.as_dict(), "chosen_test_acc": chosen}  # fmt: skip


def _data(config) -> tuple[dict, dict]:
    data = split_validation(load_mnist1d(config.data_seed), config.validation_size)
    labels, n, per = data["y_train"], config.num_clients, config.per_client
    parts = {kind: [partition(kind, labels, n, per, seed).astype(np.int32) for seed in range(config.seeds)]
             for kind in config.partitions}
    return data, parts


def schedule_grid(config, context, data, parts, *, epochs: int, participation: float, kinds, families,
                  client_clock: str = "round") -> dict:
    """Every client family x peak x partition kind at one (E, participation, clock).

    Returns ``{kind: {family: arm}}``.
    """
    setting = Setting(rounds=config.rounds, local_steps=_local_steps(config, epochs),
                      batch_size=config.batch_size, participation=participation, client_clock=client_clock)
    cells = list(itertools.product(kinds, families, config.peaks))

    def member(cell, seed):
        kind, family, peak = cell
        return {"index": parts[kind][seed], "client_lr": _client_lr(config, family, peak, epochs),
                "server_lr": osd.constant(1.0), "seed": np.int32(seed)}  # fmt: skip

    metrics = _run(context, data, setting, cells, member, config.seeds,
                   f"E={epochs} participation={participation} clock={client_clock}")
    out = {}
    for kind in kinds:
        out[kind] = {}
        for family in families:
            rows = [i for i, c in enumerate(cells) if c[:2] == (kind, family)]
            out[kind][family] = _arm(metrics, rows, list(config.peaks))
    return out


def server_grid(config, context, data, parts, server: str, lrs) -> dict:
    """One server optimizer (server LR cosine over rounds, chosen on validation) at Q4's partitions."""
    epochs = config.primary_epochs
    setting = Setting(rounds=config.rounds, local_steps=_local_steps(config, epochs),
                      batch_size=config.batch_size, participation=config.participation, server=server,
                      eps=config.server_eps)
    kinds = (config.primary, config.contrast)
    cells = list(itertools.product(kinds, lrs))

    def member(cell, seed):
        kind, lr = cell
        client_lr = _client_lr(config, "constant", config.q4_client_lr, epochs)
        return {"index": parts[kind][seed], "client_lr": client_lr,
                "server_lr": osd.cosine(lr, config.rounds), "seed": np.int32(seed)}

    metrics = _run(context, data, setting, cells, member, config.seeds, f"server {server}")
    rows = {kind: [i for i, c in enumerate(cells) if c[0] == kind] for kind in kinds}
    return {kind: _arm(metrics, rows[kind], list(lrs)) for kind in kinds}


# -- the questions -------------------------------------------------------------------------------


def q1_convex(config, context) -> tuple[dict, dict]:
    """Q1: the floor of a constant client LR against eta (its slope), K = 1 as control, the decaying arm."""
    problems = [convex.make_problem(s, config.convex_clients, config.convex_per_client, config.convex_dim,
                                    config.convex_heterogeneity, config.convex_noise)
                for s in range(config.convex_seeds)]  # fmt: skip
    etas = list(config.convex_etas)
    constant = [osd.constant(e) for e in etas]
    rounds, k = config.convex_rounds, config.convex_local_steps
    floor = convex.distances(problems, constant, rounds, k)  # [etas, seeds]
    gd = convex.distances(problems, constant, rounds, 1)  # K = 1: gradient descent, no floor
    decaying = osd.inverse_time(max(etas), decay_steps=config.convex_rho, decay_rate=1.0)
    decay = {r: convex.distances(problems, [decaying], r, k)[0] for r in (rounds // 4, rounds // 2, rounds)}
    slopes = np.polyfit(np.log(etas), np.log(floor), 1)[0]  # one slope per seed
    top = int(np.argmax(etas))
    values = {"q1_floor_slope": slopes,
              "q1_decay": (np.log10(decay[rounds]), np.log10(floor[top]))}  # fmt: skip
    log10 = lambda d: np.log10(d).mean(axis=-1)  # noqa: E731
    stored = {
        "etas": etas, "rounds": rounds, "local_steps": k,
        "log10_distance_constant": log10(floor), "log10_distance_k1": log10(gd),
        "per_seed_slope": slopes, "per_seed_log10_floor": np.log10(floor),
        "decaying_eta_final": float(decaying(rounds - 1)),
        "log10_distance_decaying_by_round": {str(r): log10(d) for r, d in decay.items()},
        "per_seed_log10_decaying": np.log10(decay[rounds]),
    }  # fmt: skip
    return stored, values


def q2_schedules(config, context, data, parts) -> tuple[dict, dict]:
    """Q2: every client schedule x partition x E at 10% participation; the declared tests at the primary."""
    grids = {f"E{e}": schedule_grid(config, context, data, parts, epochs=e,
                                    participation=config.participation, kinds=config.partitions,
                                    families=config.families)
             for e in config.local_epochs}  # fmt: skip
    primary = grids[f"E{config.primary_epochs}"][config.primary]
    values = {f"q2_{f}": (primary[f]["chosen_test_acc"], primary["constant"]["chosen_test_acc"])
              for f in config.families[1:]}  # fmt: skip
    return grids, values


def q3_participation(config, context, data, parts, q2_grids) -> tuple[dict, dict]:
    """Q3: the primary's schedules at the other participation rates, and the own-counter (PFLlib) arms."""
    e, kind = config.primary_epochs, config.primary
    by_rate = {str(config.participation): q2_grids[f"E{e}"][kind]}
    for rate in config.q3_participations:
        by_rate[str(rate)] = schedule_grid(config, context, data, parts, epochs=e, participation=rate,
                                           kinds=(kind,), families=config.families)[kind]  # fmt: skip
    own = schedule_grid(config, context, data, parts, epochs=e, participation=config.participation,
                        kinds=(kind,), families=("cosine", "step"), client_clock="participations")[kind]
    gain = lambda arms: arms["cosine"]["chosen_test_acc"] - arms["constant"]["chosen_test_acc"]  # noqa: E731
    low, high = (str(r) for r in config.q3_participations)
    round_clock = by_rate[str(config.participation)]
    values = {
        "q3_participation": gain(by_rate[low]) - gain(by_rate[high]),
        "q3_own_counter_cosine": (own["cosine"]["chosen_test_acc"], round_clock["cosine"]["chosen_test_acc"]),
        "q3_own_counter_step": (own["step"]["chosen_test_acc"], round_clock["step"]["chosen_test_acc"]),
    }
    return {"by_rate": by_rate, "own_counter": own}, values


def q4_servers(config, context, data, parts, q2_grids) -> tuple[dict, dict]:
    """Q4: FedAvgM / FedAdam / FedYogi (server LR chosen) against FedAvg at the same constant client LR."""
    fedavg = {}
    arms = q2_grids[f"E{config.primary_epochs}"]
    peak = list(config.peaks).index(config.q4_client_lr)
    for kind in (config.primary, config.contrast):
        fedavg[kind] = arms[kind]["constant"]["test_acc"][peak]  # FedAvg: server LR 1, the same client LR
    servers = {s: server_grid(config, context, data, parts, s, lrs) for s, lrs in config.server_lrs}
    values = {}
    for s in servers:
        gains = {kind: servers[s][kind]["chosen_test_acc"] - fedavg[kind] for kind in fedavg}
        for kind in fedavg:
            values[f"q4_{s}_{kind}"] = (servers[s][kind]["chosen_test_acc"], fedavg[kind])
        values[f"q4_{s}_interaction"] = gains[config.primary] - gains[config.contrast]
    return {"fedavg_test_acc": fedavg, "servers": servers}, values


def _exploratory(config, q2_grids, q3) -> dict:
    """The validation-chosen client schedule of every (E, partition) and participation rate; not declared."""
    best = lambda arms: max(arms, key=lambda f: arms[f]["selection"]["mean"])  # noqa: E731
    return analysis.exploratory({
        "best_schedule_by_setting": {f"{e}/{kind}": best(arms) for e, grid in q2_grids.items()
                                     for kind, arms in grid.items()},
        "best_schedule_by_participation": {rate: best(arms) for rate, arms in q3["by_rate"].items()},
        "test_acc_by_setting": {f"{e}/{kind}/{f}": stats.mean_ci(arm["chosen_test_acc"]).as_dict()
                                for e, grid in q2_grids.items() for kind, arms in grid.items()
                                for f, arm in arms.items()},
    }, note="which schedule the validation choice picks in every setting; no test")  # fmt: skip


def study(config, context) -> dict:
    """Run Q1-Q4 and answer the declared questions."""
    declared = config.analyses
    q1, v1 = q1_convex(config, context)
    data, parts = _data(config)
    q2, v2 = q2_schedules(config, context, data, parts)
    q3, v3 = q3_participation(config, context, data, parts, q2)
    q4, v4 = q4_servers(config, context, data, parts, q2)
    answers = analysis.answer_all(declared, {**v1, **v2, **v3, **v4})
    return {"answers": answers, "q1": q1, "q2": q2, "q3": q3, "q4": q4,
            "exploratory": _exploratory(config, q2, q3)}
