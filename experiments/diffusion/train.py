"""Train ONE diffusion model on the 2-D ring mixture: ``make_train(config)(member, key)``.

A member (one configuration) is a pytree of traced leaves: the learning-rate
schedule, the timestep-curriculum tilt (an ``osd.coupled`` schedule that
follows the learning rate), the importance-correction switch, the noise
schedule in its common form (``noise.noise_schedule``) and the seed. Members
of equal structure stack (``osd.stack``) and run as one compiled
``jit(vmap(train))`` program through ``osd.sweep``; noise schedules, peaks,
curricula and seeds are all values, only the learning-rate family is
structure.

The data are fresh draws from the mixture at every step (no memorisation).
Every member with the same seed sees the same initialisation, the same data,
the same noise and the same uniform draws for its timesteps (common random
numbers), so arms differ only by their configuration.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import optasched as osd
from experiments.common import toy2d

from . import noise as noise_lib

LR_FAMILIES = ("constant", "cosine", "wsd", "inverse_sqrt")


# --------------------------------------------------------------------------- schedules


def lr_schedule(
    family: str,
    peak: float,
    steps: int,
    *,
    warmup_fraction: float = 0.05,
    wsd_decay_fraction: float = 0.2,
    inverse_sqrt_ref_fraction: float = 0.1,
) -> osd.Schedule:
    """The learning-rate families of the study, all with the same linear warmup.

    - ``constant``: warmup, then the peak (DDPM's recipe);
    - ``cosine``: warmup, then cosine decay to 0 (Loshchilov & Hutter);
    - ``wsd``: warmup, stable, then a ``1 - sqrt`` cooldown over the last
      ``wsd_decay_fraction`` of training (Hagele et al. 2024);
    - ``inverse_sqrt``: EDM2's ``alpha_ref / sqrt(max(t / t_ref, 1))`` after the
      warmup (Karras et al. 2024), t_ref = ``inverse_sqrt_ref_fraction * steps``.
    """
    warmup = round(warmup_fraction * steps)
    if family == "constant":
        return osd.warmup(osd.constant(peak), warmup)
    if family == "cosine":
        return osd.warmup(osd.cosine(peak, decay_steps=steps - warmup), warmup)
    if family == "wsd":
        decay = round(wsd_decay_fraction * steps)
        return osd.wsd(peak, warmup, steps - warmup - decay, decay, decay_shape="1-sqrt")
    if family == "inverse_sqrt":
        t_ref = max(round(inverse_sqrt_ref_fraction * steps), warmup + 1)
        # after the warmup the inner schedule sees t - warmup; the join switches at t = t_ref, and
        # inverse_sqrt(P, 0, tau = t_ref) at local step t - t_ref is P sqrt(t_ref / t): EDM2 exactly.
        decay = osd.join([osd.constant(peak), osd.inverse_sqrt(peak, 0, timescale=t_ref)], [t_ref - warmup])
        return osd.warmup(decay, warmup)
    raise ValueError(f"lr family must be one of {LR_FAMILIES}, got {family!r}")


def lr_of(config, family: str, peak: float, steps: int | None = None) -> osd.Schedule:
    """``lr_schedule`` with the config's warmup, WSD and inverse-sqrt fractions.

    Args:
      config: the study config.
      family: one of ``LR_FAMILIES``.
      peak: the peak learning rate.
      steps: the run's length (default ``config.steps``).
    """
    return lr_schedule(
        family,
        peak,
        config.steps if steps is None else steps,
        warmup_fraction=config.warmup_fraction,
        wsd_decay_fraction=config.wsd_decay_fraction,
        inverse_sqrt_ref_fraction=config.inverse_sqrt_ref_fraction,
    )


CURRICULA = {  # name -> (direction, importance correction)
    "uncoupled": (0.0, 0.0),
    "aligned": (1.0, 0.0),
    "aligned_ic": (1.0, 1.0),
    "reversed": (-1.0, 0.0),
    "reversed_ic": (-1.0, 1.0),
}


def curriculum_tilt(lr: osd.Schedule, peak: float, strength: float, direction: float) -> osd.Schedule:
    """The timestep-density tilt ``c(k)`` that follows the learning rate.

    At training step k the diffusion time u in [0, 1] (u -> 1 is pure noise) is
    drawn from the linear density ``p_k(u) = 1 + c(k) (2u - 1)``. ``c`` moves
    with the LR (``osd.coupled``): ``direction * strength`` where the LR is at
    its peak, ``-direction * strength`` where it is 0. ``direction = +1``
    ("aligned") trains on high noise while the LR is high and on low noise as
    it decays (the easy-to-hard order of Kim et al. 2024); ``-1`` is the
    reverse; 0 is the usual uniform sampling.
    """
    amplitude = strength * direction
    return osd.coupled(lr, low=-amplitude, high=amplitude, base_min=0.0, base_max=peak)


def member(
    lr: osd.Schedule,
    peak: float,
    noise: dict,
    seed: int,
    *,
    curriculum: str = "uncoupled",
    strength: float = 0.8,
) -> dict:
    """One configuration as a pytree of traced leaves (stacks with members of the same LR family)."""
    direction, correct = CURRICULA[curriculum]
    return {
        "lr": lr,
        "tilt": curriculum_tilt(lr, peak, strength, direction),
        "correct": jnp.float32(correct),
        "noise": noise,
        "seed": jnp.int32(seed),
    }


def stack_members(members: list[dict]) -> list[tuple[list[int], Any]]:
    """Members grouped into as few stacked sweeps as the library allows.

    One stack if optasched can stack schedules of different structure (its
    switch over families); otherwise one stack per LR family.

    Args:
      members: the members (``member(...)``) in order.

    Returns:
      ``[(member indices, stacked pytree)]``.
    """
    try:
        return [(list(range(len(members))), osd.stack(members))]
    except ValueError:
        pass
    groups: dict[str, list[int]] = {}
    for i, m in enumerate(members):
        groups.setdefault(type(m["lr"]).__name__ + repr(jax.tree.structure(m)), []).append(i)
    return [(indices, osd.stack([members[i] for i in indices])) for indices in groups.values()]


def sample_timesteps(tilt, uniform, steps: int, correct):
    """Diffusion steps t in 1..T from the tilted density, and their importance weights.

    Inverse CDF of ``p(u) = 1 + c (2u - 1)`` (written to stay exact at c = 0),
    then ``t = ceil(u T)``. A linear density's mass on a step's interval is its
    value at the interval's centre over T, so ``p(centre)^-correct`` is the exact
    importance weight that restores uniform sampling (``correct = 1``) or
    leaves the tilted objective (``correct = 0``).
    """
    one_minus = 1.0 - tilt
    u = 2.0 * uniform / (one_minus + jnp.sqrt(one_minus**2 + 4.0 * tilt * uniform))
    t = jnp.clip(jnp.ceil(u * steps), 1, steps).astype(jnp.int32)
    centre = (t.astype(jnp.float32) - 0.5) / steps
    density = 1.0 + tilt * (2.0 * centre - 1.0)
    return t, density ** (-correct)


# --------------------------------------------------------------------------- model


def init_mlp(key: jax.Array, hidden: int, depth: int, in_features: int, out_features: int = 2) -> list:
    """LeCun-normal MLP weights: ``depth`` hidden layers of ``hidden`` units."""
    dims = [in_features] + [hidden] * depth + [out_features]
    keys = jax.random.split(key, len(dims) - 1)
    return [
        (jax.random.normal(k, (a, b)) / math.sqrt(a), jnp.zeros((b,)))
        for k, a, b in zip(keys, dims[:-1], dims[1:])
    ]


def features(x, log_snr, fourier: int, embedding: int):
    """Fourier features of the (preconditioned) input and a sinusoidal log-SNR embedding.

    x (float[N, D]): itself and frequencies 1, 2, 4, ... (``fourier`` of them, 0
    for none) per coordinate; log-SNR:
    ``embedding`` frequencies from 1/16 to 2 (periods 3 to 100 in lambda) plus
    lambda / 10 itself, so the embedding varies smoothly over [-20, 20].
    """
    omegas = 2.0 ** jnp.arange(fourier, dtype=jnp.float32)
    xw = (x[:, :, None] * omegas[None, None, :]).reshape(x.shape[0], -1)
    nus = jnp.exp(jnp.linspace(math.log(1 / 16), math.log(2.0), embedding))
    lw = log_snr[:, None] * nus[None, :]
    return jnp.concatenate(
        [x, jnp.sin(xw), jnp.cos(xw), log_snr[:, None] / 10.0, jnp.sin(lw), jnp.cos(lw)], axis=-1
    )


def num_features(fourier: int, embedding: int, dim: int = 2) -> int:
    return dim * (1 + 2 * fourier) + 1 + 2 * embedding


def mlp(params, h):
    for w, b in params[:-1]:
        h = jax.nn.silu(h @ w + b[None, :])
    w, b = params[-1]
    return h @ w + b[None, :]


def denoise(params, noise: dict, x_t, log_snr, fourier: int = 4, embedding: int = 8):
    """The learned denoiser ``x0_hat(x_t, lambda)`` for VP inputs x_t (float[N, D], lambda float[N])."""
    inputs, output = noise_lib.precondition(noise, x_t, log_snr)
    return output(mlp(params, features(inputs, log_snr, fourier, embedding)))


# --------------------------------------------------------------------------- evaluation inside training


def error_probe(config, mixture: toy2d.Mixture):
    """A fixed set of noisy points per log-SNR bin and the exact denoiser's answers there.

    The same points for every member and seed (its own key), so the excess
    error ``E ||x0_hat - E[x0 | x_t]||^2`` per bin is comparable across arms.
    Returns ``(x_t [B*M, 2], lambda [B*M], exact x0 [B*M, 2], mmse [B])``.
    """
    bins, per_bin = config.error_bins, config.error_points_per_bin

    @jax.jit
    def draw(key):
        k_lam, k_x, k_e = jax.random.split(key, 3)
        edges = jnp.linspace(config.log_snr_min, config.log_snr_max, bins + 1)
        offsets = jax.random.uniform(k_lam, (bins, per_bin))
        log_snr = (edges[:-1, None] + offsets * (edges[1:] - edges[:-1])[:, None]).reshape(-1)
        x0 = toy2d.sample(mixture, k_x, bins * per_bin)
        alpha, sigma = noise_lib.alpha_sigma(log_snr)
        x_t = alpha[:, None] * x0 + sigma[:, None] * jax.random.normal(k_e, x0.shape)
        exact = toy2d.denoiser(mixture, x_t, alpha, sigma)
        mmse = jnp.sum((exact - x0) ** 2, axis=-1).reshape(bins, per_bin).mean(axis=1)
        return x_t, log_snr, exact, mmse

    return tuple(np.asarray(a) for a in jax.device_get(draw(jax.random.key(config.eval_seed + 1))))


def mixture_of(config) -> toy2d.Mixture:
    return toy2d.ring(config.modes, config.radius, config.mode_std)


def training_loop(
    config_member: dict,
    key: jax.Array,
    *,
    steps: int,
    batch_size: int,
    diffusion_steps: int,
    ema_decay: float,
    record_every: int,
    init_params,
    denoiser,
    sample_data,
    evaluate=None,
) -> dict:
    """Train one diffusion model: the loop shared by the 2-D study and MNIST-1D.

    ``init_params(key)``, ``denoiser(params, noise, x_t, lambda)``,
    ``sample_data(key, n) -> float[n, D]`` and optionally
    ``evaluate(params, ema, noise) -> metrics`` (run at every record). Adam
    with the member's LR schedule, an EMA of the weights, the member's
    timestep curriculum and noise schedule, in ``osd.train_loop`` (a ``lax.scan``
    that freezes and flags a member that diverges).
    """
    key = jax.random.fold_in(key, config_member["seed"])
    init_key, data_key = jax.random.split(key)
    params = init_params(init_key)
    optimizer = optax.adam(learning_rate=config_member["lr"])
    noise = config_member["noise"]

    def step_fn(state, step):
        params, opt_state, ema = state
        k_x, k_u, k_e = jax.random.split(jax.random.fold_in(data_key, step), 3)
        x0 = sample_data(k_x, batch_size)
        tilt = config_member["tilt"](step)
        t, importance = sample_timesteps(
            tilt, jax.random.uniform(k_u, (batch_size,)), diffusion_steps, config_member["correct"]
        )
        log_snr = noise["log_snr"](t)
        alpha, sigma = noise_lib.alpha_sigma(log_snr)
        x_t = alpha[:, None] * x0 + sigma[:, None] * jax.random.normal(k_e, x0.shape)
        weight = importance * noise_lib.loss_weight(noise, log_snr)

        def loss_fn(p):
            error = jnp.mean((denoiser(p, noise, x_t, log_snr) - x0) ** 2, axis=-1)
            return jnp.mean(weight * error)

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        # EMA with the usual warm start: early averages do not remember the initialisation
        decay = jnp.minimum(ema_decay, (1.0 + step) / (10.0 + step))
        ema = jax.tree.map(lambda e, p: decay * e + (1 - decay) * p, ema, params)
        return (params, opt_state, ema), {"loss": loss, "lr": config_member["lr"](step), "tilt": tilt}

    def evaluate_state(state):
        params, _, ema = state
        return evaluate(params, ema, noise) if evaluate is not None else {}

    state = (params, optimizer.init(params), params)
    result = osd.train_loop(step_fn, state, steps, record_every=record_every, evaluate=evaluate_state)
    params, _, ema = result.state
    return {"params": params, "ema": ema, "history": result.history, "diverged_at": result.diverged_at}


def record_interval(steps: int, checkpoints: int) -> int:
    """The largest divisor of ``steps`` not above ``steps / checkpoints``."""
    every = max(1, steps // max(checkpoints, 1))
    while steps % every:
        every -= 1
    return every


def make_train(config, steps: int | None = None):
    """``train(member, key) -> metrics`` for this experiment config (cached: one function per config).

    ``steps`` overrides ``config.steps`` (the short LR scan). Records the
    excess error per log-SNR bin (raw and EMA weights) ``config.checkpoints``
    times during training.
    """
    return _make_train(config, config.steps if steps is None else steps)


@functools.lru_cache(maxsize=16)
def _make_train(config, steps: int):
    mixture = mixture_of(config)
    probe_x, probe_lam, probe_exact, _ = error_probe(config, mixture)
    in_features = num_features(config.fourier_features, config.log_snr_embedding)
    denoiser = functools.partial(denoise, fourier=config.fourier_features, embedding=config.log_snr_embedding)
    bins = config.error_bins

    def excess_per_bin(params, noise):
        """Excess error against the exact denoiser per log-SNR bin: x0 space and epsilon space.

        ``exp(lambda) ||x0_hat - E[x0|x_t]||^2 = ||eps_hat - E[eps|x_t]||^2``; half its
        integral over lambda is the model's excess negative ELBO in nats (Kingma et al. 2021).
        """
        predicted = denoiser(params, noise, probe_x, probe_lam)
        x0 = jnp.sum((predicted - probe_exact) ** 2, axis=-1)
        return x0.reshape(bins, -1).mean(axis=1), (jnp.exp(probe_lam) * x0).reshape(bins, -1).mean(axis=1)

    def evaluate(params, ema, noise):
        raw_x0, raw_eps = excess_per_bin(params, noise)
        ema_x0, ema_eps = excess_per_bin(ema, noise)
        return {"raw_x0": raw_x0, "raw_eps": raw_eps, "ema_x0": ema_x0, "ema_eps": ema_eps}

    def train(config_member: dict, key: jax.Array) -> dict[str, Any]:
        return training_loop(
            config_member,
            key,
            steps=steps,
            batch_size=config.batch_size,
            diffusion_steps=config.diffusion_steps,
            ema_decay=config.ema_decay,
            record_every=record_interval(steps, config.checkpoints),
            init_params=lambda k: init_mlp(k, config.hidden, config.depth, in_features),
            denoiser=denoiser,
            sample_data=lambda k, n: toy2d.sample(mixture, k, n),
            evaluate=evaluate,
        )

    return train


__all__ = [
    "CURRICULA",
    "LR_FAMILIES",
    "curriculum_tilt",
    "denoise",
    "error_probe",
    "features",
    "init_mlp",
    "lr_of",
    "lr_schedule",
    "make_train",
    "member",
    "mlp",
    "record_interval",
    "sample_timesteps",
    "stack_members",
    "training_loop",
]
