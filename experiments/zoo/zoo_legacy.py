"""The schedule zoo: every schedule family trained on MNIST-1D at one step
budget, peak LR picked per family on a validation split, several seeds, all
through the sweep engine. ``optasched zoo`` runs it."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._combinators import warmup as warmup_schedule
from ._cyclic import cosine_restarts, cyclic
from ._data import load_mnist1d
from ._engine import sweep
from ._families import constant, cosine, exponential, inverse_time, linear, rex, step_decay
from ._inject import inject
from ._loop import train_loop
from ._piecewise import multistep, one_cycle, wsd
from ._plateau import plateau
from ._sweep import stack

# -- models (the MNIST-1D reference models, Greydanus & Kobak 2024) -----------------------


class MLP(nn.Module):
    """40-100-100-10 ReLU MLP: 15,210 parameters."""

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(100)(x))
        x = nn.relu(nn.Dense(100)(x))
        return nn.Dense(10)(x)


class Conv1D(nn.Module):
    """A 1-D convolution (NWC) written as stacked strided windows times a matrix.

    The same function and parameters as ``nn.Conv``; at MNIST-1D's sizes XLA's
    CPU convolution is 5.7x slower per training step, 11.5x when vmapped over
    members (experiments/benchmarks/bench_conv.py).
    """

    features: int
    kernel_size: int
    stride: int
    padding: int

    @nn.compact
    def __call__(self, x):
        channels = x.shape[-1]
        kernel = self.param(
            "kernel", nn.initializers.lecun_normal(), (self.kernel_size, channels, self.features)
        )
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        x = jnp.pad(x, ((0, 0), (self.padding, self.padding), (0, 0)))
        length = (x.shape[1] - self.kernel_size) // self.stride + 1
        last = self.stride * (length - 1) + 1
        windows = jnp.concatenate([x[:, j : j + last : self.stride, :] for j in range(self.kernel_size)], axis=-1)
        return windows @ kernel.reshape(-1, self.features) + bias[None, None, :]


class CNN(nn.Module):
    """Three stride-2 convolutions of 25 channels and a linear head: 5,210 parameters."""

    @nn.compact
    def __call__(self, x):
        x = x[..., None]
        x = nn.relu(Conv1D(25, kernel_size=5, stride=2, padding=1)(x))
        x = nn.relu(Conv1D(25, kernel_size=3, stride=2, padding=1)(x))
        x = nn.relu(Conv1D(25, kernel_size=3, stride=2, padding=1)(x))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))


MODELS = {"mlp": MLP, "cnn": CNN}

# -- the families, each a schedule of (peak, budget) ---------------------------------------


def family_schedule(family: str, peak: float, steps: int, eval_every: int):
    """The schedule of one zoo family at peak LR ``peak`` over ``steps`` steps."""
    builders = {
        "constant": lambda: constant(peak),
        "step": lambda: step_decay(peak, step_size=steps // 3, gamma=0.1),
        "multistep": lambda: multistep(peak, milestones=[steps // 2, 3 * steps // 4], gamma=0.1),
        "exponential": lambda: exponential(peak, transition_steps=steps, decay_rate=0.01),
        "inverse_time": lambda: inverse_time(peak, decay_steps=steps // 20, decay_rate=1.0),
        "linear": lambda: linear(peak, 0.0, steps),
        "cosine": lambda: cosine(peak, steps),
        "sgdr": lambda: cosine_restarts(peak, first_period=-(-steps // 7), period_multiplier=2.0),  # 3 cycles
        "cyclic": lambda: cyclic(peak / 10, peak, step_size_up=steps // 8),
        "one_cycle": lambda: one_cycle(peak, total_steps=steps),
        "wsd": lambda: wsd(peak, steps // 20, steps - steps // 20 - steps // 5, steps // 5, decay_shape="1-sqrt"),
        "rex": lambda: rex(peak, steps),
        "plateau": lambda: plateau(peak, factor=0.5, patience=2, threshold=1e-3, accumulation_size=eval_every),
        "schedule_free": lambda: warmup_schedule(constant(peak), steps // 20),
    }
    if family not in builders:
        raise ValueError(f"zoo: unknown family {family!r}; known: {sorted(builders)}")
    return builders[family]()


FAMILIES = (
    "constant", "step", "multistep", "exponential", "inverse_time", "linear", "cosine", "sgdr",
    "cyclic", "one_cycle", "wsd", "rex", "plateau", "schedule_free",
)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class ZooConfig:
    """What ``optasched zoo`` trains. Each field is one knob of the study."""

    models: tuple[str, ...] = ("mlp", "cnn")  # reference models of ANCHORS.md
    families: tuple[str, ...] = FAMILIES  # schedule families compared
    steps: int = 6000  # training steps: the paper's budget
    batch_size: int = 100  # the paper's batch
    seeds: int = 5  # seeds per (family, LR): init and data order
    learning_rates: tuple[float, ...] = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)  # peak-LR grid for Adam
    validation_size: int = 500  # held out of the 4000 training sequences to pick the LR
    eval_every: int = 100  # steps between evaluations (and plateau epochs)
    seed: int = 0  # master seed: results are deterministic for it


QUICK = ZooConfig(models=("mlp",), steps=1500, learning_rates=(3e-3, 1e-2, 3e-2))


# -- training -------------------------------------------------------------------------------


def make_train(model_name: str, family: str, cfg: ZooConfig, data: dict[str, np.ndarray]):
    """``train(config, key)`` for ONE configuration ``{"schedule", "seed"}``."""
    model = MODELS[model_name]()
    n_val = cfg.validation_size
    x_train, y_train = jnp.asarray(data["x_train"][n_val:]), jnp.asarray(data["y_train"][n_val:])
    x_val, y_val = jnp.asarray(data["x_train"][:n_val]), jnp.asarray(data["y_train"][:n_val])
    x_test, y_test = jnp.asarray(data["x_test"]), jnp.asarray(data["y_test"])

    def loss_fn(params, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(model.apply(params, x), y).mean()

    def accuracy(params, x, y):
        return jnp.mean(jnp.argmax(model.apply(params, x), -1) == y)

    def train(config, key):
        key = jax.random.fold_in(key, config["seed"])
        init_key, data_key = jax.random.split(key)
        params = model.init(init_key, x_train[:1])
        schedule = config["schedule"]
        if family == "schedule_free":
            optimizer = optax.contrib.schedule_free_adamw(learning_rate=schedule)  # warmup is in the schedule
        elif family == "plateau":
            optimizer = inject(optax.adam)(learning_rate=schedule)
        else:
            optimizer = optax.adam(schedule)

        def eval_params(state):
            params, opt_state = state
            if family == "schedule_free":
                return optax.contrib.schedule_free_eval_params(opt_state, params)
            return params

        def step(state, t):
            params, opt_state = state
            idx = jax.random.randint(jax.random.fold_in(data_key, t), (cfg.batch_size,), 0, x_train.shape[0])
            loss, grads = jax.value_and_grad(loss_fn)(params, x_train[idx], y_train[idx])
            extra = {"value": loss} if family == "plateau" else {}
            updates, opt_state = optimizer.update(grads, opt_state, params, **extra)
            return (optax.apply_updates(params, updates), opt_state), {"loss": loss}

        def evaluate(state):
            params = eval_params(state)
            return {"test_accuracy": accuracy(params, x_test, y_test)}

        result = train_loop(
            step, (params, optimizer.init(params)), cfg.steps, record_every=cfg.eval_every, evaluate=evaluate
        )
        final = eval_params(result.state)
        return {
            "test_accuracy": accuracy(final, x_test, y_test),
            "validation_accuracy": accuracy(final, x_val, y_val),
            "train_loss": loss_fn(final, x_train, y_train),
            "test_accuracy_curve": result.history["evaluation"]["test_accuracy"],
            "diverged_at": result.diverged_at,
        }

    return train


# -- statistics ------------------------------------------------------------------------------

# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom.
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042)  # fmt: skip


def mean_interval(values: np.ndarray) -> tuple[float, float]:
    """Mean and the half-width of its 95% t-interval."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n < 2:
        return float(values.mean()), float("nan")
    quantile = _T95[n - 2] if n - 1 <= len(_T95) else 1.96
    return float(values.mean()), float(quantile * values.std(ddof=1) / math.sqrt(n))


# -- the study ---------------------------------------------------------------------------------


def run_zoo(cfg: ZooConfig, out: str | Path, progress: bool = True) -> dict[str, Any]:
    """Train every (model, family) over the LR grid x seeds; pick each family's LR on
    validation accuracy; write results.json and the plots into ``out``."""
    for family in cfg.families:
        family_schedule(family, 1.0, cfg.steps, cfg.eval_every)  # unknown names fail before any training
    for model in cfg.models:
        if model not in MODELS:
            raise ValueError(f"zoo: unknown model {model!r}; known: {sorted(MODELS)}")
    if cfg.steps % cfg.eval_every:
        raise ValueError(f"zoo: steps ({cfg.steps}) must be a multiple of eval_every ({cfg.eval_every})")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_mnist1d()
    start = time.perf_counter()
    rows = []
    curves: dict[str, dict[str, list[float]]] = {}
    total = len(cfg.models) * len(cfg.families)
    for model in cfg.models:
        curves[model] = {}
        for family in cfg.families:
            done = len(rows)
            if progress:
                sys.stderr.write(f"[{done + 1}/{total}] {model} / {family}\n")
            members = [
                {"schedule": family_schedule(family, lr, cfg.steps, cfg.eval_every), "seed": seed}
                for lr in cfg.learning_rates
                for seed in range(cfg.seeds)
            ]
            labels = [f"lr={lr:g}, seed={seed}" for lr in cfg.learning_rates for seed in range(cfg.seeds)]
            result = sweep(
                make_train(model, family, cfg, data),
                stack(members),
                jax.random.key(cfg.seed),
                labels=labels,
                progress=progress,
            )
            rows.append(_summarise(model, family, cfg, result))
            chosen = rows[-1]["lr_index"]
            chosen_curves = result.metric("test_accuracy_curve").reshape(len(cfg.learning_rates), cfg.seeds, -1)
            curves[model][family] = chosen_curves[chosen].mean(axis=0).tolist()
    seconds = time.perf_counter() - start
    report = {
        "config": dataclasses.asdict(cfg),
        "seconds": seconds,
        "devices": [str(d) for d in jax.devices()],
        "leaderboard": sorted(rows, key=lambda r: (r["model"], -r["test_accuracy"])),
        "test_accuracy_curves": curves,
        "eval_steps": list(range(cfg.eval_every, cfg.steps + 1, cfg.eval_every)),
    }
    report["comparisons"] = _comparisons(rows)
    (out / "results.json").write_text(json.dumps(report, indent=1))
    plot_learning_rates(cfg, rows, out / "lr_curves.png")
    plot_accuracy_curves(report, out / "test_accuracy.png")
    return report


def _summarise(model: str, family: str, cfg: ZooConfig, result) -> dict[str, Any]:
    grid = (len(cfg.learning_rates), cfg.seeds)
    validation = result.metric("validation_accuracy").reshape(grid)
    lr_index = int(np.nanargmax(np.nanmean(validation, axis=1)))
    test = result.metric("test_accuracy").reshape(grid)[lr_index]
    loss = result.metric("train_loss").reshape(grid)[lr_index]
    diverged = result.metric("diverged_at").reshape(grid)[lr_index] >= 0
    test_mean, test_ci = mean_interval(test)
    loss_mean, loss_ci = mean_interval(loss)
    return {
        "model": model,
        "family": family,
        "lr_index": lr_index,
        "peak_lr": cfg.learning_rates[lr_index],
        "validation_accuracy": float(np.mean(validation[lr_index])),
        "test_accuracy": test_mean,
        "test_accuracy_ci95": test_ci,
        "test_accuracies": test.tolist(),
        "train_loss": loss_mean,
        "train_loss_ci95": loss_ci,
        "diverged_seeds": int(diverged.sum()),
    }


def _comparisons(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Best family vs constant (non-overlapping 95% intervals?), linear / WSD vs cosine."""
    out = {}
    for model in sorted({r["model"] for r in rows}):
        by = {r["family"]: r for r in rows if r["model"] == model}
        best = max(by.values(), key=lambda r: r["test_accuracy"])
        entry = {"best_family": best["family"]}

        def low(r):
            return r["test_accuracy"] - r["test_accuracy_ci95"]

        def high(r):
            return r["test_accuracy"] + r["test_accuracy_ci95"]

        if "constant" in by:
            entry["best_beats_constant_non_overlapping"] = bool(low(best) > high(by["constant"]))
        for other in ("linear", "wsd"):
            if other in by and "cosine" in by:
                a, b = by[other], by["cosine"]
                entry[f"{other}_vs_cosine"] = {
                    "difference": a["test_accuracy"] - b["test_accuracy"],
                    "intervals_overlap": bool(low(a) <= high(b) and low(b) <= high(a)),
                }
        out[model] = entry
    return out


def format_leaderboard(report: dict[str, Any]) -> str:
    lines = []
    for model in report["config"]["models"]:
        rows = [r for r in report["leaderboard"] if r["model"] == model]
        lines.append(f"\n{model.upper()}  (test accuracy and final train loss: mean +- 95% interval over seeds)")
        lines.append(f"{'rank':<5}{'family':<15}{'peak lr':>9}{'val acc':>9}{'test acc':>18}{'train loss':>20}")
        for rank, r in enumerate(rows, start=1):
            lines.append(
                f"{rank:<5}{r['family']:<15}{r['peak_lr']:>9g}{100 * r['validation_accuracy']:>8.1f}%"
                f"{100 * r['test_accuracy']:>10.1f} +- {100 * r['test_accuracy_ci95']:4.1f}%"
                f"{r['train_loss']:>12.3f} +- {r['train_loss_ci95']:.3f}"
                + (f"  ({r['diverged_seeds']} diverged)" if r["diverged_seeds"] else "")
            )
        comparison = report["comparisons"][model]
        if "best_beats_constant_non_overlapping" in comparison:
            verdict = "beats" if comparison["best_beats_constant_non_overlapping"] else "does not clearly beat"
            lines.append(f"best ({comparison['best_family']}) {verdict} constant (non-overlapping 95% intervals)")
        for other in ("linear", "wsd"):
            if f"{other}_vs_cosine" in comparison:
                c = comparison[f"{other}_vs_cosine"]
                lines.append(
                    f"{other} - cosine = {100 * c['difference']:+.1f} points "
                    f"({'overlapping' if c['intervals_overlap'] else 'separate'} intervals)"
                )
    lines.append(f"\nwall time {report['seconds']:.0f} s on {report['devices'][0]}")
    return "\n".join(lines)


# -- plots -------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_learning_rates(cfg: ZooConfig, rows: list[dict[str, Any]], path: Path) -> None:
    """Each family's LR curve at its chosen peak (first model), one panel per family."""
    plt = _pyplot()
    model = cfg.models[0]
    chosen = {r["family"]: r["peak_lr"] for r in rows if r["model"] == model}
    steps = np.arange(cfg.steps)
    columns = 5
    rows_n = math.ceil(len(cfg.families) / columns)
    fig, axes = plt.subplots(rows_n, columns, figsize=(2.6 * columns, 1.9 * rows_n), sharex=True, squeeze=False)
    for ax, family in zip(axes.flat, cfg.families):
        schedule = family_schedule(family, chosen[family], cfg.steps, cfg.eval_every)
        if family == "plateau":
            schedule = schedule.schedule  # the reduction depends on the loss; draw the base
        ax.plot(steps, np.asarray(schedule(steps)), lw=1.2)
        ax.set_title(f"{family} (peak {chosen[family]:g})", fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(cfg.families) :]:
        ax.axis("off")
    fig.suptitle(f"learning rate vs step ({model}, chosen peak LR)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def plot_accuracy_curves(report: dict[str, Any], path: Path) -> None:
    """Mean test accuracy over training per family, one panel per model."""
    plt = _pyplot()
    models = report["config"]["models"]
    steps = report["eval_steps"]
    fig, axes = plt.subplots(1, len(models), figsize=(6 * len(models), 4), squeeze=False)
    colors = plt.get_cmap("tab20")
    for ax, model in zip(axes.flat, models):
        for i, (family, curve) in enumerate(report["test_accuracy_curves"][model].items()):
            ax.plot(steps, np.asarray(curve) * 100, lw=1.1, color=colors(i % 20), label=family)
        ax.set_title(f"MNIST-1D {model.upper()}: test accuracy (mean over seeds)", fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    axes.flat[-1].legend(fontsize=7, ncol=2, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)
