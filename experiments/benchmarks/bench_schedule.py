"""Schedule overhead benchmark (issue: core).

1. A jitted training step (Flax MLP 40-256-256-10, batch 128, SGD momentum,
   100 steps per call inside ``lax.scan``) with a 4-stage composite schedule
   (linear warmup -> constant -> cosine -> constant floor) against the same
   step with a constant learning rate.
2. Evaluating warmup + cosine over 10**6 steps, vectorised: optasched against
   a hand-written ``jnp`` formula and against optax's schedule.

Every ratio is measured in one run, with interleaved repeats and medians.
Run: python experiments/benchmarks/bench_schedule.py [--repeats 51]
"""

from __future__ import annotations

import argparse
import json
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

import optasched as osd


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(256)(x))
        x = nn.relu(nn.Dense(256)(x))
        return nn.Dense(10)(x)


def make_train(learning_rate, steps_per_call: int):
    model = MLP()
    optimizer = optax.sgd(learning_rate, momentum=0.9)

    def loss_fn(params, x, y):
        logits = model.apply(params, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def step(carry, batch):
        params, state = carry
        x, y = batch
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, state = optimizer.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), loss

    @jax.jit
    def train(params, state, xs, ys):
        return jax.lax.scan(step, (params, state), (xs, ys))

    params = model.init(jax.random.key(0), jnp.zeros((1, 40)))
    return train, params, optimizer.init(params)


def four_stage(total: int):
    warm, flat, decay = total // 10, total // 2, total // 3
    return osd.join(
        [
            osd.linear(0.0, 0.1, warm),
            osd.constant(0.1),
            osd.cosine(0.1, decay, end_value=0.001),
            osd.constant(0.001),
        ],
        boundaries=[warm, warm + flat, warm + flat + decay],
    )


def timed(fn, *args) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - start


def bench_training_step(repeats: int, steps_per_call: int = 100) -> dict:
    key = jax.random.key(1)
    xs = jax.random.normal(key, (steps_per_call, 128, 40))
    ys = jax.random.randint(key, (steps_per_call, 128), 0, 10)
    runs = {
        "constant": make_train(0.1, steps_per_call),
        "composite_4_stage": make_train(four_stage(10 * steps_per_call), steps_per_call),
    }
    for train, params, state in runs.values():  # compile and warm up
        timed(train, params, state, xs, ys)
    times = {name: [] for name in runs}
    for _ in range(repeats):  # interleaved, so drift affects both alike
        for name, (train, params, state) in runs.items():
            times[name].append(timed(train, params, state, xs, ys))
    medians = {name: float(np.median(t)) for name, t in times.items()}
    return {
        "median_seconds_per_100_steps": medians,
        "ratio_composite_over_constant": medians["composite_4_stage"] / medians["constant"],
    }


def bench_evaluation(repeats: int, num_steps: int = 10**6) -> dict:
    peak, warmup_steps, decay_steps, end = 0.1, 10_000, 990_000, 1e-4
    ours = osd.warmup(osd.cosine(peak, decay_steps - warmup_steps, end_value=end), warmup_steps)
    theirs = optax.warmup_cosine_decay_schedule(0.0, peak, warmup_steps, decay_steps, end)

    def by_hand(t):
        tf = t.astype(jnp.float32)
        rising = peak * tf / warmup_steps
        frac = jnp.clip((tf - warmup_steps) / (decay_steps - warmup_steps), 0.0, 1.0)
        falling = end + (peak - end) * 0.5 * (1 + jnp.cos(jnp.pi * frac))
        return jnp.where(t < warmup_steps, rising, falling)

    steps = jnp.arange(num_steps, dtype=jnp.int32)
    functions = {
        "optasched": jax.jit(lambda s, t: s(t)),
        "jnp_by_hand": jax.jit(by_hand),
        "optax": jax.jit(theirs),
    }
    arguments = {"optasched": (ours, steps), "jnp_by_hand": (steps,), "optax": (steps,)}
    reference = np.asarray(functions["jnp_by_hand"](steps))
    for name, fn in functions.items():
        np.testing.assert_allclose(np.asarray(fn(*arguments[name])), reference, rtol=1e-4, atol=1e-7)
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            times[name].append(timed(fn, *arguments[name]))
    medians = {name: float(np.median(t)) for name, t in times.items()}
    return {
        "median_seconds_per_1e6_steps": medians,
        "ratio_over_jnp_by_hand": medians["optasched"] / medians["jnp_by_hand"],
        "ratio_over_optax": medians["optasched"] / medians["optax"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=51)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = {
        "device": str(jax.devices()[0]),
        "training_step": bench_training_step(args.repeats),
        "evaluation": bench_evaluation(args.repeats),
    }
    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
