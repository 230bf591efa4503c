"""Wu et al. (2018)'s noisy quadratic model and the learning rates that truncated meta-gradients choose.

The model: loss ``0.5 * sum_i h_i theta_i^2`` with curvatures ``h_i = 1 / i`` and
stochastic gradients ``h_i theta_i + noise`` of variance ``noise * h_i``. SGD's
expected loss follows exactly from the mean ``m_i`` and variance ``v_i`` of each
coordinate, ``m <- (1 - a h) m``, ``v <- (1 - a h)^2 v + a^2 noise h``, so the
meta-objective "expected loss after H more steps" is a deterministic function
of the LR ``a`` that ``jax.grad`` differentiates through a ``lax.scan`` unroll.

Online meta-optimisation with horizon H: every H steps, Adam on ``log a`` for
``meta_steps`` steps minimises the expected loss H steps ahead from the current
state (warm-started from the previous window's LR); that LR then runs for the
H steps. No jax import is needed by the report; this module is the compute.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = ["curvatures", "initial_state", "expected_loss", "constant_run", "best_constant", "online"]


def curvatures(dim: int) -> jax.Array:
    """``h_i = 1 / i`` for i = 1 .. dim (Wu et al.'s spectrum)."""
    return 1.0 / jnp.arange(1, dim + 1, dtype=jnp.float32)


def initial_state(dim: int, key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """A random initial point: mean ``theta_0 ~ N(0, 1)`` per coordinate, variance 0."""
    return jax.random.normal(key, (dim,), jnp.float32), jnp.zeros((dim,), jnp.float32)


def expected_loss(state, h) -> jax.Array:
    m, v = state
    return 0.5 * jnp.sum(h * (m * m + v))


def _steps(state, lr, h, noise: float, num_steps: int):
    """``num_steps`` SGD steps at the constant ``lr``, on the mean and variance."""
    decay = 1.0 - lr * h

    def step(carry, _):
        m, v = carry
        return (decay * m, decay * decay * v + lr * lr * noise * h), None

    state, _ = jax.lax.scan(step, state, None, length=num_steps)
    return state


def constant_run(state, lr, h, noise: float, num_steps: int) -> jax.Array:
    """Expected loss after ``num_steps`` steps at a constant ``lr``."""
    return expected_loss(_steps(state, lr, h, noise, num_steps), h)


def best_constant(state, h, noise: float, num_steps: int, lrs) -> tuple[float, float, np.ndarray]:
    """The constant LR of ``lrs`` with the lowest expected loss after ``num_steps`` steps.

    Returns:
      ``(best lr, its final loss, every lr's final loss)``.
    """
    losses = jax.jit(jax.vmap(lambda lr: constant_run(state, lr, h, noise, num_steps)))(jnp.asarray(lrs))
    losses = np.asarray(losses, dtype=np.float64)
    losses = np.where(np.isfinite(losses), losses, np.inf)  # an unstable LR (a h > 2) diverges
    index = int(np.argmin(losses))
    return float(lrs[index]), float(losses[index]), losses


def online(state, h, noise: float, num_steps: int, horizon: int, meta_steps: int, meta_lr: float,
           initial_lr: float) -> dict[str, np.ndarray]:
    """Train ``num_steps`` steps, choosing the LR every ``horizon`` steps by meta-gradients of the loss
    ``horizon`` steps ahead.

    Args:
      state: the initial (mean, variance).
      h: curvatures.
      noise: gradient-noise scale.
      num_steps: the full run (a multiple of ``horizon``).
      horizon: H, the unroll length of the meta-objective.
      meta_steps: Adam steps on log LR per window.
      meta_lr: Adam's step size on log LR.
      initial_lr: the first window's starting LR.

    Returns:
      ``{"lrs": the LR of each window, "losses": the expected loss at each window's end}``.
    """
    if num_steps % horizon:
        raise ValueError(f"nqm.online: num_steps={num_steps} must be a multiple of horizon={horizon}")
    meta = optax.adam(meta_lr)

    def objective(log_lr, state):
        return jnp.log(constant_run(state, jnp.exp(log_lr), h, noise, horizon))

    def window(carry, _):
        state, log_lr = carry
        opt_state = meta.init(log_lr)

        def meta_step(_, inner):
            log_lr, opt_state = inner
            grad = jax.grad(objective)(log_lr, state)
            grad = jnp.where(jnp.isfinite(grad), grad, 1.0)  # an unstable LR: step towards smaller ones
            updates, opt_state = meta.update(grad, opt_state)
            return optax.apply_updates(log_lr, updates), opt_state

        log_lr, _ = jax.lax.fori_loop(0, meta_steps, meta_step, (log_lr, opt_state))
        state = _steps(state, jnp.exp(log_lr), h, noise, horizon)
        return (state, log_lr), (jnp.exp(log_lr), expected_loss(state, h))

    run = jax.jit(lambda state, log_lr: jax.lax.scan(window, (state, log_lr), None,
                                                     length=num_steps // horizon)[1])  # fmt: skip
    lrs, losses = run(state, jnp.log(jnp.float32(initial_lr)))
    return {"lrs": np.asarray(lrs, dtype=np.float64), "losses": np.asarray(losses, dtype=np.float64)}
