"""The study: one function per question; ``study(config, context)`` runs them and returns every number.

- Q1 ``compare_searches``: grid, random search, successive halving, PBT and Adam-HD per seed at (at most)
  the grid's member-steps; each search's selection's test accuracy minus the grid's, paired over seeds;
  on the zoo's MLP and on its CNN (``for_model``: the CNN's steps, seeds, rungs and PBT interval).
- Q2 ``pbt_schedule``: does PBT's winning LR decay, and does its exported schedule transfer to a fresh
  init (against PBT's own accuracy, and against the grid's choice from the same fresh init).
- Q3 ``short_horizon``: Wu et al.'s NQM, the LRs online meta-gradients choose at each horizon and the
  loss they end at, against the best constant LR for the full run.
- Q4 ``hypergradient``: SGD-HD (osd.sgd_hd) from several initial and hypergradient LRs, with and without
  its safeguard: failures, how far the LR runs (negative, to the range's top), the chosen run's accuracy;
  ``adam_hd_stability`` (exploratory) the same failures for Adam-HD.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from experiments.common import analysis, stats

from . import hypergradient as hd
from . import mlp_horizon, nqm, search

__all__ = ["check", "for_model", "run_searches", "compare_searches", "pbt_schedule", "short_horizon",
           "short_horizon_mlp", "hypergradient", "adam_hd_stability", "study"]

SEARCHES = ("grid", "random", "halving", "pbt", "hd")
_FULL_RUN_NOTE = {"exploratory": True, "note": "horizon = the full run: one window, a constant LR tuned by "
                  "meta-gradients (should match the best constant)"}


def for_model(config, model: str):
    """The config as Q1's searches on ``model`` see it: the CNN's steps, seeds, first rung and PBT interval.

    Args:
      config: the study's config.
      model: ``"mlp"`` (the config itself) or ``"cnn"`` (its ``cnn_*`` fields in place of the MLP's).
    """
    if model == "mlp":
        return config
    if model != "cnn":
        raise ValueError(f"for_model: model must be 'mlp' or 'cnn', got {model!r}")
    return dataclasses.replace(config, steps=config.cnn_steps, seeds=config.cnn_seeds,
                               halving_first_rung=config.cnn_halving_first_rung,
                               pbt_ready=config.cnn_pbt_ready)  # fmt: skip


def _check_searches(config, model: str) -> None:
    grid_members = len(config.grid_families) * len(config.grid_peaks)
    hd_members = len(config.hd_search_initial_lrs) * len(config.hd_search_hyper_lrs)
    if hd_members > grid_members or config.random_samples > grid_members:
        raise ValueError(f"schedule_search: random_samples={config.random_samples} and the Adam-HD "
                         f"search's {hd_members} members must not exceed the grid's {grid_members} (equal "
                         "compute)")
    if config.seeds < 2:
        raise ValueError(f"schedule_search: {model}'s seeds must be >= 2, got {config.seeds}")
    if config.halving_first_rung * config.halving_eta ** 2 != config.steps:
        raise ValueError(f"schedule_search: halving_first_rung * eta^2 must equal steps={config.steps} "
                         f"(three rungs), got {config.halving_first_rung} * {config.halving_eta}^2")
    if config.steps % config.pbt_ready:
        raise ValueError(f"schedule_search: pbt_ready={config.pbt_ready} must divide steps={config.steps}")


def check(config) -> None:
    """Refuse configs that would not compare what they claim (``ValueError`` naming the field).

    Args:
      config: the study's config.
    """
    for model in ("mlp", "cnn"):
        _check_searches(for_model(config, model), model)
    for h in config.nqm_horizons:
        if config.nqm_steps % h:
            raise ValueError(f"schedule_search: horizon {h} must divide nqm_steps={config.nqm_steps}")
    if max(config.mlp_horizons) > config.steps or not 2 <= config.mlp_horizon_seeds <= config.seeds:
        raise ValueError(f"schedule_search: mlp_horizons must be <= steps={config.steps} and "
                         f"mlp_horizon_seeds in [2, seeds], got {config.mlp_horizons}, "
                         f"{config.mlp_horizon_seeds}")
    if config.seeds < 2 or config.nqm_seeds < 2:
        raise ValueError(f"schedule_search: seeds and nqm_seeds must be >= 2, got {config.seeds}, "
                         f"{config.nqm_seeds}")


def run_searches(config, context, model: str = "mlp") -> dict:
    """Every search on every seed, and on the MLP Q2's replays from a fresh seed (Q2 is the MLP's).

    Args:
      config: the study's config as the model sees it (``for_model``).
      context: the runner's context (logging, sweeps).
      model: ``"mlp"`` or ``"cnn"`` (``experiments.common.models``).
    """
    problem = search.Problem(config.steps, model)
    train = jax.jit(problem.train)
    runs = []
    for seed in range(config.seeds):
        context.log(f"schedule_search: {model}, seed {seed + 1}/{config.seeds}")
        grid = search.grid(problem, config, seed)
        pbt, pbt_result = search.pbt(problem, config, seed)
        fresh = seed + config.replay_seed_offset
        runs.append({
            "seed": seed,
            "grid": grid,
            "random": search.random_search(problem, config, seed),
            "halving": search.halving(problem, config, seed),
            "pbt": pbt,
            "hd": hd.search(problem, config, seed),
        })  # fmt: skip
        if model == "mlp":  # Q2's replays (declared on the MLP) and the exploratory PBT over LR and decay
            runs[-1]["pbt_wd"] = search.pbt(problem, config, seed, weight_decay=True)[0]  # exploratory
            runs[-1]["replay_pbt_test_accuracy"] = search.replay(train, pbt_result.schedule(), fresh)
            grid_fresh = search.grid_member(config, grid["index"], fresh)
            grid_replay = train(grid_fresh, jax.random.key(0))
            runs[-1]["replay_grid_test_accuracy"] = float(grid_replay["test_accuracy"])
    return {"runs": runs}


def _per_seed(runs: list[dict], search_name: str, key: str) -> list[float]:
    return [run[search_name][key] for run in runs]


def compare_searches(runs: list[dict], prefix: str = "") -> dict:
    """Q1's per-seed values and each search's compute (member-steps, seconds per seed).

    Args:
      runs: ``run_searches(...)["runs"]``, one record per seed.
      prefix: prepended to the question names (``""`` for the MLP, ``"cnn_"`` for the CNN).
    """
    summary = {}
    for name in SEARCHES:
        steps = _per_seed(runs, name, "member_steps")
        seconds = _per_seed(runs, name, "seconds")
        summary[name] = {
            "test_accuracies": _per_seed(runs, name, "test_accuracy"),
            "test_accuracy_mean": float(np.mean(_per_seed(runs, name, "test_accuracy"))),
            "member_steps": steps[0] if len(set(steps)) == 1 else steps,
            "member_steps_vs_grid": steps[0] / runs[0]["grid"]["member_steps"],
            "seconds_first_seed": seconds[0],
            "seconds_later_seeds_median": float(np.median(seconds[1:])),
            "selected": _per_seed(runs, name, "selected"),
        }
    curve = [run["random"]["best_so_far"] for run in runs]
    summary["random_best_so_far"] = analysis.exploratory({
        "members": [point["members"] for point in curve[0]],
        "member_steps": [point["member_steps"] for point in curve[0]],
        "test_accuracy_mean": [float(np.nanmean([c[i]["test_accuracy"] for c in curve]))
                               for i in range(len(curve[0]))],
    }, "random search's selection among its first k draws: quality against compute")  # fmt: skip
    summary["grid_choice_at_edge"] = sum(run["grid"]["at_edge"] for run in runs)
    if "pbt_wd" in runs[0]:
        accuracies = _per_seed(runs, "pbt_wd", "test_accuracy")
        summary["pbt_wd"] = analysis.exploratory({
            "test_accuracies": accuracies,
            "test_accuracy_mean": float(np.mean(accuracies)),
            "member_steps": runs[0]["pbt_wd"]["member_steps"],
            "member_steps_vs_grid": runs[0]["pbt_wd"]["member_steps"] / runs[0]["grid"]["member_steps"],
            "seconds_first_seed": runs[0]["pbt_wd"]["seconds"],
            "seconds_later_seeds_median": float(np.median(_per_seed(runs[1:], "pbt_wd", "seconds"))),
            "minus_grid": stats.paired(accuracies, summary["grid"]["test_accuracies"]).as_dict(),
            "minus_pbt": stats.paired(accuracies, summary["pbt"]["test_accuracies"]).as_dict(),
            "weight_decay_first_last": [[run["pbt_wd"]["weight_decay_trajectory"][0],
                                         run["pbt_wd"]["weight_decay_trajectory"][-1]] for run in runs],
        }, "PBT over AdamW's LR and weight decay, not declared (added with the CNN run)")  # fmt: skip
    grid_accuracies = summary["grid"]["test_accuracies"]
    values = {f"{prefix}{name}_vs_grid": (summary[name]["test_accuracies"], grid_accuracies)
              for name in SEARCHES[1:]}  # fmt: skip
    return {"summary": summary, "values": values}


def pbt_schedule(runs: list[dict]) -> dict:
    """Q2's per-seed values: the winner's LR decay, the replayed schedule's accuracy.

    Args:
      runs: ``run_searches(...)["runs"]``, one record per seed.
    """
    decay = [run["pbt"]["log10_last_over_first"] for run in runs]
    replay = [run["replay_pbt_test_accuracy"] for run in runs]
    summary = {
        "log10_last_over_first": decay,
        "decayed_seeds": int(sum(d < 0 for d in decay)),
        "replay_test_accuracies": replay,
        "replay_grid_test_accuracies": [run["replay_grid_test_accuracy"] for run in runs],
        "lr_trajectories": [run["pbt"]["lr_trajectory"] for run in runs],
    }
    values = {
        "pbt_decays": decay,
        "replay_vs_pbt": (replay, _per_seed(runs, "pbt", "test_accuracy")),
        "replay_vs_grid": (replay, summary["replay_grid_test_accuracies"]),
    }
    return {"summary": summary, "values": values}


def short_horizon(config, context) -> dict:
    """Q3 on the NQM: per seed (initial point), the best constant LR and each horizon's online run.

    Args:
      config: the study's config.
      context: the runner's context (logging, sweeps).
    """
    h = nqm.curvatures(config.nqm_dim)
    low, high, count = config.nqm_lr_grid
    lrs = np.geomspace(low, high, int(count))
    fractions = (0.01, 0.05, 0.1, 0.3, 0.5, 1.0)  # where the LR in use is reported (exploratory)
    per_seed = []
    for seed in range(config.nqm_seeds):
        context.log(f"schedule_search: NQM initial point {seed + 1}/{config.nqm_seeds}")
        state = nqm.initial_state(config.nqm_dim, jax.random.fold_in(jax.random.key(config.seed + 2), seed))
        best_lr, best_loss, _ = nqm.best_constant(state, h, config.nqm_noise, config.nqm_steps, lrs)
        row = {"best_constant_lr": best_lr, "best_constant_loss": best_loss, "horizons": {}}
        for horizon in (*config.nqm_horizons, config.nqm_steps):  # the full run: meta-gradients' sanity check
            run = nqm.online(state, h, config.nqm_noise, config.nqm_steps, horizon, config.nqm_meta_steps,
                             config.nqm_meta_lr, best_lr)  # fmt: skip
            windows = len(run["lrs"])
            row["horizons"][str(horizon)] = {  # per seed
                "log10_gm_lr_ratio": float(np.mean(np.log10(run["lrs"])) - np.log10(best_lr)),
                "log10_loss_ratio": float(np.log10(run["losses"][-1] / best_loss)),
                "final_loss": float(run["losses"][-1]),
                "lr_at": [float(run["lrs"][min(int(f * windows), windows - 1)]) for f in fractions],
            }
        per_seed.append(row)

    def column(horizon, key):
        return [row["horizons"][str(horizon)][key] for row in per_seed]

    summary = {
        "best_constant_lr": [row["best_constant_lr"] for row in per_seed],
        "best_constant_loss": [row["best_constant_loss"] for row in per_seed],
        "lr_at_fractions": list(fractions),
        "horizons": {
            str(horizon): {
                "log10_gm_lr_ratio": column(horizon, "log10_gm_lr_ratio"),
                "log10_loss_ratio": column(horizon, "log10_loss_ratio"),
                "final_loss_mean": float(np.mean(column(horizon, "final_loss"))),
                "lr_at_mean": np.mean(np.asarray(column(horizon, "lr_at")), axis=0).tolist(),
                **(_FULL_RUN_NOTE if horizon == config.nqm_steps else {}),
            }
            for horizon in (*config.nqm_horizons, config.nqm_steps)
        },
    }
    values = {}
    for horizon in config.nqm_horizons:
        values[f"horizon_{horizon}_loss"] = column(horizon, "log10_loss_ratio")
        values[f"horizon_{horizon}"] = column(horizon, "log10_gm_lr_ratio")
    return {"summary": summary, "values": values}


def short_horizon_mlp(config, context) -> dict:
    """Q3 on the MLP: per seed, the full run's best SGD LR (grid, validation) and meta_tune's choices.

    Args:
      config: the study's config.
      context: the runner's context (logging, sweeps).
    """
    problem = search.Problem(config.steps)
    low, high, count = config.mlp_lr_grid
    lrs = np.geomspace(low, high, int(count)).astype(np.float32)
    train = mlp_horizon.make_sgd(problem, config.steps)
    per_seed = []
    for seed in range(config.mlp_horizon_seeds):
        members = {"lr": lrs, "seed": np.full(lrs.size, seed, np.int32)}
        result = context.sweep(train, members, jax.random.key(0), label=f"MLP SGD LR grid, seed {seed}")
        choice = stats.select(np.asarray(result.metrics["val_accuracy"], np.float64)[:, None])
        chosen = {str(h): mlp_horizon.meta_lr_choice(problem, seed, h, config.mlp_initial_lr,
                                                     config.mlp_meta_steps, config.mlp_meta_lr,
                                                     tuple(config.mlp_lr_bounds))
                  for h in config.mlp_horizons}  # fmt: skip
        per_seed.append({"best_lr": float(lrs[choice.index]), "best_at_edge": choice.at_edge,
                         "best_test_accuracy": float(result.metrics["test_accuracy"][choice.index]),
                         "chosen_lr": chosen})  # fmt: skip
    ratios = {str(h): [float(np.log10(row["chosen_lr"][str(h)] / row["best_lr"])) for row in per_seed]
              for h in config.mlp_horizons}  # fmt: skip
    summary = {"per_seed": per_seed, "log10_lr_ratio": ratios,
               "chosen_lr_mean": {h: float(np.mean([row["chosen_lr"][h] for row in per_seed]))
                                  for h in ratios},
               "best_lr_mean": float(np.mean([row["best_lr"] for row in per_seed]))}  # fmt: skip
    return {"summary": summary, "values": {f"mlp_horizon_{h}": ratios[h] for h in ratios}}


def adam_hd_stability(config, context, runs: list[dict]) -> dict:
    """Q4 for Adam-HD (exploratory): the MLP search's members rerun without the safeguard, failures per arm.

    Args:
      config: the study's config.
      context: the runner's context (logging, sweeps).
      runs: the MLP's ``run_searches(...)["runs"]`` (their ``hd`` records are the arm with the safeguard).
    """
    problem = search.Problem(config.steps)
    train = hd.make_train(problem, config.steps, None, "adam")
    without = {"failed": [], "negative_lr": [], "nonfinite_lr": []}
    for run in runs:
        members = hd.members(config.hd_search_initial_lrs, config.hd_search_hyper_lrs, run["seed"])
        result = context.sweep(train, members, jax.random.key(0), label=f"Adam-HD without safeguard, "
                               f"seed {run['seed']}")  # fmt: skip
        metrics = {k: np.asarray(v, np.float64) for k, v in result.metrics.items()}
        without["failed"] += hd.failed(metrics).tolist()
        without["negative_lr"] += (metrics["lr_min"] < 0).tolist()
        without["nonfinite_lr"] += (~np.isfinite(metrics["lr_max"])).tolist()
    with_flags = [flag for run in runs for flag in run["hd"]["failed"]]
    return analysis.exploratory({
        "runs": len(with_flags),
        "without": {key: int(sum(flags)) for key, flags in without.items()},
        "with": {"failed": int(sum(with_flags))},
        "lr_range": list(config.hd_search_lr_range),
    }, "Adam-HD's failures without / with the safeguard over the Q1 search's members (MLP), not declared")


def hypergradient(config, context) -> dict:
    """Q4: SGD-HD over initial LR x hypergradient LR on every seed, without and with the safeguard.

    Args:
      config: the study's config.
      context: the runner's context (logging, sweeps).
    """
    problem = search.Problem(config.steps)
    arms = {"without": None, "with": tuple(config.hd_lr_range)}
    per_arm = {}
    for arm, lr_range in arms.items():
        train = hd.make_train(problem, config.steps, lr_range)
        seeds = []
        for seed in range(config.seeds):
            members = hd.members(config.hd_initial_lrs, config.hd_hyper_lrs, seed)
            label = f"SGD-HD {arm} safeguard, seed {seed}"
            result = context.sweep(train, members, jax.random.key(0), label=label)
            metrics = {k: np.asarray(v, np.float64) for k, v in result.metrics.items()}
            choice = stats.select(metrics["val_accuracy"][:, None], failed=hd.failed(metrics)[:, None])
            seeds.append({
                "failed": hd.failed(metrics).tolist(),
                "negative_lr": (metrics["lr_min"] < 0).tolist(),
                "lr_min": metrics["lr_min"].tolist(),
                "lr_max": metrics["lr_max"].tolist(),
                "lr_final": metrics["lr_final"].tolist(),
                "test_accuracy": metrics["test_accuracy"].tolist(),
                "chosen": choice.index,
                "chosen_test_accuracy": float("nan") if choice.index is None
                else float(metrics["test_accuracy"][choice.index]),
            })  # fmt: skip
        flat = {key: np.concatenate([s[key] for s in seeds]) for key in ("failed", "negative_lr", "lr_max")}
        finite = np.isfinite(flat["lr_max"])
        per_arm[arm] = {
            "runs": int(flat["failed"].size),
            "failed_runs": int(flat["failed"].sum()),
            "negative_lr_runs": int(flat["negative_lr"].sum()),
            "nonfinite_lr_runs": int((~finite).sum()),  # the LR itself ran away to inf / NaN
            "lr_max_max": float(flat["lr_max"][finite].max()) if finite.any() else float("nan"),
            "chosen_test_accuracies": [s["chosen_test_accuracy"] for s in seeds],
            "per_seed": seeds,
        }
    pairs = [(lr, beta) for lr in config.hd_initial_lrs for beta in config.hd_hyper_lrs]
    summary = {"members": [{"initial_lr": lr, "hyper_lr": beta} for lr, beta in pairs], **per_arm}
    flags = {arm: np.concatenate([s["failed"] for s in per_arm[arm]["per_seed"]]) for arm in arms}
    values = {
        "hd_failures": (flags["without"], flags["with"]),
        "hd_safeguard_accuracy": (per_arm["with"]["chosen_test_accuracies"],
                                  per_arm["without"]["chosen_test_accuracies"]),
    }  # fmt: skip
    return {"summary": summary, "values": values}


def study(config, context) -> dict:
    check(config)
    runs = run_searches(config, context)["runs"]
    runs_cnn = run_searches(for_model(config, "cnn"), context, "cnn")["runs"]
    q1, q2, q3 = compare_searches(runs), pbt_schedule(runs), short_horizon(config, context)
    q1_cnn = compare_searches(runs_cnn, "cnn_")
    q3_mlp, q4 = short_horizon_mlp(config, context), hypergradient(config, context)
    q4["summary"]["adam_hd"] = adam_hd_stability(config, context, runs)
    answers = analysis.answer_all(config.analyses, {**q1["values"], **q2["values"], **q3["values"],
                                                    **q3_mlp["values"], **q4["values"],
                                                    **q1_cnn["values"]})  # fmt: skip
    for run in runs + runs_cnn:  # per-member lists are long and no table prints them
        for name in ("grid", "random", "hd"):
            run[name].pop("members_val"), run[name].pop("members_test")
    return {
        "answers": answers,
        "searches": q1["summary"],
        "searches_cnn": q1_cnn["summary"],
        "pbt_schedule": q2["summary"],
        "short_horizon": q3["summary"],
        "short_horizon_mlp": q3_mlp["summary"],
        "hypergradient": q4["summary"],
        "runs": runs,
        "runs_cnn": runs_cnn,
    }
