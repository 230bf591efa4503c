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

from .configs.default import TAIL_CLASSES

__all__ = [
    "per_seed",
    "bn_mismatch",
    "bn_accuracy",
    "decay_best_lambdas",
    "decay_tau_slope",
    "decay_tau_spread",
    "decay_selected",
    "augment_selected",
    "augment_arms",
    "layer_arms",
    "transformer_layer_arms",
    "part_of",
    "declared_values",
    "bn_summary",
    "decay_summary",
    "augment_summary",
    "layer_summary",
    "temperature_accuracy",
    "temperature_arms",
    "temperature_summary",
    "transformer_layer_summary",
    "temperature_lr_arms",
    "temperature_lr_selected",
    "temperature_lr_summary",
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


# -- part C -------------------------------------------------------------------------------------


def augment_selected(c: Mapping) -> dict[str, dict[str, Any]]:
    """C: each arm's mean strength chosen on final validation accuracy (``stats.select``) and its
    per-seed test accuracy (``none`` has one cell)."""
    out = {}
    for arm, cells in c["arms"].items():
        validation = np.asarray(cells["validation_accuracy"], dtype=np.float64)  # [mean, seed]
        choice = stats.select(validation, failed=np.asarray(cells["diverged"], dtype=bool))
        i = choice.index
        out[arm] = {"mean_index": i, "mean": None if i is None else cells["means"][i],
                    "at_edge": bool(choice.at_edge) and len(cells["means"]) > 1,
                    "test_accuracy": (cells["test_accuracy"][i] if i is not None
                                      else [None] * validation.shape[1])}  # fmt: skip
    return out


def augment_arms(c: Mapping) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """C: test accuracy at the validation-chosen mean strength, rising and falling against constant,
    constant against no augmentation."""
    acc = {arm: per_seed(r["test_accuracy"]) for arm, r in augment_selected(c).items()}
    return {
        "c_rising_vs_constant": (acc["rising"], acc["constant"]),
        "c_falling_vs_constant": (acc["falling"], acc["constant"]),
        "c_constant_vs_none": (acc["constant"], acc["none"]),
    }


# -- part D -------------------------------------------------------------------------------------


def layer_arms(layers: Mapping) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """D: final test accuracy of the per-layer arms against uniform and against layer-wise decay."""
    acc = {arm: per_seed(layers[arm]["test_accuracy"]) for arm in layers}
    return {
        "d_deeper_slower_vs_uniform": (acc["deeper_slower"], acc["uniform"]),
        "d_shallower_slower_vs_uniform": (acc["shallower_slower"], acc["uniform"]),
        "d_deeper_slower_vs_layerwise": (acc["deeper_slower"], acc["layerwise_constant"]),
    }


# -- part E -------------------------------------------------------------------------------------

HEAD_CLASSES = (0, 1, 2)  # the three most frequent classes (exploratory)


def temperature_accuracy(run: Mapping, classes: Sequence[int] = TAIL_CLASSES,
                         split: str = "test") -> np.ndarray:  # fmt: skip
    """E: per seed, the mean per-class accuracy over ``classes`` (all ten: balanced accuracy).

    Args:
      run: one (LR schedule, arm) of part E (``test_per_class``: ``[seed, class]``).
      classes: the classes averaged (default the declared tail).
      split: ``"test"`` or ``"validation"``.
    """
    per_class = np.asarray(run[f"{split}_per_class"], dtype=np.float64)
    return per_class[:, list(classes)].mean(axis=1)


def temperature_arms(e: Mapping) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """E: tail-class test accuracy, the cosine temperature and the coupled one against constants."""
    fixed, cosine = e["fixed"], e["cosine"]
    runs = {"fixed_cos": fixed["cosine_tau"], "fixed_0.1": fixed["const_0.1"],
            "fixed_0.2": fixed["const_0.2"], "cosine_coupled": cosine["coupled"],
            "cosine_0.1": cosine["const_0.1"]}
    tail = {name: temperature_accuracy(run) for name, run in runs.items()}
    return {
        "e_cosine_tau_vs_const_0.1": (tail["fixed_cos"], tail["fixed_0.1"]),
        "e_cosine_tau_vs_const_0.2": (tail["fixed_cos"], tail["fixed_0.2"]),
        "e_coupled_vs_const_0.1": (tail["cosine_coupled"], tail["cosine_0.1"]),
    }


def temperature_summary(e: Mapping) -> dict:
    """E: per LR schedule and arm, mean [95% CI] over seeds of the tail, head and balanced test accuracy
    and the balanced validation accuracy."""
    everything = range(len(e["train_counts"]))
    out = {}
    for schedule, arms in e.items():
        if schedule == "train_counts":
            continue
        out[schedule] = {arm: {
            "tail_test": stats.mean_ci(temperature_accuracy(run)).as_dict(),
            "head_test": stats.mean_ci(temperature_accuracy(run, HEAD_CLASSES)).as_dict(),
            "balanced_test": stats.mean_ci(temperature_accuracy(run, everything)).as_dict(),
            "balanced_validation": stats.mean_ci(temperature_accuracy(run, everything,
                                                                      "validation")).as_dict(),
            "diverged": int(np.sum(run["diverged"])),
        } for arm, run in arms.items()}  # fmt: skip
    return analysis.exploratory({"per_arm": out, "train_counts": list(e["train_counts"]),
                                 "tail_classes": list(TAIL_CLASSES), "head_classes": list(HEAD_CLASSES)},
                                "per-arm means over seeds; only the declared e_* differences are "
                                "confirmatory")
def temperature_lr_selected(el: Mapping) -> dict[str, dict[str, dict[str, Any]]]:
    """EL: per LR schedule and arm, the peak LR chosen on balanced validation accuracy (``stats.select``
    over the LRs, means over seeds) and the chosen LR's per-seed numbers."""
    everything = range(len(el["train_counts"]))
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for schedule, arms in el.items():
        if schedule in ("train_counts", "lrs"):
            continue
        for arm, run in arms.items():
            per_lr = [{f"{split}_per_class": run[f"{split}_per_class"][i] for split in ("test", "validation")}
                      for i in range(len(el["lrs"]))]  # fmt: skip
            validation = np.stack([temperature_accuracy(r, everything, "validation") for r in per_lr])
            choice = stats.select(validation, failed=np.asarray(run["diverged"], dtype=bool))
            i = choice.index
            out.setdefault(schedule, {})[arm] = {
                "lr_index": i, "lr": None if i is None else el["lrs"][i],
                "at_edge": bool(choice.at_edge),
                "validation_balanced_by_lr": validation.mean(axis=1).tolist(),
                "chosen": None if i is None else per_lr[i],
            }  # fmt: skip
    return out


def temperature_lr_arms(el: Mapping) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """EL: tail-class test accuracy, each arm at its own chosen peak LR (an arm with none: NaN)."""
    chosen = temperature_lr_selected(el)
    seeds = np.shape(el["fixed"]["const_0.1"]["diverged"])[1]

    def tail(schedule, arm):
        c = chosen[schedule][arm]["chosen"]
        return np.full(seeds, np.nan) if c is None else temperature_accuracy(c)

    return {
        "el_cosine_tau_vs_const_0.1": (tail("fixed", "cosine_tau"), tail("fixed", "const_0.1")),
        "el_cosine_tau_vs_const_0.2": (tail("fixed", "cosine_tau"), tail("fixed", "const_0.2")),
        "el_coupled_vs_const_0.1": (tail("cosine", "coupled"), tail("cosine", "const_0.1")),
    }


def temperature_lr_summary(el: Mapping) -> dict:
    """EL: per LR schedule and arm, the chosen peak LR, the balanced validation accuracy at every LR,
    and tail, head and balanced test accuracy at the chosen LR (mean [95% CI] over seeds)."""
    everything = range(len(el["train_counts"]))
    out: dict[str, dict[str, Any]] = {}
    for schedule, arms in temperature_lr_selected(el).items():
        for arm, s in arms.items():
            c = s["chosen"]
            out.setdefault(schedule, {})[arm] = {
                "lr": s["lr"], "at_edge": s["at_edge"],
                "validation_balanced_by_lr": s["validation_balanced_by_lr"],
                **({} if c is None else {
                    "tail_test": stats.mean_ci(temperature_accuracy(c)).as_dict(),
                    "head_test": stats.mean_ci(temperature_accuracy(c, HEAD_CLASSES)).as_dict(),
                    "balanced_test": stats.mean_ci(temperature_accuracy(c, everything)).as_dict()}),
            }  # fmt: skip
    return analysis.exploratory({"per_arm": out, "lrs": list(el["lrs"])},
                                "the choice per arm and its test numbers; only the declared el_* "
                                "differences are confirmatory")


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
    if "C" in parts:
        out.update(augment_arms(parts["C"]))
    if "D" in parts:
        out.update(layer_arms(parts["D"]))
    if "E" in parts:
        out.update(temperature_arms(parts["E"]))
    if "DT" in parts:
        out.update(transformer_layer_arms(parts["DT"]))
    if "EL" in parts:
        out.update(temperature_lr_arms(parts["EL"]))
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


def augment_summary(c: Mapping) -> dict:
    """C per arm: the chosen mean strength and its test accuracy, and per mean strength the mean
    [95% CI] over seeds of the final clean-train, validation and test accuracy and the train - test gap."""
    chosen = augment_selected(c)
    out = {}
    for arm, cells in c["arms"].items():
        per_mean = []
        for i, mean in enumerate(cells["means"]):
            acc = {m: per_seed(cells[f"{m}_accuracy"][i]) for m in ("train", "validation", "test")}
            per_mean.append({"mean": mean, "spent_mean_strength": c["spent_mean_strength"][arm][i],
                             **{m: stats.mean_ci(v).as_dict() for m, v in acc.items()},
                             "gap": stats.mean_ci(acc["train"] - acc["test"]).as_dict()})  # fmt: skip
        r = chosen[arm]
        out[arm] = {"chosen": {**r, "test": stats.mean_ci(per_seed(r["test_accuracy"])).as_dict()},
                    "per_mean": per_mean}  # fmt: skip
    return analysis.exploratory(out, "per mean strength: every cell, before selection")


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
      parts: ``{"A": bn per-seed numbers, "B": {"grid", "lrs", "lambdas"}, "C": {"arms",
        "spent_mean_strength"}, "D": layer per-seed numbers, "DT": the transformer's per-layer
        numbers, "E": temperature per-seed numbers, "EL": E's per-seed numbers per peak LR}`` (the
        parts that ran).
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
    if "C" in parts:
        out["augment"] = augment_summary(parts["C"])
    if "D" in parts:
        out["layers"] = layer_summary(parts["D"])
    if "E" in parts:
        out["temperature"] = temperature_summary(parts["E"])
    if "DT" in parts:
        out["transformer_layers"] = transformer_layer_summary(parts["DT"])
    if "EL" in parts:
        out["temperature_lr"] = temperature_lr_summary(parts["EL"])
    return out
