"""Search benchmark (issue 21): successive halving and PBT against grids, on the zoo's MLP.

Workload: MNIST-1D (procedural, the zoo's data and validation split), the zoo's
MLP 40-100-100-10, Adam, batch 100, ``--steps`` steps; the learning-rate
schedule of each configuration is one of the zoo's families (its
``family_schedule``, 5% linear warmup) at one peak LR. Members follow the
step-level protocol (``init`` / ``advance``); a member's minibatch at step t
is drawn from ``fold_in(data key, t)``, so a member trained to a rung has
exactly the trajectory of the same member in the full grid.

  (1) K = 64 configurations (8 families x 8 peak LRs): successive halving
      (eta 4; first rung at steps / 64: 64, 16, 4, 1 members, and at
      steps / 16: 64, 16, 4) against the full grid (``osd.sweep``, every
      member to ``--steps``): member-steps and wall time (compilation
      included; the first seed compiles every program, later seeds reuse
      them), and, for each of ``--seeds`` seeds, whether the grid's best
      configuration by validation accuracy survives to the last rung (and
      which one halving picks, with its test accuracy).
  (2) PBT: a population of ``--population`` (constant learning rates drawn
      log-uniformly, explored x0.8 / x1.25 within [1e-4, 0.1], every
      ``--ready`` steps) against a grid of the same member-steps
      (``osd.sweep`` over the same ``--population`` initial learning rates):
      wall time and the best validation / test accuracy.

Run (from the repository root; about 8 minutes on 2 shared CPU cores):
      python -m experiments.benchmarks.bench_search --steps 2048 \
          --json experiments/benchmarks/results/bench_search.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if not __package__:  # run as a script: find `experiments`
    sys.path.insert(0, REPO)

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optasched as osd
from experiments.common.data import load_mnist1d, split_validation
from experiments.common.models import MNIST1D_MODELS
from experiments.common.runner import json_safe, machine, provenance
from experiments.zoo.train import family_schedule

FAMILIES = ("constant", "step", "exponential", "linear", "cosine", "one_cycle", "wsd", "rex")
PEAKS = tuple(float(p) for p in np.geomspace(3e-4, 0.1, 8))
BATCH = 100


class Problem:
    """One of the zoo's models on MNIST-1D as ``init`` / ``advance`` (and ``train`` for ``osd.sweep``).

    Args:
      steps: training steps of a full member.
      model: a key of ``MNIST1D_MODELS`` (the zoo's ``"mlp"`` or ``"cnn"``).
    """

    def __init__(self, steps: int, model: str = "mlp"):
        if model not in MNIST1D_MODELS:
            raise ValueError(f"Problem: model must be one of {sorted(MNIST1D_MODELS)}, got {model!r}")
        data = split_validation(load_mnist1d(42), 500)
        self.steps = steps
        self.model = MNIST1D_MODELS[model]()
        self.x_train, self.y_train = jnp.asarray(data["x_train"]), jnp.asarray(data["y_train"])
        self.x_val, self.y_val = jnp.asarray(data["x_val"]), jnp.asarray(data["y_val"])
        self.x_test, self.y_test = jnp.asarray(data["x_test"]), jnp.asarray(data["y_test"])
        # one function object each: the compiled programs are cached by function
        self.init, self.advance, self.train = self._init, self._advance, self._train

    def loss(self, params, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(self.model.apply(params, x), y).mean()

    def accuracy(self, params, x, y):
        return jnp.mean(jnp.argmax(self.model.apply(params, x), -1) == y)

    def optimizer(self, config):
        """Adam on the config's schedule; AdamW when the config has a ``weight_decay`` (PBT can explore it).

        Args:
          config: one member's configuration (``schedule``, ``seed``, optionally ``weight_decay``).
        """
        if "weight_decay" in config:
            return optax.adamw(config["schedule"], weight_decay=config["weight_decay"])
        return optax.adam(config["schedule"])

    def _init(self, config, key):
        init_key, data_key = jax.random.split(jax.random.fold_in(key, config["seed"]))
        params = self.model.init(init_key, self.x_train[:1])
        return {
            "params": params,
            "opt_state": self.optimizer(config).init(params),
            "data_key": data_key,
            "step": jnp.int32(0),
        }

    def _advance(self, config, state, num_steps):
        opt = self.optimizer(config)  # the hyperparameters are read from the config: PBT explores them

        def step(state, _):
            batch = jax.random.randint(
                jax.random.fold_in(state["data_key"], state["step"]), (BATCH,), 0, self.x_train.shape[0]
            )
            grads = jax.grad(self.loss)(state["params"], self.x_train[batch], self.y_train[batch])
            updates, opt_state = opt.update(grads, state["opt_state"], state["params"])
            params = optax.apply_updates(state["params"], updates)
            return dict(state, params=params, opt_state=opt_state, step=state["step"] + 1), None

        state, _ = jax.lax.scan(step, state, None, length=num_steps)
        params = state["params"]
        return state, {
            "val_accuracy": self.accuracy(params, self.x_val, self.y_val),
            "test_accuracy": self.accuracy(params, self.x_test, self.y_test),
        }

    def _train(self, config, key):
        return self._advance(config, self._init(config, key), self.steps)[1]


def grid_configs(steps: int, seed: int) -> osd.Batch:
    def build(family, peak):
        schedule = family_schedule(family, peak, steps, 100, int(0.05 * steps))  # the zoo's 5% warmup
        return {"schedule": schedule, "seed": np.int32(seed)}

    return osd.grid(build, family=list(FAMILIES), peak=list(PEAKS))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def halving_run(
    problem: Problem, batch: osd.Batch, grid: osd.SweepResult, grid_seconds: float, min_steps: int, eta: int
) -> dict:
    """One successive halving over ``batch`` against the grid already run on it."""
    halving, halving_seconds = timed(
        lambda: osd.successive_halving(
            problem.init, problem.advance, batch, jax.random.key(0), metric="val_accuracy", mode="max",
            min_steps=min_steps, max_steps=problem.steps, eta=eta,
        )  # fmt: skip
    )
    grid_val = grid.metrics["val_accuracy"]
    grid_order = np.argsort(-grid_val, kind="stable")  # ties: the first, as halving breaks them
    grid_best = int(grid_order[0])
    best = halving.best().index
    position = halving.survivors.tolist().index(best)  # the survivors' metrics are in this order
    return {
        "min_steps": min_steps,
        "rungs": halving.rungs,
        "sizes": halving.sizes,
        "halving_seconds": halving_seconds,
        "wall_time_ratio": halving_seconds / grid_seconds,
        "member_steps": halving.member_steps,
        "grid_member_steps": halving.grid_member_steps,
        "member_steps_ratio": halving.member_steps / halving.grid_member_steps,
        "grid_best_rung_reached": int(halving.rung_reached[grid_best]),
        "grid_best_survives": bool(grid_best in halving.survivors.tolist()),
        "halving_best": batch.labels[best],
        "halving_best_val_accuracy": float(halving.scores[-1, best]),
        "halving_best_test_accuracy": float(np.asarray(halving.metrics["test_accuracy"])[position]),
        "halving_best_grid_rank": int(np.flatnonzero(grid_order == best)[0]),
    }


def halving_vs_grid(problem: Problem, seeds: int, eta: int, first_rungs: list[int]) -> dict:
    """Per seed: the full grid (osd.sweep), then successive halving from each first rung."""
    runs = []
    for seed in range(seeds):
        batch = grid_configs(problem.steps, seed)
        grid, grid_seconds = timed(lambda: osd.sweep(problem.train, batch, jax.random.key(0)))
        grid_val = grid.metrics["val_accuracy"]
        grid_best = int(np.argmax(grid_val))
        runs.append({
            "seed": seed,
            "grid_seconds": grid_seconds,
            "grid_best": batch.labels[grid_best],
            "grid_best_val_accuracy": float(grid_val[grid_best]),
            "grid_best_test_accuracy": float(grid.metrics["test_accuracy"][grid_best]),
            "grid_top4": [batch.labels[i] for i in np.argsort(-grid_val, kind="stable")[:4]],
            "halving": [halving_run(problem, batch, grid, grid_seconds, m, eta) for m in first_rungs],
        })  # fmt: skip
        print(json.dumps(runs[-1]), flush=True)
    return {
        "eta": eta,
        "first_rungs": first_rungs,
        "seeds": seeds,
        "runs": runs,
        "grid_best_survived": {
            str(first): sum(run["halving"][i]["grid_best_survives"] for run in runs)
            for i, first in enumerate(first_rungs)
        },
    }


def pbt_vs_grid(problem: Problem, population: int, ready: int) -> dict:
    steps = problem.steps
    batch = osd.sample(
        lambda lr: {"schedule": osd.constant(lr), "seed": np.int32(0)}, jax.random.key(7), population,
        lr=osd.log_uniform(1e-4, 0.1),
    )  # fmt: skip
    key = jax.random.key(0)
    grid, grid_seconds = timed(lambda: osd.sweep(problem.train, batch, key))
    pbt, pbt_seconds = timed(
        lambda: osd.pbt(
            problem.init, problem.advance, batch, key, hyperparams={"schedule.value": osd.explore(1e-4, 0.1)},
            steps=steps, ready=ready, metric="val_accuracy", mode="max", fraction=0.25,
        )  # fmt: skip
    )
    winner = pbt.best().index
    trajectory = pbt.trajectory(winner)
    grid_best = int(np.argmax(grid.metrics["val_accuracy"]))
    return {
        "population": population,
        "ready": ready,
        "member_steps": pbt.member_steps,
        "grid_member_steps": population * steps,
        "pbt_seconds": pbt_seconds,
        "grid_seconds": grid_seconds,
        "wall_time_ratio": pbt_seconds / grid_seconds,
        "pbt_best_val_accuracy": float(pbt.scores[-1, winner]),
        "pbt_best_test_accuracy": float(np.asarray(pbt.metrics["test_accuracy"])[winner]),
        "pbt_winner_lr_first_last": [float(trajectory[0]), float(trajectory[-1])],
        "grid_best": batch.labels[grid_best],
        "grid_best_val_accuracy": float(grid.metrics["val_accuracy"][grid_best]),
        "grid_best_test_accuracy": float(grid.metrics["test_accuracy"][grid_best]),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--steps", type=int, default=2048, help="training steps of a full member")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the halving-vs-grid comparison")
    parser.add_argument("--eta", type=int, default=4, help="successive halving's reduction factor")
    parser.add_argument("--first-rungs", default="", help="steps of the first rung, comma-separated "
                        "(default: steps/64 and steps/16)")
    parser.add_argument("--population", type=int, default=16, help="PBT's population")
    parser.add_argument("--ready", type=int, default=256, help="PBT's steps between exploits")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    problem = Problem(args.steps)
    first_rungs = [int(m) for m in args.first_rungs.split(",") if m] or [args.steps // 64, args.steps // 16]
    start = time.perf_counter()
    results = {
        "benchmark": "bench_search",
        "settings": vars(args),
        "families": FAMILIES,
        "peaks": PEAKS,
        "halving": halving_vs_grid(problem, args.seeds, args.eta, first_rungs),
        "pbt": pbt_vs_grid(problem, args.population, args.ready),
    }
    results["seconds"] = time.perf_counter() - start
    results["machine"] = machine()
    results["provenance"] = provenance()
    print(json.dumps(json_safe(results["pbt"])))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(json_safe(results), f, indent=1)
    return results


if __name__ == "__main__":
    main()
