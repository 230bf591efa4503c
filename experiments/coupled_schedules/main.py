"""Coupled schedules on a small Flax NNX classifier (sklearn digits, offline).

One optimizer, every hyperparameter scheduled and logged each step:
  learning rate   warmup + cosine, reduced on plateau of the per-epoch training loss
  Adam b1         cycled inversely to the learning rate (0.95 -> 0.85 -> 0.95)
  weight decay    coupled to the learning rate so lr x wd stays constant
Then the same training for a sweep of peak learning rates, vmapped: one stacked
optimizer state, one compiled update.

Run: python experiments/coupled_schedules/main.py [--epochs 30] [--workdir /tmp/coupled_schedules]
"""

import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from sklearn.datasets import load_digits

import optasched as osd


def load_data(seed=0):
    """sklearn's bundled 8x8 digits (no download): standardised, 80/20 split."""
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    x = (x - x.mean(0)) / (x.std(0) + 1e-3)
    order = np.random.default_rng(seed).permutation(len(x))
    split = int(0.8 * len(x))
    train, test = order[:split], order[split:]
    return (x[train], digits.target[train]), (x[test], digits.target[test])


class MLP(nnx.Module):
    def __init__(self, rngs, hidden=128):
        self.hidden = nnx.Linear(64, hidden, rngs=rngs)
        self.out = nnx.Linear(hidden, 10, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.relu(self.hidden(x)))


def schedules(peak_lr, total_steps, warmup_steps, steps_per_epoch):
    """The coupled schedules: lr (with plateau), b1 and weight decay all follow one base schedule."""
    lr = osd.warmup(osd.cosine(peak_lr, total_steps - warmup_steps, end_value=peak_lr / 50), warmup_steps)
    return {
        "learning_rate": osd.plateau(
            lr, factor=0.5, patience=2, threshold=0.02,
            accumulation_size=steps_per_epoch, begin_step=warmup_steps,  # one plateau step per epoch
        ),
        "b1": osd.cycled_momentum(lr, base_momentum=0.85, max_momentum=0.95),
        "weight_decay": osd.coupled_weight_decay(lr, 5e-3),  # lr x wd = 5e-3 x peak_lr
    }  # fmt: skip


def batches(x, y, batch_size, epochs, seed):
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for i in range(len(x) // batch_size):
            index = order[i * batch_size : (i + 1) * batch_size]
            yield x[index], y[index]


def loss_fn(model, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()


@nnx.jit
def train_step(model, optimizer, x, y):
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads, value=loss)  # value feeds the plateau
    return loss


@nnx.jit
def accuracy(model, x, y):
    return jnp.mean(jnp.argmax(model(x), -1) == y)


def single_run(args, train, test, steps_per_epoch, total_steps):
    model = MLP(nnx.Rngs(args.seed))
    tx = osd.inject(optax.adamw)(**schedules(args.peak_lr, total_steps, args.warmup_steps, steps_per_epoch))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    os.makedirs(args.workdir, exist_ok=True)
    log_path = os.path.join(args.workdir, "metrics.jsonl")
    start = time.perf_counter()
    previous_scale = 1.0
    with open(log_path, "w") as log:
        for step, (x, y) in enumerate(batches(*train, args.batch_size, args.epochs, args.seed)):
            loss = train_step(model, optimizer, x, y)
            values = {
                k: float(v) for k, v in osd.hyperparams(optimizer.opt_state).items()
            }  # every scheduled value
            scale = float(optimizer.opt_state.schedule_states["learning_rate"].scale[...])
            if scale != previous_scale:
                print(
                    f"  step {step}: plateau of the epoch loss, learning rate scale {previous_scale:.3g} -> {scale:.3g}"
                )
                previous_scale = scale
            log.write(
                json.dumps({"step": step, "loss": float(loss), **values, "plateau_scale": scale}) + "\n"
            )
            if (step + 1) % steps_per_epoch == 0:
                epoch = (step + 1) // steps_per_epoch
                if epoch % args.print_every == 0 or epoch == args.epochs:
                    print(
                        f"epoch {epoch:3d}  loss {float(loss):.4f}  lr {values['learning_rate']:.2e}  "
                        f"b1 {values['b1']:.3f}  wd {values['weight_decay']:.2e}  "
                        f"lr*wd {values['learning_rate'] * values['weight_decay']:.2e}  "
                        f"test acc {float(accuracy(model, *test)):.4f}"
                    )
    print(
        f"single run: {total_steps} steps in {time.perf_counter() - start:.1f}s, "
        f"test accuracy {float(accuracy(model, *test)):.4f}; every step's values in {log_path}"
    )


def sweep(args, train, test, steps_per_epoch, total_steps):
    """The same training for several peak learning rates: one stacked state, one compiled program."""
    peaks = [float(p) for p in args.sweep.split(",")]
    model = MLP(nnx.Rngs(args.seed))
    graphdef, params = nnx.split(model, nnx.Param)
    # Stacked schedules: init gives one optimizer state per member, from the same params.
    members = [schedules(p, total_steps, args.warmup_steps, steps_per_epoch) for p in peaks]
    tx = osd.inject(optax.adamw)(**osd.stack(members))
    states = tx.init(params)
    all_params = jax.tree.map(lambda p: jnp.broadcast_to(p, (len(peaks),) + p.shape), params)

    def member_step(params, state, x, y):
        def loss(params):
            return loss_fn(nnx.merge(graphdef, params), x, y)

        value, grads = jax.value_and_grad(loss)(params)
        updates, state = tx.update(grads, state, params, value=value)
        return optax.apply_updates(params, updates), state, value

    step = jax.jit(jax.vmap(member_step, in_axes=(0, 0, None, None)))
    start = time.perf_counter()
    for x, y in batches(*train, args.batch_size, args.epochs, args.seed):
        all_params, states, losses = step(all_params, states, x, y)
    logged = osd.hyperparams(states)
    evaluate = jax.vmap(lambda p: jnp.mean(jnp.argmax(nnx.merge(graphdef, p)(test[0]), -1) == test[1]))
    accuracies = evaluate(all_params)
    print(f"sweep of {len(peaks)} peak learning rates, vmapped: {time.perf_counter() - start:.1f}s")
    scales = states.schedule_states["learning_rate"].scale
    for i, peak in enumerate(peaks):
        print(
            f"  peak lr {peak:.0e}: final loss {float(losses[i]):.4f}  final lr {float(logged['learning_rate'][i]):.2e}"
            f"  plateau scale {float(scales[i]):.3g}  test accuracy {float(accuracies[i]):.4f}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--peak-lr", type=float, default=3e-3)
    parser.add_argument("--warmup-steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sweep", default="1e-3,3e-3,1e-2,3e-2", help="peak learning rates; empty to skip")
    parser.add_argument(
        "--print-every", type=int, default=5, help="print every N epochs (the log has every step)"
    )
    parser.add_argument("--workdir", default="/tmp/coupled_schedules")
    args = parser.parse_args()
    train, test = load_data(args.seed)
    steps_per_epoch = len(train[0]) // args.batch_size
    total_steps = steps_per_epoch * args.epochs
    single_run(args, train, test, steps_per_epoch, total_steps)
    if args.sweep:
        sweep(args, train, test, steps_per_epoch, total_steps)


if __name__ == "__main__":
    main()
