"""The Schedule base class: a frozen pytree whose leaves are its hyperparameters.

A family declares its fields once, as annotated class attributes with a field
specifier (:func:`value`, :func:`steps`, :func:`values`, :func:`boundaries`,
:func:`child`, :func:`children`, :func:`params`, :func:`static`)::

    class Cosine(Schedule, family="cosine"):
        init_value: ArrayLike = value()
        decay_steps: ArrayLike = steps(ge=0)
        end_value: ArrayLike = value(default=0.0)
        exponent: ArrayLike = value(default=1.0, gt=0)

        def _value(self, step): ...

From that declaration the base derives the constructor (its signature, seen by
IDEs and type checkers through ``dataclass_transform``), conversion to strong
dtypes, validation with errors naming the argument, pytree registration,
sweep axes, indexing, ``replace``, ``repr`` and the config round-trip. Numeric
fields are leaves (traced, vmapped, differentiated); static fields are
structure. Instances are immutable.

This module also holds what every schedule needs: the constant schedule and
pointwise arithmetic (``s1 + s2``, ``s * 0.5``), which :func:`as_schedule` and
the operators build, and the :class:`StatefulSchedule` protocol.
"""

from __future__ import annotations

import enum
import inspect
import math
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

try:
    from typing import dataclass_transform
except ImportError:  # Python 3.10
    from typing_extensions import dataclass_transform


class Kind(enum.Enum):
    """What a declared field holds; fixes conversion and the core rank."""

    VALUE = "value"  # float scalar: a value or a continuous hyperparameter
    STEPS = "steps"  # step count: integer scalar (float allowed, for gradients)
    VALUES = "values"  # float vector
    BOUNDARIES = "boundaries"  # step-count vector
    SCHEDULE = "schedule"  # one child schedule (a number becomes a constant)
    SCHEDULES = "schedules"  # tuple of child schedules
    PARAMS = "params"  # any pytree of numbers (from_function)
    STATIC = "static"  # hashable structure: a string mode, a flag, a function

    @property
    def core_rank(self) -> int:
        return 1 if self in (Kind.VALUES, Kind.BOUNDARIES) else 0

    @property
    def is_number(self) -> bool:
        return self in (Kind.VALUE, Kind.STEPS, Kind.VALUES, Kind.BOUNDARIES)


_MISSING = object()


class Field:
    """One declared hyperparameter: its kind, default and simple bounds."""

    __slots__ = ("name", "kind", "default", "bounds", "choices")

    def __init__(self, kind: Kind, default: Any = _MISSING, bounds: tuple = (), choices: tuple | None = None):
        self.name = ""
        self.kind, self.default, self.bounds, self.choices = kind, default, bounds, choices

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    @property
    def optional(self) -> bool:
        """May be None (absent): the default is None."""
        return self.default is None


def _bounds(ge, gt, le, lt) -> tuple:
    return tuple((op, bound) for op, bound in ((">=", ge), (">", gt), ("<=", le), ("<", lt)) if bound is not None)


def value(default: Any = _MISSING, *, ge=None, gt=None, le=None, lt=None) -> Any:
    """A float hyperparameter (a value, a rate, a factor): a scalar leaf."""
    return Field(Kind.VALUE, default, _bounds(ge, gt, le, lt))


def steps(default: Any = _MISSING, *, ge=None, gt=None, le=None, lt=None) -> Any:
    """A step count: an integer scalar leaf (a float one is differentiable)."""
    return Field(Kind.STEPS, default, _bounds(ge, gt, le, lt))


def values(default: Any = _MISSING, *, ge=None, gt=None, le=None, lt=None) -> Any:
    """A vector of floats: a rank-1 leaf."""
    return Field(Kind.VALUES, default, _bounds(ge, gt, le, lt))


def boundaries(default: Any = _MISSING, *, ge=None, gt=None, le=None, lt=None) -> Any:
    """A vector of step counts: a rank-1 integer leaf."""
    return Field(Kind.BOUNDARIES, default, _bounds(ge, gt, le, lt))


def child(default: Any = _MISSING) -> Any:
    """A child schedule (a number is a constant schedule)."""
    return Field(Kind.SCHEDULE, default)


def children(default: Any = _MISSING) -> Any:
    """A list of child schedules."""
    return Field(Kind.SCHEDULES, default)


def params(default: Any = _MISSING) -> Any:
    """Any pytree of numbers: each number is a leaf."""
    return Field(Kind.PARAMS, default)


def static(default: Any = _MISSING, *, choices: tuple | None = None) -> Any:
    """Structure: a string option, a flag or a function (not a leaf)."""
    return Field(Kind.STATIC, default, choices=tuple(choices) if choices is not None else None)


# -- conversion -------------------------------------------------------------------------------


def default_float_dtype() -> np.dtype:
    return jax.dtypes.canonicalize_dtype(np.float64)


def default_int_dtype() -> np.dtype:
    return jax.dtypes.canonicalize_dtype(np.int64)


def is_traced(x: Any) -> bool:
    return isinstance(x, jax.core.Tracer)


def _numeric_array(family: str, name: str, x: Any):
    """Returns x as a NumPy or JAX array, rejecting non-numbers by name."""
    if isinstance(x, Schedule):
        raise ValueError(f"{family}: {name} must be a number or an array, got a schedule {x!r}")
    if not isinstance(x, (jax.Array, np.ndarray, np.generic)):
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, list, tuple)):
            raise ValueError(f"{family}: {name} must be a number, got {x!r}")
        if isinstance(x, int):
            info = np.iinfo(default_int_dtype())
            if not info.min <= x <= info.max:
                # Too large for the integer dtype (int32 without x64): keep it as a
                # float, like optax does for giant step counts.
                return np.asarray(float(x))
        try:
            x = np.asarray(x)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{family}: {name} must be numeric, got {x!r}") from err
    if not (jnp.issubdtype(x.dtype, jnp.integer) or jnp.issubdtype(x.dtype, jnp.floating)):
        raise ValueError(f"{family}: {name} must be a real number, got {x!r} of dtype {x.dtype}")
    return x


def convert_leaf(family: str, name: str, kind: Kind, x: Any):
    """Converts a user argument into the canonical leaf array for its kind."""
    x = _numeric_array(family, name, x)
    if kind in (Kind.STEPS, Kind.BOUNDARIES) and jnp.issubdtype(x.dtype, jnp.integer):
        dtype = default_int_dtype()
    elif jnp.issubdtype(x.dtype, jnp.floating):
        dtype = jax.dtypes.canonicalize_dtype(x.dtype)
    else:
        dtype = default_float_dtype()
    # Strong (non-weak) dtypes, so jit caches one entry for every value.
    return jnp.asarray(x, dtype=dtype)


def convert_params(family: str, tree: Any):
    """Converts every leaf of a parameter pytree (for from_function)."""

    def convert(path, leaf):
        kind = Kind.STEPS if isinstance(leaf, int) and not isinstance(leaf, bool) else Kind.VALUE
        return convert_leaf(family, f"params{jax.tree_util.keystr(path)}", kind, leaf)

    return jax.tree_util.tree_map_with_path(convert, tree)


class Constraint:
    """A requirement on a field: ``ok`` is a boolean array over the sweep axes."""

    __slots__ = ("name", "ok", "requirement", "value")

    def __init__(self, name: str, ok, requirement: str, value):
        self.name, self.ok, self.requirement, self.value = name, ok, requirement, value


_COMPARE = {">=": jnp.greater_equal, ">": jnp.greater, "<=": jnp.less_equal, "<": jnp.less}


def bound(name: str, value, op: str, limit, core_axes: int = 0, limit_name: str | None = None) -> Constraint:
    """Constraint ``value op limit`` (op one of >=, >, <=, <), reduced over core axes;
    ``limit_name`` names a limit that is another argument."""
    ok = _COMPARE[op](value, limit)
    if core_axes:
        ok = jnp.all(ok, axis=tuple(range(-core_axes, 0)))
    return Constraint(name, ok, f"{op} {limit_name or format_number(limit)}", value)


def _declared_bounds(name: str, field_value, bounds: tuple, core_axes: int) -> Iterator[Constraint]:
    """A field's declared bounds: one "in [a, b)" constraint for a lower and an upper one."""
    lower = [(op, x) for op, x in bounds if op in (">=", ">")]
    upper = [(op, x) for op, x in bounds if op in ("<=", "<")]
    if len(lower) == 1 and len(upper) == 1:
        (low_op, low), (high_op, high) = lower[0], upper[0]
        ok = _COMPARE[low_op](field_value, low) & _COMPARE[high_op](field_value, high)
        if core_axes:
            ok = jnp.all(ok, axis=tuple(range(-core_axes, 0)))
        interval = f"{'[' if low_op == '>=' else '('}{format_number(low)}, {format_number(high)}{']' if high_op == '<=' else ')'}"
        yield Constraint(name, ok, f"in {interval}", field_value)
        return
    for op, limit in bounds:
        yield bound(name, field_value, op, limit, core_axes)


def format_number(x) -> str:
    """Shortest text that reads back to the same number in its own dtype
    (``0.1`` for float32 0.1, not ``0.10000000149011612``)."""
    x = np.asarray(x)
    if x.ndim == 0:
        # NumPy's str is the shortest text for the value's own dtype; Python's repr lays it out.
        return str(x.item()) if x.dtype.kind in "iub" else repr(float(str(x)))
    return "[" + ", ".join(format_number(v) for v in x) + "]"


def plain_number(x) -> Any:
    """A Python number (nested lists for arrays) with the shortest text of its dtype,
    so a float32 0.1 becomes the Python float 0.1 and reads back bit-identically."""
    x = np.asarray(x)
    if x.ndim:
        return [plain_number(v) for v in x]
    if x.dtype.kind in "iu":
        return int(x)
    if x.dtype.kind == "b":
        return bool(x)
    return float(str(x))


# -- the base class -----------------------------------------------------------------------------


_SPECIFIERS = (value, steps, values, boundaries, child, children, params, static)


@dataclass_transform(eq_default=False, frozen_default=True, field_specifiers=_SPECIFIERS)
class Schedule:
    """A schedule: a pure, jittable function of the step whose numeric
    hyperparameters are the leaves of a pytree.

    Call it on an integer (or float) step, scalar or array, inside or outside
    ``jit``. A schedule whose leaves carry leading sweep axes (from
    :func:`optasched.stack` or :func:`optasched.grid`) evaluates every member at
    once: the result has shape ``batch_shape + step.shape``.

    A family subclasses it with ``family="name"`` (its public name), declares
    its fields (see the module docstring), implements ``_value(step)`` for one
    member, and ``value_range(step)`` if its range can be read off its
    hyperparameters. A reparameterisation of another family implements
    ``_general()`` (the general family built from its own leaves, at
    evaluation time) instead of ``_value``. Cross-field requirements go in
    ``_constraints()``; structural ones (lengths that must match) in
    ``_check_structure()``.
    """

    family: ClassVar[str] = "schedule"
    fields: ClassVar[dict[str, Field]] = {}
    _leaf_names: ClassVar[tuple[str, ...]] = ()
    _static_names: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, family: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if family is not None:
            cls.family = family
        declared: dict[str, Field] = {}
        for base in reversed(cls.__mro__[1:]):
            declared.update(getattr(base, "fields", {}) if issubclass(base, Schedule) else {})
        for name in cls.__dict__.get("__annotations__", {}):
            spec = cls.__dict__.get(name)
            if isinstance(spec, Field):
                spec.name = name
                declared[name] = spec
                delattr(cls, name)  # the instance attribute, not the specifier
        cls.fields = declared
        cls._leaf_names = tuple(n for n, f in declared.items() if f.kind is not Kind.STATIC)
        cls._static_names = tuple(n for n, f in declared.items() if f.kind is Kind.STATIC)
        if declared:
            cls.__init__ = _make_init(cls)
        jax.tree_util.register_pytree_with_keys(
            cls, cls._tree_flatten_with_keys, cls._tree_unflatten, cls._tree_flatten
        )

    # -- construction --------------------------------------------------------------------

    def _setup(self, arguments: Mapping[str, Any]) -> None:
        """Converts, checks structure, broadcasts sweep axes and validates."""
        for name, spec in self.fields.items():
            raw = arguments[name]
            if spec.choices is not None and raw not in spec.choices:
                raise ValueError(f"{self.family}: {name} must be one of {spec.choices}, got {raw!r}")
            object.__setattr__(self, name, self._convert(spec, raw))
            if spec.kind is Kind.PARAMS and raw is not None and "_param_ranks" not in self.__dict__:
                # The ranks given at construction are each parameter's core rank.
                object.__setattr__(self, "_param_ranks", tuple(jnp.ndim(p) for p in jax.tree.leaves(getattr(self, name))))
        self._check_structure()
        self._broadcast_batch()
        self._validate()

    @classmethod
    def _build(cls, **fields):
        """An instance from already-converted leaves, without validation: how a
        reparameterisation builds its general family at evaluation time."""
        obj = object.__new__(cls)
        for name, spec in cls.fields.items():
            if name in fields:
                field_value = fields[name]
            elif spec.required:
                raise TypeError(f"{cls.__name__}._build: missing {name}")
            else:
                field_value = obj._convert(spec, spec.default)
            object.__setattr__(obj, name, field_value)
        return obj

    def _convert(self, spec: Field, x: Any):
        family, name, kind = self.family, spec.name, spec.kind
        if kind is Kind.STATIC or (x is None and (spec.optional or kind is Kind.PARAMS)):
            return x
        if x is None:
            wanted = {Kind.SCHEDULE: "a schedule or a number", Kind.SCHEDULES: "a list of schedules"}
            raise ValueError(f"{family}: {name} must be {wanted.get(kind, 'a number')}, got None")
        if kind is Kind.SCHEDULE:
            return as_schedule(x, family, name)
        if kind is Kind.SCHEDULES:
            if isinstance(x, (Schedule, str, bytes)) or not hasattr(x, "__iter__"):
                raise ValueError(f"{family}: {name} must be a list of schedules, got {x!r}")
            return tuple(as_schedule(s, family, f"{name}[{i}]") for i, s in enumerate(x))
        if kind is Kind.PARAMS:
            return convert_params(family, x)
        leaf = convert_leaf(family, name, kind, x)
        if leaf.ndim < kind.core_rank:
            raise ValueError(f"{family}: {name} must be a 1-D array, got {x!r}")
        return leaf

    def __setattr__(self, name: str, new: Any) -> None:
        raise AttributeError(
            f"{self.family} schedules are immutable; use .replace({name}=...) for a copy with a new value"
        )

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{self.family} schedules are immutable")

    # -- subclass hooks ---------------------------------------------------------------------

    def _general(self) -> "Schedule | None":
        """For a reparameterisation: the general family built from this one's leaves."""
        return None

    def _value(self, step):
        general = self._general()
        if general is None:
            raise NotImplementedError(f"{type(self).__name__} defines neither _value nor _general")
        return general._value(step)

    def value_range(self, step):
        """``(low, high)``: the smallest and largest value the schedule takes, as
        traced arrays, or None when it cannot be read off the hyperparameters.

        Over the whole course for most families; for schedules whose cycles grow
        (restarts with ``peak_multiplier > 1``) over the course up to the end of
        the cycle that ``step`` falls in. Coupled schedules normalise by it.
        """
        general = self._general()
        return None if general is None else general.value_range(step)

    def position(self, step):
        """Where the value at ``step`` lies within :meth:`value_range`, in [0, 1]
        (1 for a constant); None when the range is unknown."""
        general = self._general()
        if general is not None:
            return general.position(step)
        found = self.value_range(step)
        if found is None:
            return None
        low, high = found
        current = self._value(step)
        fraction = jnp.clip(_safe_divide(current - low, high - low, 1.0), 0.0, 1.0)
        # At or beyond the ends exactly (a constant is at its top; inf - inf must not give NaN).
        return jnp.where(current >= high, 1.0, jnp.where(current <= low, 0.0, fraction))

    def _constraints(self) -> Iterator[Constraint]:
        return iter(())

    def _check_structure(self) -> None:
        """Structural requirements (array lengths): shapes are static, so this runs
        even on traced values."""

    # -- validation -------------------------------------------------------------------------

    def _validate(self) -> None:
        """Raises ValueError for the first violated constraint on concrete values.

        Traced values are skipped here; :func:`optasched.check` covers them.
        """
        for c in self._all_constraints():
            if is_traced(c.ok) or is_traced(c.value):
                continue
            ok = np.asarray(c.ok)
            if not ok.all():
                raise ValueError(self._violation_message(c, ok))

    def _violation_message(self, c: Constraint, ok: np.ndarray) -> str:
        shown = np.asarray(c.value)
        where = ""
        if self.batch_shape and ok.ndim:
            index = np.unravel_index(int(np.argmin(ok.reshape(-1))), ok.shape)
            shown = shown[index] if shown.shape[: len(index)] == ok.shape else shown
            where = f" (sweep member {index[0] if len(index) == 1 else index})"
        return f"{self.family}: {c.name} must be {c.requirement}, got {format_number(shown)}{where}"

    def _all_constraints(self) -> Iterator[Constraint]:
        """Finiteness of every numeric field, the declared bounds, then the family's own."""
        batch_rank = len(self.batch_shape)
        for name in self._leaf_names:
            spec, field_value = self.fields[name], getattr(self, name)
            if field_value is None or spec.kind in (Kind.SCHEDULE, Kind.SCHEDULES):
                continue
            for path, leaf in jax.tree_util.tree_leaves_with_path(field_value):
                if jnp.issubdtype(leaf.dtype, jnp.floating):
                    # Reduce over the core axes only, keeping the sweep axes (so a bad member is named).
                    extra = tuple(range(batch_rank, leaf.ndim))
                    yield Constraint(name + jax.tree_util.keystr(path), jnp.all(jnp.isfinite(leaf), axis=extra),
                                     "finite", leaf)
            yield from _declared_bounds(name, field_value, spec.bounds, spec.kind.core_rank)
        yield from self._constraints()

    # -- pytree -------------------------------------------------------------------------------

    def _tree_flatten(self):
        statics = tuple(getattr(self, n) for n in self._static_names)
        # A parameter tree's core ranks (from_function) travel as structure.
        return tuple(getattr(self, n) for n in self._leaf_names), (statics, self.__dict__.get("_param_ranks"))

    def _tree_flatten_with_keys(self):
        children_, aux = self._tree_flatten()
        keys = tuple(jax.tree_util.GetAttrKey(n) for n in self._leaf_names)
        return tuple(zip(keys, children_)), aux

    @classmethod
    def _tree_unflatten(cls, aux, children_):
        obj = object.__new__(cls)
        statics, param_ranks = aux
        if param_ranks is not None:
            object.__setattr__(obj, "_param_ranks", param_ranks)
        for name, field_value in zip(cls._static_names, statics):
            object.__setattr__(obj, name, field_value)
        for name, field_value in zip(cls._leaf_names, children_):
            object.__setattr__(obj, name, field_value)
        return obj

    def _core_ranks(self) -> list[int]:
        """The core (unbatched) rank of every leaf, in ``jax.tree.leaves`` order."""
        ranks: list[int] = []
        for name in self._leaf_names:
            kind, field_value = self.fields[name].kind, getattr(self, name)
            if field_value is None:
                continue
            if kind is Kind.SCHEDULE:
                ranks += field_value._core_ranks()
            elif kind is Kind.SCHEDULES:
                for s in field_value:
                    ranks += s._core_ranks()
            elif kind is Kind.PARAMS:
                ranks += list(self.__dict__.get("_param_ranks") or [0] * len(jax.tree.leaves(field_value)))
            else:
                ranks.append(kind.core_rank)
        return ranks

    # -- batching ------------------------------------------------------------------------------

    def _sweep_shapes(self) -> list[tuple[int, ...]]:
        return [tuple(jnp.shape(x))[: jnp.ndim(x) - r] for x, r in zip(jax.tree.leaves(self), self._core_ranks())]

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The leading sweep axes shared by every leaf; () for one schedule."""
        shapes = set(self._sweep_shapes())
        if len(shapes) > 1:
            raise ValueError(f"{self.family}: leaves have inconsistent sweep axes {shapes}")
        return shapes.pop() if shapes else ()

    def _broadcast_batch(self) -> None:
        """Broadcasts leaves given as arrays of values to one common sweep shape.

        So ``cosine(init_value=jnp.array([0.1, 0.3]), decay_steps=100)`` is a
        sweep of two members, the same as stacking two schedules.
        """
        try:
            batch = jnp.broadcast_shapes(*self._sweep_shapes())
        except ValueError as err:
            raise ValueError(f"{self.family}: hyperparameters given as arrays must share sweep axes: {err}") from None
        if not batch:
            return
        leaves, treedef = jax.tree.flatten(self)
        broadcast = [
            jnp.broadcast_to(x, batch + tuple(jnp.shape(x))[jnp.ndim(x) - r :])
            for x, r in zip(leaves, self._core_ranks())
        ]
        new = jax.tree.unflatten(treedef, broadcast)
        for name in self._leaf_names:
            object.__setattr__(self, name, getattr(new, name))

    def __len__(self) -> int:
        batch = self.batch_shape
        if not batch:
            raise TypeError(f"a single {self.family} schedule has no len(); stack schedules first")
        return batch[0]

    def __getitem__(self, index) -> "Schedule":
        """Member ``index`` of a stacked sweep (or a sub-sweep for a slice)."""
        batch = self.batch_shape
        if not batch:
            raise TypeError(f"a single {self.family} schedule cannot be indexed")
        if isinstance(index, (int, np.integer)) and not -batch[0] <= index < batch[0]:
            raise IndexError(f"sweep member {index} out of range for a sweep of {batch[0]}")
        return jax.tree.map(lambda x: x[index], self)

    def __iter__(self) -> Iterator["Schedule"]:
        return (self[i] for i in range(len(self)))

    # -- evaluation --------------------------------------------------------------------------

    def __call__(self, step) -> jax.Array:
        step = _as_step(self.family, step)
        batch = self.batch_shape
        if not batch:
            return self._value(step)
        evaluate = lambda member: member._value(step)  # noqa: E731
        for _ in batch:
            evaluate = jax.vmap(evaluate)
        return evaluate(self)

    @property
    def dtype(self) -> np.dtype:
        """The floating dtype of the schedule's values."""
        floats = [x.dtype for x in jax.tree.leaves(self) if jnp.issubdtype(x.dtype, jnp.floating)]
        return jnp.result_type(*floats) if floats else default_float_dtype()

    # -- editing ---------------------------------------------------------------------------------

    def replace(self, **changes) -> "Schedule":
        """A copy with some hyperparameters changed, validated like the constructor.

        Keys are field names, or dotted paths into composites and parameter trees:
        ``s.replace(**{"schedule.init_value": 0.3, "schedules.1.decay_steps": 50})``.
        """
        arguments = {name: getattr(self, name) for name in self.fields}
        nested: dict[str, dict[str, Any]] = {}
        for key, new in changes.items():
            head, _, rest = key.partition(".")
            if head not in self.fields:
                raise ValueError(f"{self.family}: no hyperparameter {head!r}; has {sorted(self.fields)}")
            if rest:
                nested.setdefault(head, {})[rest] = new
            else:
                arguments[head] = new
        for head, sub in nested.items():
            arguments[head] = _replace_inside(self.family, head, arguments[head], sub)
        new_schedule = object.__new__(type(self))
        kept_ranks = self.__dict__.get("_param_ranks")
        if kept_ranks is not None and not any(
            self.fields[k.partition(".")[0]].kind is Kind.PARAMS and "." not in k for k in changes
        ):
            object.__setattr__(new_schedule, "_param_ranks", kept_ranks)
        new_schedule._setup(arguments)
        return new_schedule

    def _hyperparameters(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.fields}

    def __repr__(self) -> str:
        def show(field_value):
            if isinstance(field_value, tuple) and field_value and isinstance(field_value[0], Schedule):
                return "[" + ", ".join(map(repr, field_value)) + "]"
            if isinstance(field_value, (jax.Array, np.ndarray)) and not is_traced(field_value):
                return format_number(field_value) if field_value.size <= 8 else (
                    f"<{field_value.dtype}{list(field_value.shape)}>")
            if isinstance(field_value, dict):
                return "{" + ", ".join(f"{k!r}: {show(v)}" for k, v in field_value.items()) + "}"
            return repr(field_value)

        args = ", ".join(f"{n}={show(v)}" for n, v in self._hyperparameters().items() if v is not None)
        return f"{self.family}({args})"

    # -- arithmetic ------------------------------------------------------------------------------

    def __add__(self, other):
        return Add(self, other)

    def __radd__(self, other):
        return Add(other, self)

    def __sub__(self, other):
        return Sub(self, other)

    def __rsub__(self, other):
        return Sub(other, self)

    def __mul__(self, other):
        return Mul(self, other)

    def __rmul__(self, other):
        return Mul(other, self)

    def __truediv__(self, other):
        return Div(self, other)

    def __neg__(self):
        return Mul(-1.0, self)


def _make_init(cls):
    """An ``__init__`` with the declared fields as parameters (defaults included),
    so ``inspect.signature`` and ``help`` show the real arguments."""
    parameters = []
    defaults = {}
    for name, spec in cls.fields.items():
        if spec.required:
            parameters.append(name)
        else:
            defaults[f"_default_{name}"] = spec.default
            parameters.append(f"{name}=_default_{name}")
    names = ", ".join(cls.fields)
    source = f"def __init__(self, {', '.join(parameters)}):\n    self._setup(dict(zip({tuple(cls.fields)!r}, ({names},))))\n"
    namespace: dict[str, Any] = dict(defaults)
    exec(source, namespace)  # noqa: S102 (generated from declared field names only)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__doc__
    return init


def _replace_inside(family: str, head: str, current: Any, sub: dict[str, Any]) -> Any:
    """Applies dotted-path changes below field ``head`` (a child, children, or params)."""
    if isinstance(current, Schedule):
        return current.replace(**sub)
    if isinstance(current, tuple) and all(isinstance(c, Schedule) for c in current):
        updated = list(current)
        for path, new in sub.items():
            index, _, rest = path.partition(".")
            if not index.isdigit() or int(index) >= len(updated) or not rest:
                raise ValueError(
                    f"{family}: bad path {head + '.' + path!r}; expected "
                    f"'{head}.<index below {len(updated)}>.<hyperparameter>'"
                )
            updated[int(index)] = updated[int(index)].replace(**{rest: new})
        return tuple(updated)
    if isinstance(current, (dict, list, tuple)):  # a parameter tree: dotted keys or indices
        tree = jax.tree.map(lambda x: x, current)
        for path, new in sub.items():
            node = tree
            keys = path.split(".")
            for key in keys[:-1]:
                node = node[int(key) if isinstance(node, list) else key]
            last = keys[-1]
            try:
                node[int(last) if isinstance(node, list) else last]
            except (KeyError, IndexError, ValueError, TypeError):
                raise ValueError(f"{family}: no parameter {head + '.' + path!r}") from None
            node[int(last) if isinstance(node, list) else last] = new
        return tree
    raise ValueError(f"{family}: {head} is not a schedule; cannot replace {sub}")


def _as_step(family: str, step):
    try:
        if step is None or isinstance(step, (str, bytes)):
            raise TypeError
        step = jnp.asarray(step)
    except (TypeError, ValueError):
        raise ValueError(f"{family}: step must be an integer or float, got {step!r}") from None
    if not (jnp.issubdtype(step.dtype, jnp.integer) or jnp.issubdtype(step.dtype, jnp.floating)):
        raise ValueError(f"{family}: step must be an integer or float, got dtype {step.dtype}")
    return step


def _safe_divide(numerator, denominator, if_zero):
    zero = denominator == 0
    return jnp.where(zero, if_zero, numerator / jnp.where(zero, 1, denominator))


# -- stateful hyperparameters --------------------------------------------------------------------


class StatefulSchedule(Schedule):
    """A hyperparameter whose value depends on a state as well as the step, such
    as :func:`optasched.plateau` (reduce on plateau).

    It is a :class:`Schedule` in every other way: fields declared once, leaves
    that jit, vmap, stack, ``replace``, ``to_config`` and checked mode see. Give
    it to :func:`optasched.inject` as any hyperparameter; each update calls
    ``update_state`` (with the ``update``'s extra arguments, such as
    ``value=loss``) and then reads ``value``. Subclasses implement:

    - ``init_state(dtype) -> state``: a pytree of arrays (kept in the optimizer state);
    - ``update_state(state, step, **extra_args) -> state``;
    - ``value(state, step) -> array``.

    Example (a learning rate halved whenever the loss rises above 2x its
    running minimum):

    >>> import jax.numpy as jnp, optax
    >>> import optasched as osd
    >>> from optasched.schedules import StatefulSchedule, value
    >>> class HalveOnSpike(StatefulSchedule, family="halve_on_spike"):
    ...     peak_value: float = value(gt=0)
    ...     ratio: float = value(default=2.0, gt=1)
    ...     def init_state(self, dtype):
    ...         return {"scale": jnp.ones((), dtype), "best": jnp.full((), jnp.inf, dtype)}
    ...     def update_state(self, state, step, value=None, **extra_args):
    ...         spike = value > self.ratio * state["best"]
    ...         return {"scale": jnp.where(spike, state["scale"] / 2, state["scale"]),
    ...                 "best": jnp.minimum(state["best"], value)}
    ...     def value(self, state, step):
    ...         return self.peak_value * state["scale"]
    >>> opt = osd.inject(optax.sgd)(learning_rate=HalveOnSpike(0.1))
    >>> state = opt.init(jnp.zeros(2))
    >>> for loss in [1.0, 0.5, 3.0]:
    ...     _, state = opt.update(jnp.ones(2), state, jnp.zeros(2), value=loss)
    >>> round(float(osd.hyperparams(state)["learning_rate"]), 4)
    0.05

    Reference: optax's ``StatefulSchedule`` protocol (``optax.schedules``).
    """

    def init_state(self, dtype) -> Any:
        raise NotImplementedError

    def update_state(self, state: Any, step, **extra_args) -> Any:
        raise NotImplementedError

    def value(self, state: Any, step) -> jax.Array:
        raise NotImplementedError

    def __call__(self, step) -> jax.Array:
        raise TypeError(
            f"a {self.family} schedule depends on its state (a monitored value), so it has no value "
            "at a step alone; use it as a hyperparameter of optasched.inject, or call "
            ".value(state, step) with a state from .init_state(dtype)"
        )

    def position(self, step):
        return None


# -- constants and arithmetic (the algebra every schedule needs) ---------------------------------


class Constant(Schedule, family="constant"):
    r"""A constant schedule.

    .. math:: v(t) = \text{value}

    Example:
        >>> import optasched as osd
        >>> float(osd.constant(0.1)(1000))  # doctest: +ELLIPSIS
        0.1...
    """

    value: ArrayLike = value()

    def _value(self, step):
        return jnp.broadcast_to(self.value, jnp.shape(step))

    def value_range(self, step):
        return self.value, self.value


def as_schedule(x: Any, family: str = "schedule", name: str = "schedule") -> Schedule:
    """Returns x if it is a schedule, else a constant schedule of the number x."""
    if isinstance(x, StatefulSchedule):
        raise ValueError(
            f"{family}: {name} must be a schedule of the step alone; a {x.family} schedule depends on its "
            "state, so it can only be a hyperparameter of optasched.inject (wrap schedules inside it instead)"
        )
    if isinstance(x, Schedule):
        return x
    if callable(x):
        raise ValueError(
            f"{family}: {name} must be an optasched schedule or a number, got the function {x!r};"
            " wrap a pure function with optasched.from_function"
        )
    try:
        return Constant(x)
    except ValueError as err:
        raise ValueError(f"{family}: {name} must be a schedule or a number, got {x!r}") from err


def _interval_product(a, b):
    corners = jnp.stack([a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]])
    return jnp.min(corners, axis=0), jnp.max(corners, axis=0)


class _Pointwise(Schedule):
    """A pointwise operation of two schedules (a number is a constant)."""

    _operation: ClassVar[Any]

    def _operands(self) -> tuple[Schedule, Schedule]:
        return tuple(getattr(self, n) for n in self._leaf_names)  # type: ignore[return-value]

    def _value(self, step):
        a, b = self._operands()
        return type(self)._operation(a(step), b(step))

    def value_range(self, step):
        a, b = (s.value_range(step) for s in self._operands())
        if a is None or b is None:
            return None
        return self._combine_ranges(a, b)


class Add(_Pointwise, family="add"):
    """``left + right`` (what ``s1 + s2`` builds)."""

    left: Schedule | ArrayLike = child()
    right: Schedule | ArrayLike = child()
    _operation = staticmethod(jnp.add)

    def _combine_ranges(self, a, b):
        return a[0] + b[0], a[1] + b[1]


class Sub(_Pointwise, family="sub"):
    """``left - right`` (what ``s1 - s2`` builds)."""

    left: Schedule | ArrayLike = child()
    right: Schedule | ArrayLike = child()
    _operation = staticmethod(jnp.subtract)

    def _combine_ranges(self, a, b):
        return a[0] - b[1], a[1] - b[0]


class Mul(_Pointwise, family="mul"):
    """``left * right`` (what ``s * 0.5`` or ``s1 * s2`` builds)."""

    left: Schedule | ArrayLike = child()
    right: Schedule | ArrayLike = child()
    _operation = staticmethod(jnp.multiply)

    def _combine_ranges(self, a, b):
        return _interval_product(a, b)


class Div(_Pointwise, family="div"):
    """``left / right`` with ``right`` a non-zero number (what ``s / 4`` builds)."""

    left: Schedule | ArrayLike = child()
    right: Schedule | ArrayLike = child()
    _operation = staticmethod(jnp.divide)

    def _check_structure(self):
        if not isinstance(self.right, Constant):
            raise ValueError("div: a schedule can only be divided by a number, not by a schedule")

    def _constraints(self):
        yield Constraint("right (the divisor)", self.right.value != 0, "non-zero", self.right.value)

    def _combine_ranges(self, a, b):
        inverse = 1.0 / b[0]
        return _interval_product(a, (inverse, inverse))


class Minimum(_Pointwise, family="minimum"):
    """The pointwise minimum of two schedules (or a schedule and a number).

    Example:
        >>> import optasched as osd
        >>> float(osd.minimum(osd.linear(0.0, 1.0, 10), 0.5)(8))
        0.5
    """

    first: Schedule | ArrayLike = child()
    second: Schedule | ArrayLike = child()
    _operation = staticmethod(jnp.minimum)

    def _combine_ranges(self, a, b):
        return jnp.minimum(a[0], b[0]), jnp.minimum(a[1], b[1])


class Maximum(_Pointwise, family="maximum"):
    """The pointwise maximum of two schedules (or a schedule and a number).

    Example:
        >>> import optasched as osd
        >>> float(osd.maximum(osd.linear(1.0, 0.0, 10), 0.5)(8))
        0.5
    """

    first: Schedule | ArrayLike = child()
    second: Schedule | ArrayLike = child()
    _operation = staticmethod(jnp.maximum)

    def _combine_ranges(self, a, b):
        return jnp.maximum(a[0], b[0]), jnp.maximum(a[1], b[1])


# -- trees of schedules ----------------------------------------------------------------------------


def schedule_nodes(tree: Any, path: str = "") -> Iterator[tuple[str, Schedule]]:
    """Every schedule inside a pytree (nested composites included), with its path."""
    is_schedule = lambda x: isinstance(x, Schedule)  # noqa: E731
    for key_path, node in jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_schedule)[0]:
        if not isinstance(node, Schedule):
            continue
        here = path + jax.tree_util.keystr(key_path)
        yield here, node
        for name in node._leaf_names:
            field_value = getattr(node, name)
            if isinstance(field_value, (Schedule, tuple)):
                yield from schedule_nodes(field_value, f"{here}.{name}")


def describe_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Says where two pytrees (of schedules) differ in structure or shape, or None."""
    where = path or "the top level"
    if isinstance(a, Schedule) or isinstance(b, Schedule):
        if type(a) is not type(b):
            return f"{where}: {_kind_of(a)} vs {_kind_of(b)}"
        for name in a._static_names:
            if getattr(a, name) != getattr(b, name):
                return f"{path}.{name}: {getattr(a, name)!r} vs {getattr(b, name)!r}"
        for name in a._leaf_names:
            diff = describe_difference(getattr(a, name), getattr(b, name), f"{path}.{name}")
            if diff:
                return diff
        return None
    if (a is None) != (b is None):
        return f"{where}: {'None' if a is None else 'given'} vs {'None' if b is None else 'given'}"
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        if len(a) != len(b):
            return f"{where}: {len(a)} entries vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            diff = describe_difference(x, y, f"{path}[{i}]")
            if diff:
                return diff
        return None
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        if set(a) != set(b):
            return f"{where}: keys {sorted(a)} vs {sorted(b)}"
        for key in a:
            diff = describe_difference(a[key], b[key], f"{path}[{key!r}]")
            if diff:
                return diff
        return None
    if jax.tree.structure(a) != jax.tree.structure(b):
        return f"{where}: {jax.tree.structure(a)} vs {jax.tree.structure(b)}"
    for (p, x), y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree.leaves(b)):
        if jnp.shape(x) != jnp.shape(y):
            return f"{path}{jax.tree_util.keystr(p) or ''}: shape {jnp.shape(x)} vs {jnp.shape(y)}"
    return None


def _kind_of(x: Any) -> str:
    return f"{x.family} schedule" if isinstance(x, Schedule) else f"{type(x).__name__} {x!r}"


def ordered(a, b):
    """``(min(a, b), max(a, b))``: the range between two values."""
    return jnp.minimum(a, b), jnp.maximum(a, b)


def unbounded(x) -> bool:
    """True for a concrete range bound that is not finite."""
    return not is_traced(x) and not bool(np.all(np.isfinite(np.asarray(x))))


__all__ = [name for name in dir() if not name.startswith("__")]
del math
