"""The second data set (gpu config): diffusion on MNIST-1D sequences.

The same question as the 2-D study (does the best LR schedule depend on the
noise schedule?) on 40-dimensional MNIST-1D sequences (Greydanus & Kobak
2024). The procedural generator makes any number of fresh sequences: the
training pool is ``mnist1d_generator_seeds`` draws of 5,000 (generator seeds
1000, 1001, ...), never the paper's seed-42 set. There is no exact likelihood
in 40-D, so quality is a Frechet distance (FID-style) in the penultimate
features of an MLP classifier trained on the paper's MNIST-1D training set,
between generated sequences (the same fixed ODE sampler as the 2-D study)
and 5,000 fresh real ones. Validation (which picks the best family) and test
(reported) use separate draws on both sides: the real references are
generator seeds 2000 (validation) and 2001 (test), and each model generates
one set of sequences from validation starting noise and another from test
starting noise, so seed luck in one set of samples cannot pass from the
selection into the reported number.
"""

from __future__ import annotations

import functools
import math
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from scipy import linalg

import optasched as osd
from experiments.common import data, stats

from . import evaluate as ev
from . import noise as noise_lib
from . import train as tr
from .analysis import interaction_analysis

EMBEDDING = 8  # log-SNR embedding frequencies, as in the 2-D study


def _pool(config) -> dict[str, np.ndarray]:
    def draw(seed):
        d = data.load_mnist1d(seed=seed)
        return np.concatenate([d["x_train"], d["x_test"]]).astype(np.float32)

    train = np.concatenate([draw(1000 + i) for i in range(config.mnist1d_generator_seeds)])
    paper = data.load_mnist1d(seed=42)
    return {"train": train, "val_reference": draw(2000), "test_reference": draw(2001), "paper": paper}


def _classifier(paper: dict, steps: int = 3000, hidden: int = 256):
    """An MLP classifier on the paper's MNIST-1D split; returns (features function, test accuracy)."""
    x, y = jnp.asarray(paper["x_train"]), jnp.asarray(paper["y_train"])
    dims = [x.shape[1], hidden, hidden, 10]

    def init(key):
        keys = jax.random.split(key, len(dims) - 1)
        return [
            (jax.random.normal(k, (a, b)) * math.sqrt(2 / a), jnp.zeros((b,)))
            for k, a, b in zip(keys, dims[:-1], dims[1:])
        ]

    def features(params, inputs):
        h = inputs
        for w, b in params[:-1]:
            h = jax.nn.relu(h @ w + b[None, :])
        return h

    def logits(params, inputs):
        w, b = params[-1]
        return features(params, inputs) @ w + b[None, :]

    optimizer = optax.adamw(1e-3, weight_decay=1e-4)

    @jax.jit
    def fit(key):
        params = init(key)

        def step(state, k):
            params, opt_state = state
            index = jax.random.randint(k, (128,), 0, x.shape[0])

            def loss(p):
                return optax.softmax_cross_entropy_with_integer_labels(logits(p, x[index]), y[index]).mean()

            grads = jax.grad(loss)(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), None

        (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), jax.random.split(key, steps))
        return params

    params = fit(jax.random.key(42))
    accuracy = float(
        jnp.mean(jnp.argmax(logits(params, jnp.asarray(paper["x_test"])), -1) == paper["y_test"])
    )
    return jax.jit(functools.partial(features, params)), accuracy


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (Heusel et al. 2017)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr sqrt(A B) = tr sqrt(A^1/2 B A^1/2): a symmetric PSD matrix, stable even when A is singular
    values, vectors = linalg.eigh(cov_a)
    half = (vectors * np.sqrt(np.maximum(values, 0))[None, :]) @ vectors.T
    inner = linalg.eigvalsh(half @ cov_b @ half)
    trace_root = float(np.sum(np.sqrt(np.maximum(inner, 0))))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root)


def _denoiser(config):
    return functools.partial(tr.denoise, fourier=0, embedding=EMBEDDING)


@functools.lru_cache(maxsize=4)
def _make_train(config, pool_bytes: bytes, pool_shape: tuple):
    pool = np.frombuffer(pool_bytes, np.float32).reshape(pool_shape)
    dim = pool_shape[1]
    in_features = tr.num_features(0, EMBEDDING, dim)

    def sample_data(key, n):
        return jnp.asarray(pool)[jax.random.randint(key, (n,), 0, pool_shape[0])]

    def train(member, key):
        return tr.training_loop(
            member,
            key,
            steps=config.mnist1d_steps,
            batch_size=config.batch_size,
            diffusion_steps=config.diffusion_steps,
            ema_decay=config.ema_decay,
            record_every=tr.record_interval(config.mnist1d_steps, 4),
            init_params=lambda k: tr.init_mlp(k, config.mnist1d_hidden, config.depth - 1, in_features, dim),
            denoiser=_denoiser(config),
            sample_data=sample_data,
        )

    return train


@functools.lru_cache(maxsize=4)
def _make_sampler(config, dim: int):
    # separate starting noise for the validation and the test samples (keys eval_seed + 3 and + 4)
    shape = (config.mnist1d_samples, dim)
    draws = {
        split: np.asarray(jax.random.normal(jax.random.key(config.eval_seed + offset), shape))
        for split, offset in (("val", 3), ("test", 4))
    }

    def sampler(member, key):
        del key
        d = functools.partial(_denoiser(config), member["weights"], member["noise"])
        return {split: ev.generate(config, d, x, config.sample_steps) for split, x in draws.items()}

    return sampler


def _chunk(config) -> dict:
    return {"chunk_size": config.chunk_size} if config.chunk_size > 0 else {}


def run(config, context) -> dict:
    """Train noise x LR family x seed on MNIST-1D and score by Frechet distance.

    Args:
      config: the study config (its ``mnist1d_*`` fields).
      context: the runner's context (sweeps with progress).
    """
    start = time.perf_counter()
    pool = _pool(config)
    features, accuracy = _classifier(pool["paper"])
    sigma_data = float(pool["train"].std())
    val_features = np.asarray(features(jnp.asarray(pool["val_reference"])))
    test_features = np.asarray(features(jnp.asarray(pool["test_reference"])))
    floor = frechet(val_features[: config.mnist1d_samples], test_features)
    noises = noise_lib.from_config(config, config.mnist1d_noise, sigma_data)
    train = _make_train(config, pool["train"].tobytes(), pool["train"].shape)
    sampler = _make_sampler(config, pool["train"].shape[1])
    key = jax.random.key(0)
    scores: dict[str, dict[str, dict[str, list]]] = {"ema": {}, "raw": {}}
    seeds = list(range(config.mnist1d_seeds))
    members, infos = [], []
    for family in config.lr_families:
        for name, noise in noises.items():
            for seed in seeds:
                lr = tr.lr_of(config, family, config.mnist1d_lr, config.mnist1d_steps)
                members.append(tr.member(lr, config.mnist1d_lr, noise, seed))
                infos.append((family, name, seed))
    for group, stacked in tr.stack_members(members):
        result = context.sweep(train, stacked, key, label=f"MNIST-1D ({len(group)} runs)", **_chunk(config))
        metrics = jax.tree.map(np.asarray, result.metrics)
        for which, weights in (("ema", metrics["ema"]), ("raw", metrics["params"])):
            generated = osd.sweep(
                sampler, {"weights": weights, "noise": stacked["noise"]}, key, **_chunk(config)
            ).metrics
            for j, i in enumerate(group):
                family, name, seed = infos[i]
                cell = (
                    scores[which]
                    .setdefault(name, {})
                    .setdefault(family, {"val": [], "test": [], "diverged": []})
                )
                for split, reference in (("val", val_features), ("test", test_features)):
                    f = np.asarray(features(jnp.asarray(np.asarray(generated[split])[j])))
                    finite = bool(np.all(np.isfinite(f)))
                    cell[split].append(frechet(f, reference) if finite else float("nan"))
        for i, diverged in zip(group, metrics["diverged_at"]):
            family, name, seed = infos[i]
            scores["ema"][name][family]["diverged"].append(int(diverged))
    out = {
        "classifier_test_accuracy": accuracy,
        "sigma_data": sigma_data,
        "train_pool": int(pool["train"].shape[0]),
        "real_vs_real_fd": floor,
        "seeds": seeds,
    }
    for which in ("ema", "raw"):
        table = np.full((len(seeds), len(noises), len(config.lr_families)), np.nan)
        cells, best = {}, {}
        for n, name in enumerate(noises):
            cells[name] = {}
            for l, family in enumerate(config.lr_families):
                cell = scores[which][name][family]
                table[:, n, l] = cell["test"]
                cells[name][family] = {
                    "fd_test": stats.mean_ci(cell["test"]).as_dict(),
                    "per_seed": cell["test"],
                    "fd_val_mean": float(np.nanmean(cell["val"])),
                }
            best[name] = min(cells[name], key=lambda f: cells[name][f]["fd_val_mean"])
        out[which] = {
            "cells": cells,
            "best_family_by_validation": best,
            "interaction": interaction_analysis(table, list(noises), list(config.lr_families)),
        }
    out["seconds"] = time.perf_counter() - start
    return out


__all__ = ["frechet", "run"]
