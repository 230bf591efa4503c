"""One training run of the zoo: an MNIST-1D reference model trained with Adam (or
schedule-free AdamW) under one learning-rate schedule, for ONE configuration.

``make_train(model, config, data)`` returns ``train(member, key)``, a pure
function of one member ``{"schedule", "schedule_free", "seed"}``. The study runs
it over every family x peak LR x seed through ``osd.sweep``, so the whole grid
of a model is one compiled program:

- the schedule is a leaf of the member (a stacked sweep holds every member's
  hyperparameters); ``osd.inject(optax.adam)`` reads it from the optimizer
  state, and every update gets ``value=loss`` so a reduce-on-plateau schedule
  runs through the same code as the others;
- schedule-free AdamW (Defazio et al. 2024) is another optimizer, not a
  schedule: both optimizers' updates are computed from the same gradients and
  the same scheduled rate, and a traced per-member flag selects one
  (``jnp.where``); the schedule-free state of an Adam member stays at its init.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optasched as osd
from experiments.common.models import MNIST1D_MODELS

FAMILIES = (
    "constant", "step", "multistep", "exponential", "inverse_time", "linear", "cosine", "sgdr",
    "cyclic", "one_cycle", "wsd", "rex", "plateau", "schedule_free",
)  # fmt: skip


def family_schedule(family: str, peak: float, steps: int, eval_every: int, warmup_steps: int = 0):
    """The learning-rate schedule of one zoo family at peak ``peak`` over ``steps`` steps.

    Every family gets the same linear warmup of ``warmup_steps`` from 0 to the
    peak, then its own shape over the remaining ``steps - warmup_steps`` steps, so
    comparisons between families are not confounded with warmup (WSD and
    schedule-free used to get a 5% warmup and cosine, linear and constant none).
    The shapes follow each family's usual recipe at this budget: step decay by
    10x every third of the run, multistep at 1/2 and 3/4, exponential to 1% of
    the peak, three SGDR cycles (T_mult = 2), triangular cycles of 1/4 of the
    run, one-cycle with PyTorch's defaults, WSD with a 20% (1 - sqrt) cooldown
    (Hägele et al. 2024), reduce-on-plateau of the training loss averaged over
    ``eval_every`` steps (it scales the warmed-up constant), and schedule-free
    AdamW at the constant peak (the rest of its schedule is the averaging).
    """
    if not 0 <= warmup_steps < steps:
        raise ValueError(f"zoo: warmup_steps must be in [0, steps={steps}), got {warmup_steps}")
    n = steps - warmup_steps  # what each family's own shape spans
    builders = {
        "constant": lambda: osd.constant(peak),
        "step": lambda: osd.step_decay(peak, step_size=n // 3, gamma=0.1),
        "multistep": lambda: osd.multistep(peak, milestones=[n // 2, 3 * n // 4], gamma=0.1),
        "exponential": lambda: osd.exponential(peak, transition_steps=n, decay_rate=0.01),
        "inverse_time": lambda: osd.inverse_time(peak, decay_steps=n // 20, decay_rate=1.0),
        "linear": lambda: osd.linear(peak, 0.0, n),
        "cosine": lambda: osd.cosine(peak, n),
        "sgdr": lambda: osd.cosine_restarts(peak, first_period=-(-n // 7), period_multiplier=2.0),
        "cyclic": lambda: osd.cyclic(peak / 10, peak, step_size_up=n // 8),
        "one_cycle": lambda: osd.one_cycle(peak, total_steps=n),
        "wsd": lambda: osd.wsd(peak, 0, n - n // 5, n // 5, decay_shape="1-sqrt"),
        "rex": lambda: osd.rex(peak, n),
        "plateau": lambda: osd.constant(peak),
        "schedule_free": lambda: osd.constant(peak),
    }
    if family not in builders:
        raise ValueError(f"zoo: unknown family {family!r}; known: {', '.join(FAMILIES)}")
    schedule = builders[family]()
    if warmup_steps:
        schedule = osd.warmup(schedule, warmup_steps)
    if family == "plateau":  # stateful: it scales the (warmed-up) constant, so it wraps the warmup
        schedule = osd.plateau(schedule, factor=0.5, patience=2, threshold=1e-3, accumulation_size=eval_every)
    return schedule


def warmup_steps(config) -> int:
    """The warmup every family shares: ``warmup_fraction`` of the run, rounded down."""
    return int(config.warmup_fraction * config.steps)


def member(family: str, peak: float, seed: int, config) -> dict:
    """One configuration of the sweep: the family's schedule, the optimizer flag, the seed."""
    return {
        "schedule": family_schedule(family, peak, config.steps, config.eval_every, warmup_steps(config)),
        "schedule_free": np.bool_(family == "schedule_free"),
        "seed": np.int32(seed),
    }


def make_train(model_name: str, config, data: dict[str, np.ndarray]):
    """``train(member, key) -> metrics`` for one model (its architecture is the program's structure).

    Metrics: final ``test_accuracy``, ``validation_accuracy`` and ``train_loss``
    (whole training split), ``diverged_at``, and every ``eval_every`` steps the
    test accuracy, the minibatch loss and the learning rate in use.
    """
    if model_name not in MNIST1D_MODELS:
        raise ValueError(f"zoo: unknown model {model_name!r}; known: {sorted(MNIST1D_MODELS)}")
    model = MNIST1D_MODELS[model_name]()
    x_train, y_train = jnp.asarray(data["x_train"]), jnp.asarray(data["y_train"])
    x_val, y_val = jnp.asarray(data["x_val"]), jnp.asarray(data["y_val"])
    x_test, y_test = jnp.asarray(data["x_test"]), jnp.asarray(data["y_test"])
    num_train = x_train.shape[0]

    def loss_fn(params, x, y):
        return optax.softmax_cross_entropy_with_integer_labels(model.apply(params, x), y).mean()

    def accuracy(params, x, y):
        return jnp.mean(jnp.argmax(model.apply(params, x), -1) == y)

    def train(member, key):
        # Common random numbers: the seed alone fixes init and data order, whatever the family or LR.
        init_key, data_key = jax.random.split(jax.random.fold_in(key, member["seed"]))
        params = model.init(init_key, x_train[:1])
        use_free = member["schedule_free"]
        # One inject evaluates the schedule (and advances a plateau's state) once a step for both optimizers.
        adam = osd.inject(optax.adam)(learning_rate=member["schedule"])

        def free_at(rate):  # schedule-free AdamW at this step's rate (its state does not depend on the rate)
            return optax.contrib.schedule_free_adamw(learning_rate=rate)

        def select(flag, a, b):
            return jax.tree.map(lambda x, y: jnp.where(flag, x, y), a, b)

        def evaluation_params(params, free_state):
            averaged = optax.contrib.schedule_free_eval_params(free_state, params)
            return select(use_free, averaged, params)

        def step(state, t):
            params, adam_state, free_state = state
            batch = jax.random.randint(jax.random.fold_in(data_key, t), (config.batch_size,), 0, num_train)
            loss, grads = jax.value_and_grad(loss_fn)(params, x_train[batch], y_train[batch])
            adam_updates, adam_state = adam.update(grads, adam_state, params, value=loss)
            rate = osd.hyperparams(adam_state)["learning_rate"]
            free_updates, new_free = free_at(rate).update(grads, free_state, params)
            updates = select(use_free, free_updates, adam_updates)
            free_state = select(
                use_free, new_free, free_state
            )  # unused, it stays at its init (always finite)
            return (optax.apply_updates(params, updates), adam_state, free_state), {
                "loss": loss,
                "learning_rate": rate,
            }

        def evaluate(state):
            params, _, free_state = state
            return {"test_accuracy": accuracy(evaluation_params(params, free_state), x_test, y_test)}

        state = (params, adam.init(params), free_at(0.0).init(params))
        result = osd.train_loop(step, state, config.steps, record_every=config.eval_every, evaluate=evaluate)
        params, _, free_state = result.state
        final = evaluation_params(params, free_state)
        return {
            "test_accuracy": accuracy(final, x_test, y_test),
            "validation_accuracy": accuracy(final, x_val, y_val),
            "train_loss": loss_fn(final, x_train, y_train),
            "diverged_at": result.diverged_at,
            "curves": {
                "test_accuracy": result.history["evaluation"]["test_accuracy"],
                "loss": result.history["train"]["loss"],
                "learning_rate": result.history["train"]["learning_rate"],
            },
        }

    return train
