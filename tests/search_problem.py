"""A tiny member for the search tests (successive halving, PBT): linear
regression trained with SGD with momentum under a learning-rate schedule from
its config, following the step-level protocol ``init(config, key) -> state``
and ``advance(config, state, num_steps) -> (state, metrics)``.

Every call of ``advance`` reports ``(member id, num_steps)`` to ``CALLS`` from
inside the compiled program, so a test counts the member-steps really run.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optasched as osd

FEATURES = 4
CALLS: list[tuple[int, int]] = []


def _data(seed: int, rows: int):
    key_x, key_noise = jax.random.split(jax.random.key(seed))
    x = jax.random.normal(key_x, (rows, FEATURES))
    y = x @ jnp.arange(1.0, FEATURES + 1) + 0.1 * jax.random.normal(key_noise, (rows,))
    return x, y


X_TRAIN, Y_TRAIN = _data(1, 64)
X_VAL, Y_VAL = _data(2, 32)


def loss(params, x, y):
    return jnp.mean((x @ params["w"] + params["b"] - y) ** 2)


def configs(learning_rates) -> osd.Batch:
    """One member per learning rate (an ``osd.constant``), with its id."""
    batch = osd.grid(lambda lr: {"lr": osd.constant(lr)}, lr=list(learning_rates))
    config = dict(batch.config, id=np.arange(len(batch), dtype=np.int32))
    return osd.Batch(config, batch.labels, batch.values)


def optimizer(config):
    # the learning rate is read from the config on every call: PBT's explored value is the one trained with
    return optax.sgd(config["lr"], momentum=0.9)


def init(config, key):
    params = {"w": 0.1 * jax.random.normal(key, (FEATURES,)), "b": jnp.float32(0.0)}
    return {"params": params, "opt_state": optimizer(config).init(params), "step": jnp.int32(0)}


def advance(config, state, num_steps):
    jax.debug.callback(lambda member: CALLS.append((int(member), num_steps)), config["id"])
    opt = optimizer(config)

    def step(state, _):
        grads = jax.grad(loss)(state["params"], X_TRAIN, Y_TRAIN)
        updates, opt_state = opt.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        return {"params": params, "opt_state": opt_state, "step": state["step"] + 1}, None

    state, _ = jax.lax.scan(step, state, None, length=num_steps)
    return state, {"val_loss": loss(state["params"], X_VAL, Y_VAL), "step": state["step"]}


def steps_run() -> dict[int, int]:
    """Member id -> steps ``advance`` ran for it since ``CALLS`` was cleared."""
    jax.effects_barrier()
    totals: dict[int, int] = {}
    for member, num_steps in CALLS:
        totals[member] = totals.get(member, 0) + num_steps
    return totals


def leaves_equal(a, b) -> bool:
    """Bit-identical pytrees (same structure, every leaf's bytes equal)."""
    if jax.tree.structure(a) != jax.tree.structure(b):
        return False
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b))
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in pairs)
