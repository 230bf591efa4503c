"""The arms of the study as optasched per-sample weightings, one sweep member each.

Every member of a one-network sweep carries ALL the weightings (margin,
small-loss, GCE, focal) with its own hyperparameters as traced leaves, and an
integer ``kind`` that picks which one trains it: members of different arms
stack into one pytree, so every arm of a (data set, model) pair is one
compiled program. The three small-loss arms differ only in the forget-rate
schedule ``R(t) = osd.linear(R0, R1, ramp_steps)``:

- ``small_loss_ramp``: 0 -> R over ``ramp_epochs`` (Co-teaching's ramp);
- ``small_loss_constant``: R from step 0 (``osd.linear(R, R, ...)``, the same structure);
- ``small_loss_misspecified``: 0 -> ``misspecified_fraction`` x R (0.2 at 40% noise).

R is the true noise rate, except at 0% noise where the arms assume
``assumed_rate_at_zero`` (otherwise they equal plain CE by construction and Q1's
cost is not measurable). The oracle is uniform CE over the known-clean examples
of each batch (the ``mask`` argument).
"""

from __future__ import annotations

import numpy as np

import optasched as osd

from .configs.default import SINGLE_ARMS
from .noise import Noise

__all__ = ["KINDS", "ARM_KIND", "assumed_rate", "forget_rate", "single_member", "pair_member", "lr_schedule"]

KINDS = ("uniform", "margin", "small_loss", "gce", "focal", "oracle")  # what a one-network member computes
ARM_KIND = {
    "uniform": 0, "margin": 1, "small_loss_ramp": 2, "small_loss_constant": 2, "small_loss_misspecified": 2,
    "gce": 3, "focal": 4, "oracle": 5,
}  # fmt: skip


def assumed_rate(noise: Noise, config) -> float:
    """The forget rate R the small-loss arms and Co-teaching use at this noise setting.

    Args:
      noise: the setting.
      config: the study's config (``assumed_rate_at_zero``).
    """
    return noise.rate if noise.rate > 0 else config.assumed_rate_at_zero


def forget_rate(arm: str, noise: Noise, config, ramp_steps: int):
    """The forget-rate schedule of a small-loss arm (Co-teaching ramps like ``small_loss_ramp``).

    Args:
      arm: the arm's name.
      noise: the noise setting.
      config: the study's config.
      ramp_steps: the ramp's length in steps.
    """
    rate = assumed_rate(noise, config)
    start, end = {
        "small_loss_ramp": (0.0, rate),
        "co_teaching": (0.0, rate),
        "small_loss_constant": (rate, rate),
        "small_loss_misspecified": (0.0, config.misspecified_fraction * rate),
    }.get(arm, (0.0, rate))  # the arms that do not select carry the ramped one, unused
    return osd.linear(start, end, ramp_steps)


def lr_schedule(name: str, config, steps: int):
    """The LR schedule: Adam at ``learning_rate`` held constant, or cosine-decayed to 0 over the run.

    Args:
      name: ``"constant"`` or ``"cosine"``.
      config: the study's config (``learning_rate``).
      steps: the run's length in steps.
    """
    if name == "constant":
        return osd.constant(config.learning_rate)
    if name == "cosine":
        return osd.cosine(config.learning_rate, steps)
    raise ValueError(f"noisy_labels: schedule must be 'constant' or 'cosine', got {name!r}")


def single_member(arm: str, schedule: str, noise_index: int, seed: int, config, steps: int,
                  ramp_steps: int) -> dict:  # fmt: skip
    """One member of a one-network sweep.

    Args:
      arm: one of ``configs.default.SINGLE_ARMS``.
      schedule: the LR schedule's name.
      noise_index: index into ``config.noises``.
      seed: the training seed (init and data order).
      config: the study's config.
      steps: the run's length in steps.
      ramp_steps: the forget-rate ramp's length in steps.
    """
    if arm not in SINGLE_ARMS:
        raise ValueError(f"noisy_labels: arm must be one of {SINGLE_ARMS}, got {arm!r}")
    noise = config.noises[noise_index]
    return {
        "kind": np.int32(ARM_KIND[arm]),
        "noise": np.int32(noise_index),
        "seed": np.int32(seed),
        "learning_rate": lr_schedule(schedule, config, steps),
        "margin": osd.margin_weighting(temperature=config.margin_temperature, floor=config.margin_floor),
        "small_loss": osd.small_loss(forget_rate(arm, noise, config, ramp_steps)),
        "gce": osd.gce(q=config.gce_q),
        "focal": osd.focal(gamma=config.focal_gamma),
    }


def pair_member(schedule: str, noise_index: int, seed: int, config, steps: int, ramp_steps: int) -> dict:
    """One member of the two-network (Co-teaching) sweep.

    Args:
      schedule: the LR schedule's name.
      noise_index: index into ``config.noises``.
      seed: the training seed (init and data order; network A's init is the one-network arms').
      config: the study's config.
      steps: the run's length in steps.
      ramp_steps: the forget-rate ramp's length in steps.
    """
    noise = config.noises[noise_index]
    return {
        "noise": np.int32(noise_index),
        "seed": np.int32(seed),
        "learning_rate": lr_schedule(schedule, config, steps),
        "co_teaching": osd.co_teaching(forget_rate("co_teaching", noise, config, ramp_steps)),
    }

