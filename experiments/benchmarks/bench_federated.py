"""Federated benchmark (issue 19): rounds per second of the in-graph federation
(``osd.federate``: all rounds one ``lax.scan``, a round's clients one ``vmap``)
against the FedJAX / Flower pattern (a Python loop over rounds and sampled
clients, each client step one jitted call), doing the same work.

Both run FedAvg-style rounds of an MLP 40-64-10 on 100 ragged synthetic
clients (20 to 80 examples), 10 clients a round, 5 local SGD steps of batch 16
with a client LR from ``osd.round_clock`` (cosine across rounds) and a FedAdam
server. The Python loop draws the same clients and batches from the same keys,
so both reach the same model (the largest parameter difference is recorded).
Compilation is timed apart: the in-graph program is called once to compile,
then timed; the loop's first round (its compilations) is left out of its rate.

Rates are medians of ``--repeats`` interleaved runs of each, in wall-clock and in
process CPU seconds (the machine may be shared; CPU time is the steadier figure).

Run: python -m experiments.benchmarks.bench_federated [--rounds 200] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optasched as osd

NUM_CLIENTS, PER_ROUND, LOCAL_STEPS, BATCH, FEATURES, HIDDEN, CLASSES = 100, 10, 5, 16, 40, 64, 10


def make_clients(seed: int = 0) -> osd.ClientData:
    rng = np.random.default_rng(seed)
    datasets = []
    for i in range(NUM_CLIENTS):
        n = int(rng.integers(20, 81))
        x = rng.normal(size=(n, FEATURES)).astype(np.float32)
        y = (np.argmax(x[:, :CLASSES], axis=1) + i) % CLASSES  # label skew per client
        datasets.append((x, y.astype(np.int32)))
    return osd.pad_clients(datasets)


def init_params(key):
    k1, k2 = jax.random.split(key)
    return {
        "w1": jax.random.normal(k1, (FEATURES, HIDDEN)) / np.sqrt(FEATURES),
        "b1": jnp.zeros(HIDDEN),
        "w2": jax.random.normal(k2, (HIDDEN, CLASSES)) / np.sqrt(HIDDEN),
        "b2": jnp.zeros(CLASSES),
    }


def example_loss(params, batch):
    x, y = batch
    hidden = jax.nn.relu(x @ params["w1"] + params["b1"])
    logits = hidden @ params["w2"] + params["b2"]
    return optax.softmax_cross_entropy_with_integer_labels(logits, y)


def in_graph(clients, params, key, rounds, client_lr, server):
    @jax.jit
    def run(params, key):
        return osd.federate(
            example_loss, params, clients, key, rounds=rounds, local_steps=LOCAL_STEPS, batch_size=BATCH,
            participation=PER_ROUND / NUM_CLIENTS, server_optimizer=server,
            client_optimizer=osd.inject(optax.sgd)(learning_rate=client_lr),
        ).params  # fmt: skip

    start = time.perf_counter()
    jax.block_until_ready(run(params, key))
    compile_and_first = time.perf_counter() - start

    def timed():
        start, cpu_start = time.perf_counter(), time.process_time()
        final = jax.block_until_ready(run(params, key))
        return final, time.perf_counter() - start, time.process_time() - cpu_start

    return timed, compile_and_first


def python_loop(clients, params, key, rounds, client_lr, server):
    """The frameworks' pattern: Python over rounds and clients, one jitted call per client step."""
    examples = jax.tree.map(np.asarray, clients.examples)
    counts = np.asarray(clients.num_examples)
    max_examples = examples[0].shape[1]

    @jax.jit
    def client_step(model, batch, lr):
        grads = jax.grad(lambda p: jnp.mean(example_loss(p, batch)))(model)
        return jax.tree.map(lambda p, g: p - lr * g, model, grads)

    @jax.jit
    def delta(model, params):
        return jax.tree.map(lambda new, old: new - old, model, params)

    @jax.jit
    def server_step(params, state, deltas, weights):  # the aggregation: one call a round
        share = weights / jnp.sum(weights)
        mean_delta = jax.tree.map(lambda *ds: jnp.tensordot(share, jnp.stack(ds), axes=1), *deltas)
        updates, state = server.update(jax.tree.map(jnp.negative, mean_delta), state, params)
        return optax.apply_updates(params, updates), state

    @jax.jit
    def batch_order(client_key, n):  # the same passes over a random order as osd.federate
        scores = jnp.where(jnp.arange(max_examples) < n, jax.random.uniform(client_key, (max_examples,)), 2.0)
        positions = jnp.arange(LOCAL_STEPS * BATCH).reshape(LOCAL_STEPS, BATCH)
        return jnp.argsort(scores)[positions % n]

    round_lrs = jax.jit(lambda r: jax.vmap(client_lr)(r * LOCAL_STEPS + jnp.arange(LOCAL_STEPS)))
    state = server.init(params)
    started, cpu_started = time.perf_counter(), time.process_time()
    for r in range(rounds):
        if r == 1:  # round 0 compiled the steps
            started, cpu_started = time.perf_counter(), time.process_time()
        sample_key, batch_key = jax.random.split(jax.random.fold_in(key, r))
        chosen = np.asarray(jax.random.permutation(sample_key, NUM_CLIENTS)[:PER_ROUND])
        lrs = np.asarray(round_lrs(r))
        deltas = []
        for i in chosen:
            rows = np.asarray(batch_order(jax.random.fold_in(batch_key, i), int(counts[i])))
            model = params
            for k in range(LOCAL_STEPS):
                batch = jax.tree.map(lambda leaf: leaf[i][rows[k]], examples)  # noqa: B023
                model = client_step(model, batch, lrs[k])
            deltas.append(delta(model, params))
        params, state = server_step(params, state, deltas, counts[chosen].astype(np.float32))
    jax.block_until_ready(params)
    return params, time.perf_counter() - started, time.process_time() - cpu_started


def git_state() -> dict:
    """The commit measured and whether the working tree differed from it."""
    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True, check=False).stdout.strip()

    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return {"commit": git("rev-parse", "HEAD"), "dirty": dirty}


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        lines = out.splitlines()
        return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs of each; medians reported")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    clients, params, key = make_clients(), init_params(jax.random.key(0)), jax.random.key(1)
    client_lr = osd.round_clock(osd.cosine(0.1, args.rounds), local_steps=LOCAL_STEPS)
    server = osd.fedadam(learning_rate=10**-2.5, eps=1e-3)
    run_in_graph, graph_compile = in_graph(clients, params, key, args.rounds, client_lr, server)
    rates = {"in_graph": [], "python_loop": [], "in_graph_cpu": [], "python_loop_cpu": []}
    for _ in range(args.repeats):  # interleaved, so a load change on the machine hits both
        graph_params, seconds, cpu = run_in_graph()
        rates["in_graph"].append(args.rounds / seconds)
        rates["in_graph_cpu"].append(args.rounds / cpu)
        loop_params, seconds, cpu = python_loop(clients, params, key, args.rounds, client_lr, server)
        rates["python_loop"].append((args.rounds - 1) / seconds)
        rates["python_loop_cpu"].append((args.rounds - 1) / cpu)
    median = {name: float(np.median(values)) for name, values in rates.items()}
    pairs = zip(jax.tree.leaves(graph_params), jax.tree.leaves(loop_params))
    difference = max(float(jnp.max(jnp.abs(a - b))) for a, b in pairs)
    results = {
        "setup": {"clients": NUM_CLIENTS, "per_round": PER_ROUND, "local_steps": LOCAL_STEPS, "batch": BATCH,
                  "model": f"MLP {FEATURES}-{HIDDEN}-{CLASSES}", "server": "fedadam", "rounds": args.rounds},
        "in_graph_rounds_per_second": median["in_graph"],
        "in_graph_compile_seconds": graph_compile,
        "python_loop_rounds_per_second": median["python_loop"],
        "ratio_in_graph_over_loop": median["in_graph"] / median["python_loop"],
        "in_graph_rounds_per_cpu_second": median["in_graph_cpu"],
        "python_loop_rounds_per_cpu_second": median["python_loop_cpu"],
        "cpu_time_ratio": median["in_graph_cpu"] / median["python_loop_cpu"],
        "repeats": rates,
        "max_abs_param_difference": difference,
        "machine": {"cpu": cpu_model(), "backend": jax.default_backend(), "devices": jax.device_count(),
                    "jax": jax.__version__, "optax": optax.__version__},
        "git": git_state(),
        "command": " ".join(["python -m experiments.benchmarks.bench_federated", *sys.argv[1:]]),
    }  # fmt: skip
    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
