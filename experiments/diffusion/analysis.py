"""The diffusion study's statistics, from per-seed numbers only (NumPy and SciPy, no JAX).

The declared analysis of the primary questions lives in the config
(``Config.analyses``: :func:`declared_questions`, fixed before the run, as
``experiments.common.analysis.Question`` records); the study answers them with
``experiments.common.analysis.answer_all`` on :func:`declared_values`, the
per-seed values also stored in results.json, so the study, the report and a
re-analysis of a stored results file give the same numbers. Everything else here (the interaction F-test,
pooled-error intervals, per-noise-schedule comparisons) is exploratory and is
labelled so wherever it is written.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from experiments.common import stats
from experiments.common.analysis import Question

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


# --------------------------------------------------------------------------- selection


def select_peaks(
    records: Sequence[dict], noise_names: Sequence[str], families: Sequence[str], multipliers: Sequence[float]
) -> tuple[dict, list[dict]]:
    """Per (weights, noise, family): the peak multiplier with the lowest mean validation KL.

    A multiplier where any seed diverged is not eligible (a diverged run has no
    score, and dropping only its seed would compare means over different
    seeds); if every multiplier diverged the smallest is kept. Also returns the
    selections on an edge of the grid (the optimum may lie outside it).

    Args:
      records: the grid members' records (``part``, ``noise``, ``family``, ``multiplier``,
        ``diverged_at``, ``kl_val_<weights>``).
      noise_names: the noise schedules.
      families: the LR families.
      multipliers: the grid of peak multipliers.
    """
    grid = sorted(multipliers)
    selection: dict[str, dict] = {}
    edges = []
    for which in WEIGHTS:
        selection[which] = {}
        for name in noise_names:
            selection[which][name] = {}
            for family in families:
                best, best_value = grid[0], np.inf
                for multiplier in grid:
                    rows = [
                        r
                        for r in records
                        if r["part"] == "grid"
                        and r["noise"] == name
                        and r["family"] == family
                        and r["multiplier"] == multiplier
                    ]
                    if not rows or any(r["diverged_at"] >= 0 for r in rows):
                        continue
                    value = float(np.mean([r[f"kl_val_{which}"] for r in rows]))
                    if value < best_value:
                        best, best_value = multiplier, value
                selection[which][name][family] = best
                if len(grid) > 1 and best in (grid[0], grid[-1]):
                    edges.append({"weights": which, "noise": name, "family": family, "multiplier": best})
    return selection, edges


# --------------------------------------------------------------------------- question 1


def interaction_analysis(
    table: np.ndarray, noise_names: Sequence[str], family_names: Sequence[str], level: float = 0.95
) -> dict:
    """Interaction of noise schedule and LR family in ``table[seed, noise, family]``.

    The reference-coded interaction contrasts
    ``[Y(n, l) - Y(n, l0)] - [Y(n0, l) - Y(n0, l0)]`` (n0 = first noise
    schedule, l0 = first family) span the whole interaction. Each gets a
    one-sample t interval and test over its per-seed values (df = seeds - 1:
    no assumption on how variances compare between cells), Holm-adjusted over
    the contrasts: this is the declared test of question 1.

    Exploratory, under ``"exploratory"``: the two-way interaction F-test with
    seeds as blocks and the same contrasts with a pooled error (error = seed x
    cell residual; both assume equal variance in every cell), and each cell's
    interaction term.

    Args:
      table: test KL per seed, noise schedule and family; a seed with a non-finite value is dropped.
      noise_names: the noise schedules (axis 1); the first is the reference.
      family_names: the LR families (axis 2); the first is the reference.
      level: two-sided confidence level.
    """
    table = np.asarray(table, np.float64)
    seeds, num_noise, num_family = table.shape
    finite = np.all(np.isfinite(table.reshape(seeds, -1)), axis=1)
    y = table[finite]
    s = y.shape[0]
    out: dict[str, Any] = {"seeds_used": int(s)}
    if s < 2 or num_noise < 2 or num_family < 2:
        out["note"] = "needs at least 2 seeds, 2 noise schedules and 2 families"
        return out
    contrasts = []
    for n in range(1, num_noise):
        for l in range(1, num_family):
            per_seed = (y[:, n, l] - y[:, n, 0]) - (y[:, 0, l] - y[:, 0, 0])
            d = stats.paired(per_seed, np.zeros_like(per_seed), level)
            contrasts.append(
                {
                    "noise": noise_names[n],
                    "family": family_names[l],
                    "definition": f"[{family_names[l]} - {family_names[0]}] under {noise_names[n]} "
                    f"minus the same under {noise_names[0]}",
                    "per_seed": per_seed.tolist(),
                    "mean": d.mean,
                    "low": d.low,
                    "high": d.high,
                    "p_value": d.p_value,
                }
            )
    for c, p in zip(contrasts, stats.holm([c["p_value"] for c in contrasts])):
        c["p_holm"] = float(p)
        c["significant"] = bool(p < 1 - level)
    out["contrasts"] = contrasts
    out["any_significant"] = any(c["significant"] for c in contrasts)
    out["smallest_p_holm"] = float(np.nanmin([c["p_holm"] for c in contrasts]))
    out["largest_contrast"] = max(contrasts, key=lambda c: abs(c["mean"]))
    out["exploratory"] = _pooled_interaction(y, noise_names, family_names, level)
    return out


def _pooled_interaction(y: np.ndarray, noise_names, family_names, level: float) -> dict:
    """The two-way F-test with seeds as blocks and pooled-error contrast intervals (exploratory)."""
    s, num_noise, num_family = y.shape
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
    out: dict[str, Any] = {
        "f_test": {
            "f": f_value,
            "df_interaction": df_int,
            "df_error": df_err,
            "p_value": float(scipy_stats.f.sf(f_value, df_int, df_err)) if np.isfinite(f_value) else 0.0,
            "ss_interaction": ss_int,
            "ss_family": num_noise * s * float(np.sum((family_mean - grand) ** 2)),
            "ss_noise": num_family * s * float(np.sum((noise_mean - grand) ** 2)),
            "ss_error": ss_err,
            "ms_error": ms_err,
        },
        "cell_interaction": {
            noise_names[n]: {family_names[l]: float(interaction[n, l]) for l in range(num_family)}
            for n in range(num_noise)
        },
    }
    quantile = float(scipy_stats.t.ppf(0.5 + level / 2, df_err))
    se = math.sqrt(4 * ms_err / s)  # a contrast of four cell means, each with variance ms_err / s
    pooled = []
    for n in range(1, num_noise):
        for l in range(1, num_family):
            mean = float(cell[n, l] - cell[n, 0] - cell[0, l] + cell[0, 0])
            p = float(2 * scipy_stats.t.sf(abs(mean) / se, df_err)) if se > 0 else 0.0
            pooled.append(
                {
                    "noise": noise_names[n],
                    "family": family_names[l],
                    "mean": mean,
                    "low": mean - quantile * se,
                    "high": mean + quantile * se,
                    "p_value": p,
                }
            )
    for c, p in zip(pooled, stats.holm([c["p_value"] for c in pooled])):
        c["p_holm"] = float(p)
    out["pooled_contrasts"] = pooled
    return out


# --------------------------------------------------------------------------- question 2


def alignment_analysis(
    arms_kl: dict[str, dict[str, np.ndarray]], uniform_kl: dict[str, np.ndarray], level: float = 0.95
) -> dict:
    """Curriculum arms against uniform sampling, from per-seed test KL ``{noise: {arm: values}}``.

    Declared test of question 2 (``"averaged_over_noise"``): per arm, the
    per-seed mean of the differences over the noise schedules, a one-sample t
    interval and test over seeds (df = seeds - 1), Holm over the arms.

    Exploratory: per noise schedule (Holm over every arm x noise schedule) and
    the average with an error pooled over every (noise, arm) cell
    (``"pooled_error"``: many more degrees of freedom, assumes equal variance
    in every cell).

    Args:
      arms_kl: per noise schedule and arm, the arm's test KL, one value per seed.
      uniform_kl: per noise schedule, uniform sampling's test KL, one value per seed (the same seeds).
      level: two-sided confidence level.
    """
    differences = {
        name: {
            arm: np.asarray(v, np.float64) - np.asarray(uniform_kl[name], np.float64)
            for arm, v in row.items()
        }
        for name, row in arms_kl.items()
    }
    by_noise: dict[str, dict] = {}
    keys, p_values = [], []
    for name, arms in differences.items():
        by_noise[name] = {}
        for arm, d in arms.items():
            result = stats.paired(d, np.zeros_like(np.asarray(d, np.float64)), level)
            by_noise[name][arm] = result.as_dict()
            keys.append((name, arm))
            p_values.append(result.p_value)
    for (name, arm), p in zip(keys, stats.holm(p_values)):
        by_noise[name][arm]["p_holm"] = float(p)
        by_noise[name][arm]["significant"] = bool(p < 1 - level)

    arms = list(dict.fromkeys(arm for row in differences.values() for arm in row))
    averaged, pooled = {}, {}
    for arm in arms:
        arm_mean = np.mean([np.asarray(row[arm], np.float64) for row in arms_kl.values()], axis=0)
        uniform_mean = np.mean([np.asarray(uniform_kl[name], np.float64) for name in arms_kl], axis=0)
        averaged[arm] = {
            **stats.paired(arm_mean, uniform_mean, level).as_dict(),
            "per_seed_arm": arm_mean.tolist(),
            "per_seed_uniform": uniform_mean.tolist(),
        }
    for arm, p in zip(arms, stats.holm([averaged[a]["p_value"] for a in arms])):
        averaged[arm]["p_holm"] = float(p)
        averaged[arm]["significant"] = bool(p < 1 - level)

    # exploratory: the seed-to-seed variance of the differences pooled over every (noise, arm) cell
    cells = [np.asarray(d, np.float64) for row in differences.values() for d in row.values()]
    df = sum(len(c) - 1 for c in cells)
    if df > 0:
        variance = sum(float(np.sum((c - c.mean()) ** 2)) for c in cells) / df
        quantile = float(scipy_stats.t.ppf(0.5 + level / 2, df))
        for arm in arms:
            mean = averaged[arm]["mean"]
            se = math.sqrt(variance / (len(differences) * len(cells[0])))
            p = float(2 * scipy_stats.t.sf(abs(mean) / se, df)) if se > 0 else 0.0
            pooled[arm] = {
                "mean": mean,
                "low": mean - quantile * se,
                "high": mean + quantile * se,
                "p_value": p,
                "df": df,
            }
        for arm, p in zip(arms, stats.holm([pooled[a]["p_value"] for a in arms])):
            pooled[arm]["p_holm"] = float(p)
    return {"averaged_over_noise": averaged, "by_noise": by_noise, "exploratory_pooled_error": pooled}


# --------------------------------------------------------------------------- the questions, from records


def _field(config, key: str):
    """A config field from the dataclass or from results.json's dict."""
    return config[key] if isinstance(config, dict) else getattr(config, key)


def find(records: Sequence[dict], **match) -> list[int]:
    """Indices of the records whose fields equal ``match``."""
    return [i for i, r in enumerate(records) if all(r.get(k) == v for k, v in match.items())]


def cell_rows(
    records: Sequence[dict], name: str, family: str, multiplier: float, seeds: Sequence[int]
) -> list[int]:
    """The grid records of one cell (noise, family, peak multiplier), in the order of ``seeds``."""
    found = find(records, part="grid", noise=name, family=family, multiplier=multiplier)
    rows = {records[i]["seed"]: i for i in found}
    return [rows[s] for s in seeds if s in rows]


def uniform_rows(records: Sequence[dict], name: str, seeds: Sequence[int]) -> list[int]:
    """Uniform sampling at the arms' settings: its own curriculum runs, or the grid's cosine 1x cell."""
    rows = [i for s in seeds for i in find(records, part="curriculum", noise=name, arm="uncoupled", seed=s)]
    return rows or cell_rows(records, name, "cosine", 1.0, seeds)


def _arm_rows(records: Sequence[dict], name: str, arm: str, seeds: Sequence[int]) -> list[int]:
    return [i for s in seeds for i in find(records, part="curriculum", noise=name, arm=arm, seed=s)]


def _values(records: Sequence[dict], rows: Sequence[int], key: str) -> np.ndarray:
    return np.array([records[i][key] for i in rows], np.float64)


def question1(records: Sequence[dict], config, selection: dict, base_lr: dict, seeds: Sequence[int]) -> dict:
    """Question 1 from the members' records: test KL per cell at the selected peak, the interaction.

    Per weights: the cells (mean and t interval over seeds, the multiplier,
    per-seed values), the best family per noise schedule on validation, every
    family against that best one (exploratory, Holm within a noise schedule)
    and :func:`interaction_analysis`.

    Args:
      records: the members' records (a Runner's, or results.json's ``members``).
      config: the study config (dataclass or results.json's dict).
      selection: :func:`select_peaks`'s multipliers.
      base_lr: the 1x peak per noise schedule.
      seeds: the seeds of the grid.
    """
    noise_names, families = list(_field(config, "noise_schedules")), list(_field(config, "lr_families"))
    out = {}
    for which in WEIGHTS:
        table = np.full((len(seeds), len(noise_names), len(families)), np.nan)
        cells, per_seed, best_family = {}, {}, {}
        for n, name in enumerate(noise_names):
            cells[name], per_seed[name], val_means = {}, {}, {}
            for l, family in enumerate(families):
                multiplier = selection[which][name][family]
                rows = cell_rows(records, name, family, multiplier, seeds)
                test = _values(records, rows, f"kl_test_{which}")
                table[: len(test), n, l] = test
                per_seed[name][family] = test
                val_means[family] = float(np.mean(_values(records, rows, f"kl_val_{which}")))
                cells[name][family] = {
                    "kl_test": stats.mean_ci(test).as_dict(),
                    "multiplier": multiplier,
                    "peak": multiplier * base_lr[name],
                    "kl_val_mean": val_means[family],
                    "per_seed": test.tolist(),
                }
            best_family[name] = min(val_means, key=val_means.get)
        out[which] = {
            "cells": cells,
            "best_family_by_validation": best_family,
            "same_best_for_all": len(set(best_family.values())) == 1,
            "vs_best_exploratory": {n: stats.compare_to(a, best_family[n]) for n, a in per_seed.items()},
            "interaction": interaction_analysis(table, noise_names, families),
        }
    return out


def question2(records: Sequence[dict], config, seeds: Sequence[int]) -> dict:
    """Question 2 from the members' records: every curriculum arm against uniform sampling.

    Args:
      records: the members' records.
      config: the study config (dataclass or results.json's dict).
      seeds: the seeds of the arms.
    """
    names = [n for n in _field(config, "curriculum_noise") if n in _field(config, "noise_schedules")]
    out = {}
    for which in WEIGHTS:
        key = f"kl_test_{which}"
        uniform = {name: _values(records, uniform_rows(records, name, seeds), key) for name in names}
        arms = {
            name: {
                arm: _values(records, _arm_rows(records, name, arm, seeds), key)
                for arm in _field(config, "curriculum_arms")
            }
            for name in names
        }
        out[which] = {
            **alignment_analysis(arms, uniform),
            "uniform_kl_test": {n: stats.mean_ci(v).as_dict() for n, v in uniform.items()},
            "arm_kl_test": {
                n: {a: stats.mean_ci(v).as_dict() for a, v in row.items()} for n, row in arms.items()
            },
        }
    return out


# --------------------------------------------------------------------------- the declared analysis

INTERACTION_FAMILY = "interaction contrasts (EMA test KL)"
ALIGNMENT_FAMILY = "curriculum arms (EMA test KL)"


def declared_questions(
    noise_names: Sequence[str], families: Sequence[str], arms: Sequence[str]
) -> tuple[Question, ...]:
    """The primary questions of the study as declared analyses (``experiments.common.analysis``).

    Question 1 (does the LR family's effect depend on the noise schedule?) is
    the family of reference-coded interaction contrasts, one ``one_sample_t``
    each on its per-seed values; the answer is "yes" iff one is significant
    after Holm over the family. Question 2 (does a curriculum tied to the LR
    change the test KL?) is one ``paired_t`` per arm on the per-seed mean over
    the curriculum noise schedules, Holm over the arms. The seed is the unit
    of replication in both (every arm of a seed shares its initialisation, data
    and noise draws); no variance is pooled across cells.

    Args:
      noise_names: the noise schedules; the first is the reference of the contrasts.
      families: the LR families; the first is the reference of the contrasts.
      arms: the curriculum arms.
    """
    questions = []
    for noise in noise_names[1:]:
        for family in families[1:]:
            questions.append(
                Question(
                    name=f"interaction:{noise}:{family}",
                    question="Does the LR family's effect on test KL depend on the noise schedule?",
                    statistic=f"[{family} - {families[0]}] under {noise} minus the same under "
                    f"{noise_names[0]}: test KL (EMA weights) at each cell's validation-selected peak, "
                    "one value per seed",
                    test="one_sample_t",
                    error_model="per-seed contrast values i.i.d. normal; Student t with seeds - 1 df "
                    "(no variance pooled across cells)",
                    correction_family=INTERACTION_FAMILY,
                )
            )
    for arm in arms:
        questions.append(
            Question(
                name=f"alignment:{arm}",
                question="Does a timestep curriculum tied to the LR change test KL against uniform sampling?",
                statistic=f"test KL (EMA weights) of the {arm} arm minus uniform sampling, each averaged "
                "over the curriculum noise schedules, one value per seed",
                test="paired_t",
                error_model="per-seed differences i.i.d. normal; Student t with seeds - 1 df",
                correction_family=ALIGNMENT_FAMILY,
            )
        )
    return tuple(questions)


def declared_values(question1: dict, question2: dict, weights: str = "ema") -> dict:
    """The per-seed values each declared question is answered on, from ``question1``/``question2`` results.

    Args:
      question1: ``results["question1"]`` (per weights: ``interaction.contrasts`` with ``per_seed``).
      question2: ``results["question2"]`` (per weights: ``averaged_over_noise`` with ``per_seed_arm`` and
        ``per_seed_uniform``).
      weights: "ema" (the declared weights) or "raw".
    """
    values = {}
    for c in question1[weights]["interaction"].get("contrasts", []):
        values[f"interaction:{c['noise']}:{c['family']}"] = c["per_seed"]
    for arm, d in question2[weights]["averaged_over_noise"].items():
        values[f"alignment:{arm}"] = (d["per_seed_arm"], d["per_seed_uniform"])
    return values


__all__ = [
    "LABELS",
    "WEIGHTS",
    "ALIGNMENT_FAMILY",
    "INTERACTION_FAMILY",
    "alignment_analysis",
    "cell_rows",
    "find",
    "question1",
    "question2",
    "uniform_rows",
    "declared_questions",
    "declared_values",
    "interaction_analysis",
    "select_peaks",
]
