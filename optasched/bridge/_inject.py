"""Schedule any numeric hyperparameter of any optax optimizer, with the
schedules held in the optimizer *state*.

Because the schedules (pytrees whose leaves are their hyperparameters) live in
the state, a state built from a stacked sweep is one batched pytree, and one
``jax.vmap(opt.update)`` trains every member in one compiled program. Every
hyperparameter the update uses is in the state too: readable and settable with
optax's own ``optax.tree_utils.tree_get`` / ``tree_set``, logged by
:func:`~optasched.hyperparams`, and swappable after a checkpoint restore with
:func:`~optasched.replace_schedules`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import optax

from ..schedules import StatefulSchedule
from ._arguments import Arguments, sort_arguments
from ._evaluation import cast, evaluate, float_dtype, naming_control_flow, number_array, same_bits
from ._flax import unwrap
from ._optax_internals import optax_caller_with_own_state
from ._signature import Parameter, parameters
from ._state import InjectState, Slots, StaticNumber

__all__ = ["inject"]


def _name_of(factory: Callable) -> str:
    return getattr(factory, "__name__", type(factory).__name__)


def inject(
    factory: Callable[..., optax.GradientTransformation],
    *,
    static_args: str | Iterable[str] = (),
    hyperparam_dtype=None,
):
    r"""Wrap an optax optimizer factory so any numeric hyperparameter may be a schedule.

    ``osd.inject(optax.adamw)(learning_rate=s1, b1=s2, weight_decay=1e-4)``
    returns a :class:`optax.GradientTransformationExtraArgs`. At update
    :math:`t` (the count of previous updates) it evaluates every scheduled
    hyperparameter :math:`h_k(t)` and applies

    .. math:: u_t = \text{factory}(h_1(t), \dots, h_K(t), \text{static}).\text{update}(g_t)

    Each argument (given, or the factory's default) is held according to what
    it is:

    - an optasched schedule, a stateful hyperparameter (:func:`~optasched.plateau`,
      any :class:`optasched.StatefulSchedule`) or a floating JAX/NumPy array
      (a constant; an array of values is a sweep) is *scheduled*: it lives in
      the state (:class:`~optasched.InjectState`), so it is traced, vmapped and
      checkpointed with it, and ``update`` reads it from the state, never from
      the closure;
    - any other function of the step, such as
      ``optax.warmup_cosine_decay_schedule(...)``, is evaluated and logged
      each update too, but it has no leaves: it cannot be swept (stack
      optasched schedules for that);
    - a Python number (``b2=0.999``, the factory's defaults) is passed to the
      factory unchanged, so ``inject(optax.adam)(learning_rate=1e-3)`` *is*
      ``optax.adam(1e-3)``, bit for bit; it is still in the state, for
      logging and for ``optax.tree_utils.tree_set``;
    - PRNG keys (``jax.random.key`` or a legacy ``uint32`` key), integer and
      boolean arrays, masks, dtypes, flags, strings and ``None`` pass to the
      factory untouched, as does every argument named in ``static_args``.

    Which arguments are numeric hyperparameters is read from the factory's
    signature (its annotations, else its defaults).

    The state follows optax's conventions: ``optax.tree_utils.tree_get(state,
    "learning_rate")`` reads the value the last update used, and
    ``tree_set(state, learning_rate=1e-4)`` makes that the learning rate from
    the next update on (replacing its schedule); :func:`~optasched.hyperparams`
    logs every hyperparameter; :func:`~optasched.replace_schedules` swaps
    schedules, keeping the step count, the moments and the plateau counters.
    A stateful hyperparameter receives the update's extra arguments
    (``update(grads, state, params, value=loss)``), as optax passes them.

    Sweeps: if the schedules are stacked (:func:`optasched.stack`,
    :func:`optasched.grid`), ``init(params)`` returns one state per member
    (leading axis), all starting from the same ``params``; update them with
    ``jax.vmap(opt.update)``. When the inject optimizer sits inside a
    transformation with a state of its own (``optax.MultiSteps``,
    ``optax.apply_if_finite``), initialise the whole optimizer per member:
    ``jax.vmap(lambda m: optax.MultiSteps(osd.inject(optax.adamw)(**m),
    4).init(params))(stacked)``.

    Floating values are cast to ``hyperparam_dtype``, by default the highest
    floating dtype of the parameters (as the plain optimizer's Python floats
    would be). A *scheduled* ``b1``/``b2`` is a float32 value by nature and
    carries the float32 rounding of ``1 - b2``; every other scheduled
    hyperparameter matches the plain optimizer to float32 rounding.

    Args:
        factory: an optax optimizer or transformation constructor, such as
            ``optax.adamw`` or ``optax.scale_by_adam``, or any function
            returning a ``GradientTransformation``.
        static_args: names of arguments to pass to the factory as they are,
            never held in the state (as in ``optax.inject_hyperparams``).
        hyperparam_dtype: optional dtype for floating hyperparameter values.

    Returns:
        A function with the factory's arguments returning the transformation.

    Raises:
        ValueError: naming ``inject`` and the argument: an argument the
            factory does not take, a schedule given for an argument that is
            not a numeric hyperparameter (a mask, a dtype, a flag), a list of
            functions (which cannot be swept), or a factory that runs Python
            control flow on a value held in the state.

    Example:
        >>> import jax.numpy as jnp, optax, optasched as osd
        >>> opt = osd.inject(optax.adamw)(
        ...     learning_rate=osd.warmup(osd.cosine(1e-3, 100), 10),
        ...     b1=osd.linear(0.85, 0.95, 100), weight_decay=1e-4)
        >>> params = jnp.ones(3)
        >>> state = opt.init(params)
        >>> updates, state = opt.update(jnp.ones(3), state, params)
        >>> sorted(osd.hyperparams(state))
        ['b1', 'b2', 'eps', 'eps_root', 'learning_rate', 'weight_decay']

    Reference: the optax ``inject_hyperparams`` wrapper, whose schedules live
    in a closure; here they are state.
    """
    if not callable(factory):
        raise ValueError(f"inject: factory must be an optax optimizer factory, got {factory!r}")
    where = f"inject({_name_of(factory)})"
    read = parameters(factory)
    static_names = (static_args,) if isinstance(static_args, str) else tuple(static_args)
    _check_static_args(where, factory, read, static_names)

    @functools.wraps(factory)
    def build(*args, **kwargs) -> optax.GradientTransformationExtraArgs:
        arguments = sort_arguments(where, factory, read, static_names, args, kwargs)
        return _Injected(factory, where, arguments, hyperparam_dtype).transformation()

    return build


def _check_static_args(
    where: str, factory: Callable, read: Mapping[str, Parameter], static_names: tuple[str, ...]
) -> None:
    takes_any_keyword = any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(factory).parameters.values()
    )
    unknown = [n for n in static_names if n not in read and not takes_any_keyword]
    if unknown:
        raise ValueError(
            f"{where}: static_args names {', '.join(map(repr, unknown))}, which "
            f"{_name_of(factory)} does not take; it takes {', '.join(read)}"
        )


def _sweep_axes(where: str, scheduled: Mapping[str, Any]) -> tuple[tuple[int, ...], dict[str, int | None]]:
    """The sweep shape of the scheduled hyperparameters and each one's vmap axis."""
    shapes = {name: s.batch_shape for name, s in scheduled.items()}
    batched = {shape for shape in shapes.values() if shape}
    if len(batched) > 1:
        raise ValueError(f"{where}: stacked schedules must share one sweep shape, got {shapes}")
    batch = batched.pop() if batched else ()
    if len(batch) > 1:
        raise ValueError(f"{where}: a sweep must have one member axis, got sweep shape {batch}")
    return batch, {name: (0 if shape else None) for name, shape in shapes.items()}


class _Injected:
    """The transformation of one :func:`inject` call: its ``init`` and ``update``."""

    def __init__(self, factory: Callable, where: str, arguments: Arguments, hyperparam_dtype):
        self.factory, self.where, self.arguments = factory, where, arguments
        self.hyperparam_dtype = hyperparam_dtype
        self.batch, self.axes = _sweep_axes(where, arguments.scheduled)

    def transformation(self) -> optax.GradientTransformationExtraArgs:
        return optax.GradientTransformationExtraArgs(self.init, self.update)

    def make(self, values: Mapping[str, Any], held: Iterable[str]) -> optax.GradientTransformationExtraArgs:
        """The factory's transformation for these values (held ones are traced)."""
        with naming_control_flow(self.where, held, _name_of(self.factory)):
            return optax.with_extra_args_support(self.factory(**self.arguments.passed, **values))

    def init_member(self, schedules: Mapping[str, Any], params) -> InjectState:
        dtype = float_dtype(params, self.hyperparam_dtype)
        numbers = self.arguments.numbers
        count = jnp.zeros((), jnp.int32)
        states = {
            n: s.init_state(dtype or jnp.float32)
            for n, s in schedules.items()
            if isinstance(s, StatefulSchedule)
        }
        values = {n: evaluate(self.where, n, s, states.get(n), count, dtype) for n, s in schedules.items()}
        hyperparams = {**{n: StaticNumber(v) for n, v in numbers.items()}, **values}
        applied = {**{n: number_array(v, dtype) for n, v in numbers.items()}, **values}
        overridden = {n: jnp.zeros((), bool) for n in schedules}
        inner = self.make({**numbers, **values}, values)
        with naming_control_flow(self.where, values, _name_of(self.factory)):
            inner_state = inner.init(params)
        return InjectState(
            count,
            hyperparams,
            Slots(schedules),
            Slots(states),
            Slots(applied),
            Slots(overridden),
            inner_state,
        )

    def init(self, params) -> InjectState:
        if not self.batch:
            return self.init_member(self.arguments.scheduled, params)
        wrapper = optax_caller_with_own_state()
        if wrapper is not None:
            raise ValueError(
                f"{self.where}: this optimizer holds a sweep of {self.batch[0]} stacked members inside "
                f"{wrapper}, whose own state would get no member axis, so jax.vmap(opt.update) could not "
                "map it. Initialise the whole optimizer once per member instead: "
                f"states = jax.vmap(lambda member: {wrapper}(osd.inject({_name_of(self.factory)})(**member), "
                "...).init(params))(osd.stack(members)); then update with jax.vmap(opt.update)"
            )
        return jax.vmap(self.init_member, in_axes=(self.axes, None))(self.arguments.scheduled, params)

    def _check_state(self, state) -> None:
        if not isinstance(state, InjectState):
            raise ValueError(
                f"{self.where}: state must be the InjectState made by init, got {type(state).__name__}"
            )
        if jnp.ndim(state.count) != 0:
            raise ValueError(
                f"{self.where}: this state holds a sweep of {jnp.shape(state.count)[0]} members; update it "
                "under jax.vmap(opt.update) (inside optax.MultiSteps, apply_if_finite or another "
                "transformation with its own state, initialise the whole optimizer per member with jax.vmap)"
            )

    def _current(self, state: InjectState, dtype, extra_args: Mapping[str, Any]):
        """The value of every hyperparameter for this update, and what the next state holds."""
        count = state.count
        arguments, hyperparams, applied, overridden, states = {}, {}, {}, {}, {}
        for name, entry in state.hyperparams.items():
            source = state.schedules.get(name)
            if source is not None:
                if isinstance(source, StatefulSchedule):  # gets the update's extra arguments (value=loss)
                    states[name] = source.update_state(state.schedule_states[name], count, **extra_args)
                fresh = evaluate(self.where, name, source, states.get(name), count, dtype)
                given = cast(unwrap(entry), dtype)
                overridden[name] = state.overridden[name] | ~same_bits(given, state.applied[name])
                value = arguments[name] = hyperparams[name] = jnp.where(overridden[name], given, fresh)
            elif isinstance(entry, StaticNumber):  # the Python number itself: bit-identical to plain optax
                arguments[name], hyperparams[name] = entry.number, entry
                value = number_array(entry.number, dtype)
            else:  # a value set with tree_set in place of a Python number
                value = arguments[name] = hyperparams[name] = cast(unwrap(entry), dtype)
            applied[name] = value
        return arguments, hyperparams, Slots(states), Slots(applied), Slots(overridden)

    def update(self, updates, state: InjectState, params=None, **extra_args):
        self._check_state(state)
        dtype = float_dtype(params if params is not None else updates, self.hyperparam_dtype)
        arguments, hyperparams, states, applied, overridden = self._current(state, dtype, extra_args)
        held = [n for n in arguments if not isinstance(hyperparams[n], StaticNumber)]
        inner = self.make(arguments, held)
        with naming_control_flow(self.where, held, _name_of(self.factory)):
            updates, inner_state = inner.update(updates, state.inner_state, params, **extra_args)
        return updates, InjectState(
            optax.safe_increment(state.count),
            hyperparams,
            state.schedules,
            states,
            applied,
            overridden,
            inner_state,
        )
