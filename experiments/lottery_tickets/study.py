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
   MNIST-1D draw (transfer) at every transfer sparsity.

The study writes every member's per-seed metrics as named records (``raw``:
one record per chain and per retraining run) and hands them to
:func:`analysis.analyse`, which answers the config's declared questions from
them; ``reanalyse.py`` reruns that analysis on a stored ``results.json``
without jax. Comparisons are paired over seeds: every arm of a seed shares its
init, its data order and its random masks.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import numpy as np

import optasched as osd
from experiments.common.data import load_mnist1d, split_validation
from experiments.common.runner import Context

from . import analysis, figures
from . import train as T
from .analysis import nearest_round, rewind_steps

__all__ = ["study", "describe", "load_data", "schedule", "chain_arms", "retraining_specs"]

describe = analysis.describe  # the runner prints the report's tables


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


def kept_sparsities(config) -> tuple[float, ...]:
    """Sparsities whose masks leave the chains: the reported ones and the transfer tickets."""
    kept = list(config.report_sparsities)
    if config.transfer:
        kept += [s for s in config.transfer_sparsities if s not in kept]
    return tuple(kept)


def init(seed: int, hidden: int):
    return jax.tree.map(np.asarray, T.init_params(jax.random.key(seed), hidden))


def random_mask(seed: int, sparsity: float, hidden: int):
    """Layer-matched random mask; the same for every arm of a seed (and every schedule B)."""
    key = jax.random.fold_in(jax.random.key(seed), 10_000 + round(sparsity * 10_000))
    return jax.tree.map(np.asarray, T.random_mask(key, T.drop_counts(sparsity, hidden), hidden))


def chain_arms(config) -> list[dict[str, Any]]:
    """The pruning chains: IMP under every schedule A and rewind point k, then the variants."""
    arms = []
    for a, (_, peak, end) in enumerate(config.schedules):
        for k in rewind_steps(config):
            arms.append({"kind": "imp", "schedule": a, "rewind_step": k, "finetune_lr": None,
                         "first": (peak, end), "later": (peak, end), "carry": 0})  # fmt: skip
    if config.variants:
        v = config.variant_schedule
        _, peak, end = config.schedules[v]
        arms.append({"kind": "lr_rewind", "schedule": v, "rewind_step": 0, "finetune_lr": None,
                     "first": (peak, end), "later": (peak, end), "carry": 1})  # fmt: skip
        for lr in config.finetune_lrs:
            arms.append({"kind": "finetune", "schedule": v, "rewind_step": 0, "finetune_lr": lr,
                         "first": (peak, end), "later": (lr, lr), "carry": 1})  # fmt: skip
    return arms


# ----------------------------------------------------------------------------- the two sweeps


def run_chains(config, data, inits, context: Context):
    """Every chain arm x seed in one sweep; returns (arms x seeds members, the sweep's result)."""
    steps, kept = config.steps, kept_sparsities(config)
    members = [(arm, seed) for arm in chain_arms(config) for seed in range(config.seeds)]
    drops = T.drop_counts(config.targets, config.hidden)
    configs = osd.stack(
        [
            {
                "params0": inits[seed],
                "drops": drops,
                "first_schedule": schedule(*arm["first"], steps),
                "schedule": schedule(*arm["later"], steps),
                "rewind_step": np.int32(arm["rewind_step"]),
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
        keep_rounds=tuple(nearest_round(config.targets, s) for s in kept),
        rewinding=any(k > 0 for k in rewind_steps(config)),
    )
    label = f"{len(members)} pruning chains x {len(config.targets)} rounds"
    return members, context.sweep(find, configs, label=label, chunk_size=config.chunk_size)


def retraining_specs(config, inits, mask_of, rewound_of) -> list[tuple[dict, dict]]:
    """Every retraining run as (its named key, its sweep config).

    ``mask_of(a, seed, s)``: the IMP mask found under schedule a at sparsity s;
    ``rewound_of(b, k, seed)``: the weights at rewind point k of the IMP chain under b.
    Key fields: arm, found_under (A; None for random and dense), retrained_under (B),
    sparsity, rewind_step, draw (0: the paper's data, 1: the fresh draw), seed.
    """
    hidden, n = config.hidden, len(config.schedules)
    dense = jax.tree.map(np.asarray, T.dense_mask(hidden))
    specs = []

    def add(arm, a, b, s, k, draw, seed, params0, mask):
        length = config.transfer_steps if draw else config.steps  # the schedule spans the run it drives
        key = {"arm": arm, "found_under": a, "retrained_under": b, "sparsity": s, "rewind_step": k,
               "draw": draw, "seed": seed}  # fmt: skip
        specs.append((key, {"params0": params0, "mask": mask,
                            "schedule": schedule(*config.schedules[b][1:], length),
                            "data_index": np.int32(draw), "first_step": np.int32(k)}))  # fmt: skip

    reinit = {seed: init(seed + config.reinit_offset, hidden) for seed in range(config.seeds)}
    random_pairs = set()
    if config.crossed:  # every ticket under every B (ticket A -> A is the chain's own round) and its reinit
        for s in config.report_sparsities:
            for seed in range(config.seeds):
                for a in range(n):
                    for b in range(n):
                        if a != b:
                            add("ticket", a, b, s, 0, 0, seed, inits[seed], mask_of(a, seed, s))
                        add("reinit", a, b, s, 0, 0, seed, reinit[seed], mask_of(a, seed, s))
        random_pairs |= {(s, b) for s in config.report_sparsities for b in range(n)}
    else:  # the anchor: random pruning and the reinit control under the notebook's schedule only
        random_pairs |= {(s, 0) for s in kept_sparsities(config)}
        for s in kept_sparsities(config):
            for seed in range(config.seeds):
                add("reinit", 0, 0, s, 0, 0, seed, reinit[seed], mask_of(0, seed, s))
    if config.variants:
        random_pairs |= {(s, b) for s in config.report_sparsities for b in range(n)}
    for s, b in sorted(random_pairs):
        for k in rewind_steps(config):
            for seed in range(config.seeds):
                start = inits[seed] if k == 0 else rewound_of(b, k, seed)
                add("random", None, b, s, k, 0, seed, start, random_mask(seed, s, hidden))
    if config.transfer:  # every ticket and control on the fresh draw, at every transfer sparsity
        for seed in range(config.seeds):
            for b in range(n):
                for s in config.transfer_sparsities:
                    for a in range(n):
                        add("ticket", a, b, s, 0, 1, seed, inits[seed], mask_of(a, seed, s))
                        add("reinit", a, b, s, 0, 1, seed, reinit[seed], mask_of(a, seed, s))
                    add("random", None, b, s, 0, 1, seed, inits[seed], random_mask(seed, s, hidden))
                add("dense", None, b, 0.0, 0, 1, seed, inits[seed], dense)
    return specs


def run_retraining(config, data, specs, context: Context) -> list[dict[str, Any]]:
    """Every retraining run (one sweep per distinct round length); one named record per run."""
    train_fn = functools.partial(T.train, data=data, steps=config.steps, batch_size=config.batch_size)
    same = (config.transfer_steps, config.transfer_batch_size) == (config.steps, config.batch_size)
    transfer_fn = train_fn if same else functools.partial(
        T.train, data=data, steps=config.transfer_steps, batch_size=config.transfer_batch_size)  # fmt: skip
    groups = [([x for x in specs if not x[0]["draw"]], train_fn, "retraining"),
              ([x for x in specs if x[0]["draw"]], transfer_fn, "transfer")]  # fmt: skip
    if same:  # one compiled program for both
        groups = [(specs, train_fn, "retraining and transfer")]
    records = []
    for group, fn, label in groups:
        if not group:
            continue
        result = context.sweep(fn, osd.stack([c for _, c in group]), label=f"{len(group)} {label} runs",
                               chunk_size=config.chunk_size)  # fmt: skip
        for i, (key, _) in enumerate(group):
            metrics = {m: float(result.metrics[m][i]) for m in analysis.RUN_METRICS if m in result.metrics}
            metrics["measured_sparsity"] = metrics.pop("sparsity")  # "sparsity" is the key's target
            records.append({**key, **metrics})
    return records


def study(config, context: Context) -> dict[str, Any]:
    data = load_data(config)
    inits = {seed: init(seed, config.hidden) for seed in range(config.seeds)}
    kept = kept_sparsities(config)
    members, chains = run_chains(config, data, inits, context)
    index = {(arm["kind"], arm["schedule"], arm["rewind_step"], arm["finetune_lr"], seed): i
             for i, (arm, seed) in enumerate(members)}  # fmt: skip

    def mask_of(a, seed, s):
        i = index[("imp", a, 0, None, seed)]
        return jax.tree.map(lambda m: np.asarray(m[i, kept.index(s)]), chains.metrics["masks"])

    def rewound_of(b, k, seed):
        i = index[("imp", b, k, None, seed)]
        return jax.tree.map(lambda w: np.asarray(w[i]), chains.metrics["rewind_weights"])

    chain_records = [
        {key: arm[key] for key in ("kind", "schedule", "rewind_step", "finetune_lr")}
        | {"seed": seed, "rounds": {m: np.asarray(chains.metrics["rounds"][m][i]).tolist()
                                    for m in analysis.RUN_METRICS if m in chains.metrics["rounds"]}}
        for i, (arm, seed) in enumerate(members)
    ]  # fmt: skip
    runs = run_retraining(config, data, retraining_specs(config, inits, mask_of, rewound_of), context)
    raw = {"chains": chain_records, "runs": runs,
           "timing": {"chain_compile_seconds": chains.compile_seconds,
                      "chain_run_seconds": chains.run_seconds}}  # fmt: skip
    results = analysis.analyse(config, raw)
    figures.plot(results, context.path)
    return {**results, "raw": raw}
