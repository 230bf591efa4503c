"""Sweep-engine benchmark (issue: sweep engine).

Workload: MNIST-1D (procedural), Flax MLP 40-256-256-10, SGD momentum 0.9,
linear warmup + cosine decay to 0, batch 128, 2000 steps; K = 64
configurations (8 peak LRs x 8 warmup lengths, warmups 0..1500 steps). Every
method sees the same data order (one precomputed index table) and init.

  (a) optasched: ``osd.sweep(train, grid)`` with the default (auto) strategy
  (b) the typical optax user: optax schedule constructor, jitted step, Python loop, one config at a time
  (c) a careful user: per-configuration ``jit`` of a ``lax.scan`` loop (recompiles per config)
  (d) PyTorch eager with LambdaLR, one configuration at a time
  (e) the limit: ONE model trained with a 64x larger batch for the same steps

All times are end to end, compilation included (and reported apart, from JAX's
own compile events), measured in one run. A part named twice (``--parts
e,a,e,a``) is timed twice in the same process: the second time finds its
programs compiled and, for (a), the chunk size chosen; the table reports the
last timing of each part, and every timing is kept in the JSON.
Scaling: K = 1, 8, 64, 256 (and more with --ks), each in a fresh process for its peak memory.

Run (from the repository root):
      python -m experiments.benchmarks.bench_sweep --json out.json
      python -m experiments.benchmarks.bench_sweep --parts e,a,e,a --ks ''   (the (a)/(e) ratio on this machine)
      python -m experiments.benchmarks.bench_sweep --parts a,e --ks 1,8,64,256,1024   (GPU)
(``python experiments/benchmarks/bench_sweep.py`` works too.)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if not __package__:  # run as a script (python experiments/benchmarks/bench_sweep.py): find `experiments`
    sys.path.insert(0, REPO)

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

import optasched as osd
from experiments.common.data import load_mnist1d
from experiments.common.runner import cpu_model

STEPS = int(os.environ.get("BENCH_STEPS", 2000))
BATCH = 128
DATA = load_mnist1d()
X_TRAIN = jnp.asarray(DATA["x_train"])
Y_TRAIN = jnp.asarray(DATA["y_train"])
X_TEST = jnp.asarray(DATA["x_test"])
Y_TEST = jnp.asarray(DATA["y_test"])


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(256)(x))
        x = nn.relu(nn.Dense(256)(x))
        return nn.Dense(10)(x)


MODEL = MLP()


def indices(batch: int = BATCH, steps: int = STEPS) -> np.ndarray:
    return np.random.default_rng(0).integers(0, DATA["x_train"].shape[0], (steps, batch)).astype(np.int32)


INDICES = indices()


def grid_values(k: int):
    """k configurations: peak LRs x warmup lengths (8 x 8 for k = 64)."""
    rows = {1: 1, 8: 2, 64: 8, 256: 16, 1024: 32}.get(k) or int(np.sqrt(k))
    cols = k // rows
    peaks = np.geomspace(0.01, 0.5, cols)
    warmups = np.linspace(0, 0.75 * STEPS, rows).astype(int)  # 0..1500 for 2000 steps
    return [(float(p), int(w)) for w in warmups for p in peaks][:k]


def loss_fn(params, x, y):
    logits = MODEL.apply(params, x)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def accuracy(params):
    return jnp.mean(jnp.argmax(MODEL.apply(params, X_TEST), -1) == Y_TEST)


def init_params():
    return MODEL.init(jax.random.key(0), jnp.zeros((1, 40)))


def scan_train(learning_rate, batch_indices):
    """The shared training loop: lax.scan over steps, returns metrics."""
    optimizer = optax.sgd(learning_rate, momentum=0.9)
    params = init_params()

    def step(carry, idx):
        params, state = carry
        loss, grads = jax.value_and_grad(loss_fn)(params, X_TRAIN[idx], Y_TRAIN[idx])
        updates, state = optimizer.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), loss

    (params, _), losses = jax.lax.scan(step, (params, optimizer.init(params)), batch_indices)
    return {"test_accuracy": accuracy(params), "train_loss": losses[-100:].mean()}


def osd_schedule(peak, warmup):
    return osd.warmup(osd.cosine(peak, STEPS - warmup), warmup)


# -- (a) optasched ---------------------------------------------------------------------


def train_one(config, key):
    del key  # every member shares the init and data order, as in (b)-(e)
    return scan_train(config["schedule"], jnp.asarray(INDICES))


def method_a(configs):
    batch = osd.stack([{"schedule": osd_schedule(p, w)} for p, w in configs])
    result = osd.sweep(train_one, batch)
    return result.metric("test_accuracy"), {"strategy": result.strategy, "chunk_size": result.chunk_size,
                                             "memory_bytes": result.memory_bytes,
                                             "sweep_compile_seconds": result.compile_seconds}


# -- (b) typical optax user ----------------------------------------------------------------


def method_b(configs):
    accuracies = []
    x_host, y_host = DATA["x_train"], DATA["y_train"]
    for peak, warmup in configs:
        schedule = optax.warmup_cosine_decay_schedule(0.0, peak, warmup, STEPS, 0.0)
        optimizer = optax.sgd(schedule, momentum=0.9)
        params = init_params()
        state = optimizer.init(params)

        @jax.jit
        def step(params, state, x, y):
            loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
            updates, state = optimizer.update(grads, state, params)
            return optax.apply_updates(params, updates), state, loss

        for idx in INDICES:
            params, state, loss = step(params, state, x_host[idx], y_host[idx])
        accuracies.append(float(accuracy(params)))
    return np.asarray(accuracies), {}


# -- (c) per-config jit + scan -------------------------------------------------------------


def method_c(configs):
    accuracies = []
    for peak, warmup in configs:
        schedule = optax.warmup_cosine_decay_schedule(0.0, peak, warmup, STEPS, 0.0)
        metrics = jax.jit(lambda: scan_train(schedule, jnp.asarray(INDICES)))()
        accuracies.append(float(metrics["test_accuracy"]))
    return np.asarray(accuracies), {}


# -- (d) PyTorch eager ----------------------------------------------------------------------


def method_d(configs):
    import math

    import torch

    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    x = torch.tensor(DATA["x_train"], device=device)
    y = torch.tensor(DATA["y_train"], dtype=torch.long, device=device)
    x_test = torch.tensor(DATA["x_test"], device=device)
    y_test = torch.tensor(DATA["y_test"], dtype=torch.long, device=device)
    batches = torch.tensor(INDICES, dtype=torch.long, device=device)
    accuracies = []
    for peak, warmup in configs:
        model = torch.nn.Sequential(
            torch.nn.Linear(40, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)
        ).to(device)
        optimizer = torch.optim.SGD(model.parameters(), lr=peak, momentum=0.9)

        def factor(step, warmup=warmup):
            if step < warmup:
                return step / warmup
            return 0.5 * (1 + math.cos(math.pi * min(step - warmup, STEPS - warmup) / (STEPS - warmup)))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        for idx in batches:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
            scheduler.step()
        with torch.no_grad():
            accuracies.append(float((model(x_test).argmax(-1) == y_test).float().mean()))
    return np.asarray(accuracies), {"torch_device": device}


# -- (e) one model, K-times larger batch -------------------------------------------------------


def method_e(configs):
    big = jnp.asarray(indices(BATCH * len(configs)))
    peak, warmup = configs[len(configs) // 2]
    metrics = jax.jit(lambda: scan_train(osd_schedule(peak, warmup), big))()
    return np.asarray([float(metrics["test_accuracy"])]), {"batch": BATCH * len(configs)}


METHODS = {"a": method_a, "b": method_b, "c": method_c, "d": method_d, "e": method_e}


_COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)
_compile_seconds = [0.0]


def _count_compile(event: str, duration: float, **_) -> None:
    if event in _COMPILE_EVENTS:
        _compile_seconds[0] += duration


jax.monitoring.register_event_duration_secs_listener(_count_compile)


def timed(method, configs):
    compile_before = _compile_seconds[0]
    start = time.perf_counter()
    accuracies, info = method(configs)
    jax.block_until_ready(accuracies)
    seconds = time.perf_counter() - start
    return seconds, np.asarray(accuracies), {**info, "compile_seconds": _compile_seconds[0] - compile_before}


def peak_device_bytes():
    stats = jax.devices()[0].memory_stats() or {}
    return stats.get("peak_bytes_in_use")


def scaling_one(k: int) -> dict:
    seconds, accuracies, info = timed(method_a, grid_values(k))
    return {
        "k": k,
        "seconds": seconds,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "peak_device_bytes": peak_device_bytes(),
        "best_test_accuracy": float(np.max(accuracies)),
        **info,
    }


def main():
    parser = argparse.ArgumentParser(description="optasched sweep-engine benchmark")
    parser.add_argument("--parts", default="a,b,c,d,e", help="methods to time, e.g. a,e")
    parser.add_argument("--k", type=int, default=64, help="configurations for the method table")
    parser.add_argument("--ks", default="1,8,64,256", help="sweep sizes for the scaling table ('' to skip)")
    parser.add_argument("--chunks", help="instead: time osd.sweep for these chunk sizes (e.g. 4,8,16,64) and (e)")
    parser.add_argument("--scaling-one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--json", help="write results to this file")
    args = parser.parse_args()
    if args.scaling_one:
        print(json.dumps(scaling_one(args.scaling_one)))
        return

    configs = grid_values(args.k)
    if args.chunks:
        batch = osd.stack([{"schedule": osd_schedule(p, w)} for p, w in configs])
        for size in [int(c) for c in args.chunks.split(",")]:
            start = time.perf_counter()
            jax.block_until_ready(osd.sweep(train_one, batch, strategy="chunked", chunk_size=size).metrics)
            print(f"chunk {size:4d}: {time.perf_counter() - start:6.1f} s", flush=True)
        print(f"(e) one model, {args.k}x batch: {timed(method_e, configs)[0]:6.1f} s", flush=True)
        return
    results = {"device": str(jax.devices()[0]), "device_kind": jax.devices()[0].device_kind, "cpu": cpu_model(),
               "cpu_count": os.cpu_count(), "backend": jax.default_backend(), "jax": jax.__version__,
               "k": args.k, "steps": STEPS, "timings": [], "methods": {}, "scaling": []}  # fmt: skip
    for part in args.parts.split(","):
        seconds, accuracies, info = timed(METHODS[part], configs)
        row = {"seconds": seconds, "mean_test_accuracy": float(np.mean(accuracies)),
               "best_test_accuracy": float(np.max(accuracies)), **info}  # fmt: skip
        results["timings"].append({"part": part, **row})
        results["methods"][part] = row  # the last timing of each part
        print(f"({part}) {seconds:8.1f} s (compile {info['compile_seconds']:5.1f} s)  "
              f"mean test accuracy {np.mean(accuracies):.3f}  {info}", flush=True)  # fmt: skip
    methods = results["methods"]
    if "a" in methods:
        for other in "bcde":
            if other in methods:
                results[f"ratio_{other}_over_a"] = methods[other]["seconds"] / methods["a"]["seconds"]
        if "e" in methods:
            results["ratio_a_over_e"] = methods["a"]["seconds"] / methods["e"]["seconds"]
            print(f"(a)/(e) = {results['ratio_a_over_e']:.3f} on {results['cpu']} ({results['device_kind']})",
                  flush=True)  # fmt: skip
    for k in [int(k) for k in args.ks.split(",") if k]:
        out = subprocess.run([sys.executable, "-m", "experiments.benchmarks.bench_sweep", "--scaling-one", str(k)], capture_output=True, text=True,
                             env=os.environ, check=True, cwd=REPO)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        results["scaling"].append(row)
        print(f"K={k:5d}  {row['seconds']:8.1f} s  rss {row['peak_rss_bytes'] / 2**20:8.0f} MiB  "
              f"device peak {row['peak_device_bytes']}  chunk {row['chunk_size']}", flush=True)
    print(json.dumps(results, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
