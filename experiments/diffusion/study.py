"""The diffusion study: does the best LR schedule depend on the noise schedule?

Three questions (issue 12):

1. **Interaction.** Noise schedules x LR schedules x seeds: is the best LR
   schedule the same for every noise schedule? Table of test KL with 95%
   intervals, the two-way interaction test and its contrasts, paired over seeds.
2. **Alignment.** Does a timestep curriculum that follows the LR (high noise
   while the LR is high, then low noise; the reverse; with and without the
   importance correction that keeps the objective fixed) beat uniform sampling?
3. **Where is quality lost?** Excess denoiser error per log-SNR bin against
   the exact optimal denoiser.

Everything runs through ``osd.sweep``: one compiled training program for all
LR families (``osd.stack`` stacks different families through its switch;
noise schedules, peaks, curricula and seeds are traced values), one
likelihood program, one sampler program.
"""

from __future__ import annotations

import math
import time
from typing import Any

import jax
import numpy as np
from scipy import stats as scipy_stats

import optasched as osd
from experiments.common import stats, toy2d

from . import evaluate as ev
from . import noise as noise_lib
from . import train as tr

CHAIN_SCHEDULES = ("ddpm_linear", "cosine", "min_snr5")  # schedules that define a noising chain to lambda_T
LABELS = {
    "ddpm_linear": "DDPM linear",
    "cosine": "cosine",
    "edm": "EDM",
    "min_snr5": "Min-SNR-5",
    "constant": "constant",
    "wsd": "WSD 1-sqrt",
    "inverse_sqrt": "inverse-sqrt (EDM2)",
    "uncoupled": "uniform",
    "aligned": "aligned",
    "aligned_ic": "aligned + IC",
    "reversed": "reversed",
    "reversed_ic": "reversed + IC",
}
WEIGHTS = ("ema", "raw")


# --------------------------------------------------------------------------- building blocks


def noise_schedules(config, sigma_data: float) -> dict[str, dict]:
    """Every noise schedule of the config in the common form."""
    return noise_lib.from_config(config, config.noise_schedules, sigma_data)


def lr_of(config, family: str, peak: float, steps: int | None = None) -> osd.Schedule:
    return tr.lr_schedule(
        family,
        peak,
        config.steps if steps is None else steps,
        warmup_fraction=config.warmup_fraction,
        wsd_decay_fraction=config.wsd_decay_fraction,
        inverse_sqrt_ref_fraction=config.inverse_sqrt_ref_fraction,
    )


def stack_members(members: list[dict]) -> list[tuple[list[int], Any]]:
    """Members grouped into as few stacked sweeps as the library allows.

    One stack if optasched can stack schedules of different structure (the
    switch over families of issue 10); otherwise one stack per LR family.
    Returns ``[(member indices, stacked pytree)]``.
    """
    try:
        return [(list(range(len(members))), osd.stack(members))]
    except ValueError:
        pass
    groups: dict[str, list[int]] = {}
    for i, m in enumerate(members):
        groups.setdefault(type(m["lr"]).__name__ + repr(jax.tree.structure(m)), []).append(i)
    return [(indices, osd.stack([members[i] for i in indices])) for indices in groups.values()]


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
        self.compile_seconds = 0.0  # of the sweeps run so far (to predict a block's run time)
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
        for group, stacked in stack_members(members):
            result = self.context.sweep(
                train, stacked, self.key, label=f"{label} ({len(group)} runs)", **self.chunk
            )
            self.compile_seconds += result.compile_seconds
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
        self.compile_seconds += result.compile_seconds
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
        return [i for i, r in enumerate(self.records) if all(r.get(k) == v for k, v in match.items())]


# --------------------------------------------------------------------------- statistics


def interaction_analysis(table: np.ndarray, noise_names: list[str], family_names: list[str]) -> dict:
    """Two-way analysis of ``table[seed, noise, family]`` with seeds as blocks.

    - the interaction F-test (does the LR-family effect differ between noise
      schedules?), error = seed x cell residual, df = (S-1)(NL-1);
    - reference-coded interaction contrasts
      ``[Y(n, l) - Y(n, l0)] - [Y(n0, l) - Y(n0, l0)]`` (n0 = first noise
      schedule, l0 = first family), which span the whole interaction; each with
      a seed-paired t interval (``stats.mean_ci`` of per-seed contrasts) and a
      pooled-error interval (df of the F-test; assumes equal variance across
      cells), Holm-adjusted over the contrasts;
    - per noise schedule, the benefit of each family over the first.
    """
    seeds, num_noise, num_family = table.shape
    finite = np.all(np.isfinite(table.reshape(seeds, -1)), axis=1)
    y = table[finite]
    s = y.shape[0]
    out: dict[str, Any] = {"seeds_used": int(s)}
    if s < 2 or num_noise < 2 or num_family < 2:
        out["note"] = "needs at least 2 seeds, 2 noise schedules and 2 families"
        return out
    cell = y.mean(axis=0)
    grand = cell.mean()
    noise_mean = cell.mean(axis=1, keepdims=True)
    family_mean = cell.mean(axis=0, keepdims=True)
    interaction = cell - noise_mean - family_mean + grand
    ss_int = s * float(np.sum(interaction**2))
    residual = y - y.mean(axis=(1, 2), keepdims=True) - cell[None] + grand
    ss_err = float(np.sum(residual**2))
    df_int = (num_noise - 1) * (num_family - 1)
    df_err = (s - 1) * (num_noise * num_family - 1)
    ms_err = ss_err / df_err
    f_value = (ss_int / df_int) / ms_err if ms_err > 0 else float("inf")
    ss_family = num_noise * s * float(np.sum((family_mean - grand) ** 2))
    ss_noise = num_family * s * float(np.sum((noise_mean - grand) ** 2))
    out["f_test"] = {
        "f": f_value,
        "df_interaction": df_int,
        "df_error": df_err,
        "p_value": float(scipy_stats.f.sf(f_value, df_int, df_err)) if np.isfinite(f_value) else 0.0,
        "ss_interaction": ss_int,
        "ss_family": ss_family,
        "ss_noise": ss_noise,
        "ss_error": ss_err,
        "ms_error": ms_err,
    }
    out["cell_interaction"] = {
        noise_names[n]: {family_names[l]: float(interaction[n, l]) for l in range(num_family)}
        for n in range(num_noise)
    }
    t_pooled = float(scipy_stats.t.ppf(0.975, df_err))
    contrasts, p_seed, p_pooled = [], [], []
    for n in range(1, num_noise):
        for l in range(1, num_family):
            per_seed = (y[:, n, l] - y[:, n, 0]) - (y[:, 0, l] - y[:, 0, 0])
            paired = stats.paired(per_seed, np.zeros_like(per_seed))
            mean = float(per_seed.mean())
            se = math.sqrt(4 * ms_err / s)
            p = float(2 * scipy_stats.t.sf(abs(mean) / se, df_err)) if se > 0 else 0.0
            contrasts.append(
                {
                    "noise": noise_names[n],
                    "family": family_names[l],
                    "definition": f"[{family_names[l]} - {family_names[0]}] under {noise_names[n]} "
                    f"minus the same under {noise_names[0]}",
                    "mean": mean,
                    "seed_low": paired.low,
                    "seed_high": paired.high,
                    "seed_p": paired.p_value,
                    "pooled_low": mean - t_pooled * se,
                    "pooled_high": mean + t_pooled * se,
                    "pooled_p": p,
                }
            )
            p_seed.append(paired.p_value)
            p_pooled.append(p)
    for c, ps, pp in zip(contrasts, stats.holm(p_seed), stats.holm(p_pooled)):
        c["seed_p_holm"], c["pooled_p_holm"] = float(ps), float(pp)
    out["contrasts"] = contrasts
    largest = max(contrasts, key=lambda c: abs(c["mean"]))
    out["largest_contrast"] = largest
    return out


def best_family_tests(per_seed: dict[str, dict[str, np.ndarray]], best: dict[str, str]) -> dict:
    """Per noise schedule: every family against that noise schedule's best family (Holm)."""
    return {noise: stats.compare_to(arms, best[noise]) for noise, arms in per_seed.items()}


# --------------------------------------------------------------------------- the study


def _scan(config, runner: Runner, noises: dict) -> dict[str, float]:
    """Best constant LR per noise schedule from a short scan (seed 0, raw weights, validation KL)."""
    if not config.scan_lrs:
        return {n: config.base_lr for n in noises}, {}
    members, infos = [], []
    for name, noise in noises.items():
        for lr in config.scan_lrs:
            schedule = lr_of(config, "constant", lr, config.scan_steps)
            members.append(tr.member(schedule, lr, noise, 0))
            infos.append(
                {"part": "scan", "noise": name, "family": "constant", "lr": lr, "seed": 0, "arm": "uncoupled"}
            )
    indices = runner.run(members, infos, "LR scan", steps=config.scan_steps)
    best, scan = {}, {}
    for name in noises:
        rows = [runner.records[i] for i in indices if runner.records[i]["noise"] == name]
        values = [r["kl_val_raw"] if r["diverged_at"] < 0 else np.inf for r in rows]
        best[name] = rows[int(np.nanargmin(values))]["lr"]
        scan[name] = {f"{r['lr']:g}": r["kl_val_raw"] for r in rows}
    return best, scan


def _main_members(config, noises, base_lr, seeds) -> tuple[list[dict], list[dict]]:
    """The grid noise x family x peak x seed, plus the curriculum arms (warmup+cosine, 1x peak)."""
    members, infos = [], []
    for family in config.lr_families:
        for name, noise in noises.items():
            for multiplier in config.peak_multipliers:
                peak = multiplier * base_lr[name]
                for seed in seeds:
                    members.append(tr.member(lr_of(config, family, peak), peak, noise, seed))
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
                        lr_of(config, "cosine", peak),
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


def _select(config, runner: Runner, seeds_done: list[int]) -> dict:
    """Per (weights, noise, family): the peak multiplier with the lowest mean validation KL."""
    selection: dict[str, dict] = {}
    for which in WEIGHTS:
        selection[which] = {}
        for name in config.noise_schedules:
            selection[which][name] = {}
            for family in config.lr_families:
                best, best_value = None, np.inf
                for multiplier in config.peak_multipliers:
                    rows = [
                        runner.records[i]
                        for i in runner.find(part="grid", noise=name, family=family, multiplier=multiplier)
                    ]
                    if any(r["diverged_at"] >= 0 for r in rows) or not rows:
                        continue
                    value = float(np.mean([r[f"kl_val_{which}"] for r in rows]))
                    if value < best_value:
                        best, best_value = multiplier, value
                selection[which][name][family] = best if best is not None else config.peak_multipliers[0]
    return selection


def _cell_rows(runner, name, family, multiplier, seeds):
    rows = {}
    for i in runner.find(part="grid", noise=name, family=family, multiplier=multiplier):
        if runner.records[i]["seed"] in seeds:
            rows[runner.records[i]["seed"]] = i
    return [rows[s] for s in seeds if s in rows]


def study(config, context) -> dict:
    start = time.perf_counter()
    stage_seconds: dict[str, float] = {}
    clock = [start]

    def stage(name: str) -> None:
        now = time.perf_counter()
        stage_seconds[name] = now - clock[0]
        clock[0] = now

    mixture = tr.mixture_of(config)
    sigma_data = float(mixture.coordinate_std())
    noises = noise_schedules(config, sigma_data)
    results: dict[str, Any] = {"sigma_data": sigma_data}

    # noise schedules: tables, terminal log-SNR (chains must reach <= -10)
    tables = {}
    for name, noise in noises.items():
        table = np.asarray(noise["log_snr"].params["table"])
        tables[name] = {**noise_lib.describe_table(table)}
        if name in CHAIN_SCHEDULES and table[-1] > -10:
            raise ValueError(f"{name}: terminal log-SNR {table[-1]:.2f} > -10 (rescale the betas)")
    results["noise_schedules"] = tables
    stage("noise_schedules")

    # the fixed evaluation sets, the data entropy and what a perfect model reads
    sets = ev.evaluation_sets(config)
    results["data_entropy"] = {
        "nats": sets.entropy,
        "se": sets.entropy_se,
        "test_cross_entropy_of_data": float(-np.mean(sets.test_log_q)),
    }
    stage("evaluation_sets")
    validation, exact_samples = ev.validate_metrics(config)
    results["metric_validation"] = validation
    stage("metric_validation")
    context.log(
        f"diffusion: exact-denoiser KL {validation[f'exact_kl_{config.ode_steps}_steps']:.4f} nats "
        f"({config.ode_steps} RK4 steps), sampler SW2 {validation['exact_samples']['sliced_w2']:.4f}"
    )

    runner = Runner(config, context, mixture, sets)
    base_lr, scan = _scan(config, runner, noises)
    results["lr_scan"] = {"kl_val_raw": scan, "best_constant_lr": base_lr, "steps": config.scan_steps}
    stage("lr_scan")

    # the grid and the curriculum arms, in seed blocks (each block reuses the compiled programs). With a
    # time budget, MNIST-1D (gpu config) runs after the first block, and later blocks only while the
    # last block's run time and the post-processing reserve still fit.
    seeds = list(range(config.seeds))
    block = config.seed_block if config.seed_block > 0 else len(seeds)
    seeds_done: list[int] = []
    block_seconds, block_run_seconds = [], []

    def remaining() -> float:
        if config.deadline_s <= 0:
            return float("inf")
        return config.deadline_s - (time.perf_counter() - start)

    for first in range(0, len(seeds), block):
        block_seeds = seeds[first : first + block]
        if seeds_done and block_run_seconds[-1] + config.post_seconds > remaining():
            context.log(f"diffusion: time budget: stopping after seeds {seeds_done}")
            break
        t0, compiled = time.perf_counter(), runner.compile_seconds
        members, infos = _main_members(config, noises, base_lr, block_seeds)
        runner.run(members, infos, f"grid and curricula, seeds {block_seeds}")
        seeds_done += block_seeds
        block_seconds.append(time.perf_counter() - t0)
        block_run_seconds.append(block_seconds[-1] - (runner.compile_seconds - compiled))
        if config.mnist1d and "mnist1d" not in results:
            stage(f"grid seeds {seeds_done}")
            from . import mnist1d

            results["mnist1d"] = mnist1d.run(config, context, remaining() - config.post_seconds)
            stage("mnist1d")
    results["seeds_completed"] = seeds_done
    stage("grid")

    # question 1: selection on validation, the table and the interaction on test
    selection = _select(config, runner, seeds_done)
    results["selected_multiplier"] = selection
    q1 = {}
    chosen: set[int] = set()
    for which in WEIGHTS:
        table = np.full((len(seeds_done), len(config.noise_schedules), len(config.lr_families)), np.nan)
        cells, per_seed, best_family = {}, {}, {}
        for n, name in enumerate(config.noise_schedules):
            cells[name], per_seed[name] = {}, {}
            val_means = {}
            for l, family in enumerate(config.lr_families):
                multiplier = selection[which][name][family]
                rows = _cell_rows(runner, name, family, multiplier, seeds_done)
                chosen.update(rows)
                test = np.array([runner.records[i][f"kl_test_{which}"] for i in rows])
                table[: len(test), n, l] = test
                per_seed[name][family] = test
                interval = stats.mean_ci(test)
                val_means[family] = float(np.mean([runner.records[i][f"kl_val_{which}"] for i in rows]))
                cells[name][family] = {
                    "kl_test": interval.as_dict(),
                    "multiplier": multiplier,
                    "peak": multiplier * base_lr[name],
                    "kl_val_mean": val_means[family],
                    "per_seed": test.tolist(),
                }
            best_family[name] = min(val_means, key=val_means.get)
        q1[which] = {
            "cells": cells,
            "best_family_by_validation": best_family,
            "same_best_for_all": len(set(best_family.values())) == 1,
            "vs_best": best_family_tests(per_seed, best_family),
            "interaction": interaction_analysis(
                table, list(config.noise_schedules), list(config.lr_families)
            ),
        }
    results["question1"] = q1

    # question 2: the curriculum arms against uniform sampling, paired over seeds
    q2 = {}
    for which in WEIGHTS:
        comparisons, p_values, keys = {}, [], []
        pooled: dict[str, list] = {}
        for name in config.curriculum_noise:
            if name not in noises:
                continue
            base_rows = [
                i
                for s in seeds_done
                for i in runner.find(part="curriculum", noise=name, arm="uncoupled", seed=s)
            ]
            if not base_rows:
                base_rows = _cell_rows(runner, name, "cosine", 1.0, seeds_done)
            baseline = np.array([runner.records[i][f"kl_test_{which}"] for i in base_rows])
            chosen.update(base_rows)
            comparisons[name] = {"uncoupled": stats.mean_ci(baseline).as_dict()}
            for arm in config.curriculum_arms:
                rows = [
                    i for s in seeds_done for i in runner.find(part="curriculum", noise=name, arm=arm, seed=s)
                ]
                chosen.update(rows)
                values = np.array([runner.records[i][f"kl_test_{which}"] for i in rows])
                difference = stats.paired(values, baseline)
                comparisons[name][arm] = {
                    "kl_test": stats.mean_ci(values).as_dict(),
                    "minus_uncoupled": difference.as_dict(),
                }
                p_values.append(difference.p_value)
                keys.append((name, arm))
                pooled.setdefault(arm, []).append(values - baseline)
        for (name, arm), p in zip(keys, stats.holm(p_values)):
            comparisons[name][arm]["minus_uncoupled"]["p_holm"] = float(p)
            comparisons[name][arm]["minus_uncoupled"]["significant"] = bool(p < 0.05)
        averaged = {}
        pooled_p, error_p = [], []
        # the seed-to-seed variance of the arm-minus-uniform differences, pooled over every (noise, arm) cell:
        # many more degrees of freedom than one cell's seeds (assumes equal variance across cells)
        cells = [np.asarray(d) for ds in pooled.values() for d in ds]
        residual = sum(float(np.sum((c - c.mean()) ** 2)) for c in cells)
        df = sum(len(c) - 1 for c in cells)
        pooled_variance = residual / df if df > 0 else float("nan")
        for arm, differences in pooled.items():
            per_seed_mean = np.mean(np.stack(differences), axis=0)  # mean over noise schedules, per seed
            d = stats.paired(per_seed_mean, np.zeros_like(per_seed_mean))
            averaged[arm] = d.as_dict()
            pooled_p.append(d.p_value)
            se = (
                math.sqrt(pooled_variance / (len(differences) * len(per_seed_mean)))
                if df > 0
                else float("nan")
            )
            half = float(scipy_stats.t.ppf(0.975, df)) * se if df > 0 else float("nan")
            p_err = float(2 * scipy_stats.t.sf(abs(d.mean) / se, df)) if df > 0 and se > 0 else float("nan")
            averaged[arm].update(
                {
                    "pooled_low": d.mean - half,
                    "pooled_high": d.mean + half,
                    "pooled_p": p_err,
                    "pooled_df": df,
                }
            )
            error_p.append(p_err)
        for arm, p, pe in zip(averaged, stats.holm(pooled_p), stats.holm(error_p)):
            averaged[arm]["p_holm"] = float(p)
            averaged[arm]["significant"] = bool(p < 0.05)
            averaged[arm]["pooled_p_holm"] = float(pe)
        q2[which] = {"by_noise": comparisons, "averaged_over_noise": averaged}
    results["question2"] = q2

    # sample metrics for every reported model, and the solver check on seed 0 of each reported cell
    stage("statistics")
    chosen_list = sorted(chosen)
    runner.samples(chosen_list)
    stage("samples")
    if config.check_doubling:
        # the likelihood ODE with twice the steps, on seed 0 of every reported grid cell (EMA selection)
        check_rows = sorted(
            {
                i
                for name in config.noise_schedules
                for family in config.lr_families
                for i in _cell_rows(runner, name, family, selection["ema"][name][family], seeds_done[:1])
            }
        )
        for which in WEIGHTS:
            stacked = runner.stacked(check_rows, which)
            log_p = runner.likelihood(stacked["weights"], stacked["noise"], 2 * config.ode_steps)
            double, _ = kl_values(log_p[:, config.kl_val_points :], runner.test_log_q)
            single = np.array([runner.records[i][f"kl_test_{which}"] for i in check_rows])
            gap = np.abs(single - double)
            results.setdefault("solver_check", {})[which] = {
                "models": len(check_rows),
                "steps": [config.ode_steps, 2 * config.ode_steps],
                "max_abs_kl_change": float(gap.max()),
                "mean_abs_kl_change": float(gap.mean()),
                "max_relative_change": float(np.max(gap / np.maximum(np.abs(double), 1e-12))),
            }

    stage("solver_check")
    # question 3: excess error per noise level (final checkpoint; reported cells and arms)
    results["question3"] = _per_level(config, runner, selection, seeds_done)
    results["members"] = [{k: v for k, v in r.items() if not k.startswith("_")} for r in runner.records]
    if config.figures:
        from . import figures

        figures.all_figures(config, context, runner, results, noises, base_lr, exact_samples, sets)
        stage("figures")

    # wall times (not numbers of the study: a rerun gives other values)
    results["timing"] = {
        "stages": stage_seconds,
        "seed_blocks": block_seconds,
        "seed_blocks_without_compilation": block_run_seconds,
    }
    return results


def _per_level(config, runner: Runner, selection: dict, seeds_done: list[int]) -> dict:
    edges = np.linspace(config.log_snr_min, config.log_snr_max, config.error_bins + 1)
    out: dict[str, Any] = {"bin_edges": edges.tolist(), "cells": {}, "curriculum": {}, "convergence": {}}
    for name in config.noise_schedules:
        out["cells"][name] = {}
        for family in config.lr_families:
            multiplier = selection["ema"][name][family]
            rows = _cell_rows(runner, name, family, multiplier, seeds_done)
            out["cells"][name][family] = {
                key: np.mean([runner.records[i]["excess_final"][key] for i in rows], axis=0).tolist()
                for key in ("raw_x0", "raw_eps", "ema_x0", "ema_eps")
            }
            out["cells"][name][family]["excess_elbo_nats_ema"] = float(
                np.mean([runner.records[i]["excess_elbo_nats"]["ema_eps"] for i in rows])
            )
        # convergence per level (Kim et al. 2024): the constant-LR run at the 1x peak, EMA weights, mean over seeds
        rows = (
            _cell_rows(runner, name, "constant", 1.0, seeds_done) if "constant" in config.lr_families else []
        )
        if rows:
            curves = np.mean(
                [runner.histories[i]["evaluation"]["ema_eps"] for i in rows], axis=0
            )  # [ckpt, bins]
            final = curves[-1]
            reach = []
            for b in range(curves.shape[1]):
                within = np.nonzero(curves[:, b] <= 2 * final[b])[0]
                reach.append(float((within[0] + 1) / curves.shape[0]) if len(within) else 1.0)
            out["convergence"][name] = {
                "ema_eps_by_checkpoint": curves.tolist(),
                "fraction_of_training_to_reach_2x_final": reach,
            }
    for name in config.curriculum_noise:
        if name not in config.noise_schedules:
            continue
        out["curriculum"][name] = {}
        for arm in ("uncoupled",) + tuple(config.curriculum_arms):
            rows = [
                i for s in seeds_done for i in runner.find(part="curriculum", noise=name, arm=arm, seed=s)
            ]
            if arm == "uncoupled" and not rows:
                rows = _cell_rows(runner, name, "cosine", 1.0, seeds_done)
            if rows:
                out["curriculum"][name][arm] = {
                    key: np.mean([runner.records[i]["excess_final"][key] for i in rows], axis=0).tolist()
                    for key in ("ema_eps", "raw_eps")
                }
    return out


def describe(report: dict) -> str:
    """The summary printed after a run: the noise x LR table (EMA weights) and the answers."""
    r = report["results"]
    config = report["config"]
    lines = [f"test KL(data || model) in nats, EMA weights, mean [95% CI] over seeds {r['seeds_completed']}:"]
    q1 = r["question1"]["ema"]
    families = config["lr_families"]
    lines.append("noise \\ LR".ljust(14) + "".join(LABELS.get(f, f).ljust(28) for f in families))
    for name in config["noise_schedules"]:
        row = LABELS.get(name, name).ljust(14)
        for family in families:
            c = q1["cells"][name][family]
            k = c["kl_test"]
            row += (
                stats.format_interval(k["mean"], k["low"], k["high"], digits=3) + f" x{c['multiplier']:g}"
            ).ljust(28)
        lines.append(row)
    lines.append(f"best family per noise schedule (validation): {q1['best_family_by_validation']}")
    f_test = q1["interaction"].get("f_test")
    if f_test:
        lines.append(
            f"interaction F({f_test['df_interaction']}, {f_test['df_error']}) = {f_test['f']:.2f}, "
            f"p = {f_test['p_value']:.3g}"
        )
    for arm, d in r["question2"]["ema"]["averaged_over_noise"].items():
        lines.append(
            f"curriculum {arm} - uncoupled (mean over noise schedules): "
            f"{stats.format_interval(d['mean'], d['low'], d['high'], digits=3)} nats, p_holm {d['p_holm']:.3g}"
        )
    return "\n".join(lines)


__all__ = ["describe", "interaction_analysis", "lr_of", "noise_schedules", "stack_members", "study"]
