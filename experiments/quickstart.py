"""Quickstart: a composite schedule, a vmapped sweep over warmup length and peak value, and use inside optax.adamw.

Run: python experiments/quickstart.py
"""

import jax, jax.numpy as jnp, optax
import optasched as osd

# A composite schedule: linear warmup, then cosine decay to a floor, clipped.
schedule = osd.warmup(osd.cosine(0.1, decay_steps=900, end_value=1e-3), warmup_steps=100)
print(schedule(jnp.array([0, 50, 100, 550, 1000])))

# A sweep over warmup length AND peak value: one batched schedule, one program.
sweep = osd.grid(
    lambda peak_value, warmup_steps: osd.warmup(osd.cosine(peak_value, 900), warmup_steps),
    peak_value=[0.03, 0.1, 0.3], warmup_steps=[0, 100, 300],
)
values = jax.jit(jax.vmap(lambda s: s(jnp.arange(1000))))(sweep.config)
print(len(sweep), values.shape, sweep.labels[4])

# Inside optax, vmapped over the whole sweep.
def final_loss(schedule):
    optimizer = optax.adamw(learning_rate=schedule, weight_decay=1e-4)
    params = jnp.ones(3)
    def step(carry, _):
        params, state = carry
        grads = jax.grad(lambda p: jnp.sum(p**2))(params)
        updates, state = optimizer.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), None
    (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), length=1000)
    return jnp.sum(params**2)

losses = jax.jit(jax.vmap(final_loss))(sweep.config)
best = int(jnp.argmin(losses))
print("best:", sweep.labels[best], float(losses[best]))
