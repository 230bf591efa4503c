"""Training definitions shared by test_checkpoint.py and the fresh process it
starts: a tiny Flax NNX classifier and a linen TrainState, each with an
optimizer whose state holds schedules, coupled schedules and plateau counters.

Run as ``python checkpoint_run.py DIRECTORY STEPS``: restores both
checkpoints from DIRECTORY, trains STEPS more steps and writes the final
states' leaves to DIRECTORY/resumed.npz.
"""

import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
from flax import linen as nn
from flax import nnx
from flax.training import train_state

import optasched as osd

TOTAL_STEPS = 16
FEATURES, CLASSES = 8, 3


def batches():
    """Procedural, deterministic data: one batch per step."""
    key = jax.random.key(0)
    inputs = jax.random.normal(key, (TOTAL_STEPS, 32, FEATURES))
    labels = jnp.argmax(inputs[..., :CLASSES], axis=-1)
    return inputs, labels


def transformation():
    """warmup + cosine LR reduced on plateau, momentum cycled inversely, weight decay coupled."""
    lr = osd.warmup(osd.cosine(0.05, TOTAL_STEPS), warmup_steps=3)
    return osd.inject(optax.adamw)(
        learning_rate=osd.plateau(lr, factor=0.5, patience=1, threshold=0.05, begin_step=3),
        b1=osd.cycled_momentum(lr),
        weight_decay=osd.coupled_weight_decay(lr, 1e-2),
    )


# -- Flax NNX ------------------------------------------------------------------------------------


class Classifier(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(FEATURES, 16, rngs=rngs)
        self.out = nnx.Linear(16, CLASSES, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.relu(self.hidden(x)))


def build_nnx():
    model = Classifier(nnx.Rngs(0))
    return model, nnx.Optimizer(model, transformation(), wrt=nnx.Param)


@nnx.jit
def nnx_step(model, optimizer, inputs, labels):
    def loss_fn(model):
        return optax.softmax_cross_entropy_with_integer_labels(model(inputs), labels).mean()

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads, value=loss)
    return loss


def train_nnx(model, optimizer, start, steps):
    inputs, labels = batches()
    for t in range(start, start + steps):
        nnx_step(model, optimizer, inputs[t], labels[t])


# -- linen TrainState ----------------------------------------------------------------------------


class LinenClassifier(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(CLASSES)(nn.relu(nn.Dense(16)(x)))


def build_train_state():
    model = LinenClassifier()
    params = model.init(jax.random.key(1), jnp.ones((1, FEATURES)))["params"]
    return train_state.TrainState.create(apply_fn=model.apply, params=params, tx=transformation())


@jax.jit
def linen_step(state, inputs, labels):
    def loss_fn(params):
        logits = state.apply_fn({"params": params}, inputs)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    # TrainState.apply_gradients cannot pass value=loss to the optimizer; update by hand.
    updates, opt_state = state.tx.update(grads, state.opt_state, state.params, value=loss)
    return state.replace(
        step=state.step + 1, params=optax.apply_updates(state.params, updates), opt_state=opt_state
    )


def train_linen(state, start, steps):
    inputs, labels = batches()
    for t in range(start, start + steps):
        state = linen_step(state, inputs[t], labels[t])
    return state


# -- checkpoints ---------------------------------------------------------------------------------


def save(directory, model, optimizer, state):
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(
        os.path.join(directory, "nnx"), {"model": nnx.state(model), "optimizer": nnx.state(optimizer)}
    )
    checkpointer.save(os.path.join(directory, "train_state"), state)
    checkpointer.wait_until_finished()


def restore(directory):
    model, optimizer = build_nnx()
    state = build_train_state()
    checkpointer = ocp.StandardCheckpointer()
    target = {"model": nnx.state(model), "optimizer": nnx.state(optimizer)}
    restored = checkpointer.restore(os.path.join(directory, "nnx"), target)
    nnx.update(model, restored["model"])
    nnx.update(optimizer, restored["optimizer"])
    state = checkpointer.restore(os.path.join(directory, "train_state"), state)
    return model, optimizer, state


def leaves(model, optimizer, state):
    """Every array of both runs: parameters, optimizer states (schedules, plateau counters)."""
    arrays = jax.tree.leaves(
        (nnx.state(model), nnx.state(optimizer), state.params, state.opt_state, state.step)
    )
    return [np.asarray(x) for x in arrays]


def main(directory, steps):
    model, optimizer, state = restore(directory)
    train_nnx(model, optimizer, steps, steps)
    state = train_linen(state, steps, steps)
    np.savez(os.path.join(directory, "resumed.npz"), *leaves(model, optimizer, state))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
