"""The lottery-ticket study's statistics: one function per question, from the run's named records.

No jax here: a stored ``results.json`` (its ``config`` and ``raw`` records) is
enough to recompute every number (``reanalyse.py``). Percent accuracies
throughout; every comparison is paired over seeds with the common statistics
(``experiments.common.stats``) and the declared questions are answered with
``experiments.common.analysis.answer_all``, exactly as the config declares them.

Questions:

- :func:`anchor`: Q1, the notebook's numbers (ticket vs layer-matched random
  pruning; each published single trial against our 95% prediction interval).
- :func:`crossed`: Q2's matrices X(A -> B) (mask found under schedule A,
  retrained under B) for the ticket and the reinit control, on the paper's draw
  and on the fresh draw, with their home advantages.
- :func:`declared`: the primary questions, e.g. ``D = H(ticket) - H(reinit)``.
- :func:`variants`: Q3, retraining variants at equal budgets, choices on
  held-out seeds.
- :func:`transfer`: Q4, the gain over dense split into init and mask parts on
  both draws.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from experiments.common import analysis as declared_analysis
from experiments.common import stats

__all__ = [
    "RUN_METRICS",
    "ANCHOR",
    "ANCHOR_TRANSFER",
    "Record",
    "nearest_round",
    "rewind_steps",
    "anchor",
    "crossed",
    "declared",
    "variants",
    "transfer",
    "curves",
    "answer",
    "analyse",
    "describe",
]

RUN_METRICS = ("test_acc", "val_acc", "train_acc", "sparsity", "max_pruned")  # what each run records

ANCHOR = {  # the notebook's last-step test accuracy, two trials (../shared/ANCHORS.md)
    0.0: {"ticket": (66.4, 64.8), "random": None},
    0.9: {"ticket": (74.3, 74.1), "random": (60.5, 65.7)},
    0.95: {"ticket": (69.2, 70.5), "random": (55.9, 54.6)},
    0.99: {"ticket": (41.9, 41.5), "random": (16.7, 15.4)},
}
ANCHOR_TRANSFER = {  # the ~92% ticket on a fresh draw (seed 43), batch 500, 6000 steps, two trials
    "ticket": (64.9, 66.8),
    "reinit": (64.7, 66.3),
    "random": (61.5, 58.4),
    "dense": (64.2, 64.2),
}
DRAWS = ("original", "fresh")  # draw index 0: the paper's MNIST-1D (seed 42); 1: the fresh draw (seed 43)


# ----------------------------------------------------------------------------- the protocol


def nearest_round(targets: Sequence[float], sparsity: float) -> int:
    """The IMP round whose target sparsity is nearest ``sparsity``."""
    return int(np.argmin(np.abs(np.asarray(targets) - sparsity)))


def rewind_steps(config) -> list[int]:
    """The distinct rewind points k (updates of the dense round); 0 must be among them."""
    ks = sorted({round(k * config.steps) for k in config.rewind_fractions})
    if 0 not in ks:
        raise ValueError(
            f"rewind_fractions must include 0 (the original init), got {config.rewind_fractions}"
        )
    return ks


# ----------------------------------------------------------------------------- named records


class RunKey(NamedTuple):
    """Which retraining run: the arm, where its mask came from, how and on what it was retrained."""

    arm: str  # "ticket" (original init), "reinit" (fresh init), "random" (layer-matched), "dense"
    found_under: int | None  # schedule A the mask was found under (None: random and dense)
    retrained_under: int  # schedule B
    sparsity: float  # target sparsity (0.0: dense)
    rewind_step: int  # k: the run starts from the weights after k updates
    draw: int  # 0: the paper's data, 1: the fresh draw


class ChainKey(NamedTuple):
    """Which pruning chain: IMP, LR rewinding or fine-tuning under one schedule."""

    kind: str  # "imp", "lr_rewind" or "finetune"
    schedule: int  # schedule A of its dense round (and of every round for IMP and LR rewinding)
    rewind_step: int  # k
    finetune_lr: float | None  # the fine-tuning LR of a "finetune" chain


class Record:
    """Per-seed values of a finished run, looked up by name (percent for accuracies).

    Args:
      raw: the study's ``raw`` record: ``chains`` (one dict per chain and seed, with
        per-round metric lists) and ``runs`` (one dict per retraining run and seed).
      config: the run's config (attribute access: ``seeds``, ``targets``).
    """

    def __init__(self, raw: Mapping[str, Any], config):
        self.config = config
        self.seeds = config.seeds
        self._chains: dict[ChainKey, dict[int, Mapping[str, Sequence[float]]]] = {}
        for c in raw["chains"]:
            key = ChainKey(c["kind"], c["schedule"], c["rewind_step"], c.get("finetune_lr"))  # None: dropped
            self._chains.setdefault(key, {})[c["seed"]] = c["rounds"]
        self._runs: dict[RunKey, dict[int, Mapping[str, float]]] = {}
        for r in raw["runs"]:
            key = RunKey(r["arm"], r.get("found_under"), r["retrained_under"], float(r["sparsity"]),
                         r["rewind_step"], r["draw"])  # fmt: skip
            self._runs.setdefault(key, {})[r["seed"]] = r

    def _scale(self, metric: str) -> float:
        return 100.0 if metric.endswith("_acc") else 1.0

    def chain_keys(self) -> list[ChainKey]:
        return list(self._chains)

    def chain_rounds(self, key: ChainKey, metric: str) -> np.ndarray:
        """``[seeds, rounds]`` values of one chain's metric."""
        per_seed = self._chains[key]
        return self._scale(metric) * np.array([per_seed[s][metric] for s in range(self.seeds)], np.float64)

    def chain(self, key: ChainKey, sparsity: float, metric: str = "test_acc") -> np.ndarray:
        """Per-seed metric of a chain at the round nearest ``sparsity``."""
        return self.chain_rounds(key, metric)[:, nearest_round(self.config.targets, sparsity)]

    def run(self, key: RunKey, metric: str = "test_acc") -> np.ndarray:
        """Per-seed metric of one retraining run."""
        if key not in self._runs:
            raise KeyError(f"no retraining run {key}")
        per_seed = self._runs[key]
        return self._scale(metric) * np.array([per_seed[s][metric] for s in range(self.seeds)], np.float64)

    def ticket(self, a: int, b: int, sparsity: float, *, k: int = 0, draw: int = 0, metric="test_acc"):
        """Mask found under A, original init (or rewound to k), retrained under B."""
        if a == b and draw == 0:  # the chain's own round
            return self.chain(ChainKey("imp", a, k, None), sparsity, metric)
        return self.run(RunKey("ticket", a, b, float(sparsity), k, draw), metric)

    def reinit(self, a: int, b: int, sparsity: float, *, draw: int = 0, metric="test_acc"):
        """Mask found under A, a fresh init, retrained under B."""
        return self.run(RunKey("reinit", a, b, float(sparsity), 0, draw), metric)

    def random(self, b: int, sparsity: float, *, k: int = 0, draw: int = 0, metric="test_acc"):
        """Layer-matched random mask, retrained under B."""
        return self.run(RunKey("random", None, b, float(sparsity), k, draw), metric)

    def dense(self, b: int, *, draw: int = 0, metric="test_acc"):
        """The unpruned network under B (on the paper's draw: the dense round of the IMP chain under B)."""
        if draw == 0:
            return self.chain(ChainKey("imp", b, 0, None), 0.0, metric)
        return self.run(RunKey("dense", None, b, 0.0, 0, draw), metric)

    def matrix(self, arm: str, sparsity: float, draw: int = 0) -> np.ndarray:
        """``[A, B, seeds]`` crossed matrix of the ticket or reinit arm."""
        cell = self.ticket if arm == "ticket" else self.reinit
        n = len(self.config.schedules)
        return np.array([[cell(a, b, sparsity, draw=draw) for b in range(n)] for a in range(n)])

    def max_pruned(self) -> float:
        """Largest |weight| at a pruned position over every round of every run (0 exactly)."""
        chains = [np.max(v[s]["max_pruned"]) for v in self._chains.values() for s in v]
        runs = [v[s]["max_pruned"] for v in self._runs.values() for s in v]
        return float(max(chains + runs))


def interval(values) -> dict[str, Any]:
    """Mean, 95% t interval over seeds, and the per-seed values."""
    return {**stats.mean_ci(values).as_dict(), "per_seed": np.asarray(values).tolist()}


def paired(a, b) -> dict[str, Any]:
    return stats.paired(a, b).as_dict()


# ----------------------------------------------------------------------------- Q1: the anchor


@dataclasses.dataclass(frozen=True)
class TrialCheck:
    """One published single trial against our 95% prediction interval for one new trial."""

    trial: float
    low: float
    high: float
    inside: bool


def check_trials(ours: Sequence[float], trials: Sequence[float] | None) -> dict[str, Any] | None:
    """The notebook's trials against the prediction interval of ``ours`` (the declared agreement rule)."""
    if trials is None:
        return None
    p = stats.prediction_interval(ours)
    checks = [dataclasses.asdict(TrialCheck(t, p.low, p.high, p.contains(t))) for t in trials]
    return {"prediction_interval": p.as_dict(), "trials": checks}


def anchor(record: Record, config) -> dict[str, Any]:
    """Q1: ticket vs layer-matched random pruning under the notebook's schedule (index 0), k = 0 and later.

    Rows at the report sparsities (and, without the crossed study, the transfer
    ones); every published trial is checked against our prediction interval.
    """
    sparsities = config.report_sparsities if config.crossed else tuple(
        dict.fromkeys(tuple(config.report_sparsities) + tuple(config.transfer_sparsities)))  # fmt: skip
    rows = []
    for s in sparsities:
        for k in rewind_steps(config):
            ticket, random = record.ticket(0, 0, s, k=k), record.random(0, s, k=k)
            published = ANCHOR.get(s) if k == 0 else None
            rows.append({
                "sparsity": s,
                "round_sparsity": float(config.targets[nearest_round(config.targets, s)]),
                "rewind_step": k,
                "ticket": interval(ticket),
                "random": interval(random),
                "ticket_minus_random": paired(ticket, random),
                "notebook_ticket": check_trials(ticket, published["ticket"]) if published else None,
                "notebook_random": check_trials(random, published["random"]) if published else None,
            })  # fmt: skip
    dense = record.dense(0)
    return {
        "schedule": config.schedules[0][0],
        "dense": interval(dense),
        "notebook_dense": check_trials(dense, ANCHOR[0.0]["ticket"]),
        "rows": rows,
    }


# ----------------------------------------------------------------------------- Q2: the crossed matrices


def draws(config, sparsity: float) -> list[int]:
    """The draws with a full crossed matrix at ``sparsity``."""
    on_fresh = config.transfer and sparsity in config.transfer_sparsities
    return [0, 1] if on_fresh else [0]


def home_advantages(record: Record, config, sparsity: float, draw: int) -> dict[str, Any]:
    """Per-seed home advantages H(ticket), H(reinit) and D = H(ticket) - H(reinit), and per pair.

    H = mean over ordered pairs A' != B of X(B -> B) - X(A' -> B) (``stats.home_advantage``);
    the per-pair values are exploratory (Holm within each arm's six pairs).
    """
    names = [s[0] for s in config.schedules]
    n = len(names)
    t, r = record.matrix("ticket", sparsity, draw), record.matrix("reinit", sparsity, draw)
    h_ticket, h_reinit = stats.home_advantage(t), stats.home_advantage(r)
    pairs = [(a, b) for b in range(n) for a in range(n) if a != b]
    per_pair = {}
    for arm, m in (("ticket", t), ("reinit", r), ("ticket_minus_reinit", t - r)):
        tests = [stats.paired(m[b, b], m[a, b]) for a, b in pairs]
        adjusted = stats.holm([x.p_value for x in tests])
        per_pair[arm] = [{"pair": f"{names[a]} -> {names[b]}", **x.as_dict(), "p_holm": float(p)}
                         for (a, b), x, p in zip(pairs, tests, adjusted)]  # fmt: skip
    return {
        "D": np.asarray(h_ticket - h_reinit),
        "ticket": stats.one_sample(h_ticket).as_dict(),
        "reinit": stats.one_sample(h_reinit).as_dict(),
        "per_pair": declared_analysis.exploratory(per_pair, "per-pair home advantages, Holm within each arm"),
    }


def crossed(record: Record, config) -> dict[str, Any]:
    """Q2's matrices and controls at every report sparsity, on every draw that has them."""
    n = len(config.schedules)
    out = {}
    for s in config.report_sparsities:
        for draw in draws(config, s):
            ticket = [[record.ticket(a, b, s, draw=draw) for b in range(n)] for a in range(n)]
            reinit = [[record.reinit(a, b, s, draw=draw) for b in range(n)] for a in range(n)]
            random = [record.random(b, s, draw=draw) for b in range(n)]
            h = home_advantages(record, config, s, draw)
            note = "H alone mixes the mask's tie to its schedule with the init's; the declared statistic is D"
            out[f"{s}/{DRAWS[draw]}"] = {
                "sparsity": s,
                "draw": DRAWS[draw],
                "ticket": [[interval(x) for x in row] for row in ticket],
                "reinit": [[interval(x) for x in row] for row in reinit],
                "random": [interval(x) for x in random],
                "dense": [interval(record.dense(b, draw=draw)) for b in range(n)],
                "ticket_minus_reinit": [paired(ticket[b][b], reinit[b][b]) for b in range(n)],
                "reinit_minus_random": [paired(reinit[b][b], random[b]) for b in range(n)],
                "home_advantage": declared_analysis.exploratory(
                    {"ticket": h["ticket"], "reinit": h["reinit"], "per_pair": h["per_pair"]}, note
                ),
            }
    return out


# ----------------------------------------------------------------------------- declared questions


def declared_values(record: Record, config) -> dict[str, Any]:
    """Per-seed values of every question this config can answer, by declared name."""
    values: dict[str, Any] = {}
    if config.crossed and len(config.schedules) > 1:
        for s in config.report_sparsities:
            for draw in draws(config, s):
                values[f"tied_to_schedule_{round(100 * s)}_{DRAWS[draw]}"] = home_advantages(
                    record, config, s, draw)["D"]  # fmt: skip
    anchor_sparsities = set(config.report_sparsities)
    if not config.crossed:
        anchor_sparsities |= set(config.transfer_sparsities)
    for s in anchor_sparsities:
        values[f"ticket_beats_random_{round(100 * s)}"] = (record.ticket(0, 0, s), record.random(0, s))
    return values


def declared(record: Record, config) -> dict[str, dict]:
    """The config's declared questions, answered exactly as declared (Holm within each family)."""
    questions = tuple(config.analyses)
    available = declared_values(record, config)
    missing = [q.name for q in questions if q.name not in available]
    if missing:
        raise ValueError(
            f"declared questions {missing} cannot be computed from this run; it has {sorted(available)}"
        )
    return declared_analysis.answer_all(questions, {q.name: available[q.name] for q in questions})


# ----------------------------------------------------------------------------- Q3: retraining variants


def choose(config, validation: np.ndarray, report: np.ndarray, labels) -> tuple[dict, np.ndarray]:
    """``stats.held_out`` on ``[choices, seeds]``: choose on the first ``selection_seeds``, report the rest.

    Returns the selection (as a dict) and the reported per-seed values of the chosen
    choice on the held-out seeds.
    """
    chosen = stats.held_out(validation, report, config.selection_seeds, labels=list(labels))
    return {**chosen.selection.as_dict(), "selection_seeds": chosen.selection_seeds}, chosen.values


def variants(record: Record, config) -> dict[str, Any]:
    """Q3: weight rewinding, LR rewinding, fine-tuning and random pruning with a chosen schedule.

    The fine-tuning LR and the random arm's schedule are chosen on validation
    accuracy of seeds ``0 .. selection_seeds - 1`` (``stats.held_out``: THE
    selection rule); every arm is reported and compared on the other seeds only.
    """
    v, names, k = config.variant_schedule, [s[0] for s in config.schedules], config.selection_seeds
    out = {}
    for s in config.report_sparsities:
        r = nearest_round(config.targets, s)
        finetune = [ChainKey("finetune", v, 0, lr) for lr in config.finetune_lrs]
        lr_choice, lr_values = choose(
            config,
            np.array([record.chain(c, s, "val_acc") for c in finetune]),
            np.array([record.chain(c, s) for c in finetune]),
            [f"{lr:g}" for lr in config.finetune_lrs],
        )
        b_choice, b_values = choose(
            config,
            np.array([record.random(b, s, metric="val_acc") for b in range(len(names))]),
            np.array([record.random(b, s) for b in range(len(names))]), names)  # fmt: skip
        arms = {
            "weight rewinding (IMP, k=0)": record.chain(ChainKey("imp", v, 0, None), s)[k:],
            "LR rewinding": record.chain(ChainKey("lr_rewind", v, 0, None), s)[k:],
            f"fine-tuning at {lr_choice['label']}": lr_values,
        }
        if b_choice["index"] is not None:  # None: no schedule eligible (no validation accuracy stored)
            arms[f"random pruning, {b_choice['label']}"] = b_values
        train_acc = {  # the reported networks' final training accuracy (do continued weights overfit?)
            name: record.chain(key, s, "train_acc")[k:]
            for name, key in (("weight rewinding (IMP, k=0)", ChainKey("imp", v, 0, None)),
                              ("LR rewinding", ChainKey("lr_rewind", v, 0, None)),
                              (f"fine-tuning at {lr_choice['label']}",
                               ChainKey("finetune", v, 0, config.finetune_lrs[lr_choice["index"]])))
        }  # fmt: skip
        budget = [(r + 1) * config.steps] * 3 + [config.steps]
        out[str(s)] = {
            "schedule": names[v],
            "report_seeds": list(range(k, config.seeds)),
            "finetune_choice": lr_choice,
            "random_schedule_choice": b_choice,
            "arms": {name: {**interval(x), "steps_to_produce": steps, "steps_retraining": config.steps,
                            "train_acc": interval(train_acc[name]) if name in train_acc else None}
                     for (name, x), steps in zip(arms.items(), budget)},  # fmt: skip
            "vs_weight_rewinding": stats.compare_to(arms, "weight rewinding (IMP, k=0)"),
        }
    return declared_analysis.exploratory(out, "not a declared question")


# ----------------------------------------------------------------------------- Q4: transfer


def transfer(record: Record, config) -> dict[str, Any]:
    """Q4: the home ticket's gain over dense split into init (ticket - reinit) and mask (reinit - random).

    Per transfer sparsity and schedule (A = B), on both draws where the controls
    exist; the notebook's transfer trials against our prediction intervals
    under its schedule (index 0).
    """
    n = len(config.schedules)
    out = {}
    for s in config.transfer_sparsities:
        rows = []
        for b in range(n):
            row = {"schedule": config.schedules[b][0]}
            for draw in (0, 1):
                if draw == 0 and config.crossed and s not in config.report_sparsities:
                    row[DRAWS[draw]] = None  # no controls were retrained at this sparsity on the paper's draw
                    continue
                tk, ri = record.ticket(b, b, s, draw=draw), record.reinit(b, b, s, draw=draw)
                rd, dn = record.random(b, s, draw=draw), record.dense(b, draw=draw)
                row[DRAWS[draw]] = {
                    "ticket": interval(tk), "reinit": interval(ri),
                    "random": interval(rd), "dense": interval(dn),
                    "ticket_minus_dense": paired(tk, dn), "init_part": paired(tk, ri),
                    "mask_part": paired(ri, rd), "random_minus_dense": paired(rd, dn),
                }  # fmt: skip
            rows.append(row)
        notebook = {arm: check_trials(ours, ANCHOR_TRANSFER[arm]) for arm, ours in (
            ("ticket", record.ticket(0, 0, s, draw=1)), ("reinit", record.reinit(0, 0, s, draw=1)),
            ("random", record.random(0, s, draw=1)), ("dense", record.dense(0, draw=1)))}  # fmt: skip
        out[str(s)] = {"sparsity": s, "data_seed": config.transfer_seed, "decomposition": rows,
                       "notebook": notebook}  # fmt: skip
    return declared_analysis.exploratory(out, "not a declared question")


# ----------------------------------------------------------------------------- curves and the answer


def chain_label(key: ChainKey, names: Sequence[str]) -> str:
    if key.kind == "imp":
        return f"IMP, {names[key.schedule]}" + (f", rewind k={key.rewind_step}" if key.rewind_step else "")
    if key.kind == "lr_rewind":
        return f"LR rewinding, {names[key.schedule]}"
    return f"fine-tuning at {key.finetune_lr:g} after {names[key.schedule]}"


def curves(record: Record, config) -> dict[str, Any]:
    """Every chain's accuracy per round (the sparsity curves)."""
    names = [s[0] for s in config.schedules]
    out = {}
    for key in record.chain_keys():
        test = record.chain_rounds(key, "test_acc")
        out[chain_label(key, names)] = {
            "sparsity": record.chain_rounds(key, "sparsity").mean(axis=0).tolist(),
            "test_acc": [stats.mean_ci(test[:, i]).as_dict() for i in range(test.shape[1])],
        }
    return out


def answer(records: Mapping[str, dict]) -> dict[str, str]:
    """The plain answer of every declared question, from its declared test only."""
    out = {}
    for name, r in records.items():
        sign = "positive" if r["mean"] > 0 else "negative"
        out[name] = (f"yes ({sign}, Holm p {r['p_holm']:.3g})" if r["significant"]
                     else f"not detectable (Holm p {r['p_holm']:.3g})")  # fmt: skip
    return out


def analyse(config, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Every reported number of a run, from its named records."""
    record = Record(raw, config)
    out: dict[str, Any] = {
        "schedules": [s[0] for s in config.schedules],
        "targets": list(config.targets),
        "timing": dict(raw.get("timing", {})),
        "max_pruned_magnitude": record.max_pruned(),  # exactly 0: pruned weights never move
        "declared": declared(record, config),
        "anchor": anchor(record, config),
        "curves": curves(record, config),
    }
    out["answer"] = answer(out["declared"])
    if config.crossed and len(config.schedules) > 1:
        out["crossed"] = crossed(record, config)
    if config.variants:
        out["variants"] = variants(record, config)
    if config.transfer:
        out["transfer"] = transfer(record, config)
    return out


def describe(report: Mapping[str, Any]) -> str:
    """The report's tables as Markdown (``report.markdown``)."""
    from .report import markdown

    return markdown(report)
