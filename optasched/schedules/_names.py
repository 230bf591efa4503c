"""Schedules by the names users already know: Hugging Face ``get_scheduler``'s,
PyTorch's ``torch.optim.lr_scheduler`` classes and timm's schedulers.

:func:`get_schedule` builds each from the public constructors (``cosine``,
``warmup``, ``wsd``, ...), so the result is an ordinary optasched schedule:
every hyperparameter a leaf, sweepable and jittable. Each name follows its
library's own formula and argument names; ``tests/test_interop.py`` checks
every one against that formula (PyTorch's against the real classes).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from ._base import Constant, Schedule, is_traced
from ._combinators import Join, Shift, Staircase, Warmup
from ._cyclic import CosineRestarts, Cyclic
from ._families import Cosine, Exponential, InverseSqrt, Linear, Polynomial, StepDecay, TanhDecay
from ._piecewise import Multistep, OneCycle, Wsd

_REQUIRED = object()  # marks an argument without a default


class _Name(NamedTuple):
    library: str  # "Hugging Face", "PyTorch" or "timm"
    reference: str  # the function or class it reproduces
    uses: tuple[str, ...]  # which of peak_value, num_warmup_steps, num_training_steps it reads
    arguments: Mapping[str, Any]  # its own keyword arguments -> default (or _REQUIRED)
    build: Callable[..., Schedule]  # build(peak, warmup, total, steps, **arguments)


# -- Hugging Face transformers (optimization.py, get_scheduler) --------------------------------


def _hf_warmup(schedule: Schedule, warmup: Any) -> Schedule:
    # HF: step / max(1, W) for step < W, then the decay restarted at W. Always a Warmup
    # (warmup 0 is the schedule itself), so members with and without warmup stack as one family.
    return Warmup(schedule, warmup)


def _hf_cosine(peak, warmup, total, steps, num_cycles):
    if num_cycles != 0.5:
        raise ValueError(
            f"num_cycles={num_cycles!r}: only the half cosine (0.5) is a decay; for cycles use "
            "'cosine_with_restarts'"
        )
    return _hf_warmup(Cosine(peak, total - warmup), warmup)


def _hf_restarts(peak, warmup, total, steps, num_cycles):
    # HF: 0.5 (1 + cos(pi ((c p) % 1))) for progress p < 1, then 0: cycles of (T - W) / c steps.
    cycles = CosineRestarts(peak, (total - warmup) / num_cycles)
    return _hf_warmup(Join([cycles, Constant(0.0)], [total - warmup]), warmup)


def _hf_polynomial(peak, warmup, total, steps, lr_end, power):
    if not is_traced(peak) and not np.all(np.asarray(peak) > lr_end):
        raise ValueError(f"lr_end ({lr_end}) must be smaller than peak_value ({peak}), as HF requires")
    return _hf_warmup(Polynomial(peak, lr_end, power, total - warmup), warmup)


def _hf_inverse_sqrt(peak, warmup, total, steps, timescale):
    if timescale is None:  # HF's default: num_warmup_steps, or 10_000 without warmup
        timescale = jnp.where(jnp.asarray(warmup) > 0, warmup, steps(10_000))
    return InverseSqrt(peak, warmup, timescale=timescale)


def _hf_min_lr(peak, warmup, total, steps, num_cycles, min_lr, min_lr_rate):
    if (min_lr is None) == (min_lr_rate is None):
        raise ValueError("give exactly one of min_lr and min_lr_rate")
    end = min_lr if min_lr is not None else min_lr_rate * peak
    if num_cycles != 0.5:
        raise ValueError(f"num_cycles={num_cycles!r}: only the half cosine (0.5) is supported")
    return _hf_warmup(Cosine(peak, total - warmup, end), warmup)


def _hf_wsd(
    peak,
    warmup,
    total,
    steps,
    num_decay_steps,
    num_stable_steps,
    warmup_type,
    decay_type,
    min_lr_ratio,
    num_cycles,
):
    if num_decay_steps is None:
        raise ValueError("num_decay_steps is required")
    decay = steps(num_decay_steps)
    if num_stable_steps is None:
        if total is None:
            raise ValueError("give num_training_steps or num_stable_steps")
        stable = total - warmup - decay
    else:
        stable = steps(num_stable_steps)
    if num_cycles != 0.5:
        raise ValueError(f"num_cycles={num_cycles!r}: only the half cosine (0.5) is supported")
    return Wsd(
        peak, warmup, stable, decay, min_lr_ratio * peak, warmup_shape=warmup_type, decay_shape=decay_type
    )


_HF = "Hugging Face"
_WT = ("peak_value", "num_warmup_steps", "num_training_steps")
NAMES: dict[str, _Name] = {
    "linear": _Name(
        _HF,
        "get_linear_schedule_with_warmup",
        _WT,
        {},
        lambda peak, warmup, total, steps: _hf_warmup(Linear(peak, 0.0, total - warmup), warmup),
    ),
    "cosine": _Name(_HF, "get_cosine_schedule_with_warmup", _WT, {"num_cycles": 0.5}, _hf_cosine),
    "cosine_with_restarts": _Name(
        _HF, "get_cosine_with_hard_restarts_schedule_with_warmup", _WT, {"num_cycles": 1}, _hf_restarts
    ),
    "polynomial": _Name(
        _HF, "get_polynomial_decay_schedule_with_warmup", _WT, {"lr_end": 1e-7, "power": 1.0}, _hf_polynomial
    ),
    "constant": _Name(
        _HF, "get_constant_schedule", ("peak_value",), {}, lambda peak, warmup, total, steps: Constant(peak)
    ),
    "constant_with_warmup": _Name(
        _HF,
        "get_constant_schedule_with_warmup",
        ("peak_value", "num_warmup_steps"),
        {},
        lambda peak, warmup, total, steps: _hf_warmup(Constant(peak), warmup),
    ),
    "inverse_sqrt": _Name(
        _HF,
        "get_inverse_sqrt_schedule",
        ("peak_value", "num_warmup_steps"),
        {"timescale": None},
        _hf_inverse_sqrt,
    ),
    "cosine_with_min_lr": _Name(
        _HF,
        "get_cosine_with_min_lr_schedule_with_warmup",
        _WT,
        {"num_cycles": 0.5, "min_lr": None, "min_lr_rate": None},
        _hf_min_lr,
    ),
    "warmup_stable_decay": _Name(
        _HF,
        "get_wsd_schedule",
        _WT,
        {
            "num_decay_steps": None,
            "num_stable_steps": None,
            "warmup_type": "linear",
            "decay_type": "cosine",
            "min_lr_ratio": 0.0,
            "num_cycles": 0.5,
        },
        _hf_wsd,
    ),
}
_OPTIONAL_TOTAL = {"warmup_stable_decay"}  # num_training_steps may be replaced by num_stable_steps


# -- PyTorch torch.optim.lr_scheduler (closed forms; peak_value is the optimizer's lr) ----------


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


_PT = "PyTorch"
_P = ("peak_value",)
NAMES.update(
    {
        "StepLR": _Name(
            _PT,
            "torch.optim.lr_scheduler.StepLR",
            _P,
            {"step_size": _REQUIRED, "gamma": 0.1},
            lambda peak, warmup, total, steps, step_size, gamma: StepDecay(peak, steps(step_size), gamma),
        ),
        "MultiStepLR": _Name(
            _PT,
            "torch.optim.lr_scheduler.MultiStepLR",
            _P,
            {"milestones": _REQUIRED, "gamma": 0.1},
            lambda peak, warmup, total, steps, milestones, gamma: Multistep(
                peak, [steps(m) for m in milestones], gamma
            ),
        ),
        "ExponentialLR": _Name(
            _PT,
            "torch.optim.lr_scheduler.ExponentialLR",
            _P,
            {"gamma": _REQUIRED},
            lambda peak, warmup, total, steps, gamma: Exponential(peak, steps(1), gamma),
        ),
        "CosineAnnealingLR": _Name(
            _PT,
            "torch.optim.lr_scheduler.CosineAnnealingLR",
            _P,
            {"T_max": _REQUIRED, "eta_min": 0.0},
            lambda peak, warmup, total, steps, T_max, eta_min: Cosine(peak, steps(T_max), eta_min),
        ),
        "CosineAnnealingWarmRestarts": _Name(
            _PT,
            "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts",
            _P,
            {"T_0": _REQUIRED, "T_mult": 1, "eta_min": 0.0},
            lambda peak, warmup, total, steps, T_0, T_mult, eta_min: CosineRestarts(
                peak, steps(T_0), period_multiplier=T_mult, end_value=eta_min
            ),
        ),
        "LinearLR": _Name(
            _PT,
            "torch.optim.lr_scheduler.LinearLR",
            _P,
            {"start_factor": 1.0 / 3, "end_factor": 1.0, "total_iters": 5},
            lambda peak, warmup, total, steps, start_factor, end_factor, total_iters: Linear(
                peak * start_factor, peak * end_factor, steps(total_iters)
            ),
        ),
        "ConstantLR": _Name(
            _PT,
            "torch.optim.lr_scheduler.ConstantLR",
            _P,
            {"factor": 1.0 / 3, "total_iters": 5},
            lambda peak, warmup, total, steps, factor, total_iters: Join(
                [Constant(peak * factor), Constant(peak)], [steps(total_iters)]
            ),
        ),
        "PolynomialLR": _Name(
            _PT,
            "torch.optim.lr_scheduler.PolynomialLR",
            _P,
            {"total_iters": 5, "power": 1.0},
            lambda peak, warmup, total, steps, total_iters, power: Polynomial(
                peak, 0.0, power, steps(total_iters)
            ),
        ),
        "OneCycleLR": _Name(
            _PT,
            "torch.optim.lr_scheduler.OneCycleLR",
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
        "CyclicLR": _Name(
            _PT,
            "torch.optim.lr_scheduler.CyclicLR",
            (),
            {
                "base_lr": _REQUIRED,
                "max_lr": None,
                "step_size_up": 2000,
                "step_size_down": None,
                "mode": "triangular",
                "gamma": 1.0,
            },
            _cyclic,
        ),
    }
)


# -- timm (timm.scheduler; t counts epochs, or updates with t_in_epochs=False) ------------------


def _timm_warmup(schedule: Schedule, warmup_t, warmup_lr_init, warmup_prefix, peak) -> Schedule:
    """timm's warmup: ``warmup_lr_init + t (peak - warmup_lr_init) / warmup_t`` for t < warmup_t; then
    the schedule at t (or at t - warmup_t with ``warmup_prefix``)."""
    after = schedule if warmup_prefix else Shift(schedule, -warmup_t)
    return Join([Linear(warmup_lr_init, peak, warmup_t), after], [warmup_t])


def _timm_single_cycle(cycle_limit, cycle_mul, cycle_decay, k_decay):
    if k_decay != 1.0:
        raise ValueError(f"k_decay={k_decay!r} has no closed-form family here; only 1.0")
    if (cycle_limit, cycle_mul, cycle_decay) != (1, 1.0, 1.0):
        raise ValueError(
            "only one cycle (cycle_limit=1, cycle_mul=1, cycle_decay=1) is supported for this scheduler"
        )


def _timm_cosine(
    peak,
    warmup,
    total,
    steps,
    t_initial,
    lr_min,
    cycle_mul,
    cycle_decay,
    cycle_limit,
    warmup_t,
    warmup_lr_init,
    warmup_prefix,
    k_decay,
):
    if k_decay != 1.0:
        raise ValueError(f"k_decay={k_decay!r} has no closed-form family here; only 1.0")
    first = steps(t_initial)
    if not (is_traced(cycle_decay) or is_traced(lr_min)) and (cycle_decay == 1.0 or lr_min == 0.0):
        cycles = CosineRestarts(peak, first, cycle_mul, cycle_decay, end_value=lr_min)
    else:  # timm decays the peak, not the amplitude: lr_min + (peak decay^i - lr_min) (1 + cos) / 2
        cycles = CosineRestarts(peak, first, cycle_mul, cycle_decay) + CosineRestarts(
            0.0, first, cycle_mul, end_value=lr_min
        )
    length = sum(first * cycle_mul**i for i in range(int(cycle_limit)))
    cycles = Join([cycles, Constant(lr_min)], [length])
    return _timm_warmup(cycles, steps(warmup_t), warmup_lr_init, warmup_prefix, peak)


def _timm_poly(
    peak,
    warmup,
    total,
    steps,
    t_initial,
    power,
    lr_min,
    cycle_mul,
    cycle_decay,
    cycle_limit,
    warmup_t,
    warmup_lr_init,
    warmup_prefix,
    k_decay,
):
    _timm_single_cycle(cycle_limit, cycle_mul, cycle_decay, k_decay)
    return _timm_warmup(
        Polynomial(peak, lr_min, power, steps(t_initial)),
        steps(warmup_t),
        warmup_lr_init,
        warmup_prefix,
        peak,
    )


def _timm_tanh(
    peak,
    warmup,
    total,
    steps,
    t_initial,
    lb,
    ub,
    lr_min,
    cycle_mul,
    cycle_decay,
    cycle_limit,
    warmup_t,
    warmup_lr_init,
    warmup_prefix,
):
    _timm_single_cycle(cycle_limit, cycle_mul, cycle_decay, 1.0)
    return _timm_warmup(
        TanhDecay(peak, steps(t_initial), lr_min, lb, ub),
        steps(warmup_t),
        warmup_lr_init,
        warmup_prefix,
        peak,
    )


def _timm_step(peak, warmup, total, steps, decay_t, decay_rate, warmup_t, warmup_lr_init, warmup_prefix):
    schedule = StepDecay(peak, steps(decay_t), decay_rate)
    return _timm_warmup(schedule, steps(warmup_t), warmup_lr_init, warmup_prefix, peak)


def _timm_multistep(peak, warmup, total, steps, decay_t, decay_rate, warmup_t, warmup_lr_init, warmup_prefix):
    schedule = Multistep(peak, [steps(t) for t in decay_t], decay_rate)
    return _timm_warmup(schedule, steps(warmup_t), warmup_lr_init, warmup_prefix, peak)


_TM = "timm"
_WARM = {"warmup_t": 0, "warmup_lr_init": 0.0, "warmup_prefix": False}
_CYCLES = {"cycle_mul": 1.0, "cycle_decay": 1.0, "cycle_limit": 1}
NAMES.update(
    {
        "CosineLRScheduler": _Name(
            _TM,
            "timm.scheduler.CosineLRScheduler",
            _P,
            {"t_initial": _REQUIRED, "lr_min": 0.0, **_CYCLES, **_WARM, "k_decay": 1.0},
            _timm_cosine,
        ),
        "PolyLRScheduler": _Name(
            _TM,
            "timm.scheduler.PolyLRScheduler",
            _P,
            {"t_initial": _REQUIRED, "power": 0.5, "lr_min": 0.0, **_CYCLES, **_WARM, "k_decay": 1.0},
            _timm_poly,
        ),
        "TanhLRScheduler": _Name(
            _TM,
            "timm.scheduler.TanhLRScheduler",
            _P,
            {"t_initial": _REQUIRED, "lb": -7.0, "ub": 3.0, "lr_min": 0.0, **_CYCLES, **_WARM},
            _timm_tanh,
        ),
        "StepLRScheduler": _Name(
            _TM,
            "timm.scheduler.StepLRScheduler",
            _P,
            {"decay_t": _REQUIRED, "decay_rate": 1.0, **_WARM},
            _timm_step,
        ),
        "MultiStepLRScheduler": _Name(
            _TM,
            "timm.scheduler.MultiStepLRScheduler",
            _P,
            {"decay_t": _REQUIRED, "decay_rate": 1.0, **_WARM},
            _timm_multistep,
        ),
    }
)


# Names without a closed form: what to use instead.
_ELSEWHERE = {
    "reduce_lr_on_plateau": "it follows the monitored loss: osd.plateau(osd.constant(peak_value), factor=..., "
    "patience=...) with PyTorch's semantics, given to osd.inject (update(..., value=loss))",
    "LambdaLR": "wrap the function: osd.from_function(lambda step, params: ..., params)",
    "MultiplicativeLR": "wrap the function: osd.from_function(lambda step, params: ..., params)",
    "SequentialLR": "osd.join([schedule, ...], boundaries=milestones)",
    "ChainedScheduler": "multiply the schedules: s1 * s2",
    "PlateauLRScheduler": "osd.plateau(osd.constant(peak_value), ...) given to osd.inject",
}
_ELSEWHERE["ReduceLROnPlateau"] = _ELSEWHERE["reduce_lr_on_plateau"]


def _known() -> str:
    by_library: dict[str, list[str]] = {}
    for name, entry in NAMES.items():
        by_library.setdefault(entry.library, []).append(name)
    return "; ".join(f"{library}: {', '.join(names)}" for library, names in by_library.items())


def get_schedule(
    name: str,
    peak_value=None,
    num_warmup_steps=None,
    num_training_steps=None,
    *,
    steps_per_epoch: int | None = None,
    **kwargs,
) -> Schedule:
    r"""A schedule by the name Hugging Face, PyTorch or timm users know it.

    In the style of Hugging Face's ``get_scheduler(name, optimizer,
    num_warmup_steps, num_training_steps, scheduler_specific_kwargs)``:
    ``peak_value`` is the optimizer's learning rate and ``kwargs`` are the
    library's own arguments, by its own names. The names:

    - Hugging Face ``transformers``: ``linear``, ``cosine``,
      ``cosine_with_restarts``, ``polynomial``, ``constant``,
      ``constant_with_warmup``, ``inverse_sqrt``, ``cosine_with_min_lr``,
      ``warmup_stable_decay``;
    - PyTorch ``torch.optim.lr_scheduler`` classes with a closed form:
      ``StepLR``, ``MultiStepLR``, ``ExponentialLR``, ``CosineAnnealingLR``,
      ``CosineAnnealingWarmRestarts``, ``LinearLR``, ``ConstantLR``,
      ``PolynomialLR``, ``OneCycleLR``, ``CyclicLR``;
    - timm: ``CosineLRScheduler``, ``PolyLRScheduler``, ``TanhLRScheduler``,
      ``StepLRScheduler``, ``MultiStepLRScheduler``.

    Every count (``num_warmup_steps``, ``T_max``, ``milestones``,
    ``t_initial`` ...) is in optimizer steps. With ``steps_per_epoch``, the
    counts are in epochs, as when ``scheduler.step()`` runs once per epoch in
    PyTorch (or timm's ``t_in_epochs``): the result holds each epoch's value
    for its ``steps_per_epoch`` steps, a :func:`optasched.staircase`, so
    step :math:`t` gets the epoch-:math:`\lfloor t / \text{steps\_per\_epoch}
    \rfloor` value exactly. (``OneCycleLR`` steps per batch and keeps
    PyTorch's meaning: ``total_steps = epochs * steps_per_epoch``.) Names
    without a closed form (``ReduceLROnPlateau``, ``LambdaLR``,
    ``SequentialLR`` ...) raise an error that says what to use instead
    (:func:`optasched.plateau`, :func:`optasched.from_function`,
    :func:`optasched.join`).

    Where the libraries differ after the last step: HF's ``cosine`` and
    PyTorch's ``CosineAnnealingLR`` are not clipped (past
    ``num_training_steps`` / ``T_max`` the cosine rises again); here the
    schedule holds its end value.

    Args:
        name: the schedule's name (see above).
        peak_value: the learning rate the optimizer is built with.
        num_warmup_steps: warmup length (Hugging Face names).
        num_training_steps: total length (Hugging Face names).
        steps_per_epoch: treat counts as epochs and step per epoch.
        **kwargs: the library's own arguments (``num_cycles``, ``T_max``,
            ``eta_min``, ``t_initial``, ``warmup_t`` ...).

    Returns:
        An optasched :class:`Schedule`.

    Raises:
        ValueError: for an unknown name (listing the known ones), a missing
            or unknown argument (listing the accepted ones), or a value the
            library would refuse.

    Example:
        >>> import optasched as osd
        >>> s = osd.get_schedule("cosine", peak_value=1.0, num_warmup_steps=10, num_training_steps=110)
        >>> [round(float(s(t)), 4) for t in (5, 10, 60, 110)]
        [0.5, 1.0, 0.5, 0.0]
        >>> s = osd.get_schedule("StepLR", peak_value=0.1, step_size=30, gamma=0.1, steps_per_epoch=100)
        >>> round(float(s(2999)), 6), round(float(s(3000)), 6)
        (0.1, 0.01)

    Reference: Hugging Face ``transformers.get_scheduler``; PyTorch
    ``torch.optim.lr_scheduler``; timm ``timm.scheduler``.
    """
    name = getattr(name, "value", name)  # HF's SchedulerType enum
    entry = NAMES.get(name) if isinstance(name, str) else None
    if entry is None and name in _ELSEWHERE:
        raise ValueError(f"get_schedule: {name!r} has no closed form; {_ELSEWHERE[name]}")
    if entry is None:
        close = difflib.get_close_matches(str(name), list(NAMES), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"get_schedule: unknown schedule {name!r}{hint}; known names: {_known()}")
    where = f"get_schedule({name!r})"
    accepted = dict(entry.arguments)
    takes_epoch_count = "steps_per_epoch" in accepted  # OneCycleLR's own steps_per_epoch
    if takes_epoch_count:
        kwargs["steps_per_epoch"] = steps_per_epoch
        steps_per_epoch = None
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(
            f"{where}: unknown argument {', '.join(map(repr, unknown))}; {entry.reference} takes "
            f"{', '.join(list(entry.uses) + list(accepted)) or 'no arguments'}"
        )
    given = {
        "peak_value": peak_value,
        "num_warmup_steps": num_warmup_steps,
        "num_training_steps": num_training_steps,
    }
    for argument in ("num_warmup_steps", "num_training_steps"):
        if given[argument] is not None and argument not in entry.uses:
            raise ValueError(f"{where}: {entry.reference} takes no {argument}")
    for argument in entry.uses:
        if given[argument] is None and not (argument == "num_training_steps" and name in _OPTIONAL_TOTAL):
            raise ValueError(f"{where}: {argument} is required ({entry.library} {entry.reference})")
    arguments = {k: kwargs.get(k, default) for k, default in accepted.items()}
    missing = [k for k, v in arguments.items() if v is _REQUIRED]
    if missing:
        raise ValueError(
            f"{where}: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required "
            f"({entry.library} {entry.reference})"
        )
    if steps_per_epoch is not None and (
        isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, int) or steps_per_epoch < 1
    ):
        raise ValueError(f"{where}: steps_per_epoch must be a positive int, got {steps_per_epoch!r}")
    scale = steps_per_epoch or 1

    def steps(count):
        return count * scale

    if (
        num_warmup_steps is not None
        and num_training_steps is not None
        and num_training_steps < num_warmup_steps
    ):
        raise ValueError(
            f"{where}: num_training_steps ({num_training_steps}) must be >= num_warmup_steps ({num_warmup_steps})"
        )
    warmup = steps(num_warmup_steps) if num_warmup_steps is not None else 0
    total = steps(num_training_steps) if num_training_steps is not None else None
    try:
        schedule = entry.build(peak_value, warmup, total, steps, **arguments)
        if steps_per_epoch is not None and steps_per_epoch > 1:
            schedule = Staircase(schedule, steps_per_epoch)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    return schedule
