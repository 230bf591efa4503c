"""Schedules by the names users already know: Hugging Face ``get_scheduler``'s,
PyTorch's ``torch.optim.lr_scheduler`` classes and timm's schedulers.

:func:`get_schedule` looks the name up in the three libraries' tables
(``_names_hf``, ``_names_torch``, ``_names_timm``), checks the arguments the
way that library does and builds the schedule from the public constructors
(``cosine``, ``warmup``, ``wsd``, ...), so the result is an ordinary optasched
schedule: every hyperparameter a leaf, sweepable and jittable.
``tests/test_names_agree_with_timm_and_hf.py`` checks the names against timm's
real classes and Hugging Face's own expected values; ``tests/test_interop.py``
against PyTorch's real schedulers and HF's formulas.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from ._combinators import Staircase
from ._name_entry import REQUIRED, NameEntry
from ._names_hf import HF_NAMES
from ._names_timm import TIMM_NAMES
from ._names_torch import TORCH_NAMES
from ._schedule import Schedule

__all__ = ["NAMES", "get_schedule"]

NAMES: dict[str, NameEntry] = {**HF_NAMES, **TORCH_NAMES, **TIMM_NAMES}

# Names without a closed form: what to use instead.
_ELSEWHERE = {
    "reduce_lr_on_plateau": "it follows the monitored loss: osd.plateau(osd.constant(peak_value), "
    "factor=..., patience=...) with PyTorch's semantics, given to osd.inject (update(..., value=loss))",
    "LambdaLR": "wrap the function: osd.from_function(lambda step, params: ..., params)",
    "MultiplicativeLR": "wrap the function: osd.from_function(lambda step, params: ..., params)",
    "SequentialLR": "osd.join([schedule, ...], boundaries=milestones)",
    "ChainedScheduler": "multiply the schedules: s1 * s2",
    "PlateauLRScheduler": "osd.plateau(osd.constant(peak_value), ...) given to osd.inject",
}
_ELSEWHERE["ReduceLROnPlateau"] = _ELSEWHERE["reduce_lr_on_plateau"]
_COUNTS = ("num_warmup_steps", "num_training_steps")


def _known() -> str:
    by_library: dict[str, list[str]] = {}
    for name, entry in NAMES.items():
        by_library.setdefault(entry.library, []).append(name)
    return "; ".join(f"{library}: {', '.join(names)}" for library, names in by_library.items())


def _lookup(name) -> tuple[str, NameEntry]:
    name = getattr(name, "value", name)  # HF's SchedulerType enum
    entry = NAMES.get(name) if isinstance(name, str) else None
    if entry is None and isinstance(name, str) and name in _ELSEWHERE:
        raise ValueError(f"get_schedule: {name!r} has no closed form; {_ELSEWHERE[name]}")
    if entry is None:
        close = difflib.get_close_matches(str(name), list(NAMES), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"get_schedule: unknown schedule {name!r}{hint}; known names: {_known()}")
    return name, entry


def _merged_kwargs(where: str, entry: NameEntry, kwargs: dict, specific) -> dict:
    """Keyword arguments and HF's ``scheduler_specific_kwargs`` as one dict."""
    if specific is None:
        return kwargs
    if not isinstance(specific, Mapping):
        raise ValueError(f"{where}: scheduler_specific_kwargs must be a dict, got {specific!r}")
    twice = sorted(set(specific) & set(kwargs), key=str)
    if twice:
        raise ValueError(
            f"{where}: {', '.join(map(repr, twice))} given both as a keyword argument and in "
            "scheduler_specific_kwargs"
        )
    if entry.drops_specific_kwargs:  # transformers.get_scheduler never passes them on for this name
        return kwargs
    return {**kwargs, **specific}


def get_schedule(
    name: str,
    peak_value=None,
    num_warmup_steps=None,
    num_training_steps=None,
    *,
    steps_per_epoch: int | None = None,
    scheduler_specific_kwargs: Mapping | None = None,
    **kwargs,
) -> Schedule:
    r"""A schedule by the name Hugging Face, PyTorch or timm users know it.

    In the style of Hugging Face's ``get_scheduler(name, optimizer,
    num_warmup_steps, num_training_steps, scheduler_specific_kwargs)``:
    ``peak_value`` is the optimizer's learning rate and ``kwargs`` (or
    ``scheduler_specific_kwargs``) are the library's own arguments, by its own
    names. The names:

    - Hugging Face ``transformers``: ``linear``, ``cosine``,
      ``cosine_with_restarts``, ``polynomial``, ``constant``,
      ``constant_with_warmup``, ``inverse_sqrt``, ``cosine_with_min_lr``,
      ``cosine_warmup_with_min_lr``, ``warmup_stable_decay``;
    - PyTorch ``torch.optim.lr_scheduler`` classes with a closed form:
      ``StepLR``, ``MultiStepLR``, ``ExponentialLR``, ``CosineAnnealingLR``,
      ``CosineAnnealingWarmRestarts``, ``LinearLR``, ``ConstantLR``,
      ``PolynomialLR``, ``OneCycleLR``, ``CyclicLR``;
    - timm: ``CosineLRScheduler``, ``PolyLRScheduler``, ``TanhLRScheduler``,
      ``StepLRScheduler``, ``MultiStepLRScheduler``, with timm's own defaults
      and conventions (``warmup_prefix=True`` for the two step schedulers,
      milestones compared with ``t + 1`` in ``MultiStepLRScheduler``).

    Hugging Face's names take HF's one uniform call, as the Trainer makes it:
    both counts may always be given, and a count a schedule does not read is
    ignored (``constant`` reads neither, ``constant_with_warmup`` and
    ``inverse_sqrt`` only ``num_warmup_steps``); a count it needs is required
    (every name but ``constant`` needs ``num_warmup_steps``;
    ``warmup_stable_decay`` takes ``num_stable_steps`` in place of
    ``num_training_steps``). As in ``transformers.get_scheduler``,
    ``scheduler_specific_kwargs`` do not reach ``constant``,
    ``constant_with_warmup`` and ``inverse_sqrt``. PyTorch's and timm's names
    refuse the HF counts.

    Every count (``num_warmup_steps``, ``T_max``, ``milestones``,
    ``t_initial`` ...) is in optimizer steps. With ``steps_per_epoch``, the
    counts are in epochs, as when ``scheduler.step()`` runs once per epoch in
    PyTorch (or timm's ``t_in_epochs=True``): the result holds each epoch's
    value for its ``steps_per_epoch`` steps, a :func:`optasched.staircase`, so
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
        name: the schedule's name (see above), or HF's ``SchedulerType``.
        peak_value: the learning rate the optimizer is built with.
        num_warmup_steps: warmup length in steps (Hugging Face names).
        num_training_steps: total length in steps (Hugging Face names).
        steps_per_epoch: treat counts as epochs and step once per epoch
            (``None``: counts are optimizer steps).
        scheduler_specific_kwargs: Hugging Face's dict of the schedule's own
            arguments (``{"min_lr_rate": 0.1}``, ``{"num_decay_steps": 20}``);
            the same as giving them as keyword arguments.
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
        >>> s = osd.get_schedule("constant_with_warmup", 1.0, num_warmup_steps=10, num_training_steps=110)
        >>> float(s(5)), float(s(200))
        (0.5, 1.0)
        >>> s = osd.get_schedule("cosine_with_min_lr", 1.0, 0, 100,
        ...                      scheduler_specific_kwargs={"min_lr_rate": 0.1})
        >>> round(float(s(100)), 4)
        0.1
        >>> s = osd.get_schedule("StepLR", peak_value=0.1, step_size=30, gamma=0.1, steps_per_epoch=100)
        >>> round(float(s(2999)), 6), round(float(s(3000)), 6)
        (0.1, 0.01)

    Reference: Hugging Face ``transformers.get_scheduler``; PyTorch
    ``torch.optim.lr_scheduler``; timm ``timm.scheduler``.
    """
    name, entry = _lookup(name)
    where = f"get_schedule({name!r})"
    kwargs = _merged_kwargs(where, entry, kwargs, scheduler_specific_kwargs)
    accepted = dict(entry.arguments)
    if "steps_per_epoch" in accepted:  # OneCycleLR's own steps_per_epoch
        kwargs["steps_per_epoch"] = steps_per_epoch
        steps_per_epoch = None
    unknown = sorted(set(kwargs) - set(accepted), key=str)
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
    for argument in _COUNTS:
        if given[argument] is not None and argument not in entry.uses:
            if not entry.ignores_unused_counts:
                raise ValueError(f"{where}: {entry.reference} takes no {argument}")
            given[argument] = None  # HF's uniform call: a count the schedule does not read is ignored
    for argument in entry.required:
        if given[argument] is None:
            raise ValueError(f"{where}: {argument} is required ({entry.library} {entry.reference})")
    arguments = {k: kwargs.get(k, default) for k, default in accepted.items()}
    missing = [k for k, v in arguments.items() if v is REQUIRED]
    if missing:
        raise ValueError(
            f"{where}: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required "
            f"({entry.library} {entry.reference})"
        )
    if steps_per_epoch is not None and (
        isinstance(steps_per_epoch, bool) or not isinstance(steps_per_epoch, int) or steps_per_epoch < 1
    ):
        raise ValueError(f"{where}: steps_per_epoch must be a positive int, got {steps_per_epoch!r}")
    if arguments.get("t_in_epochs") is False and steps_per_epoch is not None:
        raise ValueError(
            f"{where}: t_in_epochs=False counts optimizer updates; steps_per_epoch={steps_per_epoch} "
            "makes the counts epochs (timm's t_in_epochs=True)"
        )
    scale = steps_per_epoch or 1

    def steps(count):
        return count * scale

    warmup, total = given["num_warmup_steps"], given["num_training_steps"]
    if warmup is not None and total is not None and total < warmup:
        raise ValueError(f"{where}: num_training_steps ({total}) must be >= num_warmup_steps ({warmup})")
    warmup = steps(warmup) if warmup is not None else 0
    total = steps(total) if total is not None else None
    try:
        schedule = entry.build(given["peak_value"], warmup, total, steps, **arguments)
        if steps_per_epoch is not None and steps_per_epoch > 1:
            schedule = Staircase(schedule, steps_per_epoch)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    return schedule
