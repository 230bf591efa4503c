"""Training and scoring sweeps of the diffusion study: the runner, the LR scan, the grid and the arms.

Every sweep goes through ``osd.sweep`` (one compiled training program for all
LR families, one likelihood program, one sampler program); each trained
member gets one record (its configuration, validation and test KL for raw and
EMA weights, excess error per noise level), and its weights are kept for the
sample metrics and the solver check.
"""

from __future__ import annotations

import math

import jax
import numpy as np

import optasched as osd
from experiments.common import toy2d

from . import analysis
from . import evaluate as ev
from . import train as tr
from .analysis import WEIGHTS


def kl_values(log_p: np.ndarray, log_q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-member KL estimates and their Monte Carlo standard errors from per-point log-densities."""
    difference = log_q[None, :] - log_p
    return difference.mean(axis=1), difference.std(axis=1, ddof=1) / math.sqrt(difference.shape[1])


class Runner:
    """Trains and scores sweeps of members, keeping one record per member."""

    def __init__(self, config, context, mixture: toy2d.Mixture, sets: ev.EvaluationSets):
        self.config, self.context, self.mixture, self.sets = config, context, mixture, sets
        self.key = jax.random.key(0)  # every member folds in its own seed: common random numbers
        self.records: list[dict] = []
        self.chunk = {"chunk_size": config.chunk_size} if config.chunk_size > 0 else {}
        self.histories: list[dict] = []
        self.weights: list[dict] = []
        self.noises: list[dict] = []
        self.val_log_q = np.asarray(sets.val_log_q, np.float64)
        self.test_log_q = np.asarray(sets.test_log_q, np.float64)

    def run(self, members: list[dict], infos: list[dict], label: str, steps: int | None = None) -> list[int]:
        """Train ``members`` (with ``infos``: noise, family, multiplier, seed, arm) and score them."""
        train = tr.make_train(self.config, steps)
        indices = []
        for group, stacked in tr.stack_members(members):
            result = self.context.sweep(
                train, stacked, self.key, label=f"{label} ({len(group)} runs)", **self.chunk
            )
            metrics = jax.tree.map(np.asarray, result.metrics)
            noise = stacked["noise"]
            scores = {w: self.likelihood(metrics["params" if w == "raw" else "ema"], noise) for w in WEIGHTS}
            for j, i in enumerate(group):
                record = dict(infos[i])
                record["diverged_at"] = int(metrics["diverged_at"][j])
                for w in WEIGHTS:
                    log_p = scores[w][j]
                    val, _val_se = kl_values(log_p[None, : self.config.kl_val_points], self.val_log_q)
                    test, test_se = kl_values(log_p[None, self.config.kl_val_points :], self.test_log_q)
                    record[f"kl_val_{w}"], record[f"kl_test_{w}"] = float(val[0]), float(test[0])
                    record[f"kl_test_se_{w}"] = float(test_se[0])
                take = lambda tree, j=j: jax.tree.map(lambda x: np.asarray(x)[j], tree)
                history = take(metrics["history"])
                record["excess_final"] = {
                    k: history["evaluation"][k][-1].tolist() for k in history["evaluation"]
                }
                record["excess_elbo_nats"] = {
                    k: float(0.5 * np.sum(history["evaluation"][k][-1]) * self.bin_width)
                    for k in ("raw_eps", "ema_eps")
                }
                record["final_loss"] = float(history["train"]["loss"][-1])
                self.records.append(record)
                self.histories.append(history)
                self.weights.append(
                    {
                        "raw": take(metrics["params"]),
                        "ema": take(metrics["ema"]),
                    }
                )
                self.noises.append(take(noise))
                indices.append(len(self.records) - 1)
        return indices

    @property
    def bin_width(self) -> float:
        return (self.config.log_snr_max - self.config.log_snr_min) / self.config.error_bins

    def likelihood(self, weights, noise, steps: int | None = None) -> np.ndarray:
        """log p on the validation + test points for a stack of weights (one program for every stack)."""
        steps = self.config.ode_steps if steps is None else steps
        function = ev.make_likelihood(self.config, steps)
        result = osd.sweep(function, {"weights": weights, "noise": noise}, self.key, **self.chunk)
        return np.asarray(result.metrics["log_p"], np.float64)

    def stacked(self, indices: list[int], which: str) -> dict:
        return {
            "weights": jax.tree.map(lambda *x: np.stack(x), *[self.weights[i][which] for i in indices]),
            "noise": jax.tree.map(lambda *x: np.stack(x), *[self.noises[i] for i in indices]),
        }

    def samples(self, indices: list[int]) -> None:
        """Sample metrics (raw and EMA) for these members, into their records."""
        if not indices:
            return
        function = ev.make_sampler(self.config)
        for which in WEIGHTS:
            result = osd.sweep(function, self.stacked(indices, which), self.key, **self.chunk)
            metrics = jax.tree.map(np.asarray, result.metrics)
            for j, i in enumerate(indices):
                for name in ("sliced_w2", "high_quality", "modes_covered", "mode_tv"):
                    self.records[i][f"{name}_{which}"] = float(metrics[name][j])
                self.records[i].setdefault("_samples", {})[which] = metrics["samples"][j]

    def find(self, **match) -> list[int]:
        """Indices of the records whose fields equal ``match``."""
        return analysis.find(self.records, **match)


def scan(config, runner: Runner, noises: dict) -> tuple[dict[str, float], dict]:
    """Best constant LR per noise schedule from a short scan (seed 0, raw weights, validation KL)."""
    if not config.scan_lrs:
        return {n: config.base_lr for n in noises}, {}
    members, infos = [], []
    for name, noise in noises.items():
        for lr in config.scan_lrs:
            schedule = tr.lr_of(config, "constant", lr, config.scan_steps)
            members.append(tr.member(schedule, lr, noise, 0))
            infos.append(
                {"part": "scan", "noise": name, "family": "constant", "lr": lr, "seed": 0, "arm": "uncoupled"}
            )
    indices = runner.run(members, infos, "LR scan", steps=config.scan_steps)
    best, table = {}, {}
    for name in noises:
        rows = [runner.records[i] for i in indices if runner.records[i]["noise"] == name]
        values = [r["kl_val_raw"] if r["diverged_at"] < 0 else np.inf for r in rows]
        best[name] = rows[int(np.nanargmin(values))]["lr"]
        table[name] = {f"{r['lr']:g}": r["kl_val_raw"] for r in rows}
    return best, table


def main_members(config, noises, base_lr, seeds) -> tuple[list[dict], list[dict]]:
    """The grid noise x family x peak x seed, plus the curriculum arms (warmup+cosine, 1x peak)."""
    members, infos = [], []
    for family in config.lr_families:
        for name, noise in noises.items():
            for multiplier in config.peak_multipliers:
                peak = multiplier * base_lr[name]
                for seed in seeds:
                    members.append(tr.member(tr.lr_of(config, family, peak), peak, noise, seed))
                    infos.append(
                        {
                            "part": "grid",
                            "noise": name,
                            "family": family,
                            "multiplier": multiplier,
                            "peak": peak,
                            "seed": seed,
                            "arm": "uncoupled",
                        }
                    )
    arms = list(config.curriculum_arms)
    if "cosine" not in config.lr_families or 1.0 not in config.peak_multipliers:
        arms = ["uncoupled"] + arms  # the baseline is not in the grid: run it with the arms
    for name in config.curriculum_noise:
        if name not in noises:
            continue
        peak = base_lr[name]
        for arm in arms:
            for seed in seeds:
                members.append(
                    tr.member(
                        tr.lr_of(config, "cosine", peak),
                        peak,
                        noises[name],
                        seed,
                        curriculum=arm,
                        strength=config.curriculum_strength,
                    )
                )
                infos.append(
                    {
                        "part": "curriculum",
                        "noise": name,
                        "family": "cosine",
                        "multiplier": 1.0,
                        "peak": peak,
                        "seed": seed,
                        "arm": arm,
                    }
                )
    return members, infos


def cell_rows(runner: Runner, name: str, family: str, multiplier: float, seeds: list[int]) -> list[int]:
    """The grid members of one cell (noise, family, peak multiplier), in the order of ``seeds``."""
    return analysis.cell_rows(runner.records, name, family, multiplier, seeds)


__all__ = ["Runner", "cell_rows", "kl_values", "main_members", "scan"]
