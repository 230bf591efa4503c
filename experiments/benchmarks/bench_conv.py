"""Why the zoo's CNN writes its convolutions as windows x matrix: one Adam training step of the
MNIST-1D CNN (batch 100) with flax.linen.Conv against experiments.common.models.Conv1D, single and
vmapped over 15 members, measured in one run.

Run (from the repository root): python -m experiments.benchmarks.bench_conv
(``python experiments/benchmarks/bench_conv.py`` works too.)
"""

import os
import sys
import time

if not __package__:  # run as a script: find `experiments` in the repository root
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

from experiments.common.models import CNN as WindowCNN  # noqa: E402


class LaxCNN(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = x[..., None]
        x = nn.relu(nn.Conv(25, (5,), strides=2, padding=[(1, 1)])(x))
        x = nn.relu(nn.Conv(25, (3,), strides=2, padding=[(1, 1)])(x))
        x = nn.relu(nn.Conv(25, (3,), strides=2, padding=[(1, 1)])(x))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))


def milliseconds_per_step(model, members: int, steps: int = 300) -> float:
    x = jax.random.normal(jax.random.key(0), (100, 40))
    y = jax.random.randint(jax.random.key(1), (100,), 0, 10)
    params = model.init(jax.random.key(2), x)
    optimizer = optax.adam(1e-3)

    def run(params):
        def step(carry, _):
            params, state = carry
            grads = jax.grad(lambda p: optax.softmax_cross_entropy_with_integer_labels(model.apply(p, x), y).mean())(params)
            updates, state = optimizer.update(grads, state, params)
            return (optax.apply_updates(params, updates), state), None

        return jax.lax.scan(step, (params, optimizer.init(params)), None, length=steps)[0][0]

    if members > 1:
        params = jax.tree.map(lambda a: jnp.stack([a] * members), params)
        run = jax.vmap(run)
    compiled = jax.jit(run)
    jax.block_until_ready(compiled(params))
    start = time.perf_counter()
    jax.block_until_ready(compiled(params))
    return (time.perf_counter() - start) / steps / members * 1e3


if __name__ == "__main__":
    for members in (1, 15):
        lax_ms = milliseconds_per_step(LaxCNN(), members)
        window_ms = milliseconds_per_step(WindowCNN(), members)
        print(f"{members:2d} member(s): flax.linen.Conv {lax_ms:.3f} ms, Conv1D windows {window_ms:.3f} ms "
              f"per member-step ({lax_ms / window_ms:.1f}x) on {jax.devices()[0]}")
