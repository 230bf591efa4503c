"""The study's questions, computed from per-seed values (no jax).

``study.py`` reduces each part's training runs to per-seed numbers; a stored (compacted) results file
holds the same numbers, so it can be re-analysed without training. One function per question turns
them into what its declared test takes; :func:`analyse` answers the declared questions exactly as
the config states them (``analysis.answer_all``, Holm within each part) and adds the exploratory
tables, labelled so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from experiments.common import analysis, stats

__all__ = [
    "per_seed",
    "bn_mismatch",
    "bn_accuracy",
    "decay_best_lambdas",
    "decay_tau_slope",
    "decay_tau_spread",
    "decay_selected",
    "layer_arms",
    "transformer_layer_arms",
    "part_of",
    "declared_values",
    "bn_summary",
    "decay_summary",
    "layer_summary",
    "transformer_layer_summary",
    "analyse",
]


def per_seed(values: Sequence) -> np.ndarray:
    """Per-seed values (None, a failed run, becomes NaN)."""
    return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)


# -- part A -------------------------------------------------------------------------------------


def bn_mismatch(bn: Mapping, schedule: str = "step") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A: mean mismatch over checkpoints, coupled and PointNet against the fixed momenta."""
    m = {arm: per_seed(bn[schedule][arm]["mismatch_mean"]) for arm in bn[schedule] if arm != "precise"}
    return {
        "a_mismatch_coupled_vs_fixed_0.9": (m["coupled"], m["fixed_0.9"]),
        "a_mismatch_coupled_vs_fixed_0.99": (m["coupled"], m["fixed_0.99"]),
        "a_mismatch_pointnet_vs_fixed_0.9": (m["pointnet"], m["fixed_0.9"]),
    }


def bn_accuracy(bn: Mapping, schedule: str = "step") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """A: final eval-mode test accuracy, coupled against Flax's default 0.99."""
    return {"a_accuracy_coupled_vs_fixed_0.99": (per_seed(bn[schedule]["coupled"]["final_accuracy"]),
                                                  per_seed(bn[schedule]["fixed_0.99"]["final_accuracy"]))}


# -- part B -------------------------------------------------------------------------------------


def decay_best_lambdas(grid: Mapping, lambdas: Sequence[float], arm: str = "coupled") -> np.ndarray:
    """B: ``[lr, seed]`` the validation-best lambda of each LR and seed (``stats.select`` over lambda)."""
    v = np.asarray(grid[arm]["validation_accuracy"], dtype=np.float64)
    failed = np.asarray(grid[arm]["diverged"], dtype=bool)
    lrs, _, seeds = v.shape
    best = np.full((lrs, seeds), np.nan)
    for i in range(lrs):
        for s in range(seeds):
            choice = stats.select(v[i, :, s][:, None], failed=failed[i, :, s][:, None]).index
            best[i, s] = np.nan if choice is None else lambdas[choice]
    return best


def decay_tau_slope(grid: Mapping, lrs: Sequence[float], lambdas: Sequence[float],
                    arm: str = "coupled") -> np.ndarray:
    """B (declared): per seed, the slope of log2(best lambda) on log2(lr), plus 1.

    Wang & Aitchison 2025: the best tau = 1 / (lr lambda) is constant, so the best lambda scales as
    1 / lr (slope -1, value 0); a best lambda that ignores the LR gives +1.
    """
    best = np.log2(decay_best_lambdas(grid, lambdas, arm))
    x = np.log2(np.asarray(lrs, dtype=np.float64))
    out = np.full(best.shape[1], np.nan)
    for s in range(best.shape[1]):
        if np.isfinite(best[:, s]).all():
            out[s] = np.polyfit(x, best[:, s], 1)[0] + 1.0
    return out


def decay_tau_spread(grid: Mapping, arm: str = "coupled") -> np.ndarray:
    """B (exploratory): per seed, mean |difference| at equal tau minus at equal lambda, adjacent LRs.

    ``grid[arm]["validation_accuracy"]`` is ``[lr, lambda, seed]`` with LRs and lambdas each a
    factor 2 apart: (i, j) and (i + 1, j - 1) share tau = 1 / (lr lambda); (i, j) and (i + 1, j) share
    lambda. Negative: cells of equal tau are closer than cells of equal lambda.
    """
    v = np.asarray(grid[arm]["validation_accuracy"], dtype=np.float64)
    equal_tau = np.abs(v[1:, :-1] - v[:-1, 1:]).mean(axis=(0, 1))
    equal_lambda = np.abs(v[1:, :] - v[:-1, :]).mean(axis=(0, 1))
    return equal_tau - equal_lambda


def decay_selected(grid: Mapping) -> dict[str, dict[str, Any]]:
    """B: each arm's validation-chosen (lr, lambda) cell (``stats.select``) and its per-seed test accuracy."""
    out = {}
    for arm, cells in grid.items():
        validation = np.asarray(cells["validation_accuracy"], dtype=np.float64)
        test = np.asarray(cells["test_accuracy"], dtype=np.float64)
        lrs, lams, seeds = validation.shape
        failed = np.asarray(cells["diverged"], dtype=bool).reshape(lrs * lams, seeds)
        choice = stats.select(validation.reshape(lrs * lams, seeds), failed=failed)
        i, j = divmod(choice.index, lams) if choice.index is not None else (None, None)
        out[arm] = {"lr_index": i, "lambda_index": j,
                    "lr_at_edge": i in (0, lrs - 1), "lambda_at_edge": j in (0, lams - 1),
                    "test_accuracy": (test[i, j] if i is not None
                                      else np.full(seeds, np.nan)).tolist()}  # fmt: skip
    return out


# -- part D -------------------------------------------------------------------------------------


def layer_arms(layers: Mapping) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """D: final test accuracy of the per-layer arms against uniform and against layer-wise decay."""
    acc = {arm: per_seed(layers[arm]["test_accuracy"]) for arm in layers}
    return {
        "d_deeper_slower_vs_uniform": (acc["deeper_slower"], acc["uniform"]),
        "d_shallower_slower_vs_uniform": (acc["shallower_slower"], acc["uniform"]),
        "d_deeper_slower_vs_layerwise": (acc["deeper_slower"], acc["layerwise_constant"]),
    }


def transformer_layer_arms(layers: Mapping) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """DT: final test loss of the transformer's per-layer arms (nats; lower is better)."""
    loss = {arm: per_seed(layers[arm]["test_loss"]) for arm in layers}
    return {
        "dt_deeper_slower_vs_uniform": (loss["deeper_slower"], loss["uniform"]),
        "dt_shallower_slower_vs_uniform": (loss["shallower_slower"], loss["uniform"]),
        "dt_deeper_slower_vs_layerwise": (loss["deeper_slower"], loss["layerwise_constant"]),
    }


def part_of(name: str) -> str:
    """The part a declared question belongs to: its name's prefix, ``"dt_..."`` -> ``"DT"``."""
    return name.split("_", 1)[0].upper()


def declared_values(parts: Mapping[str, Any]) -> dict[str, Any]:
    """What every declared question of the parts that ran takes, keyed by its declared name."""
    out: dict[str, Any] = {}
    if "A" in parts:
        out.update(bn_mismatch(parts["A"]))
        out.update(bn_accuracy(parts["A"]))
    if "B" in parts:
        b = parts["B"]
        out["b_tau_constant"] = decay_tau_slope(b["grid"], b["lrs"], b["lambdas"])
        chosen = decay_selected(parts["B"]["grid"])
        coupled = per_seed(chosen["coupled"]["test_accuracy"])
        out["b_constant_vs_coupled"] = (per_seed(chosen["constant"]["test_accuracy"]), coupled)
        out["b_rising_vs_coupled"] = (per_seed(chosen["rising"]["test_accuracy"]), coupled)
    if "D" in parts:
        out.update(layer_arms(parts["D"]))
    if "DT" in parts:
        out.update(transformer_layer_arms(parts["DT"]))
    return out


# -- summaries (exploratory) ------------------------------------------------------------------------


def bn_summary(bn: Mapping) -> dict:
    """Per schedule and arm: mean [95% CI] over seeds of every per-seed number of part A."""
    return {schedule: {arm: {metric: stats.mean_ci(per_seed(v)).as_dict() for metric, v in numbers.items()
                             if metric not in ("max_step",)}
                       for arm, numbers in arms.items()}
            for schedule, arms in bn.items()}  # fmt: skip


def decay_summary(b: Mapping, epoch_steps: int) -> dict:
    """Per arm: mean validation accuracy over seeds on the grid, the chosen cell, and per LR the
    validation-best lambda's tau in epochs (Wang & Aitchison's quantity)."""
    lrs, lams = b["lrs"], b["lambdas"]
    chosen = decay_selected(b["grid"])
    out = {}
    for arm, cells in b["grid"].items():
        validation = np.asarray(cells["validation_accuracy"], dtype=np.float64).mean(axis=2)
        test = np.asarray(cells["test_accuracy"], dtype=np.float64).mean(axis=2)
        best = validation.argmax(axis=1)
        c = chosen[arm]
        out[arm] = {
            "mean_validation": validation.tolist(),
            "mean_test": test.tolist(),
            "chosen": {**c, "lr": lrs[c["lr_index"]], "lambda": lams[c["lambda_index"]],
                       "tau_epochs": 1.0 / (lrs[c["lr_index"]] * lams[c["lambda_index"]]) / epoch_steps,
                       "test": stats.mean_ci(per_seed(c["test_accuracy"])).as_dict()},  # fmt: skip
            "best_tau_epochs_per_lr": [1.0 / (lr * lams[j]) / epoch_steps for lr, j in zip(lrs, best)],
            "best_lambda_at_edge_per_lr": [bool(j in (0, len(lams) - 1)) for j in best],
        }
    best = decay_best_lambdas(b["grid"], lams)
    out["per_seed_best_lambda"] = {"lambda": best.tolist(),
                                   "tau_epochs": (1.0 / (np.asarray(lrs)[:, None] * best)
                                                  / epoch_steps).tolist(),
                                   "at_edge": np.isin(best, [lams[0], lams[-1]]).tolist()}  # fmt: skip
    spread = decay_tau_spread(b["grid"])
    out["equal_tau_minus_equal_lambda_spread"] = {"per_seed": spread.tolist(),
                                                  **stats.one_sample(spread)._asdict()}  # fmt: skip
    return analysis.exploratory(out, "grid means over seeds; the best tau per LR is chosen on validation "
                                     "means")


def layer_summary(layers: Mapping) -> dict:
    """Per arm: mean [95% CI] of the final test and validation accuracy."""
    return {arm: {m: stats.mean_ci(per_seed(v)).as_dict() for m, v in numbers.items() if m != "diverged"}
            for arm, numbers in layers.items()}  # fmt: skip


def transformer_layer_summary(layers: Mapping) -> dict:
    """Per arm: mean [95% CI] of the transformer's final test and validation loss (nats per character)."""
    return layer_summary(layers)


def analyse(parts: Mapping[str, Any], questions, epoch_steps: int | None = None) -> dict:
    """The declared answers (Holm within each part) and the exploratory summaries.

    Args:
      parts: ``{"A": bn per-seed numbers, "B": {"grid", "lrs", "lambdas"}, "D": layer per-seed numbers,
        "DT": the transformer's per-layer numbers}`` (the parts that ran).
      questions: the config's declared questions; those of parts that did not run are skipped.
      epoch_steps: part B's steps per epoch (for tau in epochs).
    """
    asked = tuple(q for q in questions if part_of(q.name) in parts)
    declared = analysis.answer_all(asked, declared_values(parts))
    out: dict[str, Any] = {"declared": declared}
    if "A" in parts:
        out["bn"] = bn_summary(parts["A"])
    if "B" in parts:
        out["decay"] = decay_summary(parts["B"], epoch_steps)
    if "D" in parts:
        out["layers"] = layer_summary(parts["D"])
    if "DT" in parts:
        out["transformer_layers"] = transformer_layer_summary(parts["DT"])
    return out
