"""Schedule any numeric hyperparameter of any optax optimizer, with the
schedules held in the optimizer *state*.

Because the schedules (pytrees whose leaves are their hyperparameters) live in
the state, a state built from a stacked sweep is one batched pytree, and one
``jax.vmap(opt.update)`` trains every member in one compiled program. Every
hyperparameter the update uses is in the state too: readable and settable with
optax's own ``optax.tree_utils.tree_get`` / ``tree_set``, logged by
:func:`hyperparams`, and swappable after a checkpoint restore with
:func:`replace_schedules`.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import numbers
import sys
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..schedules import Constant, Schedule, StatefulSchedule

# -- what the state holds --------------------------------------------------------------------


class _Static(float):
    """A Python number given to :func:`inject` (or a factory default).

    The update passes the number itself to the factory, so the optimizer is
    bit-identical to the plain one (optax issue 1532: ``1 - b2`` from a float32
    array differs from the Python value). In ``InjectState.hyperparams`` it is a
    pytree node without leaves that reads as the number (``tree_get`` returns
    it; it is a ``float``). Replacing it with ``optax.tree_utils.tree_set``
    changes the state's structure, which the next update sees when it is
    traced, and from then on that hyperparameter is the value set.
    """

    def __new__(cls, number):
        self = super().__new__(cls, number)
        self.number = number  # the object given, int or float, passed on unchanged
        return self

    def __repr__(self) -> str:
        return repr(self.number)

    def __reduce__(self):
        return (_Static, (self.number,))


jax.tree_util.register_pytree_node(_Static, lambda s: ((), s.number), lambda number, _: _Static(number))


class _StepFunction:
    """A plain function of the step (``optax.warmup_cosine_decay_schedule(...)``,
    a lambda) given as a hyperparameter. It is held in the state as structure
    (a pytree node without leaves): evaluated and logged by every update, but
    it has no hyperparameters to stack, so it cannot be swept."""

    def __init__(self, function: Callable):
        self.function = function

    def __call__(self, step) -> jax.Array:
        return jnp.asarray(self.function(step))

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return ()

    def __repr__(self) -> str:
        return f"function({getattr(self.function, '__qualname__', self.function)!r})"


jax.tree_util.register_pytree_node(
    _StepFunction, lambda f: ((), f.function), lambda function, _: _StepFunction(function)
)


class _Slots(Mapping):
    """``name -> value``, sorted by name: a pytree whose keys
    ``optax.tree_utils.tree_get`` / ``tree_set`` do not search (they look into
    dicts and NamedTuples only), so ``tree_get(state, "learning_rate")`` finds
    the one value in ``InjectState.hyperparams``."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()):
        self._items = dict(sorted(dict(items).items()))

    def __getitem__(self, name: str) -> Any:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return repr(self._items)


jax.tree_util.register_pytree_with_keys(
    _Slots,
    lambda s: (tuple((jax.tree_util.GetAttrKey(k), v) for k, v in s._items.items()), tuple(s._items)),
    lambda names, values: _Slots(zip(names, values)),
    lambda s: (tuple(s._items.values()), tuple(s._items)),
)


class InjectState(NamedTuple):
    """State of an :func:`inject` optimizer.

    Attributes:
        count: updates done so far; the next update evaluates the schedules
            here. ``shape=(), dtype=int32``.
        hyperparams: name -> every numeric hyperparameter of the factory, as
            optax's ``inject_hyperparams`` keeps them: the value the last
            update used (after ``init``, the one the first update will use).
            Read and set them with ``optax.tree_utils.tree_get`` /
            ``tree_set``; a value set here replaces that hyperparameter (its
            schedule too) from the next update on. Python numbers appear as
            themselves.
        schedules: name -> the schedule, stateful hyperparameter or function
            of the step (its leaves are its hyperparameters, so a stacked
            sweep gives a batched state). Change them with
            :func:`replace_schedules`.
        schedule_states: name -> state of a stateful hyperparameter (plateau
            counters).
        applied: name -> the value the last update used, as an array, for
            every hyperparameter (read it with :func:`hyperparams`).
        overridden: name -> whether a value set with ``tree_set`` replaces
            that schedule. ``shape=(), dtype=bool``.
        inner_state: the wrapped optimizer's state.
    """

    count: jax.Array  # shape=(), dtype=jnp.int32
    hyperparams: dict[str, Any]
    schedules: Mapping[str, Any]
    schedule_states: Mapping[str, Any]
    applied: Mapping[str, jax.Array]
    overridden: Mapping[str, jax.Array]  # each shape=(), dtype=bool
    inner_state: Any


# -- which arguments are hyperparameters -----------------------------------------------------

_NUMERIC_TYPES = (float, jax.Array, np.ndarray, np.number, complex)


def _is_numeric_annotation(annotation) -> bool | None:
    """True / False when the annotation decides, None when it does not."""
    if annotation is inspect.Parameter.empty:
        return None
    if isinstance(annotation, str):  # postponed annotations that could not be evaluated
        text = annotation.replace(" ", "")
        if any(t in text for t in ("float", "Array", "Numeric", "Scalar", "Schedule")):
            return True
        return False if text in ("bool", "str", "int") or text.startswith("Literal") else None
    if annotation in (bool, str, int):
        return False  # an int-only argument is structure (sizes, step counts used in Python)
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    members = typing.get_args(annotation) if union else (annotation,)
    return any(isinstance(member, type) and issubclass(member, _NUMERIC_TYPES) for member in members)


class _Parameter(NamedTuple):
    """How :func:`inject` reads one argument of the factory."""

    numeric: bool  # a numeric hyperparameter: may be scheduled, is kept in the state
    int_is_value: bool  # a Python int here is a value (learning_rate=1), not a seed or a flag
    function_is_schedule: bool  # a function here is a schedule of the step, not a callback


def _parameters(factory: Callable) -> dict[str, _Parameter]:
    try:
        signature = inspect.signature(factory, eval_str=True)
    except (NameError, TypeError, SyntaxError):
        signature = inspect.signature(factory)
    found = {}
    for name, parameter in signature.parameters.items():
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        annotation, default = parameter.annotation, parameter.default
        unannotated = annotation is inspect.Parameter.empty
        numeric = _is_numeric_annotation(annotation)
        if numeric is None:
            numeric = (
                default is inspect.Parameter.empty
                or default is None
                or (isinstance(default, numbers.Real) and not isinstance(default, bool))
            )
        schedule_slot = "Callable" in str(annotation) or "Schedule" in str(annotation)
        float_default = isinstance(default, float)
        found[name] = _Parameter(
            numeric=numeric,
            int_is_value=numeric
            and (schedule_slot or float_default or (unannotated and default is parameter.empty)),
            function_is_schedule=numeric and not (unannotated and default is None),
        )
    return found


_ANY = _Parameter(numeric=True, int_is_value=True, function_is_schedule=True)  # replace_schedules

# How an argument is held: in the state as a schedule, in the state as a Python
# number passed unchanged, or passed to the factory untouched (not a hyperparameter).
SCHEDULED, NUMBER, PASSED = "scheduled", "number", "passed"


def _classify(family: str, name: str, value: Any, parameter: _Parameter) -> tuple[str, Any]:
    """``(how, what)`` for one argument; raises ValueError naming ``family`` and ``name``."""
    if isinstance(value, Schedule):  # StatefulSchedule included
        if not parameter.numeric:
            raise ValueError(
                f"{family}: {name} is not a numeric hyperparameter, so it cannot be scheduled; got {value!r} "
                "(list it in static_args to pass it to the factory as it is)"
            )
        return SCHEDULED, value
    if value is None or isinstance(value, (bool, np.bool_, str, bytes, type, np.dtype)):
        return PASSED, value
    if isinstance(value, (jax.Array, np.ndarray, np.generic)):
        dtype = value.dtype
        if jnp.issubdtype(dtype, jax.dtypes.prng_key) or not jnp.issubdtype(dtype, jnp.floating):
            return PASSED, value  # PRNG keys (new or legacy uint32), masks, integer flags
        if not parameter.numeric:
            return PASSED, value
        try:
            return SCHEDULED, Constant(value)
        except ValueError as err:
            raise ValueError(f"{family}: {name}: {err}") from None
    if (
        isinstance(value, (list, tuple))
        and value
        and all(callable(v) or isinstance(v, Schedule) for v in value)
    ):
        if all(isinstance(v, Schedule) for v in value):
            raise ValueError(
                f"{family}: {name} is a list of schedules; a sweep is one stacked schedule: "
                f"{name}=osd.stack([...]) (or osd.grid)"
            )
        raise ValueError(
            f"{family}: {name} is a list of functions, which cannot be swept: a plain function of the step "
            "has no hyperparameters (leaves) to stack. Build the members with optasched schedules "
            "(osd.warmup(osd.cosine(peak_value, decay_steps), warmup_steps), ...) and stack those, "
            "or give an array of values"
        )
    if callable(value):
        if parameter.numeric and parameter.function_is_schedule:
            return SCHEDULED, _StepFunction(value)
        return PASSED, value
    if isinstance(value, numbers.Real):
        if parameter.numeric and (isinstance(value, float) or parameter.int_is_value):
            return NUMBER, value
        return PASSED, value
    return PASSED, value


# -- inject ----------------------------------------------------------------------------------


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

    - an optasched schedule, a stateful hyperparameter (:func:`plateau`,
      any :class:`optasched.StatefulSchedule`) or a floating JAX/NumPy array
      (a constant; an array of values is a sweep) is *scheduled*: it lives in
      the state (:class:`InjectState`), so it is traced, vmapped and
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

    The state follows optax's conventions: ``optax.tree_utils.tree_get(state,
    "learning_rate")`` reads the value the last update used, and
    ``tree_set(state, learning_rate=1e-4)`` makes that the learning rate from
    the next update on (replacing its schedule); :func:`hyperparams` logs every
    hyperparameter; :func:`replace_schedules` swaps schedules, keeping the
    step count, the moments and the plateau counters.

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
    family = f"inject({_name_of(factory)})"
    parameters = _parameters(factory)
    signature = inspect.signature(factory)
    static_names = (static_args,) if isinstance(static_args, str) else tuple(static_args)
    takes_any_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    unknown_static = [n for n in static_names if n not in parameters and not takes_any_keyword]
    if unknown_static:
        raise ValueError(
            f"{family}: static_args names {', '.join(map(repr, unknown_static))}, which "
            f"{_name_of(factory)} does not take; it takes {', '.join(parameters)}"
        )

    @functools.wraps(factory)
    def build(*args, **kwargs) -> optax.GradientTransformationExtraArgs:
        unknown = [name for name in kwargs if name not in signature.parameters]
        if unknown and not takes_any_keyword:
            raise ValueError(
                f"{family}: unknown hyperparameter {', '.join(map(repr, unknown))} "
                f"(= {', '.join(repr(kwargs[n]) for n in unknown)}); "
                f"{_name_of(factory)} takes {', '.join(parameters)}"
            )
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as err:
            raise ValueError(f"{family}: {err}") from None
        bound.apply_defaults()
        arguments: dict[str, Any] = {}
        for name, value in bound.arguments.items():
            kind = signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                if value:
                    raise ValueError(
                        f"{family}: pass hyperparameters by name; variadic positional arguments "
                        f"(*{name} = {value!r}) are not supported"
                    )
            elif kind is inspect.Parameter.VAR_KEYWORD:
                arguments.update(value)
            else:
                arguments[name] = value
        passed: dict[str, Any] = {}
        numbers_: dict[str, Any] = {}
        scheduled: dict[str, Any] = {}
        for name, value in arguments.items():
            if name in static_names:
                passed[name] = value
                continue
            how, what = _classify(family, name, value, parameters.get(name, _ANY))
            {SCHEDULED: scheduled, NUMBER: numbers_, PASSED: passed}[how][name] = what
        return _injected(factory, family, passed, numbers_, scheduled, hyperparam_dtype)

    return build


def _sweep_axes(family: str, scheduled: Mapping[str, Any]) -> tuple[tuple[int, ...], dict[str, int | None]]:
    shapes = {name: s.batch_shape for name, s in scheduled.items()}
    batched = {shape for shape in shapes.values() if shape}
    if len(batched) > 1:
        raise ValueError(f"{family}: stacked schedules must share one sweep shape, got {shapes}")
    batch = batched.pop() if batched else ()
    if len(batch) > 1:
        raise ValueError(f"{family}: a sweep must have one member axis, got sweep shape {batch}")
    return batch, {name: (0 if shape else None) for name, shape in shapes.items()}


def _float_dtype(tree, hyperparam_dtype):
    if hyperparam_dtype is not None:
        return jnp.dtype(hyperparam_dtype)
    floats = [
        jnp.result_type(x) for x in jax.tree.leaves(tree) if jnp.issubdtype(jnp.result_type(x), jnp.floating)
    ]
    if not floats:
        return None
    return functools.reduce(jnp.promote_types, floats)


def _cast(value, dtype):
    value = jnp.asarray(value)
    if dtype is not None and jnp.issubdtype(value.dtype, jnp.floating):
        return value.astype(dtype)
    return value


def _number_array(number, dtype) -> jax.Array:
    return jnp.asarray(number, dtype if dtype is not None else jax.dtypes.canonicalize_dtype(jnp.float64))


def _same(a: jax.Array, b: jax.Array) -> jax.Array:
    """Bitwise-equal values (NaN equals NaN): False where ``tree_set`` changed a value."""
    equal = a == b
    if jnp.issubdtype(jnp.result_type(a), jnp.inexact):
        equal = equal | (jnp.isnan(a) & jnp.isnan(b))
    return equal


_CONTROL_FLOW_ERRORS = (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError)


@contextlib.contextmanager
def _naming(family: str, names: Iterable[str], what: str):
    """Re-raises JAX's error for Python control flow on a traced value, naming inject and the arguments."""
    try:
        yield
    except _CONTROL_FLOW_ERRORS as err:
        names = sorted(names)
        raise ValueError(
            f"{family}: {what} ran Python control flow on {', '.join(names) or 'a hyperparameter'}, which "
            f"{'is' if len(names) == 1 else 'are'} held in the optimizer state as a traced value "
            f"({type(err).__name__}); give {'it' if len(names) == 1 else 'them'} as a Python number, "
            "or name it in static_args to pass it to the factory unchanged"
        ) from err


def _evaluate(family: str, name: str, source, schedule_state, count, dtype) -> jax.Array:
    if isinstance(source, StatefulSchedule):
        return _cast(source.value(schedule_state, count), dtype)
    what = "the function of the step" if isinstance(source, _StepFunction) else "the schedule"
    with _naming(family, [name], what):
        return _cast(source(count), dtype)


# Optax combinators that keep no leaves of their own: a stacked inject state inside them
# still vmaps. Any other optax transformation that calls a stacked init keeps unbatched
# counters, and jax.vmap(opt.update) would fail with a bare rank error.
_STATELESS_WRAPPERS = (
    "optax.transforms._combining",  # chain, named_chain, partition
    "optax.transforms._masking",
    "optax.transforms._layouts",  # flatten
    "optax.transforms._freezing",
    "optax._src.base",
)


def _stateful_wrapper() -> str | None:
    """The optax transformation whose ``init`` called this stacked init, if it has a state of its own."""
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("optasched."):
            frame = frame.f_back
            continue
        if not module.startswith("optax."):
            return None
        if not module.startswith(_STATELESS_WRAPPERS):
            name = getattr(frame.f_code, "co_qualname", frame.f_code.co_name).split(".<locals>")[0]
            return "optax." + name.removesuffix(".init")
        frame = frame.f_back
    return None


def _injected(
    factory, family, passed, numbers_, scheduled, hyperparam_dtype
) -> optax.GradientTransformationExtraArgs:
    batch, axes = _sweep_axes(family, scheduled)
    factory_name = _name_of(factory)

    def make(values: Mapping[str, Any], held: Iterable[str]) -> optax.GradientTransformationExtraArgs:
        with _naming(family, held, factory_name):
            return optax.with_extra_args_support(factory(**passed, **values))

    def init_member(schedules, params) -> InjectState:
        dtype = _float_dtype(params, hyperparam_dtype)
        count = jnp.zeros((), jnp.int32)
        states = {
            n: s.init_state(dtype or jnp.float32)
            for n, s in schedules.items()
            if isinstance(s, StatefulSchedule)
        }
        values = {n: _evaluate(family, n, s, states.get(n), count, dtype) for n, s in schedules.items()}
        hyperparams = {**{n: _Static(v) for n, v in numbers_.items()}, **values}
        applied = {**{n: _number_array(v, dtype) for n, v in numbers_.items()}, **values}
        overridden = {n: jnp.zeros((), bool) for n in schedules}
        inner = make({**numbers_, **values}, values)
        with _naming(family, values, factory_name):
            inner_state = inner.init(params)
        return InjectState(
            count,
            hyperparams,
            _Slots(schedules),
            _Slots(states),
            _Slots(applied),
            _Slots(overridden),
            inner_state,
        )

    def init_fn(params) -> InjectState:
        if not batch:
            return init_member(scheduled, params)
        wrapper = _stateful_wrapper()
        if wrapper is not None:
            raise ValueError(
                f"{family}: this optimizer holds a sweep of {batch[0]} stacked members inside {wrapper}, "
                f"whose own state would get no member axis, so jax.vmap(opt.update) could not map it. "
                "Initialise the whole optimizer once per member instead: "
                f"states = jax.vmap(lambda member: {wrapper}(osd.inject({factory_name})(**member), ...)"
                ".init(params))(osd.stack(members)); then update with jax.vmap(opt.update)"
            )
        return jax.vmap(init_member, in_axes=(axes, None))(scheduled, params)

    def update_fn(updates, state: InjectState, params=None, **extra_args):
        if not isinstance(state, InjectState):
            raise ValueError(
                f"{family}: state must be the InjectState made by init, got {type(state).__name__}"
            )
        if jnp.ndim(state.count) != 0:
            raise ValueError(
                f"{family}: this state holds a sweep of {jnp.shape(state.count)[0]} members; update it under "
                "jax.vmap(opt.update) (inside optax.MultiSteps, apply_if_finite or another transformation with "
                "its own state, initialise the whole optimizer per member with jax.vmap)"
            )
        dtype = _float_dtype(params if params is not None else updates, hyperparam_dtype)
        count = state.count
        arguments, hyperparams, applied, overridden, states = {}, {}, {}, {}, {}
        for name, entry in state.hyperparams.items():
            source = state.schedules.get(name)
            if source is not None:
                if isinstance(source, StatefulSchedule):
                    states[name] = source.update_state(state.schedule_states[name], count, **extra_args)
                fresh = _evaluate(family, name, source, states.get(name), count, dtype)
                given = _cast(_unwrap(entry), dtype)
                overridden[name] = state.overridden[name] | ~_same(given, state.applied[name])
                value = jnp.where(overridden[name], given, fresh)
                arguments[name] = hyperparams[name] = value
            elif isinstance(entry, _Static):
                # the Python number itself: bit-identical to the plain optimizer
                arguments[name] = entry.number
                hyperparams[name] = entry
                value = _number_array(entry.number, dtype)
            else:  # a value set with tree_set in place of a Python number
                value = arguments[name] = hyperparams[name] = _cast(_unwrap(entry), dtype)
            applied[name] = value
        held = [n for n, v in arguments.items() if not isinstance(hyperparams[n], _Static)]
        inner = make(arguments, held)
        with _naming(family, held, _name_of(factory)):
            updates, inner_state = inner.update(updates, state.inner_state, params, **extra_args)
        return updates, InjectState(
            optax.safe_increment(count),
            hyperparams,
            state.schedules,
            _Slots(states),
            _Slots(applied),
            _Slots(overridden),
            inner_state,
        )

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


# -- finding inject states: optax states, Flax TrainState, nnx.Optimizer, nnx.state ----------


def _unwrap(x):
    """The array inside a Flax NNX variable (an ``nnx.Optimizer`` state), else x."""
    if isinstance(x, (jax.Array, np.ndarray, np.generic, numbers.Number)) or x is None:
        return x
    for attribute in ("get_value", "value"):
        inner = getattr(x, attribute, None)
        if inner is not None:
            return inner() if callable(inner) else inner
    return x


def _is_state_dict(x) -> bool:
    """An inject state as ``nnx.state`` / ``nnx.split`` flatten it: a mapping of its fields."""
    return isinstance(x, Mapping) and not isinstance(x, _Slots) and "applied" in x and "count" in x


def _is_inject(x) -> bool:
    return isinstance(x, InjectState) or _is_state_dict(x)


def _key_name(key) -> str:
    for attribute in ("key", "name", "idx"):
        if hasattr(key, attribute):
            return str(getattr(key, attribute))
    return str(key)


def _inject_states(tree) -> list[tuple[tuple[str, ...], Any]]:
    """Every inject state inside ``tree`` with its path (as strings), in flattening order."""
    if not _is_inject(tree) and hasattr(tree, "opt_state"):
        tree = tree.opt_state  # an nnx.Optimizer (a TrainState flattens to it anyway)
    found = jax.tree_util.tree_flatten_with_path(tree, is_leaf=_is_inject)[0]
    return [(tuple(_key_name(k) for k in path), node) for path, node in found if _is_inject(node)]


def _no_inject_state(function: str, tree) -> ValueError:
    return ValueError(
        f"{function}: found no optasched.inject state in this {type(tree).__name__}; build the optimizer "
        "with osd.inject, e.g. osd.inject(optax.adamw)(learning_rate=schedule) (for a state of "
        "optax.inject_hyperparams, read values with optax.tree_utils.tree_get(state, 'learning_rate'))"
    )


def _names(found: list[tuple[tuple[str, ...], Any]]) -> list[dict[str, str]]:
    """Per inject state, ``{reported name: hyperparameter}``.

    A hyperparameter of one inject state only is reported by its name; one
    that several states have (a partition's groups, two injects in a chain)
    is prefixed by the parts of their paths that tell those states apart
    (``"head/learning_rate"``), the same for an optax state and its
    ``nnx.state``.
    """
    owners: dict[str, list[int]] = {}
    fields = []
    for i, (_, node) in enumerate(found):
        names = list(node.applied.keys()) if isinstance(node, InjectState) else list(node["applied"].keys())
        fields.append(names)
        for name in names:
            owners.setdefault(name, []).append(i)
    result = []
    for i, (path, _) in enumerate(found):
        mapping = {}
        for name in fields[i]:
            sharing = owners[name]
            if len(sharing) == 1:
                mapping[name] = name
                continue
            common = set.intersection(*(set(found[j][0]) for j in sharing))
            prefix = [part for part in path if part not in common] or list(path)
            mapping["/".join([*prefix, name])] = name
        result.append(mapping)
    return result


def hyperparams(opt_state) -> dict[str, jax.Array]:
    """Every hyperparameter the last update used, by name, for logging.

    Finds every :class:`InjectState` inside ``opt_state``: an optax state (a
    chain, an ``optax.partition`` of groups), a Flax ``TrainState`` or its
    ``opt_state``, an ``nnx.Optimizer`` or its ``opt_state``, or the state
    ``nnx.state(optimizer)`` / ``nnx.split(optimizer)`` gives. Returns
    ``{name: value}`` for every numeric hyperparameter of each factory:
    schedules, constants, Python numbers and the factory's defaults alike,
    as the most recent update used them (after ``init``: those the first
    update will use). Names are the factory's argument names; one that
    several inject states share is prefixed by the group or chain position
    (``"head/learning_rate"``). A plateau transformation reports
    ``"plateau_scale"``. For a sweep each value has a leading member axis.

    Raises:
        ValueError: if ``opt_state`` holds no inject state.

    Example:
        >>> import jax.numpy as jnp, optax, optasched as osd
        >>> opt = osd.inject(optax.sgd)(learning_rate=osd.linear(0.1, 0.0, 10), momentum=0.9)
        >>> state = opt.init(jnp.zeros(2))
        >>> for _ in range(3):
        ...     _, state = opt.update(jnp.ones(2), state)
        >>> {k: round(float(v), 4) for k, v in osd.hyperparams(state).items()}  # update 2 used these
        {'learning_rate': 0.08, 'momentum': 0.9}
    """
    found = _inject_states(opt_state)
    if not found:
        raise _no_inject_state("hyperparams", opt_state)
    result = {}
    for (_, node), names in zip(found, _names(found)):
        applied = node.applied if isinstance(node, InjectState) else node["applied"]
        for reported, name in names.items():
            result[reported] = jnp.asarray(_unwrap(applied[name]))
    return result


# -- swapping schedules ------------------------------------------------------------------------


def _broadcast_to_sweep(function: str, name: str, schedule, batch: tuple[int, ...]):
    shape = schedule.batch_shape
    if shape == batch:
        return schedule
    if shape == ():
        return jax.tree.map(lambda x: jnp.broadcast_to(x, batch + jnp.shape(x)), schedule)
    raise ValueError(
        f"{function}: {name} is a sweep of shape {shape}, but the state holds a sweep of shape {batch}; "
        "give one schedule (used by every member) or a stack with one member per state member"
    )


def _same_shapes(a, b) -> bool:
    return jax.tree.structure(a) == jax.tree.structure(b) and all(
        jnp.shape(x) == jnp.shape(y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))
    )


def _replaced(state: InjectState, changes: Mapping[str, Any]) -> InjectState:
    function = "replace_schedules"
    batch = tuple(jnp.shape(state.count))
    hyperparams, schedules = dict(state.hyperparams), dict(state.schedules)
    schedule_states, applied, overridden = (
        dict(state.schedule_states),
        dict(state.applied),
        dict(state.overridden),
    )
    for name, new in changes.items():
        dtype = jnp.result_type(state.applied[name])
        how, what = _classify(function, name, new, _ANY)
        for held in (schedules, schedule_states, overridden):
            held.pop(name, None)
        if how == NUMBER:
            hyperparams[name] = _Static(what)
            applied[name] = jnp.broadcast_to(_number_array(what, dtype), batch)
            continue
        if how == PASSED:
            raise ValueError(
                f"{function}: {name} must be a schedule, a number, an array of values or a function of the "
                f"step, got {new!r}"
            )
        schedule = _broadcast_to_sweep(function, name, what, batch)

        def per_member(fn, *args):
            for _ in batch:
                fn = jax.vmap(fn)
            return fn(*args)

        schedule_state = None
        if isinstance(schedule, StatefulSchedule):
            schedule_state = per_member(lambda s, dtype=dtype: s.init_state(dtype), schedule)
            old_state = state.schedule_states.get(name)
            if old_state is not None and _same_shapes(old_state, schedule_state):
                schedule_state = old_state  # the plateau's counters carry over
        value = per_member(
            lambda s, st, count, name=name, dtype=dtype: _evaluate(function, name, s, st, count, dtype),
            schedule,
            schedule_state,
            state.count,
        )
        schedules[name] = schedule
        if schedule_state is not None:
            schedule_states[name] = schedule_state
        hyperparams[name] = applied[name] = value
        overridden[name] = jnp.zeros(batch, bool)
    return InjectState(
        state.count,
        hyperparams,
        _Slots(schedules),
        _Slots(schedule_states),
        _Slots(applied),
        _Slots(overridden),
        state.inner_state,
    )


def replace_schedules(opt_state, **schedules):
    """Swap hyperparameter schedules in an optimizer state, keeping everything else.

    The step count, the optimizer's moments and a plateau's counters stay as
    they are; the new schedules take over from the state's step count, so
    after a checkpoint restore training continues on the new curve at the
    step it had reached. Any family may replace any other (the state's
    structure changes with it, so a jitted update compiles once more).

    Typical use: restore a checkpoint with the optimizer *as it was saved*
    (its schedules are part of the checkpoint's structure), then swap:

    ``state = osd.replace_schedules(restored, learning_rate=osd.wsd(...))``.

    Args:
        opt_state: a state holding :func:`inject` states (an optax state, a
            chain or partition of them, a Flax ``TrainState``), or an
            ``nnx.Optimizer``, whose state is replaced in place (it is
            returned too).
        **schedules: reported name (as :func:`hyperparams` gives it, such as
            ``learning_rate`` or ``head/learning_rate``) -> the new schedule,
            stateful hyperparameter, number, array or function of the step.
            For a sweep state, one schedule applies to every member; a
            stacked one gives each member its own.

    Returns:
        The state with those schedules replaced; ``osd.hyperparams`` of it
        gives the values the next update will use.

    Raises:
        ValueError: for a name the state does not hold (listing those it
            holds), or a sweep of another size.

    Example:
        >>> import jax.numpy as jnp, optax, optasched as osd
        >>> opt = osd.inject(optax.sgd)(learning_rate=osd.cosine(0.1, 100))
        >>> state = opt.init(jnp.zeros(2))
        >>> for _ in range(50):
        ...     _, state = opt.update(jnp.ones(2), state)
        >>> state = osd.replace_schedules(state, learning_rate=osd.linear(0.2, 0.0, 100))
        >>> int(state.count), round(float(osd.hyperparams(state)["learning_rate"]), 4)
        (50, 0.1)
    """
    if not schedules:
        raise ValueError("replace_schedules: give at least one hyperparameter, as name=schedule")
    found = [(path, node) for path, node in _inject_states(opt_state) if isinstance(node, InjectState)]
    if not found:
        raise _no_inject_state("replace_schedules", opt_state)
    names = _names(found)
    changes: dict[int, dict[str, Any]] = {}
    for reported, new in schedules.items():
        hits = [(i, mapping[reported]) for i, mapping in enumerate(names) if reported in mapping]
        if not hits:
            held = sorted(n for mapping in names for n in mapping)
            raise ValueError(
                f"replace_schedules: the state holds no hyperparameter {reported!r}; it holds {held}"
            )
        ((index, name),) = hits
        changes.setdefault(index, {})[name] = new
    position = iter(range(len(found)))

    def rebuild(node):
        if not isinstance(node, InjectState):
            return node
        index = next(position)
        return _replaced(node, changes[index]) if index in changes else node

    nnx = sys.modules.get("flax.nnx")  # only if the user has Flax NNX loaded
    if nnx is not None and isinstance(opt_state, nnx.Optimizer):
        return _replace_in_nnx_optimizer(nnx, opt_state, schedules)
    if (
        not isinstance(opt_state, InjectState)
        and hasattr(opt_state, "opt_state")
        and hasattr(opt_state, "replace")
    ):
        return opt_state.replace(opt_state=replace_schedules(opt_state.opt_state, **schedules))
    return jax.tree.map(rebuild, opt_state, is_leaf=lambda x: isinstance(x, InjectState))


def _replace_in_nnx_optimizer(nnx, optimizer, schedules):
    """``replace_schedules`` on an ``nnx.Optimizer``: its ``opt_state`` is replaced in place.

    The count and the moments keep their variables (and their metadata, such
    as sharding); the schedules' structure may change (another family), which
    nnx's in-place update cannot do, so the whole ``opt_state`` is rebuilt.
    """
    from flax.nnx.training.optimizer import to_opt_state

    is_variable = lambda x: isinstance(x, nnx.Variable)  # noqa: E731
    current = optimizer.opt_state
    replaced = replace_schedules(jax.tree.map(_unwrap, current, is_leaf=is_variable), **schedules)
    is_inject = lambda x: isinstance(x, InjectState)  # noqa: E731
    originals = iter([node for node in jax.tree.leaves(current, is_leaf=is_inject) if is_inject(node)])

    def keep_variables(node):
        if not is_inject(node):
            return node
        original = next(originals)
        return node._replace(count=original.count, inner_state=original.inner_state)

    mixed = jax.tree.map(keep_variables, replaced, is_leaf=is_inject)
    optimizer.opt_state = nnx.data(to_opt_state(mixed))
    return optimizer
