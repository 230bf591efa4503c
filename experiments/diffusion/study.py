"""The diffusion study: does the best LR schedule depend on the noise schedule?

Three questions (issue 12), one function each:

1. :func:`question1` **Interaction.** Noise schedules x LR schedules x seeds:
   does the LR family's effect depend on the noise schedule? Test KL at each
   cell's validation-selected peak, the declared per-seed interaction
   contrasts (Holm), exploratory F-test and pooled-error intervals.
2. :func:`question2` **Alignment.** Does a timestep curriculum that follows
   the LR (high noise while the LR is high, then low noise; the reverse; with
   and without the importance correction that keeps the objective fixed) beat
   uniform sampling? Declared: per arm, the per-seed mean over noise schedules
   of arm minus uniform, Holm over the arms.
3. :func:`question3` **Where is quality lost?** Excess denoiser error per
   log-SNR bin against the exact optimal denoiser (descriptive).

The declared tests are in the config (``analyses``) and computed by
``analysis.declared_results``; ``results["declared"]`` holds them whatever
they say. Training and scoring live in ``sweeps.py``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from experiments.common import analysis as declared
from experiments.common import stats

from . import analysis
from . import evaluate as ev
from . import figures
from . import mnist1d
from . import noise as noise_lib
from . import sweeps
from . import train as tr
from .analysis import LABELS, WEIGHTS

CHAIN_SCHEDULES = ("ddpm_linear", "cosine", "min_snr5")  # schedules that define a noising chain to lambda_T


class Stopwatch:
    """Seconds per stage of the run (wall times: a rerun gives other values)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def stage(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = now - self._last
        self._last = now


def noise_schedules(config, sigma_data: float) -> dict[str, dict]:
    """Every noise schedule of the config in the common form; a chain must reach log-SNR <= -10.

    Args:
      config: the study config.
      sigma_data: the data's per-coordinate standard deviation (EDM preconditioning).
    """
    noises = noise_lib.from_config(config, config.noise_schedules, sigma_data)
    for name, noise in noises.items():
        table = np.asarray(noise["log_snr"].params["table"])
        if name in CHAIN_SCHEDULES and table[-1] > -10:
            raise ValueError(
                f"noise_schedules: {name} ends at log-SNR {table[-1]:.2f} > -10 (rescale the betas)"
            )
    return noises


def question1(config, runner: sweeps.Runner, selection: dict, base_lr: dict, seeds: list[int]) -> dict:
    """Noise x LR family: test KL at the selected peaks, the interaction analysis, every family vs the best.

    Args:
      config: the study config.
      runner: the runner holding the grid's records.
      selection: ``analysis.select_peaks``'s multipliers per weights, noise schedule and family.
      base_lr: the 1x peak per noise schedule.
      seeds: the seeds of the grid.
    """
    return analysis.question1(runner.records, config, selection, base_lr, seeds)


def question2(config, runner: sweeps.Runner, seeds: list[int]) -> dict:
    """The curriculum arms against uniform sampling, paired over seeds (``analysis.question2``).

    Args:
      config: the study config.
      runner: the runner holding the arms' records.
      seeds: the seeds of the arms.
    """
    return analysis.question2(runner.records, config, seeds)


def reported_rows(config, runner: sweeps.Runner, selection: dict, seeds: list[int]) -> list[int]:
    """Every member a table reports: the selected grid cells (both weights), the arms and their baseline."""
    rows = {
        i
        for which in WEIGHTS
        for name in config.noise_schedules
        for family in config.lr_families
        for i in sweeps.cell_rows(runner, name, family, selection[which][name][family], seeds)
    }
    for name in config.curriculum_noise:
        if name in config.noise_schedules:
            rows.update(analysis.uniform_rows(runner.records, name, seeds))
            rows.update(i for s in seeds for i in runner.find(part="curriculum", noise=name, seed=s))
    return sorted(rows)


def solver_check(config, runner: sweeps.Runner, selection: dict, seeds: list[int]) -> dict:
    """The likelihood ODE with twice the steps on seed 0 of every reported grid cell (EMA selection)."""
    rows = sorted(
        {
            i
            for name in config.noise_schedules
            for family in config.lr_families
            for i in sweeps.cell_rows(runner, name, family, selection["ema"][name][family], seeds[:1])
        }
    )
    out = {}
    for which in WEIGHTS:
        stacked = runner.stacked(rows, which)
        log_p = runner.likelihood(stacked["weights"], stacked["noise"], 2 * config.ode_steps)
        double, _ = sweeps.kl_values(log_p[:, config.kl_val_points :], runner.test_log_q)
        gap = np.abs(np.array([runner.records[i][f"kl_test_{which}"] for i in rows]) - double)
        out[which] = {
            "models": len(rows),
            "steps": [config.ode_steps, 2 * config.ode_steps],
            "max_abs_kl_change": float(gap.max()),
            "mean_abs_kl_change": float(gap.mean()),
            "max_relative_change": float(np.max(gap / np.maximum(np.abs(double), 1e-12))),
        }
    return out


def question3(config, runner: sweeps.Runner, selection: dict, seeds_done: list[int]) -> dict:
    """Where quality is lost: the excess denoiser error per log-SNR bin (final checkpoint, EMA selection).

    Descriptive (no test is declared): per reported cell and curriculum arm, the mean over seeds of
    the excess error against the exact denoiser, and per noise schedule the fraction of training
    each bin needs to come within 2x of its final error (constant LR, 1x peak).
    """
    edges = np.linspace(config.log_snr_min, config.log_snr_max, config.error_bins + 1)
    out: dict[str, Any] = {"bin_edges": edges.tolist(), "cells": {}, "curriculum": {}, "convergence": {}}
    for name in config.noise_schedules:
        out["cells"][name] = {}
        for family in config.lr_families:
            multiplier = selection["ema"][name][family]
            rows = sweeps.cell_rows(runner, name, family, multiplier, seeds_done)
            out["cells"][name][family] = {
                key: np.mean([runner.records[i]["excess_final"][key] for i in rows], axis=0).tolist()
                for key in ("raw_x0", "raw_eps", "ema_x0", "ema_eps")
            }
            out["cells"][name][family]["excess_elbo_nats_ema"] = float(
                np.mean([runner.records[i]["excess_elbo_nats"]["ema_eps"] for i in rows])
            )
        # convergence per level (Kim et al. 2024): constant LR at the 1x peak, EMA weights, mean over seeds
        rows = []
        if "constant" in config.lr_families:
            rows = sweeps.cell_rows(runner, name, "constant", 1.0, seeds_done)
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
                rows = sweeps.cell_rows(runner, name, "cosine", 1.0, seeds_done)
            if rows:
                out["curriculum"][name][arm] = {
                    key: np.mean([runner.records[i]["excess_final"][key] for i in rows], axis=0).tolist()
                    for key in ("ema_eps", "raw_eps")
                }
    return out


def study(config, context) -> dict:
    """The whole study: set-up, the sweeps, the three questions, the declared tests, samples and figures."""
    expected = [q.name for q in analysis.declared_questions(
        config.noise_schedules, config.lr_families, config.curriculum_arms
    )]
    if [q.name for q in config.analyses] != expected:
        raise ValueError(
            f"config.analyses: declares {[q.name for q in config.analyses]}, but this grid's questions are "
            f"{expected} (rebuild them with configs.default.with_analyses)"
        )
    clock = Stopwatch()
    mixture = tr.mixture_of(config)
    sigma_data = float(mixture.coordinate_std())
    noises = noise_schedules(config, sigma_data)
    results: dict[str, Any] = {
        "sigma_data": sigma_data,
        "noise_schedules": {
            name: noise_lib.describe_table(np.asarray(noise["log_snr"].params["table"]))
            for name, noise in noises.items()
        },
    }
    sets = ev.evaluation_sets(config)
    results["data_entropy"] = {
        "nats": sets.entropy,
        "se": sets.entropy_se,
        "test_cross_entropy_of_data": float(-np.mean(sets.test_log_q)),
    }
    validation, exact_samples = ev.validate_metrics(config)
    results["metric_validation"] = validation
    clock.stage("setup")
    context.log(
        f"diffusion: exact-denoiser KL {validation[f'exact_kl_{config.ode_steps}_steps']:.4f} nats "
        f"({config.ode_steps} RK4 steps), sampler SW2 {validation['exact_samples']['sliced_w2']:.4f}"
    )

    runner = sweeps.Runner(config, context, mixture, sets)
    base_lr, scan = sweeps.scan(config, runner, noises)
    results["lr_scan"] = {"kl_val_raw": scan, "best_constant_lr": base_lr, "steps": config.scan_steps}
    clock.stage("lr_scan")
    seeds = list(range(config.seeds))
    members, infos = sweeps.main_members(config, noises, base_lr, seeds)
    runner.run(members, infos, f"grid and curricula, seeds {seeds}")
    results["seeds_completed"] = seeds
    clock.stage("grid")

    grid = [r for r in runner.records if r["part"] == "grid"]
    selection, on_edge = analysis.select_peaks(
        grid, config.noise_schedules, config.lr_families, config.peak_multipliers
    )
    results["selected_multiplier"] = selection
    results["selection_on_edge"] = on_edge
    results["question1"] = question1(config, runner, selection, base_lr, seeds)
    results["question2"] = question2(config, runner, seeds)
    results["declared"] = declared.answer_all(
        config.analyses, analysis.declared_values(results["question1"], results["question2"])
    )
    clock.stage("statistics")

    runner.samples(reported_rows(config, runner, selection, seeds))
    clock.stage("samples")
    if config.check_doubling:
        results["solver_check"] = solver_check(config, runner, selection, seeds)
        clock.stage("solver_check")
    results["question3"] = question3(config, runner, selection, seeds)
    if config.mnist1d:
        results["mnist1d"] = mnist1d.run(config, context)
        clock.stage("mnist1d")
    results["members"] = [{k: v for k, v in r.items() if not k.startswith("_")} for r in runner.records]
    if config.figures:
        figures.all_figures(config, context, runner, results, noises, base_lr, exact_samples, sets)
        clock.stage("figures")
    results["timing"] = {"stages": clock.seconds}  # wall times, not numbers of the study
    return results


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
    lines.append("declared tests (EMA test KL, per-seed t, Holm within each family):")
    for name, t in r["declared"].items():
        lines.append(
            f"  {name}: {stats.format_interval(t['mean'], t['low'], t['high'], digits=3)} nats, "
            f"p {t['p_value']:.3g}, p_holm {t['p_holm']:.3g}{' *' if t['significant'] else ''}"
        )
    if r["selection_on_edge"]:
        lines.append(f"peaks chosen on an edge of the grid: {r['selection_on_edge']}")
    return "\n".join(lines)


__all__ = [
    "describe",
    "noise_schedules",
    "question1",
    "question2",
    "question3",
    "reported_rows",
    "solver_check",
    "study",
]
