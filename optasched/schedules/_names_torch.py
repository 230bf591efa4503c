"""PyTorch ``torch.optim.lr_scheduler`` classes with a closed form (``peak_value``
is the optimizer's ``lr``; one optimizer step per ``scheduler.step()``).
"""

from __future__ import annotations

from ._algebra import Constant
from ._combinators import Join
from ._cyclic import CosineRestarts, Cyclic
from ._families import Cosine, Exponential, Linear, Polynomial, StepDecay
from ._name_entry import REQUIRED, NameEntry
from ._piecewise import Multistep, OneCycle

__all__ = ["TORCH_NAMES"]

_PT = "PyTorch"
_PEAK = ("peak_value",)


def _one_cycle(peak, warmup, total, steps, max_lr, total_steps, epochs, steps_per_epoch, **arguments):
    max_lr = peak if max_lr is None else max_lr
    if max_lr is None:
        raise ValueError("give max_lr (or peak_value)")
    if total_steps is None:
        if epochs is None or steps_per_epoch is None:
            raise ValueError("give total_steps, or epochs and steps_per_epoch (as PyTorch does)")
        total_steps = epochs * steps_per_epoch
    return OneCycle(max_lr, total_steps, **arguments)


def _cyclic(peak, warmup, total, steps, base_lr, max_lr, step_size_up, step_size_down, mode, gamma):
    max_lr = peak if max_lr is None else max_lr
    if max_lr is None:
        raise ValueError("give max_lr (or peak_value)")
    down = None if step_size_down is None else steps(step_size_down)
    return Cyclic(base_lr, max_lr, steps(step_size_up), down, mode=mode, gamma=gamma)


def _step(peak, warmup, total, steps, step_size, gamma):
    return StepDecay(peak, steps(step_size), gamma)


def _multistep(peak, warmup, total, steps, milestones, gamma):
    return Multistep(peak, [steps(m) for m in milestones], gamma)


def _exponential(peak, warmup, total, steps, gamma):
    return Exponential(peak, steps(1), gamma)


def _cosine(peak, warmup, total, steps, T_max, eta_min):  # noqa: N803 (PyTorch's names)
    return Cosine(peak, steps(T_max), eta_min)


def _warm_restarts(peak, warmup, total, steps, T_0, T_mult, eta_min):  # noqa: N803
    return CosineRestarts(peak, steps(T_0), period_multiplier=T_mult, end_value=eta_min)


def _linear(peak, warmup, total, steps, start_factor, end_factor, total_iters):
    return Linear(peak * start_factor, peak * end_factor, steps(total_iters))


def _constant(peak, warmup, total, steps, factor, total_iters):
    return Join([Constant(peak * factor), Constant(peak)], [steps(total_iters)])


def _polynomial(peak, warmup, total, steps, total_iters, power):
    return Polynomial(peak, 0.0, power, steps(total_iters))


def _entry(reference, uses, arguments, build):
    return NameEntry(_PT, f"torch.optim.lr_scheduler.{reference}", uses, arguments, build)


TORCH_NAMES: dict[str, NameEntry] = {
    "StepLR": _entry("StepLR", _PEAK, {"step_size": REQUIRED, "gamma": 0.1}, _step),
    "MultiStepLR": _entry("MultiStepLR", _PEAK, {"milestones": REQUIRED, "gamma": 0.1}, _multistep),
    "ExponentialLR": _entry("ExponentialLR", _PEAK, {"gamma": REQUIRED}, _exponential),
    "CosineAnnealingLR": _entry("CosineAnnealingLR", _PEAK, {"T_max": REQUIRED, "eta_min": 0.0}, _cosine),
    "CosineAnnealingWarmRestarts": _entry(
        "CosineAnnealingWarmRestarts", _PEAK, {"T_0": REQUIRED, "T_mult": 1, "eta_min": 0.0}, _warm_restarts
    ),
    "LinearLR": _entry(
        "LinearLR", _PEAK, {"start_factor": 1.0 / 3, "end_factor": 1.0, "total_iters": 5}, _linear
    ),
    "ConstantLR": _entry("ConstantLR", _PEAK, {"factor": 1.0 / 3, "total_iters": 5}, _constant),
    "PolynomialLR": _entry("PolynomialLR", _PEAK, {"total_iters": 5, "power": 1.0}, _polynomial),
    "OneCycleLR": _entry(
        "OneCycleLR",
        (),
        {
            "max_lr": None,
            "total_steps": None,
            "epochs": None,
            "steps_per_epoch": None,
            "pct_start": 0.3,
            "anneal_strategy": "cos",
            "div_factor": 25.0,
            "final_div_factor": 1e4,
            "three_phase": False,
        },
        _one_cycle,
    ),
    "CyclicLR": _entry(
        "CyclicLR",
        (),
        {
            "base_lr": REQUIRED,
            "max_lr": None,
            "step_size_up": 2000,
            "step_size_down": None,
            "mode": "triangular",
            "gamma": 1.0,
        },
        _cyclic,
    ),
}
