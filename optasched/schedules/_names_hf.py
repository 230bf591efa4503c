"""Hugging Face ``transformers`` names (``optimization.py``, ``get_scheduler``).

``get_scheduler(name, optimizer, num_warmup_steps, num_training_steps,
scheduler_specific_kwargs)`` takes one uniform call for every name (the Trainer
always passes both counts) and ignores what a schedule does not read; each
entry here says which counts it reads and which it requires, as HF does.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ._algebra import Constant
from ._combinators import Join, Shift, Warmup
from ._convert import is_traced
from ._cyclic import CosineRestarts
from ._families import Cosine, InverseSqrt, Linear, Polynomial
from ._name_entry import REQUIRED, NameEntry
from ._piecewise import Wsd
from ._schedule import Schedule

__all__ = ["HF_NAMES"]

_HF = "Hugging Face"
_PEAK = ("peak_value",)
_COUNTS = ("peak_value", "num_warmup_steps", "num_training_steps")
_WARMUP = ("peak_value", "num_warmup_steps")


def _hf_warmup(schedule: Schedule, warmup) -> Schedule:
    # HF: step / max(1, W) for step < W, then the decay restarted at W. Always a Warmup
    # (warmup 0 is the schedule itself), so members with and without warmup stack as one family.
    return Warmup(schedule, warmup)


def _half_cosine_only(num_cycles) -> None:
    if num_cycles != 0.5:
        raise ValueError(
            f"num_cycles={num_cycles!r}: only the half cosine (0.5) is a decay; for cycles use "
            "'cosine_with_restarts'"
        )


def _linear(peak, warmup, total, steps):
    return _hf_warmup(Linear(peak, 0.0, total - warmup), warmup)


def _cosine(peak, warmup, total, steps, num_cycles):
    _half_cosine_only(num_cycles)
    return _hf_warmup(Cosine(peak, total - warmup), warmup)


def _restarts(peak, warmup, total, steps, num_cycles):
    # HF: 0.5 (1 + cos(pi ((c p) % 1))) for progress p < 1, then 0: cycles of (T - W) / c steps.
    cycles = CosineRestarts(peak, (total - warmup) / num_cycles)
    return _hf_warmup(Join([cycles, Constant(0.0)], [total - warmup]), warmup)


def _polynomial(peak, warmup, total, steps, lr_end, power):
    if not is_traced(peak) and not np.all(np.asarray(peak) > lr_end):
        raise ValueError(f"lr_end ({lr_end}) must be smaller than peak_value ({peak}), as HF requires")
    return _hf_warmup(Polynomial(peak, lr_end, power, total - warmup), warmup)


def _constant(peak, warmup, total, steps):
    return Constant(peak)


def _constant_with_warmup(peak, warmup, total, steps):
    return _hf_warmup(Constant(peak), warmup)


def _inverse_sqrt(peak, warmup, total, steps, timescale):
    if timescale is None:  # HF's default: num_warmup_steps, or 10_000 without warmup
        timescale = jnp.where(jnp.asarray(warmup) > 0, warmup, steps(10_000))
    return InverseSqrt(peak, warmup, timescale=timescale)


def _min_value(peak, min_lr, min_lr_rate):
    if (min_lr is None) == (min_lr_rate is None):
        raise ValueError("give exactly one of min_lr and min_lr_rate")
    return min_lr if min_lr is not None else min_lr_rate * peak


def _cosine_with_min_lr(peak, warmup, total, steps, num_cycles, min_lr, min_lr_rate):
    end = _min_value(peak, min_lr, min_lr_rate)
    _half_cosine_only(num_cycles)
    return _hf_warmup(Cosine(peak, total - warmup, end), warmup)


def _cosine_warmup_with_min_lr(peak, warmup, total, steps, num_cycles, min_lr, min_lr_rate, warmup_lr_rate):
    # HF counts this one a step ahead: the warmup reaches the peak at W - 1, starting from
    # warmup_lr_rate * peak (default: peak / W), and the decay's progress is (t - W + 1) / (T - W).
    end = _min_value(peak, min_lr, min_lr_rate)
    _half_cosine_only(num_cycles)
    start = peak / jnp.maximum(warmup, 1) if warmup_lr_rate is None else warmup_lr_rate * peak
    rise = Linear(start, peak, jnp.maximum(warmup - 1, 1))
    decay = Shift(Cosine(peak, total - warmup, end), -1)
    return Join([rise, decay], jnp.reshape(warmup, (1,)) if is_traced(warmup) else [warmup])


def _wsd(peak, warmup, total, steps, num_decay_steps, num_stable_steps, warmup_type, decay_type,
         min_lr_ratio, num_cycles):
    decay = steps(num_decay_steps)
    if num_stable_steps is not None:  # HF: num_stable_steps wins over num_training_steps
        stable = steps(num_stable_steps)
    elif total is None:
        raise ValueError("give num_training_steps or num_stable_steps (scheduler_specific_kwargs)")
    else:
        stable = total - warmup - decay
    _half_cosine_only(num_cycles)
    return Wsd(
        peak, warmup, stable, decay, min_lr_ratio * peak, warmup_shape=warmup_type, decay_shape=decay_type
    )


HF_NAMES: dict[str, NameEntry] = {
    "linear": NameEntry(_HF, "get_linear_schedule_with_warmup", _COUNTS, {}, _linear,
                        ignores_unused_counts=True),
    "cosine": NameEntry(_HF, "get_cosine_schedule_with_warmup", _COUNTS, {"num_cycles": 0.5}, _cosine,
                        ignores_unused_counts=True),
    "cosine_with_restarts": NameEntry(
        _HF, "get_cosine_with_hard_restarts_schedule_with_warmup", _COUNTS, {"num_cycles": 1}, _restarts,
        ignores_unused_counts=True,
    ),
    "polynomial": NameEntry(
        _HF, "get_polynomial_decay_schedule_with_warmup", _COUNTS, {"lr_end": 1e-7, "power": 1.0},
        _polynomial, ignores_unused_counts=True,
    ),
    # HF builds these three from the counts alone: scheduler_specific_kwargs never reach them.
    "constant": NameEntry(_HF, "get_constant_schedule", _PEAK, {}, _constant,
                          ignores_unused_counts=True, drops_specific_kwargs=True),
    "constant_with_warmup": NameEntry(_HF, "get_constant_schedule_with_warmup", _WARMUP, {},
                                      _constant_with_warmup, ignores_unused_counts=True,
                                      drops_specific_kwargs=True),
    "inverse_sqrt": NameEntry(_HF, "get_inverse_sqrt_schedule", _WARMUP, {"timescale": None}, _inverse_sqrt,
                              ignores_unused_counts=True, drops_specific_kwargs=True),
    "cosine_with_min_lr": NameEntry(
        _HF, "get_cosine_with_min_lr_schedule_with_warmup", _COUNTS,
        {"num_cycles": 0.5, "min_lr": None, "min_lr_rate": None}, _cosine_with_min_lr,
        ignores_unused_counts=True,
    ),
    "cosine_warmup_with_min_lr": NameEntry(
        _HF, "get_cosine_with_min_lr_schedule_with_warmup_lr_rate", _COUNTS,
        {"num_cycles": 0.5, "min_lr": None, "min_lr_rate": None, "warmup_lr_rate": None},
        _cosine_warmup_with_min_lr, ignores_unused_counts=True,
    ),
    "warmup_stable_decay": NameEntry(
        _HF, "get_wsd_schedule", _COUNTS,
        {"num_decay_steps": REQUIRED, "num_stable_steps": None, "warmup_type": "linear",
         "decay_type": "cosine", "min_lr_ratio": 0.0, "num_cycles": 0.5},
        _wsd, requires=_WARMUP, ignores_unused_counts=True,
    ),
}
