"""Schedule any numeric hyperparameter of any optax optimizer, with the
schedules held in the optimizer *state*.

Because the schedules (pytrees whose leaves are their hyperparameters) live in
the state, a state built from a stacked sweep is one batched pytree, and one
``jax.vmap(opt.update)`` trains every member in one compiled program. The
values used by the last update are kept in the state too, for logging
(:func:`hyperparams`).
"""

from __future__ import annotations

import functools
import inspect
import numbers
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..schedules._base import Schedule, describe_difference
from ..schedules._families import constant


class Stateful:
    """A hyperparameter whose value depends on a state as well as the step
    (such as :func:`optasched.plateau`).

    Subclasses are pytrees whose leaves are their hyperparameters and
    implement ``init_state(dtype)``, ``update_state(state, step, **extra_args)``
    (called by each update before the value is read) and
    ``value(state, step)``.
    """

    _family: str = "stateful"

    def init_state(self, dtype) -> Any:
        raise NotImplementedError

    def update_state(self, state, step, **extra_args) -> Any:
        raise NotImplementedError

    def value(self, state, step) -> jax.Array:
        raise NotImplementedError

    @property
    def batch_shape(self) -> tuple[int, ...]:
        raise NotImplementedError


class InjectState(NamedTuple):
    """State of an :func:`inject` optimizer.

    Attributes:
        count: updates done so far; the next update evaluates the schedules
            here. ``shape=(), dtype=int32``.
        hyperparams: name -> value of every scheduled hyperparameter used by
            the last update (after ``init``: the values the first update will
            use). Read them with :func:`hyperparams`.
        schedules: name -> the schedule (or stateful hyperparameter) itself:
            its leaves are its hyperparameters, so a stacked sweep gives a
            batched state.
        schedule_states: name -> state of a stateful hyperparameter (plateau
            counters); empty for plain schedules.
        inner_state: the wrapped optimizer's state.
    """

    count: jax.Array  # shape=(), dtype=jnp.int32
    hyperparams: dict[str, jax.Array]
    schedules: dict[str, Any]
    schedule_states: dict[str, Any]
    inner_state: Any


# -- which arguments are numeric -------------------------------------------------------------

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


def _numeric_parameters(factory: Callable) -> dict[str, bool]:
    """Parameter name -> whether it is a numeric hyperparameter that may be scheduled."""
    try:
        signature = inspect.signature(factory, eval_str=True)
    except (NameError, TypeError, SyntaxError):
        signature = inspect.signature(factory)
    numeric = {}
    for name, parameter in signature.parameters.items():
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        decided = _is_numeric_annotation(parameter.annotation)
        if decided is None:
            default = parameter.default
            decided = (
                default is inspect.Parameter.empty
                or default is None
                or (isinstance(default, numbers.Real) and not isinstance(default, bool))
            )
        numeric[name] = decided
    return numeric


def _accepts_callable(factory: Callable, name: str) -> bool:
    try:
        annotation = inspect.signature(factory, eval_str=True).parameters[name].annotation
    except (NameError, TypeError, SyntaxError):
        return False
    text = str(annotation)
    return "Callable" in text


# -- inject ----------------------------------------------------------------------------------


def _batch_shape(x) -> tuple[int, ...]:
    return x.batch_shape


def _name_of(factory: Callable) -> str:
    return getattr(factory, "__name__", type(factory).__name__)


def inject(factory: Callable[..., optax.GradientTransformation], *, hyperparam_dtype=None):
    r"""Wrap an optax optimizer factory so any numeric hyperparameter may be a schedule.

    ``osd.inject(optax.adamw)(learning_rate=s1, b1=s2, weight_decay=1e-4)``
    returns a :class:`optax.GradientTransformationExtraArgs`. At update
    :math:`t` (the count of previous updates) it evaluates every scheduled
    hyperparameter :math:`h_k(t)` and applies

    .. math:: u_t = \text{factory}(h_1(t), \dots, h_K(t), \text{static}).\text{update}(g_t)

    - an optasched schedule or stateful hyperparameter (:func:`plateau`), or a
      JAX/NumPy array (a constant; an array of values is a sweep), is
      scheduled: it lives in the state (:class:`InjectState`), so it is
      traced, vmapped and checkpointed with it;
    - a Python number, bool, string, ``None``, mask or dtype is passed to the
      factory unchanged, exactly as the plain optimizer would see it (so
      ``inject(optax.adam)(learning_rate=1e-3)`` *is* ``optax.adam(1e-3)``,
      bit for bit).

    Sweeps: if the schedules are stacked (:func:`optasched.stack`,
    :func:`optasched.grid`), ``init(params)`` returns one state per member
    (leading axis), all starting from the same ``params``; update them with
    ``jax.vmap(opt.update)``. Equivalently, ``jax.vmap`` a function that builds
    ``inject(factory)(...)`` from one member and calls ``init``. The update
    reads the schedules from the state, never from the closure, so one
    compiled update serves every member.

    Floating values are cast to ``hyperparam_dtype``, by default the highest
    floating dtype of the parameters (as the plain optimizer's Python floats
    would be). Unlike ``optax.inject_hyperparams``, unscheduled numbers are not
    turned into float32 arrays; that conversion is what makes wrapped Adam drift
    from plain Adam (optax issue 1532: ``1 - b2`` computed from float32
    ``b2 = 0.999`` differs from the Python value by 1.3e-5 relative). A
    *scheduled* ``b1``/``b2`` is a float32 value by nature and carries that
    same rounding; every other scheduled hyperparameter matches the plain
    optimizer to float32 rounding.

    Args:
        factory: an optax optimizer or transformation constructor, such as
            ``optax.adamw`` or ``optax.scale_by_adam``, or any function
            returning a ``GradientTransformation``.
        hyperparam_dtype: optional dtype for floating hyperparameter values.

    Returns:
        A function with the factory's arguments returning the transformation.

    Raises:
        ValueError: at construction, for an argument the factory does not
            take, or a schedule (or plain function) given for an argument that
            is not a numeric hyperparameter (a mask, a dtype, a flag).

    Example:
        >>> import jax.numpy as jnp, optax, optasched as osd
        >>> opt = osd.inject(optax.adamw)(
        ...     learning_rate=osd.warmup(osd.cosine(1e-3, 100), 10),
        ...     b1=osd.linear(0.85, 0.95, 100), weight_decay=1e-4)
        >>> params = jnp.ones(3)
        >>> state = opt.init(params)
        >>> updates, state = opt.update(jnp.ones(3), state, params)
        >>> sorted(osd.hyperparams(state))
        ['b1', 'learning_rate']

    Reference: the optax ``inject_hyperparams`` wrapper, whose schedules live
    in a closure; here they are state.
    """
    if not callable(factory):
        raise ValueError(f"inject: factory must be an optax optimizer factory, got {factory!r}")
    family = f"inject({_name_of(factory)})"
    numeric = _numeric_parameters(factory)
    signature = inspect.signature(factory)

    @functools.wraps(factory)
    def build(*args, **kwargs) -> optax.GradientTransformationExtraArgs:
        unknown = [name for name in kwargs if name not in signature.parameters]
        if unknown and not any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values()
        ):
            raise ValueError(
                f"{family}: unknown hyperparameter {', '.join(map(repr, unknown))} "
                f"(= {', '.join(repr(kwargs[n]) for n in unknown)}); "
                f"{_name_of(factory)} takes {', '.join(numeric)}"
            )
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as err:
            raise ValueError(f"{family}: {err}") from None
        static: dict[str, Any] = {}
        scheduled: dict[str, Any] = {}
        for name, value in bound.arguments.items():
            is_numeric = numeric.get(name, True)
            if isinstance(value, (Schedule, Stateful)):
                if not is_numeric:
                    raise ValueError(
                        f"{family}: {name} is not a numeric hyperparameter, so it cannot be "
                        f"scheduled; got {value!r}"
                    )
                scheduled[name] = value
            elif (
                is_numeric
                and isinstance(value, (jax.Array, np.ndarray, np.generic))
                and not isinstance(value, np.bool_)
                and value.dtype != bool
            ):
                scheduled[name] = constant(value)
            elif is_numeric and callable(value) and not _accepts_callable(factory, name):
                raise ValueError(
                    f"{family}: {name} must be a number or an optasched schedule, got the function "
                    f"{value!r}; wrap a pure function with optasched.from_function"
                )
            else:
                static[name] = value
        return _injected(factory, family, static, scheduled, hyperparam_dtype)

    return build


def _sweep_axes(family: str, scheduled: Mapping[str, Any]) -> tuple[tuple[int, ...], dict[str, int | None]]:
    shapes = {name: _batch_shape(s) for name, s in scheduled.items()}
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


def _values(schedules, schedule_states, count, dtype) -> dict[str, jax.Array]:
    values = {}
    for name, schedule in schedules.items():
        if isinstance(schedule, Stateful):
            values[name] = _cast(schedule.value(schedule_states[name], count), dtype)
        else:
            values[name] = _cast(schedule(count), dtype)
    return values


def _injected(factory, family, static, scheduled, hyperparam_dtype) -> optax.GradientTransformationExtraArgs:
    batch, axes = _sweep_axes(family, scheduled)

    def init_member(schedules, params) -> InjectState:
        dtype = _float_dtype(params, hyperparam_dtype)
        count = jnp.zeros((), jnp.int32)
        states = {
            n: s.init_state(dtype or jnp.float32) for n, s in schedules.items() if isinstance(s, Stateful)
        }
        values = _values(schedules, states, count, dtype)
        inner_state = factory(**static, **values).init(params)
        return InjectState(count, values, dict(schedules), states, inner_state)

    def init_fn(params) -> InjectState:
        if not batch:
            return init_member(scheduled, params)
        return jax.vmap(init_member, in_axes=(axes, None))(scheduled, params)

    def update_fn(updates, state: InjectState, params=None, **extra_args):
        if not isinstance(state, InjectState):
            raise ValueError(
                f"{family}: state must be the InjectState made by init, got {type(state).__name__}"
            )
        if jnp.ndim(state.count) != 0:
            raise ValueError(
                f"{family}: this state holds a sweep of {jnp.shape(state.count)[0]} members; "
                "update it under jax.vmap(opt.update)"
            )
        difference = None if batch else describe_difference(dict(scheduled), dict(state.schedules))
        if difference:
            raise ValueError(
                f"{family}: the state's schedules differ in structure from the optimizer's at {difference}"
            )
        dtype = _float_dtype(params if params is not None else updates, hyperparam_dtype)
        schedules = state.schedules
        states = {
            name: schedule.update_state(state.schedule_states[name], state.count, **extra_args)
            for name, schedule in schedules.items()
            if isinstance(schedule, Stateful)
        }
        values = _values(schedules, states, state.count, dtype)
        inner = optax.with_extra_args_support(factory(**static, **values))
        updates, inner_state = inner.update(updates, state.inner_state, params, **extra_args)
        return updates, InjectState(optax.safe_increment(state.count), values, schedules, states, inner_state)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


# -- reading values --------------------------------------------------------------------------


def _unwrap(x):
    """The array inside a Flax NNX variable (an ``nnx.Optimizer`` state), else x."""
    if isinstance(x, (jax.Array, np.ndarray, np.generic, numbers.Number)):
        return x
    for attribute in ("get_value", "value"):
        inner = getattr(x, attribute, None)
        if inner is not None:
            return inner() if callable(inner) else inner
    return x


def hyperparams(opt_state) -> dict[str, jax.Array]:
    """The current value of every scheduled hyperparameter, for logging.

    Finds every :class:`InjectState` inside ``opt_state`` (a chain, an
    ``optax.partition`` of groups, a Flax ``TrainState.opt_state`` or
    ``nnx.Optimizer.opt_state``) and returns ``{name: value}`` with the values
    used by the most recent update (after ``init``: those the first update
    will use). Names are the factory's argument names, prefixed by the
    partition group (``"head/learning_rate"``) when there are groups; a
    plateau transformation reports ``"plateau_scale"``. For a sweep each value
    has a leading member axis.

    Example:
        >>> import jax.numpy as jnp, optax, optasched as osd
        >>> opt = osd.inject(optax.sgd)(learning_rate=osd.linear(0.1, 0.0, 10), momentum=0.9)
        >>> state = opt.init(jnp.zeros(2))
        >>> for _ in range(3):
        ...     _, state = opt.update(jnp.ones(2), state)
        >>> round(float(osd.hyperparams(state)["learning_rate"]), 4)  # used by update 2
        0.08
    """
    found = jax.tree_util.tree_flatten_with_path(opt_state, is_leaf=lambda x: isinstance(x, InjectState))[0]
    entries = []
    for path, node in found:
        if not isinstance(node, InjectState):
            continue
        groups = [str(k.key) for k in path if isinstance(k, jax.tree_util.DictKey)]
        for name, value in node.hyperparams.items():
            entries.append(("/".join([*groups, name]), jax.tree_util.keystr(path), name, value))
    keys = [e[0] for e in entries]
    result = {}
    for key, full_path, name, value in entries:
        if keys.count(key) > 1:
            key = f"{full_path}/{name}" if full_path else name
        result[key] = jnp.asarray(_unwrap(value))
    return result
