"""timm names (``timm.scheduler``): ``t`` counts epochs (``t_in_epochs=True``,
the default) or optimizer updates (``t_in_epochs=False``); optasched's value at
``t`` is what timm's ``step(t)`` / ``step_update(t)`` sets, that is ``_get_lr(t)``.

Each class keeps timm's own defaults (``warmup_prefix`` is True for the step
schedulers, False for the others) and its conventions: the multistep schedule
compares its milestones with ``t + 1``, and the tanh schedule without
``warmup_prefix`` warms up to its own value at ``warmup_t``, not to the peak.
Only timm's noise (``noise_range_t``), drawn from torch's generator, has no
counterpart here.
"""

from __future__ import annotations

import math

import jax.numpy as jnp

from ._algebra import Constant
from ._combinators import FromFunction, Join, Restarts, Shift, Warmup
from ._convert import is_traced
from ._cyclic import CosineRestarts
from ._families import Linear, Polynomial, StepDecay, TanhDecay
from ._kernels import cycle_position
from ._name_entry import REQUIRED, NameEntry
from ._piecewise import Multistep
from ._schedule import Schedule

__all__ = ["TIMM_NAMES"]

_TM = "timm"
_PEAK = ("peak_value",)


def _warmup_to_peak(schedule: Schedule, warmup_t, warmup_lr_init, warmup_prefix, peak) -> Schedule:
    """timm's warmup ``warmup_lr_init + t (peak - warmup_lr_init) / warmup_t`` for t < warmup_t; then
    the schedule at t, or at t - warmup_t with ``warmup_prefix``."""
    after = schedule if warmup_prefix else Shift(schedule, -warmup_t)
    return Join([Linear(warmup_lr_init, peak, warmup_t), after], _at(warmup_t))


def _at(boundary):
    """One join boundary: a list for a number, a shape-(1,) array for a traced value."""
    return jnp.reshape(boundary, (1,)) if is_traced(boundary) else [boundary]


def _k_decay_cosine(step, p):
    """timm's cosine cycles with k-decay (Zhang & Li, "k-decay", 2020): progress (t_curr / t_i)**k."""
    index, frac, peak = _k_decay_cycle(step, p)
    return p["lr_min"] + 0.5 * (peak - p["lr_min"]) * (1.0 + jnp.cos(jnp.pi * frac))


def _k_decay_poly(step, p):
    """timm's polynomial cycles with k-decay: ``(1 - (t_curr / t_i)**k) ** power``."""
    index, frac, peak = _k_decay_cycle(step, p)
    return p["lr_min"] + (peak - p["lr_min"]) * (1.0 - frac) ** p["power"]


def _k_decay_cycle(step, p):
    dtype = jnp.result_type(p["peak"], p["lr_min"], float)
    index, position, period = cycle_position(step, p["t_initial"], p["cycle_mul"], dtype)
    frac = ((position / period) ** p["k_decay"]).astype(dtype)
    return index, frac, p["peak"] * (p["cycle_decay"] ** index).astype(dtype)


def _with_k_decay(function, peak, first, lr_min, cycle_mul, cycle_decay, cycle_limit, k_decay, **extra):
    """timm's cycles when ``k_decay != 1`` (no family has that warp of time): its formula as a
    :class:`FromFunction` whose every hyperparameter is a leaf."""
    params = {"peak": peak, "t_initial": first, "lr_min": lr_min, "cycle_mul": cycle_mul,
              "cycle_decay": cycle_decay, "k_decay": k_decay, **extra}
    cycles = FromFunction(function, params)
    return Join([cycles, Constant(lr_min)], _at(_cycles_length(first, cycle_mul, cycle_limit)))


def _k_decay_used(k_decay) -> bool:
    return is_traced(k_decay) or k_decay != 1.0


def _no_noise(noise_range_t, noise_pct, noise_std, noise_seed) -> None:
    # timm draws its noise from torch's generator, seeded per step: no closed form to reproduce.
    if noise_range_t is not None:
        raise ValueError(
            f"noise_range_t={noise_range_t!r}: timm's learning-rate noise comes from torch's random "
            "generator and has no closed form here; leave noise_range_t=None"
        )


def _cycles_length(first, cycle_mul, cycle_limit):
    """Steps until timm's cycle index reaches ``cycle_limit`` (then it holds ``lr_min``)."""
    if is_traced(cycle_limit):
        raise ValueError("cycle_limit must be a concrete int (it sets the number of cycles)")
    length = sum(first * cycle_mul**i for i in range(int(cycle_limit)))
    if is_traced(length):  # a swept cycle_mul or t_initial: the first whole step past the cycles
        length = jnp.asarray(length)
        if jnp.issubdtype(length.dtype, jnp.integer):
            return length
        return jnp.ceil(length - 1e-6 * jnp.maximum(1.0, length)).astype(jnp.int32)
    nearest = round(length)
    return nearest if abs(length - nearest) < 1e-6 * max(1.0, abs(length)) else math.ceil(length)


def _cycled(decay, peak, first, lr_min, cycle_mul, cycle_decay, cycle_limit) -> Schedule:
    """timm's cycles of any decay ``decay(start, end)`` from ``start`` to ``end`` over ``first`` steps:
    cycle i lasts ``first * cycle_mul**i`` and runs ``lr_min + (peak cycle_decay**i - lr_min) shape``,
    that is ``cycle_decay**i (peak shape) + lr_min (1 - shape)``; ``lr_min`` after ``cycle_limit``
    cycles."""
    single = not any(is_traced(x) for x in (cycle_mul, cycle_decay, cycle_limit)) and (
        cycle_mul,
        cycle_decay,
        cycle_limit,
    ) == (1, 1, 1)
    if single:
        return decay(peak, lr_min)  # each family holds lr_min after its decay
    cycles = Restarts(decay(peak, 0.0), first, cycle_mul, cycle_decay) + Restarts(
        decay(0.0, lr_min), first, cycle_mul
    )
    return Join([cycles, Constant(lr_min)], _at(_cycles_length(first, cycle_mul, cycle_limit)))


def _cosine(peak, warmup, total, steps, t_initial, lr_min, cycle_mul, cycle_decay, cycle_limit, warmup_t,
            warmup_lr_init, warmup_prefix, k_decay, t_in_epochs, **noise):
    _no_noise(**noise)
    first = steps(t_initial)
    if _k_decay_used(k_decay):
        cycles = _with_k_decay(
            _k_decay_cosine, peak, first, lr_min, cycle_mul, cycle_decay, cycle_limit, k_decay
        )
        return _warmup_to_peak(cycles, steps(warmup_t), warmup_lr_init, warmup_prefix, peak)
    if not (is_traced(cycle_decay) or is_traced(lr_min)) and (cycle_decay == 1.0 or lr_min == 0.0):
        cycles = CosineRestarts(peak, first, cycle_mul, cycle_decay, end_value=lr_min)
    else:  # timm decays the peak, not the amplitude: lr_min + (peak decay^i - lr_min) (1 + cos) / 2
        cycles = CosineRestarts(peak, first, cycle_mul, cycle_decay) + CosineRestarts(
            0.0, first, cycle_mul, end_value=lr_min
        )
    cycles = Join([cycles, Constant(lr_min)], _at(_cycles_length(first, cycle_mul, cycle_limit)))
    return _warmup_to_peak(cycles, steps(warmup_t), warmup_lr_init, warmup_prefix, peak)


def _poly(peak, warmup, total, steps, t_initial, power, lr_min, cycle_mul, cycle_decay, cycle_limit,
          warmup_t, warmup_lr_init, warmup_prefix, k_decay, t_in_epochs, **noise):
    _no_noise(**noise)
    first = steps(t_initial)
    if _k_decay_used(k_decay):
        cycles = _with_k_decay(
            _k_decay_poly, peak, first, lr_min, cycle_mul, cycle_decay, cycle_limit, k_decay, power=power
        )
        return _warmup_to_peak(cycles, steps(warmup_t), warmup_lr_init, warmup_prefix, peak)
    cycles = _cycled(
        lambda start, end: Polynomial(start, end, power, first),
        peak, first, lr_min, cycle_mul, cycle_decay, cycle_limit,
    )
    return _warmup_to_peak(cycles, steps(warmup_t), warmup_lr_init, warmup_prefix, peak)


def _tanh(peak, warmup, total, steps, t_initial, lb, ub, lr_min, cycle_mul, cycle_decay, cycle_limit,
          warmup_t, warmup_lr_init, warmup_prefix, t_in_epochs, **noise):
    _no_noise(**noise)
    first = steps(t_initial)
    cycles = _cycled(
        lambda start, end: TanhDecay(start, first, end, lb, ub),
        peak, first, lr_min, cycle_mul, cycle_decay, cycle_limit,
    )
    warmup_t = steps(warmup_t)
    if warmup_prefix:
        return _warmup_to_peak(cycles, warmup_t, warmup_lr_init, True, peak)
    # timm: without the prefix the warmup rises to the schedule's own value at warmup_t.
    return Warmup(Shift(cycles, -warmup_t), warmup_t, init_value=warmup_lr_init)


def _step(peak, warmup, total, steps, decay_t, decay_rate, warmup_t, warmup_lr_init, warmup_prefix,
          t_in_epochs, **noise):
    _no_noise(**noise)
    schedule = StepDecay(peak, steps(decay_t), decay_rate)
    return _warmup_to_peak(schedule, steps(warmup_t), warmup_lr_init, warmup_prefix, peak)


def _before(milestone):
    # timm compares milestones with t + 1 (bisect_right(decay_t, t + 1)): milestone m acts at m - 1.
    return jnp.maximum(milestone - 1, 0) if is_traced(milestone) else max(milestone - 1, 0)


def _multistep(peak, warmup, total, steps, decay_t, decay_rate, warmup_t, warmup_lr_init, warmup_prefix,
               t_in_epochs, **noise):
    _no_noise(**noise)
    schedule = Multistep(peak, [steps(_before(m)) for m in decay_t], decay_rate)
    return _warmup_to_peak(schedule, steps(warmup_t), warmup_lr_init, warmup_prefix, peak)


def _options(warmup_prefix: bool) -> dict:
    """The warmup, epoch and noise arguments every timm scheduler takes, with timm's defaults."""
    return {
        "warmup_t": 0,
        "warmup_lr_init": 0.0,
        "warmup_prefix": warmup_prefix,
        "t_in_epochs": True,
        "noise_range_t": None,
        "noise_pct": 0.67,
        "noise_std": 1.0,
        "noise_seed": 42,
    }


_CYCLES = {"cycle_mul": 1.0, "cycle_decay": 1.0, "cycle_limit": 1}


def _entry(reference, arguments, build):
    return NameEntry(_TM, f"timm.scheduler.{reference}", _PEAK, arguments, build)


TIMM_NAMES: dict[str, NameEntry] = {
    "CosineLRScheduler": _entry(
        "CosineLRScheduler",
        {"t_initial": REQUIRED, "lr_min": 0.0, **_CYCLES, **_options(False), "k_decay": 1.0},
        _cosine,
    ),
    "PolyLRScheduler": _entry(
        "PolyLRScheduler",
        {"t_initial": REQUIRED, "power": 0.5, "lr_min": 0.0, **_CYCLES, **_options(False), "k_decay": 1.0},
        _poly,
    ),
    "TanhLRScheduler": _entry(
        "TanhLRScheduler",
        {"t_initial": REQUIRED, "lb": -7.0, "ub": 3.0, "lr_min": 0.0, **_CYCLES, **_options(False)},
        _tanh,
    ),
    "StepLRScheduler": _entry(
        "StepLRScheduler", {"decay_t": REQUIRED, "decay_rate": 1.0, **_options(True)}, _step
    ),
    "MultiStepLRScheduler": _entry(
        "MultiStepLRScheduler", {"decay_t": REQUIRED, "decay_rate": 1.0, **_options(True)}, _multistep
    ),
}
