"""Part C's training program: MNIST-1D's own augmentations (a circular shift and additive Gaussian
noise) at a strength scheduled against the LR, on the zoo MLP with Adam and a cosine LR to 0.

The strength is a traced value: :func:`augment` takes it as an array, so a new strength never
retraces, and every (arm, mean strength, seed) member of part C is one sweep. At strength ``s`` each
example is rolled by ``round((2u - 1) s max_shift)`` positions (``u`` uniform in [0, 1); mnist1d's
``transform.translate`` is the same circular roll) and gets iid noise of std ``s noise_std``
(mnist1d's ``iid_noise_like``), shift first as in mnist1d.

The strength is read at the optimizer's step (``osd.schedule_values``), like the LR of the same
update: ``s(t) = mean (a + b p(t))`` with ``p(t)`` the LR's position in its range
(``osd.coupled(lr, 0, 1)``: 1 at the peak, 0 at the end) and (a, b) the arm's shape:

- ``constant`` (1, 0): ``mean`` throughout, while the LR anneals;
- ``falling`` (0, 2): ``2 mean p(t)``, in step with the LR (``osd.coupled(lr, 0, 2 mean)``);
- ``rising`` (2, -2): ``2 mean (1 - p(t))``, from 0 at the peak LR to twice the mean at its end (the
  mission's "schedule it up as the LR goes down"; ``osd.coupled(lr, 0, 2 mean, inverse=True)``);
- ``none``: strength 0 (the reference).

A cosine's position averages 1/2 over its steps (exactly 1/2 + 1/(2T) over steps 0..T-1), so the three
scheduled arms share the mean strength ``mean`` to within ``mean / T``: they spend the same amount of
augmentation, placed differently against the LR.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optasched as osd
from experiments.common.models import MLP

__all__ = ["SHAPES", "draws", "augment_from_draws", "augment", "member", "strengths", "make_train"]

# (a, b) of s(t) = mean (a + b p(t)); the keys are configs.default.AUG_ARMS
SHAPES = {"none": (0.0, 0.0), "constant": (1.0, 0.0), "falling": (0.0, 2.0), "rising": (2.0, -2.0)}


def draws(key: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The random numbers of one augmentation of the batch ``x`` ``[batch, length]``.

    Args:
      key: a PRNG key.
      x: the batch (only its shape and dtype are used).

    Returns:
      ``(uniform [batch], normal [batch, length])``: each example's shift draw and its noise.
    """
    shift_key, noise_key = jax.random.split(key)
    return (jax.random.uniform(shift_key, x.shape[:1], x.dtype),
            jax.random.normal(noise_key, x.shape, x.dtype))  # fmt: skip


def augment_from_draws(x, strength, uniform, normal, *, max_shift, noise_std) -> jax.Array:
    """Shift then noise at ``strength``, from given draws (see the module docstring).

    Args:
      x: the batch ``[batch, length]``.
      strength: the augmentation strength, a scalar (traced or not); 0 leaves ``x`` unchanged.
      uniform: ``[batch]`` uniform draws in [0, 1): the shift of example i is
        ``round((2 uniform_i - 1) strength max_shift)`` positions to the right (``np.roll``).
      normal: ``[batch, length]`` standard normal draws.
      max_shift: the largest shift at strength 1, in positions.
      noise_std: the noise's standard deviation at strength 1.
    """
    length = x.shape[-1]
    amount = jnp.round((2.0 * uniform - 1.0) * strength * max_shift).astype(jnp.int32)
    index = (jnp.arange(length, dtype=jnp.int32)[None, :] - amount[:, None]) % length
    return jnp.take_along_axis(x, index, axis=-1) + strength * noise_std * normal


def augment(x, strength, key, *, max_shift, noise_std) -> jax.Array:
    """MNIST-1D's circular shift and iid noise at a traced ``strength`` (see :func:`augment_from_draws`).

    Args:
      x: the batch ``[batch, length]``.
      strength: the augmentation strength, a scalar array (a new value never retraces).
      key: a PRNG key; the same key gives the same draws at every strength.
      max_shift: the largest shift at strength 1, in positions.
      noise_std: the noise's standard deviation at strength 1.
    """
    uniform, normal = draws(key, x)
    return augment_from_draws(x, strength, uniform, normal, max_shift=max_shift, noise_std=noise_std)


def member(arm: str, mean: float, seed: int) -> dict:
    """One (arm, mean strength, seed) cell as a sweep member (every value a leaf).

    Args:
      arm: one of :data:`SHAPES` (``configs.default.AUG_ARMS``).
      mean: the mean strength over the run (ignored for ``none``).
      seed: the seed (init, data order and augmentation draws, the same for every arm).
    """
    if arm not in SHAPES:
        raise ValueError(f"synchronized: augmentation arm must be one of {sorted(SHAPES)}, got {arm!r}")
    if not mean >= 0:
        raise ValueError(f"synchronized: mean strength must be >= 0, got {mean!r}")
    a, b = SHAPES[arm]
    return {"seed": seed, "mean": mean, "a": a, "b": b}


def _position(peak_lr: float, steps: int):
    """p(t): where the cosine LR stands in its range, 1 at the peak and 0 at the end."""
    return osd.coupled(osd.cosine(peak_lr, steps), low=0.0, high=1.0)


def strengths(arm: str, mean: float, steps: int, peak_lr: float = 1e-2) -> np.ndarray:
    """The arm's strength at steps 0..steps-1 (what training reads at each step), as numbers.

    Args:
      arm: one of :data:`SHAPES`.
      mean: the mean strength.
      steps: the run's steps T.
      peak_lr: the cosine's peak (the position does not depend on it).
    """
    m = member(arm, mean, 0)
    p = _position(peak_lr, steps)(jnp.arange(steps))
    return np.asarray(m["mean"] * (m["a"] + m["b"] * p))


def make_train(config, data, steps: int, record_every: int):
    """``train(member, key) -> {diverged_at, strength, train/validation/test accuracy per block}``.

    Args:
      config: the study's config (``batch_size``, ``aug_peak_lr``, ``aug_max_shift``, ``aug_noise_std``).
      data: MNIST-1D arrays with a validation split.
      steps: training steps T.
      record_every: evaluate (clean train, validation and test accuracy) every this many steps.
    """
    model = MLP()
    x_train, y_train = jnp.asarray(data["x_train"]), jnp.asarray(data["y_train"])
    lr = osd.cosine(config.aug_peak_lr, steps)
    position = _position(config.aug_peak_lr, steps)

    def accuracy(params, x, y):
        return jnp.mean(jnp.argmax(model.apply(params, jnp.asarray(x)), -1) == jnp.asarray(y))

    def train(m, key):
        init_key, data_key, augment_key = jax.random.split(jax.random.fold_in(key, m["seed"]), 3)
        params = model.init(init_key, x_train[:1])
        optimizer = osd.inject(optax.adam)(learning_rate=lr)

        def step(state, t):
            params, opt_state = state
            p = osd.schedule_values(opt_state, {"p": position})["p"]  # the step this update's LR uses
            strength = m["mean"] * (m["a"] + m["b"] * p)
            index = jax.random.randint(jax.random.fold_in(data_key, t), (config.batch_size,), 0,
                                       x_train.shape[0])  # fmt: skip
            x = augment(x_train[index], strength, jax.random.fold_in(augment_key, t),
                        max_shift=config.aug_max_shift, noise_std=config.aug_noise_std)  # fmt: skip

            def loss_fn(p):
                logits = model.apply(p, x)
                return optax.softmax_cross_entropy_with_integer_labels(logits, y_train[index]).mean()

            loss, grads = jax.value_and_grad(loss_fn)(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), {"loss": loss, "strength": strength}

        def evaluate(state):
            return {"train_accuracy": accuracy(state[0], x_train, y_train),  # clean training data
                    "validation_accuracy": accuracy(state[0], data["x_val"], data["y_val"]),
                    "test_accuracy": accuracy(state[0], data["x_test"], data["y_test"])}  # fmt: skip

        result = osd.train_loop(step, (params, optimizer.init(params)), steps,
                                record_every=record_every, evaluate=evaluate)  # fmt: skip
        return {"diverged_at": result.diverged_at, "strength": result.history["train"]["strength"],
                **result.history["evaluation"]}  # fmt: skip

    return train
