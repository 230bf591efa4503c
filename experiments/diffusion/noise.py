"""Noise schedules as optasched schedules over diffusion time, reduced to one common form.

Each noise schedule is defined the way its paper defines it, as an optasched
schedule over the diffusion step ``t = 1..T``:

- DDPM (Ho et al. 2020): linear betas from 1e-4 to 0.02 (``osd.linear``),
  rescaled by ``1000 / T`` so the terminal log-SNR stays near -10 for any T;
- cosine (Nichol & Dhariwal 2021): ``f(t) = cos^2(((t/T) + s)/(1 + s) pi/2)``
  with s = 0.008 (``osd.cosine`` shifted by ``s T`` steps), betas clipped at 0.999;
- EDM (Karras et al. 2022): ``ln sigma ~ N(P_mean, P_std^2)``, written as its
  quantile function of ``u = (t - 1/2) / T`` (``osd.from_function``), with
  EDM's preconditioning and loss weighting;
- Min-SNR-5 (Hang et al. 2023): the cosine schedule with the loss weight
  ``min(SNR, 5) / SNR`` on the epsilon loss.

All of them reduce to the same structure: a log-SNR table ``lambda_t`` over
the T steps (a tabulated ``osd.from_function`` whose table is a traced leaf),
the preconditioning switch and the weighting parameters. Kingma & Gao (2023)
show that a noise schedule is exactly this: a distribution over log-SNR
(importance sampling of one objective) times a weighting. So every noise
schedule is a pytree of the same shape, and noise schedules sweep together
with learning-rate schedules in one compiled program.

The loss is written on the x0-prediction error with weight
``w(lambda) = min(exp(lambda), snr_cap) + weight_offset``:
epsilon-MSE is ``exp(lambda) ||x0_hat - x0||^2`` (cap = inf, offset 0),
Min-SNR-gamma caps it at gamma, and EDM's ``(sigma^2 + sigma_d^2) / (sigma
sigma_d)^2`` is ``exp(lambda) + 1 / sigma_d^2``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

import optasched as osd

NOISE_SCHEDULES = ("ddpm_linear", "cosine", "edm", "min_snr5")
LOG_SNR_CLIP = 20.0  # |log-SNR| beyond this is numerically pointless in float32 (alpha = e^-10)
NO_CAP = 1e30  # "no Min-SNR cap": exp(lambda) <= e^20 is always below it


def ddpm_betas(
    steps: int, beta_start: float = 1e-4, beta_end: float = 0.02, rescale: bool = True
) -> osd.Schedule:
    """DDPM's linear betas over diffusion steps 0..T-1 (step i is diffusion step t = i + 1).

    ``rescale`` multiplies both ends by ``1000 / T`` so that a short chain has
    the same total noise as DDPM's T = 1000 (without it, T = 50 ends at
    alpha-bar = 0.6, far from pure noise).
    """
    scale = 1000.0 / steps if rescale else 1.0
    return osd.linear(beta_start * scale, beta_end * scale, transition_steps=max(steps - 1, 1))


def cosine_alpha_bar(steps: int, s: float = 0.008) -> osd.Schedule:
    """Nichol & Dhariwal's ``f(t) = cos^2(((t/T) + s)/(1 + s) pi/2)`` over t = 0..T.

    ``osd.cosine`` is ``(1 + cos(pi x)) / 2 = cos^2(pi x / 2)`` of ``x = t / D``;
    with ``D = (1 + s) T`` and the schedule advanced by ``s T`` steps it is f.
    """
    return osd.shift(osd.cosine(1.0, decay_steps=(1 + s) * steps), offset=-s * steps)


def _edm_log_snr(t, params):
    """EDM's training log-SNR at diffusion step t: -2 ln sigma at the quantile (t - 1/2) / T."""
    u = (jnp.asarray(t, jnp.float32) - 0.5) / params["steps"]
    return -2.0 * (params["p_mean"] + params["p_std"] * jax.scipy.special.ndtri(u))


def edm_log_snr(steps: int, p_mean: float = -1.2, p_std: float = 1.2) -> osd.Schedule:
    """EDM's log-normal sigma as a schedule over diffusion steps: its quantile function.

    Sampling t uniformly from 1..T and reading this schedule draws
    ``ln sigma ~ N(p_mean, p_std^2)`` discretised into T equal-mass levels.
    """
    return osd.from_function(_edm_log_snr, {"steps": float(steps), "p_mean": p_mean, "p_std": p_std})


def _lookup(t, params):
    """The tabulated log-SNR at integer diffusion step t in 1..T."""
    table = params["table"]
    index = jnp.clip(jnp.asarray(t, jnp.int32) - 1, 0, table.shape[-1] - 1)
    return table[index]


def tabulated(table) -> osd.Schedule:
    """A schedule over diffusion steps 1..T that reads ``table[t - 1]``.

    Every noise schedule becomes one of these, so all share one structure (the
    table is a traced leaf) and stack into one sweep.
    """
    return osd.from_function(_lookup, {"table": jnp.asarray(table, jnp.float32)})


def _log_snr_from_alpha_bar(alpha_bar: np.ndarray) -> np.ndarray:
    alpha_bar = np.asarray(alpha_bar, np.float64)
    return np.log(alpha_bar) - np.log1p(-alpha_bar)


def log_snr_table(
    name: str,
    steps: int,
    *,
    beta_start: float = 1e-4,
    beta_end: float = 0.02,
    rescale: bool = True,
    cosine_s: float = 0.008,
    max_beta: float = 0.999,
    p_mean: float = -1.2,
    p_std: float = 1.2,
) -> np.ndarray:
    """``lambda_t = log(alpha_bar_t / (1 - alpha_bar_t))`` for t = 1..T, float64[T].

    Discrete chains accumulate ``alpha_bar_t = prod_{i <= t} (1 - beta_i)`` in
    float64 from the betas the optasched schedule gives.
    """
    t = np.arange(steps)
    if name == "ddpm_linear":
        betas = np.asarray(ddpm_betas(steps, beta_start, beta_end, rescale)(jnp.asarray(t)), np.float64)
        return _log_snr_from_alpha_bar(np.cumprod(1.0 - betas))
    if name in ("cosine", "min_snr5"):
        f = np.asarray(
            cosine_alpha_bar(steps, cosine_s)(jnp.arange(steps + 1, dtype=jnp.float32)), np.float64
        )
        alpha_bar = f / f[0]
        betas = np.minimum(1.0 - alpha_bar[1:] / np.maximum(alpha_bar[:-1], 1e-300), max_beta)
        return _log_snr_from_alpha_bar(np.cumprod(1.0 - betas))
    if name == "edm":
        return np.asarray(edm_log_snr(steps, p_mean, p_std)(jnp.arange(1, steps + 1)), np.float64)
    raise ValueError(f"noise schedule must be one of {NOISE_SCHEDULES}, got {name!r}")


def noise_schedule(
    name: str, steps: int, sigma_data: float, *, min_snr_gamma: float = 5.0, **table_options
) -> dict:
    """One noise schedule in the common form (a pytree that stacks with any other).

    Returns ``{"log_snr": schedule over t = 1..T, "edm": 0/1 preconditioning,
    "snr_cap": Min-SNR cap, "weight_offset": added loss weight, "sigma_data": s_d}``.
    """
    table = np.clip(log_snr_table(name, steps, **table_options), -LOG_SNR_CLIP, LOG_SNR_CLIP)
    edm = name == "edm"
    return {
        "log_snr": tabulated(table),
        "edm": jnp.float32(1.0 if edm else 0.0),
        "snr_cap": jnp.float32(min_snr_gamma if name == "min_snr5" else NO_CAP),
        "weight_offset": jnp.float32(1.0 / sigma_data**2 if edm else 0.0),
        "sigma_data": jnp.float32(sigma_data),
    }


def alpha_sigma(log_snr):
    """VP coefficients: alpha^2 = sigmoid(lambda), sigma^2 = sigmoid(-lambda)."""
    return jnp.sqrt(jax.nn.sigmoid(log_snr)), jnp.sqrt(jax.nn.sigmoid(-log_snr))


def loss_weight(noise: dict, log_snr):
    """Weight on ``||x0_hat - x0||^2``: min(SNR, cap) + offset (see the module docstring)."""
    return jnp.minimum(jnp.exp(log_snr), noise["snr_cap"]) + noise["weight_offset"]


def precondition(noise: dict, x_t, log_snr):
    """The network input and the map from its output F to x0_hat, for VP inputs x_t (float[N, 2]).

    epsilon-prediction: input x_t, ``x0_hat = (x_t - sigma F) / alpha``.
    EDM (in VE coordinates y = x_t / alpha, sigma_e = sigma / alpha):
    ``c_in = 1 / sqrt(sigma_e^2 + s_d^2)``, ``c_skip = s_d^2 / (sigma_e^2 + s_d^2)``,
    ``c_out = sigma_e s_d / sqrt(sigma_e^2 + s_d^2)``, ``x0_hat = c_skip y + c_out F``.
    Both branches are finite for |lambda| <= 20; a traced switch picks one.
    """
    alpha, sigma = alpha_sigma(log_snr)
    sd2 = noise["sigma_data"] ** 2
    sigma_e2 = jnp.exp(-log_snr)
    edm = noise["edm"] > 0.5
    c_in = jnp.where(edm, 1.0 / jnp.sqrt(sigma**2 + alpha**2 * sd2), 1.0)  # c_in * y, written on x_t
    inputs = x_t * c_in[:, None]
    c_skip = sd2 / (sigma_e2 + sd2)
    c_out = jnp.sqrt(sigma_e2 * sd2 / (sigma_e2 + sd2))

    def output(f):
        epsilon_x0 = (x_t - sigma[:, None] * f) / alpha[:, None]
        edm_x0 = (c_skip / alpha)[:, None] * x_t + c_out[:, None] * f
        return jnp.where(edm, edm_x0, epsilon_x0)

    return inputs, output


def terminal_log_snr(noise: dict, steps: int) -> float:
    """lambda_T, the log-SNR at the last diffusion step."""
    return float(noise["log_snr"](steps))


def describe_table(table: np.ndarray) -> dict:
    """A few numbers that characterise a log-SNR table (for results.json)."""
    table = np.asarray(table)
    return {
        "log_snr_first": float(table[0]),
        "log_snr_last": float(table[-1]),
        "log_snr_median": float(np.median(table)),
        "alpha_bar_last": float(1.0 / (1.0 + math.exp(-table[-1]))),
        "fraction_below_minus5": float(np.mean(table < -5)),
        "fraction_above_plus5": float(np.mean(table > 5)),
    }


__all__ = [
    "NOISE_SCHEDULES",
    "alpha_sigma",
    "cosine_alpha_bar",
    "ddpm_betas",
    "describe_table",
    "edm_log_snr",
    "log_snr_table",
    "loss_weight",
    "noise_schedule",
    "precondition",
    "tabulated",
    "terminal_log_snr",
]


def from_config(config, names, sigma_data: float) -> dict[str, dict]:
    """The named noise schedules with the config's settings (betas, cosine offset, EDM, Min-SNR)."""
    options = {
        "beta_start": config.beta_start,
        "beta_end": config.beta_end,
        "cosine_s": config.cosine_s,
        "max_beta": config.max_beta,
        "p_mean": config.edm_p_mean,
        "p_std": config.edm_p_std,
    }
    return {
        name: noise_schedule(name, config.diffusion_steps, sigma_data, min_snr_gamma=config.min_snr_gamma, **options)
        for name in names
    }
