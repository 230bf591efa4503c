"""Is the learning-rate schedule part of a lottery ticket? (MNIST-1D, the notebook's SparseMLP)

Two sweeps, each one compiled program over all its members:

1. **Chains** (``train.find_ticket``): iterative magnitude pruning under every
   schedule A (and every rewind point k), plus the retraining variants of
   Renda et al. (2020) that continue from the previous round's weights (LR
   rewinding, fine-tuning), for every seed.
2. **Retraining** (``train.train``): the tickets' masks retrained under every
   schedule B with their original init (ticket), with a fresh init (reinit, the
   mandatory control: on MNIST-1D the mask itself may be the regulariser),
   layer-matched random masks, and dense networks; the same on a fresh
   MNIST-1D draw (transfer).

Every number is the last-step accuracy of a fixed protocol; the only choices
(the fine-tuning LR, the schedule of the "random pruning with a good schedule"
arm) are made on validation data, and test accuracy is only reported.
Comparisons are paired over seeds: every arm of a seed shares its init, its
data order and its random masks.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import numpy as np

import optasched as osd
from experiments.common import plotting, stats
from experiments.common.data import load_mnist1d, split_validation
from experiments.common.runner import Context

from . import train as T

ANCHOR = {  # the notebook's last-step test accuracy, two trials (../shared/ANCHORS.md)
    0.0: {"ticket": (66.4, 64.8), "random": None},
    0.9: {"ticket": (74.3, 74.1), "random": (60.5, 65.7)},
    0.95: {"ticket": (69.2, 70.5), "random": (55.9, 54.6)},
    0.99: {"ticket": (41.9, 41.5), "random": (16.7, 15.4)},
}
ANCHOR_TRANSFER = {  # ~91% ticket on a fresh draw (seed 43), batch 500, 6000 steps
    "ticket": (64.9, 66.8),
    "dense": (64.2, 64.2),
    "random": (61.5, 58.4),
    "reinit": (64.7, 66.3),
}


# ----------------------------------------------------------------------------- data and configs


def load_data(config) -> dict[str, np.ndarray]:
    """The paper's draw and (when transfer is on) a fresh one, stacked on a leading draw axis."""
    seeds = [config.data_seed] + ([config.transfer_seed] if config.transfer else [])
    draws = []
    for seed in seeds:
        data = load_mnist1d(seed)
        if config.validation_size:
            data = split_validation(data, config.validation_size)
        draws.append(data)
    for batch in {config.batch_size, config.transfer_batch_size}:
        if len(draws[0]["x_train"]) % batch:
            raise ValueError(
                f"batch size {batch} must divide the {len(draws[0]['x_train'])} training sequences"
            )
    return {k: np.stack([d[k] for d in draws]) for k in draws[0]}


def schedule(peak: float, end: float, steps: int):
    """A cosine from ``peak`` to ``end`` over the round; ``end == peak`` is a constant LR.

    One family for every arm, so all members stack into one sweep.
    """
    return osd.cosine(float(peak), steps, float(end))


def nearest_round(targets, sparsity: float) -> int:
    return int(np.argmin(np.abs(np.asarray(targets) - sparsity)))


def kept_sparsities(config) -> tuple[float, ...]:
    """Sparsities whose masks leave the chains: the reported ones and the transfer ticket."""
    kept = list(config.report_sparsities)
    if config.transfer and config.transfer_sparsity not in kept:
        kept.append(config.transfer_sparsity)
    return tuple(kept)


def init(seed: int, hidden: int):
    return jax.tree.map(np.asarray, T.init_params(jax.random.key(seed), hidden))


def random_mask(seed: int, sparsity: float, hidden: int):
    """Layer-matched random mask; the same for every arm of a seed (and every schedule B)."""
    key = jax.random.fold_in(jax.random.key(seed), 10_000 + round(sparsity * 10_000))
    return jax.tree.map(np.asarray, T.random_mask(key, T.drop_counts(sparsity, hidden), hidden))


def rewind_steps(config) -> list[int]:
    """The distinct rewind points k (updates of the dense round); 0 must be among them."""
    ks = sorted({round(k * config.steps) for k in config.rewind_fractions})
    if 0 not in ks:
        raise ValueError(
            f"rewind_fractions must include 0 (the original init), got {config.rewind_fractions}"
        )
    return ks


def chain_arms(config) -> list[dict[str, Any]]:
    """The pruning chains: IMP under every schedule A and rewind point k, then the variants."""
    arms = []
    for a, (_, peak, end) in enumerate(config.schedules):
        for k in rewind_steps(config):
            arms.append(
                {"kind": "imp", "A": a, "k": k, "first": (peak, end), "later": (peak, end), "carry": 0}
            )
    if config.variants:
        _, peak, end = config.schedules[config.variant_schedule]
        arms.append(
            {
                "kind": "lr_rewind",
                "A": config.variant_schedule,
                "k": 0,
                "first": (peak, end),
                "later": (peak, end),
                "carry": 1,
            }
        )
        for lr in config.finetune_lrs:
            arms.append(
                {
                    "kind": "finetune",
                    "A": config.variant_schedule,
                    "k": 0,
                    "lr": lr,
                    "first": (peak, end),
                    "later": (lr, lr),
                    "carry": 1,
                }
            )
    return arms


# ----------------------------------------------------------------------------- the study


def study(config, context: Context) -> dict[str, Any]:
    data = load_data(config)
    hidden, steps, seeds = config.hidden, config.steps, range(config.seeds)
    rounds = len(config.targets)
    kept = kept_sparsities(config)
    keep_rounds = tuple(nearest_round(config.targets, s) for s in kept)
    rewinding = any(k > 0 for k in rewind_steps(config))
    inits = {seed: init(seed, hidden) for seed in seeds}

    # 1. chains: every arm x seed in one sweep
    arms = chain_arms(config)
    drops = T.drop_counts(config.targets, hidden)
    members = [(arm, seed) for arm in arms for seed in seeds]
    configs = osd.stack(
        [
            {
                "params0": inits[seed],
                "drops": drops,
                "first_schedule": schedule(*arm["first"], steps),
                "schedule": schedule(*arm["later"], steps),
                "rewind_step": np.int32(arm["k"]),
                "carry_weights": np.int32(arm["carry"]),
                "data_index": np.int32(0),
            }
            for arm, seed in members
        ]
    )
    find = functools.partial(
        T.find_ticket,
        data=data,
        steps=steps,
        batch_size=config.batch_size,
        score_step=config.score_step,
        keep_rounds=keep_rounds,
        rewinding=rewinding,
    )
    chains = context.sweep(
        find, configs, label=f"{len(members)} pruning chains x {rounds} rounds", chunk_size=config.chunk_size
    )
    chain = {}  # (kind, A, k, lr) -> per-seed arrays
    for i, (arm, seed) in enumerate(members):
        name = (arm["kind"], arm["A"], arm["k"], arm.get("lr"))
        entry = chain.setdefault(name, {"rounds": [], "masks": [], "rewind": []})
        entry["rounds"].append(jax.tree.map(lambda x, i=i: x[i], chains.metrics["rounds"]))
        entry["masks"].append(jax.tree.map(lambda x, i=i: x[i], chains.metrics["masks"]))
        if rewinding:
            entry["rewind"].append(jax.tree.map(lambda x, i=i: x[i], chains.metrics["rewind_weights"]))
    for entry in chain.values():
        entry["rounds"] = {k: np.stack([r[k] for r in entry["rounds"]]) for k in entry["rounds"][0]}

    def chain_mask(kind, a, k, seed, sparsity, lr=None):
        return jax.tree.map(lambda m: m[kept.index(sparsity)], chain[(kind, a, k, lr)]["masks"][seed])

    # 2. retraining: tickets, reinit, random and dense under every schedule B
    specs = []  # (arm, A, B, sparsity, k, draw, seed) with its config
    dense = jax.tree.map(np.asarray, T.dense_mask(hidden))
    n_schedules = len(config.schedules)
    ks = rewind_steps(config)

    def add(arm, a, b, sparsity, k, draw, seed, params0, mask):
        length = config.transfer_steps if draw else steps  # the schedule spans the run it drives
        specs.append(
            (
                (arm, a, b, sparsity, k, draw, seed),
                {
                    "params0": params0,
                    "mask": mask,
                    "schedule": schedule(*config.schedules[b][1:], length),
                    "data_index": np.int32(draw),
                    "first_step": np.int32(k),
                },
            )
        )

    random_pairs = set()
    if config.crossed:
        for s in config.report_sparsities:
            for seed in seeds:
                for a in range(n_schedules):
                    for b in range(n_schedules):
                        if a != b:  # ticket(A -> A) is the chain's own round
                            add("ticket", a, b, s, 0, 0, seed, inits[seed], chain_mask("imp", a, 0, seed, s))
                        add(
                            "reinit",
                            a,
                            b,
                            s,
                            0,
                            0,
                            seed,
                            init(seed + config.reinit_offset, hidden),
                            chain_mask("imp", a, 0, seed, s),
                        )
        random_pairs |= {(s, b) for s in config.report_sparsities for b in range(n_schedules)}
    else:  # the anchor: random pruning and the reinit control under the notebook's schedule only
        random_pairs |= {(s, 0) for s in kept}
        for s in kept:
            for seed in seeds:
                add(
                    "reinit",
                    0,
                    0,
                    s,
                    0,
                    0,
                    seed,
                    init(seed + config.reinit_offset, hidden),
                    chain_mask("imp", 0, 0, seed, s),
                )
    if config.variants:
        random_pairs |= {(s, b) for s in config.report_sparsities for b in range(n_schedules)}
    for s, b in sorted(random_pairs):
        for k in ks:
            for seed in seeds:
                start = inits[seed] if k == 0 else chain[("imp", b, k, None)]["rewind"][seed]
                add("random", None, b, s, k, 0, seed, start, random_mask(seed, s, hidden))
    retrain_specs = list(specs)
    transfer_specs = []
    if config.transfer:
        specs.clear()
        s = config.transfer_sparsity
        for seed in seeds:
            for b in range(n_schedules):
                for a in range(n_schedules):
                    add("ticket", a, b, s, 0, 1, seed, inits[seed], chain_mask("imp", a, 0, seed, s))
                    add(
                        "reinit",
                        a,
                        b,
                        s,
                        0,
                        1,
                        seed,
                        init(seed + config.reinit_offset, hidden),
                        chain_mask("imp", a, 0, seed, s),
                    )
                add("random", None, b, s, 0, 1, seed, inits[seed], random_mask(seed, s, hidden))
                add("dense", None, b, 0.0, 0, 1, seed, inits[seed], dense)
        transfer_specs = list(specs)

    retrained = {}
    train_fn = functools.partial(T.train, data=data, steps=steps, batch_size=config.batch_size)
    groups = [(retrain_specs, train_fn, "retraining")]
    if transfer_specs:
        same = (config.transfer_steps, config.transfer_batch_size) == (steps, config.batch_size)
        transfer_fn = (
            train_fn
            if same
            else functools.partial(
                T.train, data=data, steps=config.transfer_steps, batch_size=config.transfer_batch_size
            )
        )
        if same:  # one compiled program for both
            groups = [(retrain_specs + transfer_specs, train_fn, "retraining and transfer")]
        else:
            groups.append((transfer_specs, transfer_fn, "transfer"))
    for group, fn, label in groups:
        if not group:
            continue
        result = context.sweep(
            fn,
            osd.stack([c for _, c in group]),
            label=f"{len(group)} {label} runs",
            chunk_size=config.chunk_size,
        )
        for i, (name, _) in enumerate(group):
            retrained[name] = {k: float(v[i]) for k, v in result.metrics.items()}

    return analyse(
        config, chain, retrained, context, chains_seconds=(chains.compile_seconds, chains.run_seconds)
    )


# ----------------------------------------------------------------------------- statistics


def analyse(config, chain, retrained, context, chains_seconds) -> dict[str, Any]:
    seeds = range(config.seeds)
    names = [s[0] for s in config.schedules]
    n_schedules = len(names)
    steps = config.steps
    has_val = config.validation_size > 0
    ks = rewind_steps(config)

    def chain_at(kind, a, k, sparsity, metric="test_acc", lr=None):
        r = nearest_round(config.targets, sparsity)
        return 100 * chain[(kind, a, k, lr)]["rounds"][metric][:, r]

    def run(arm, a, b, sparsity, k=0, draw=0, metric="test_acc"):
        if arm == "ticket" and a == b and draw == 0:
            return chain_at("imp", a, k, sparsity, metric)
        if arm == "dense" and draw == 0:
            return chain_at("imp", b, 0, 0.0, metric)
        return np.array([100 * retrained[(arm, a, b, sparsity, k, draw, seed)][metric] for seed in seeds])

    def interval(x) -> dict:
        return {**stats.mean_ci(x).as_dict(), "per_seed": np.asarray(x).tolist()}

    out: dict[str, Any] = {
        "schedules": names,
        "targets": list(config.targets),
        # wall times of the pruning-chain sweep (the part that scales with seeds on a GPU)
        "timing": {"chain_compile_seconds": chains_seconds[0], "chain_run_seconds": chains_seconds[1]},
    }

    # every chain's accuracy per round (the sparsity curves), and the exactness check
    curves = {}
    max_pruned = 0.0
    for (kind, a, k, lr), entry in chain.items():
        label = chain_label(kind, names[a], k, lr)
        r = entry["rounds"]
        curves[label] = {
            "sparsity": np.mean(r["sparsity"], axis=0).tolist(),
            "test_acc": [interval(100 * r["test_acc"][:, i]) for i in range(r["test_acc"].shape[1])],
            "val_acc": [interval(100 * r["val_acc"][:, i]) for i in range(r["val_acc"].shape[1])]
            if has_val
            else None,
            "train_acc": np.mean(100 * r["train_acc"], axis=0).tolist(),
        }
        max_pruned = max(max_pruned, float(np.max(r["max_pruned"])))
    max_pruned = max([max_pruned] + [v["max_pruned"] for v in retrained.values()])
    out["curves"] = curves
    out["max_pruned_magnitude"] = max_pruned  # exactly 0: pruned weights never move

    # Q1: the anchor, ticket vs layer-matched random pruning under the notebook's constant 2e-2
    anchor_rows = []
    for s in kept_sparsities(config) if not config.crossed else config.report_sparsities:
        for k in ks:
            ticket = chain_at("imp", 0, k, s)
            random = run("random", None, 0, s, k)
            anchor_rows.append(
                {
                    "sparsity": s,
                    "round_sparsity": float(config.targets[nearest_round(config.targets, s)]),
                    "rewind_step": k,
                    "ticket": interval(ticket),
                    "random": interval(random),
                    "ticket_minus_random": stats.paired(ticket, random).as_dict(),
                    "anchor": ANCHOR.get(s),
                }
            )
    dense0 = chain_at("imp", 0, 0, 0.0)
    out["anchor"] = {
        "schedule": names[0],
        "dense": interval(dense0),
        "anchor_dense": ANCHOR[0.0]["ticket"],
        "rows": anchor_rows,
    }

    # Q2: the crossed A x B matrix, its controls and the home advantage
    if config.crossed:
        out["crossed"] = {}
        for s in config.report_sparsities:
            cell = {
                arm: [[interval(run(arm, a, b, s)) for b in range(n_schedules)] for a in range(n_schedules)]
                for arm in ("ticket", "reinit")
            }
            cell["random"] = [interval(run("random", None, b, s)) for b in range(n_schedules)]
            cell["dense"] = [interval(run("dense", None, b, 0.0)) for b in range(n_schedules)]
            cell["ticket_minus_reinit"] = [
                [
                    stats.paired(run("ticket", a, b, s), run("reinit", a, b, s)).as_dict()
                    for b in range(n_schedules)
                ]
                for a in range(n_schedules)
            ]
            cell["reinit_minus_random"] = [
                [
                    stats.paired(run("reinit", a, b, s), run("random", None, b, s)).as_dict()
                    for b in range(n_schedules)
                ]
                for a in range(n_schedules)
            ]
            if n_schedules > 1:
                cell["home_advantage"] = home_advantage(
                    lambda arm, a, b, s=s: run(arm, a, b, s), n_schedules, names
                )
            out["crossed"][str(s)] = cell

    # Q3: retraining variants at equal step budgets (the variant schedule's chains)
    if config.variants:
        v = config.variant_schedule
        out["variants"] = {}
        for s in config.report_sparsities:
            r = nearest_round(config.targets, s)
            if has_val:  # the fine-tuning LR and the random arm's schedule are chosen on validation
                lr = max(
                    config.finetune_lrs, key=lambda lr: np.mean(chain_at("finetune", v, 0, s, "val_acc", lr))
                )
                best_b = max(
                    range(n_schedules), key=lambda b: np.mean(run("random", None, b, s, metric="val_acc"))
                )
            else:
                lr, best_b = config.finetune_lrs[0], v
            arms = {
                "weight rewinding (IMP, k=0)": chain_at("imp", v, 0, s),
                "LR rewinding": chain_at("lr_rewind", v, 0, s),
                f"fine-tuning at {lr:g}": chain_at("finetune", v, 0, s, lr=lr),
                f"random pruning, {names[best_b]}": run("random", None, best_b, s),
            }
            budget = {
                "weight rewinding (IMP, k=0)": (r + 1) * steps,
                "LR rewinding": (r + 1) * steps,
                f"fine-tuning at {lr:g}": (r + 1) * steps,
                f"random pruning, {names[best_b]}": steps,
            }
            out["variants"][str(s)] = {
                "schedule": names[v],
                "finetune_lr": lr,
                "finetune_val_acc": {
                    f"{x:g}": float(np.mean(chain_at("finetune", v, 0, s, "val_acc", x)))
                    for x in config.finetune_lrs
                }
                if has_val
                else None,
                "random_schedule": names[best_b],
                "arms": {
                    name: {**interval(x), "steps_to_produce": budget[name], "steps_retraining": steps}
                    for name, x in arms.items()
                },
                "vs_weight_rewinding": stats.compare_to(arms, "weight rewinding (IMP, k=0)"),
            }

    # Q4: transfer to a fresh draw
    if config.transfer:
        s = config.transfer_sparsity
        fresh = lambda arm, a, b: run(arm, a, b, s if arm != "dense" else 0.0, draw=1)
        t = {
            "sparsity": s,
            "data_seed": config.transfer_seed,
            "ticket": [
                [interval(fresh("ticket", a, b)) for b in range(n_schedules)] for a in range(n_schedules)
            ],
            "reinit": [
                [interval(fresh("reinit", a, b)) for b in range(n_schedules)] for a in range(n_schedules)
            ],
            "random": [interval(fresh("random", None, b)) for b in range(n_schedules)],
            "dense": [interval(fresh("dense", None, b)) for b in range(n_schedules)],
            "home_advantage": home_advantage(fresh, n_schedules, names) if n_schedules > 1 else None,
            "anchor": ANCHOR_TRANSFER,
        }
        # the gain of the home ticket over dense, split into init (ticket - reinit) and mask (reinit - random)
        split = []
        for a in range(n_schedules):
            row = {"schedule": names[a]}
            for draw, label in ((0, "original"), (1, "fresh")):
                if draw == 0 and config.crossed and s not in config.report_sparsities:
                    row[label] = None  # no controls were retrained at this sparsity on the original draw
                    continue
                tk, ri = run("ticket", a, a, s, draw=draw), run("reinit", a, a, s, draw=draw)
                rd, dn = run("random", None, a, s, draw=draw), run("dense", None, a, 0.0, draw=draw)
                row[label] = {
                    "ticket_minus_dense": stats.paired(tk, dn).as_dict(),
                    "init_part": stats.paired(tk, ri).as_dict(),
                    "mask_part": stats.paired(ri, rd).as_dict(),
                    "random_minus_dense": stats.paired(rd, dn).as_dict(),
                }
            split.append(row)
        t["decomposition"] = split
        out["transfer"] = t

    out["answer"] = answer(out, config)
    plots(out, config, context)
    return out


def home_advantage(run, n_schedules: int, names) -> dict[str, Any]:
    """The home advantage of the issue and the schedule-matching interaction, for ticket and reinit.

    - home advantage: X(B -> B) - X(A' -> B) for every B and A' != B. It also
      contains the row effect (a mask found under A' may be worse under every B);
    - interaction: X(A -> A) + X(B -> B) - X(A -> B) - X(B -> A) for every pair
      {A, B}, which cancels both row and column effects: it is positive only if
      masks do better under the schedule they were found with.

    Each is reported for the ticket, the reinit control and their per-seed
    difference (ticket - reinit), Holm-adjusted over the pairs within each
    family; ``*_mean`` averages the pairs per seed first, then takes the paired
    interval over seeds.
    """
    out: dict[str, Any] = {"pairs": [], "interaction_pairs": []}
    families = {
        "ticket": [],
        "reinit": [],
        "difference": [],
        "interaction_ticket": [],
        "interaction_reinit": [],
        "interaction_difference": [],
    }
    for b in range(n_schedules):
        for a in range(n_schedules):
            if a == b:
                continue
            out["pairs"].append(f"{names[a]} -> {names[b]}")
            t = run("ticket", b, b) - run("ticket", a, b)
            r = run("reinit", b, b) - run("reinit", a, b)
            families["ticket"].append(t)
            families["reinit"].append(r)
            families["difference"].append(t - r)
    for a in range(n_schedules):
        for b in range(a + 1, n_schedules):
            out["interaction_pairs"].append(f"{names[a]} x {names[b]}")
            t, r = (
                run(arm, a, a) + run(arm, b, b) - run(arm, a, b) - run(arm, b, a)
                for arm in ("ticket", "reinit")
            )
            families["interaction_ticket"].append(t)
            families["interaction_reinit"].append(r)
            families["interaction_difference"].append(t - r)
    for family, values in families.items():
        tests = [stats.paired(v, np.zeros_like(v)) for v in values]
        adjusted = stats.holm([d.p_value for d in tests])
        out[family] = [{**d.as_dict(), "p_holm": float(p)} for d, p in zip(tests, adjusted)]
        mean = np.mean(values, axis=0)
        out[f"{family}_mean"] = stats.paired(mean, np.zeros_like(mean)).as_dict()
    return out


def answer(out: dict, config) -> dict[str, Any]:
    """The plain answer. The schedule is part of the ticket only if masks do better under their own
    schedule once row and column effects are removed (the interaction), and more so with their
    original init than with a fresh one (the reinit control)."""
    if "crossed" not in out or len(out["schedules"]) < 2:
        return {"text": "not tested (no crossed study in this config)"}
    lines = {}
    for s, cell in out["crossed"].items():
        ha = cell["home_advantage"]
        home, match = ha["ticket_mean"], ha["interaction_ticket_mean"]
        beyond_reinit = ha["interaction_difference_mean"]
        if match["low"] > 0 and beyond_reinit["low"] > 0:
            verdict = "yes: tickets match their own schedule, more than the same masks with a fresh init do"
        elif match["low"] > 0:
            verdict = (
                "masks match the schedule they were found with, but not detectably more with their "
                "original init than with a fresh one"
            )
        elif home["low"] > 0:
            verdict = (
                "a home advantage, but no matching: it is the row effect of masks found under some "
                "schedules being better under every schedule"
            )
        else:
            verdict = "no detectable home advantage"
        lines[s] = {
            "ticket_home_advantage": home,
            "reinit_home_advantage": ha["reinit_mean"],
            "home_advantage_difference": ha["difference_mean"],
            "ticket_interaction": match,
            "reinit_interaction": ha["interaction_reinit_mean"],
            "interaction_difference": beyond_reinit,
            "schedule_part_of_ticket": bool(match["low"] > 0 and beyond_reinit["low"] > 0),
            "verdict": verdict,
        }
    return lines


def chain_label(kind: str, schedule_name: str, k: int, lr) -> str:
    if kind == "imp":
        return f"IMP, {schedule_name}" + (f", rewind k={k}" if k else "")
    if kind == "lr_rewind":
        return f"LR rewinding, {schedule_name}"
    return f"fine-tuning at {lr:g} after {schedule_name}"


# ----------------------------------------------------------------------------- plots and summary


def plots(out: dict, config, context: Context) -> None:
    plt = plotting.pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for label, curve in out["curves"].items():
        x = 100 * np.asarray(curve["sparsity"])
        y = [c["mean"] for c in curve["test_acc"]]
        lo = [c["low"] for c in curve["test_acc"]]
        hi = [c["high"] for c in curve["test_acc"]]
        (line,) = ax.plot(x, y, marker="o", ms=2.5, lw=1.1, label=label)
        if config.seeds > 1:
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.15)
    rows = out["anchor"]["rows"]
    ax.plot(
        [100 * r["sparsity"] for r in rows],
        [r["random"]["mean"] for r in rows],
        "kx",
        label="random, constant 2e-2",
    )
    for s, anchor in ANCHOR.items():
        ax.plot([100 * s] * 2, anchor["ticket"], "b_", ms=10)
        if anchor["random"]:
            ax.plot([100 * s] * 2, anchor["random"], "r_", ms=10)
    ax.plot([], [], "b_", label="notebook ticket"), ax.plot([], [], "r_", label="notebook random")
    ax.set_xlabel("sparsity (%)")
    ax.set_ylabel("last-step test accuracy (%)")
    ax.legend(fontsize=6, ncol=2)
    plotting.save(fig, context.path("sparsity_curves.png"))

    if "crossed" in out:
        names = out["schedules"]
        s = str(config.report_sparsities[0])
        cell = out["crossed"][s]
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
        for ax, arm in zip(axes[:2], ("ticket", "reinit")):
            values = np.array(
                [[cell[arm][a][b]["mean"] for b in range(len(names))] for a in range(len(names))]
            )
            image = ax.imshow(values, origin="lower", cmap="viridis")  # every cell is finite
            for a in range(len(names)):
                for b in range(len(names)):
                    ax.text(b, a, f"{values[a, b]:.1f}", ha="center", va="center", fontsize=8, color="w")
            ax.set_xticks(range(len(names)), names, fontsize=7, rotation=20)
            ax.set_yticks(range(len(names)), names, fontsize=7)
            ax.set_xlabel("retrained under B")
            ax.set_ylabel("found under A")
            fig.colorbar(image, ax=ax, label="test acc (%)")
            ax.set_title(f"{arm} at {float(s):.0%}")
        ha = cell["home_advantage"]
        y = np.arange(len(ha["pairs"]))
        for offset, family, color in ((-0.15, "ticket", "C0"), (0.15, "reinit", "C1")):
            m = np.array([d["mean"] for d in ha[family]])
            err = np.array([[d["mean"] - d["low"], d["high"] - d["mean"]] for d in ha[family]]).T
            axes[2].errorbar(m, y + offset, xerr=err, fmt="o", color=color, label=family, ms=3)
        axes[2].axvline(0, color="k", lw=0.5)
        axes[2].set_yticks(y, [p.replace(" -> ", "\n-> ") for p in ha["pairs"]], fontsize=6)
        axes[2].set_xlabel("X(B->B) - X(A'->B) (points)")
        axes[2].set_title("home advantage, pairs A' -> B", fontsize=9)
        axes[2].legend(fontsize=7)
        plotting.save(fig, context.path("crossed_matrix.png"))


def describe(report: dict) -> str:
    """The README's tables, as text."""
    r = report["results"]
    fmt = lambda d: stats.format_interval(d["mean"], d["low"], d["high"])
    lines = [
        (
            f"Q1 anchor (schedule {r['anchor']['schedule']}; dense {fmt(r['anchor']['dense'])}, "
            f"notebook {r['anchor']['anchor_dense']})"
        ),
        "  sparsity  k  ticket              random              ticket-random        notebook ticket / random",
    ]
    for row in r["anchor"]["rows"]:
        anchor = row["anchor"] or {}
        lines.append(
            f"  {row['round_sparsity']:.3f}  {row['rewind_step']:>4}  {fmt(row['ticket']):<19} "
            f"{fmt(row['random']):<19} {fmt(row['ticket_minus_random']):<20} "
            f"{anchor.get('ticket')} / {anchor.get('random')}"
        )
    names = r["schedules"]
    for s, cell in r.get("crossed", {}).items():
        lines.append(f"Q2 crossed at {s}: rows A (found under), columns B (retrained under)")
        for arm in ("ticket", "reinit"):
            lines.append(f"  {arm}:")
            for a, row in enumerate(cell[arm]):
                lines.append(f"    {names[a]:<18}" + "  ".join(f"{fmt(c):<19}" for c in row))
        lines.append("  random (per B): " + "  ".join(fmt(c) for c in cell["random"]))
        lines.append("  dense  (per B): " + "  ".join(fmt(c) for c in cell["dense"]))
        ha = cell.get("home_advantage")
        if ha:
            lines.append(
                f"  home advantage, mean over pairs: ticket {fmt(ha['ticket_mean'])}, "
                f"reinit {fmt(ha['reinit_mean'])}, ticket - reinit {fmt(ha['difference_mean'])}"
            )
            lines.append(
                f"  interaction (AA + BB - AB - BA), mean over pairs: ticket "
                f"{fmt(ha['interaction_ticket_mean'])}, reinit {fmt(ha['interaction_reinit_mean'])}, "
                f"ticket - reinit {fmt(ha['interaction_difference_mean'])}"
            )
    for s, v in r.get("variants", {}).items():
        lines.append(f"Q3 variants at {s} ({v['schedule']}):")
        for name, arm in v["arms"].items():
            vs = v["vs_weight_rewinding"].get(name)
            lines.append(
                f"  {name:<34} {fmt(arm):<19} steps {arm['steps_to_produce']:>6}"
                + (f"  vs weight rewinding {fmt(vs)} (Holm p {vs['p_holm']:.3f})" if vs else "")
            )
    if "transfer" in r:
        t = r["transfer"]
        lines.append(f"Q4 transfer to draw {t['data_seed']} at {t['sparsity']}:")
        for a, name in enumerate(names):
            lines.append(
                f"  B={name:<18} ticket(B->B) {fmt(t['ticket'][a][a]):<19} reinit {fmt(t['reinit'][a][a]):<19}"
                f" random {fmt(t['random'][a]):<19} dense {fmt(t['dense'][a])}"
            )
        for row in t["decomposition"]:
            for label in ("original", "fresh"):
                d = row[label]
                if d:
                    lines.append(
                        f"  {row['schedule']:<18} {label:<8} ticket-dense {fmt(d['ticket_minus_dense']):<19}"
                        f" init part {fmt(d['init_part']):<19} mask part {fmt(d['mask_part'])}"
                    )
        ha = t["home_advantage"]
        if ha:
            lines.append(
                f"  home advantage on the fresh draw: ticket {fmt(ha['ticket_mean'])}, "
                f"reinit {fmt(ha['reinit_mean'])}; interaction: ticket "
                f"{fmt(ha['interaction_ticket_mean'])}, reinit {fmt(ha['interaction_reinit_mean'])}"
            )
    for s, a in r["answer"].items() if isinstance(r["answer"], dict) and "text" not in r["answer"] else []:
        lines.append(f"Answer at {s}: {a['verdict']}")
    lines.append(f"max |pruned weight| after training: {r['max_pruned_magnitude']}")
    return "\n".join(lines)
