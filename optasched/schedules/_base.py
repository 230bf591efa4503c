"""The Schedule base class: a pytree whose leaves are its hyperparameters.

Every schedule family and combinator subclasses :class:`Schedule` and declares
its fields once, in ``_fields``: each numeric field becomes a pytree leaf (so it
may be traced, vmapped and differentiated), each string or flag option is
static structure. From that declaration this module derives pytree
registration, argument conversion, validation with errors that name the
argument, batch shapes of stacked sweeps, indexing and ``replace``.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np


class Kind(enum.Enum):
    """What a declared field holds; fixes conversion and the core rank."""

    VALUE = "value"  # float scalar: a value or a continuous hyperparameter
    STEPS = "steps"  # step count: integer scalar (float allowed, for gradients)
    VALUES = "values"  # float vector
    BOUNDARIES = "boundaries"  # step-count vector
    SCHEDULE = "schedule"  # one child schedule
    SCHEDULES = "schedules"  # tuple of child schedules
    PARAMS = "params"  # any pytree of numbers (from_function)
    STATIC = "static"  # hashable structure: a string mode, a flag, a function

    @property
    def core_rank(self) -> int:
        return 1 if self in (Kind.VALUES, Kind.BOUNDARIES) else 0


def default_float_dtype() -> np.dtype:
    return jax.dtypes.canonicalize_dtype(np.float64)


def default_int_dtype() -> np.dtype:
    return jax.dtypes.canonicalize_dtype(np.int64)


def is_traced(x: Any) -> bool:
    return isinstance(x, jax.core.Tracer)


def _numeric_array(family: str, name: str, x: Any):
    """Returns x as a NumPy or JAX array, rejecting non-numbers by name."""
    if isinstance(x, Schedule):
        raise ValueError(
            f"{family}: {name} must be a number or an array, got a schedule {x!r}"
        )
    if not isinstance(x, (jax.Array, np.ndarray, np.generic)):
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, list, tuple)):
            raise ValueError(f"{family}: {name} must be a number, got {x!r}")
        if isinstance(x, int) and not isinstance(x, bool):
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
        raise ValueError(
            f"{family}: {name} must be a real number, got {x!r} of dtype {x.dtype}"
        )
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


def convert_params(family: str, params: Any):
    """Converts every leaf of a parameter pytree (for from_function)."""

    def convert(path, leaf):
        kind = Kind.STEPS if isinstance(leaf, int) else Kind.VALUE
        return convert_leaf(family, f"params{jax.tree_util.keystr(path)}", kind, leaf)

    return jax.tree_util.tree_map_with_path(convert, params)


class Constraint:
    """A requirement on a field: ``ok`` is a boolean array over the batch."""

    __slots__ = ("name", "ok", "requirement", "value")

    def __init__(self, name: str, ok, requirement: str, value):
        self.name, self.ok, self.requirement, self.value = name, ok, requirement, value


def _format_number(x) -> str:
    x = np.asarray(x)
    if x.ndim == 0:
        return repr(x.item())
    return np.array2string(x, separator=", ", threshold=8)


class Schedule:
    """A schedule: a pure, jittable function of the step whose numeric
    hyperparameters are the leaves of a pytree.

    Call it on an integer (or float) step, scalar or array, inside or outside
    ``jit``. A schedule whose leaves carry leading sweep axes (from
    :func:`optasched.stack` or :func:`optasched.grid`) evaluates every member at
    once: the result has shape ``batch_shape + step.shape``.

    Subclasses declare ``_fields`` (name -> :class:`Kind`), ``_family`` (the
    public constructor's name, used in error messages) and implement
    ``_value(step)`` for one unbatched member, plus ``_constraints()``.
    """

    _fields: ClassVar[dict[str, Kind]] = {}
    _family: ClassVar[str] = "schedule"
    _optional: ClassVar[frozenset[str]] = frozenset()  # fields that may be None
    _choices: ClassVar[dict[str, tuple]] = {}  # static option -> its allowed values

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._leaf_names = tuple(n for n, k in cls._fields.items() if k is not Kind.STATIC)
        cls._static_names = tuple(n for n, k in cls._fields.items() if k is Kind.STATIC)
        jax.tree_util.register_pytree_with_keys(
            cls, cls._tree_flatten_with_keys, cls._tree_unflatten, cls._tree_flatten
        )

    def __init__(self, **fields):
        unknown = set(fields) - set(self._fields)
        missing = set(self._fields) - set(fields)
        if unknown or missing:  # a programming error inside optasched
            raise TypeError(f"{type(self).__name__}: unknown {unknown}, missing {missing}")
        for name, options in self._choices.items():
            if fields[name] not in options:
                raise ValueError(f"{self._family}: {name} must be one of {tuple(options)}, got {fields[name]!r}")
        for name, kind in self._fields.items():
            setattr(self, name, self._convert(name, kind, fields[name]))
        self._param_ranks = ()
        if Kind.PARAMS in self._fields.values():
            params = getattr(self, next(n for n, k in self._fields.items() if k is Kind.PARAMS))
            self._param_ranks = tuple(jnp.ndim(p) for p in jax.tree.leaves(params))
        self._broadcast_batch()
        self._validate()

    # -- subclass hooks -------------------------------------------------------

    def _value(self, step):
        raise NotImplementedError

    def _constraints(self) -> Iterator[Constraint]:
        return iter(())

    # -- conversion and validation ------------------------------------------

    def _convert(self, name: str, kind: Kind, x: Any):
        family = self._family
        if kind is Kind.STATIC or (x is None and (name in self._optional or kind is Kind.PARAMS)):
            return x
        if x is None:
            wanted = {Kind.SCHEDULE: "a schedule or a number", Kind.SCHEDULES: "a list of schedules"}
            raise ValueError(f"{family}: {name} must be {wanted.get(kind, 'a number')}, got None")
        if kind is Kind.SCHEDULE:
            return as_schedule(x, family, name)
        if kind is Kind.SCHEDULES:
            if isinstance(x, Schedule) or not isinstance(x, (list, tuple)):
                raise ValueError(f"{family}: {name} must be a list of schedules, got {x!r}")
            return tuple(as_schedule(s, family, f"{name}[{i}]") for i, s in enumerate(x))
        if kind is Kind.PARAMS:
            return convert_params(family, x)
        leaf = convert_leaf(family, name, kind, x)
        if leaf.ndim < kind.core_rank:
            raise ValueError(f"{family}: {name} must be a 1-D array, got {x!r}")
        return leaf

    def _validate(self) -> None:
        """Raises ValueError for the first violated constraint on concrete values.

        Traced values are skipped here; :func:`optasched.check` covers them.
        """
        for c in self._all_constraints():
            if is_traced(c.ok) or is_traced(c.value):
                continue
            ok = np.asarray(c.ok)
            if ok.all():
                continue
            raise ValueError(self._violation_message(c, ok))

    def _violation_message(self, c: Constraint, ok: np.ndarray) -> str:
        value = np.asarray(c.value)
        batch = self.batch_shape
        where = ""
        if batch and ok.ndim:
            index = np.unravel_index(int(np.argmin(ok.reshape(-1))), ok.shape)
            value = value[index] if value.shape[: len(index)] == ok.shape else value
            where = f" (sweep member {index[0] if len(index) == 1 else index})"
        return (
            f"{self._family}: {c.name} must be {c.requirement}, "
            f"got {_format_number(value)}{where}"
        )

    def _all_constraints(self) -> Iterator[Constraint]:
        """Finiteness of every numeric field, then the family's own constraints."""
        for name in self._leaf_names:
            kind, value = self._fields[name], getattr(self, name)
            if value is None or kind in (Kind.SCHEDULE, Kind.SCHEDULES):
                continue
            for path, leaf in jax.tree_util.tree_leaves_with_path(value):
                finite = jnp.isfinite(leaf) if jnp.issubdtype(leaf.dtype, jnp.floating) else None
                if finite is None:
                    continue
                # Reduce over the core axes only, keeping the sweep axes (so a bad member is named).
                extra = tuple(range(len(self.batch_shape), leaf.ndim))
                yield Constraint(
                    name + jax.tree_util.keystr(path), jnp.all(finite, axis=extra), "finite", leaf
                )
        yield from self._constraints()

    # -- pytree ----------------------------------------------------------------

    def _tree_flatten(self):
        children = tuple(getattr(self, n) for n in self._leaf_names)
        aux = (tuple(getattr(self, n) for n in self._static_names), self._param_ranks)
        return children, aux

    def _tree_flatten_with_keys(self):
        children, aux = self._tree_flatten()
        keys = tuple(jax.tree_util.GetAttrKey(n) for n in self._leaf_names)
        return tuple(zip(keys, children)), aux

    @classmethod
    def _tree_unflatten(cls, aux, children):
        obj = object.__new__(cls)
        statics, obj._param_ranks = aux
        for name, value in zip(cls._static_names, statics):
            setattr(obj, name, value)
        for name, value in zip(cls._leaf_names, children):
            setattr(obj, name, value)
        return obj

    def _core_ranks(self) -> "Schedule":
        """The same pytree with each leaf replaced by its core (unbatched) rank."""
        children = []
        for name in self._leaf_names:
            kind, value = self._fields[name], getattr(self, name)
            if value is None:
                children.append(None)
            elif kind is Kind.SCHEDULE:
                children.append(value._core_ranks())
            elif kind is Kind.SCHEDULES:
                children.append(tuple(s._core_ranks() for s in value))
            elif kind is Kind.PARAMS:
                treedef = jax.tree.structure(value)
                children.append(jax.tree.unflatten(treedef, list(self._param_ranks)))
            else:
                children.append(kind.core_rank)
        return self._tree_unflatten(self._tree_flatten()[1], children)

    # -- batching --------------------------------------------------------------

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The leading sweep axes shared by every leaf; () for one schedule."""
        leaves = jax.tree.leaves(self)
        ranks = jax.tree.leaves(self._core_ranks())
        shapes = {tuple(jnp.shape(x))[: jnp.ndim(x) - r] for x, r in zip(leaves, ranks)}
        if len(shapes) > 1:
            raise ValueError(f"{self._family}: leaves have inconsistent sweep axes {shapes}")
        return shapes.pop() if shapes else ()

    def _broadcast_batch(self) -> None:
        """Broadcasts leaves given as arrays of values to one common sweep shape.

        So ``cosine(init_value=jnp.array([0.1, 0.3]), decay_steps=100)`` is a
        sweep of two members, the same as stacking two schedules.
        """
        leaves, treedef = jax.tree.flatten(self)
        ranks = jax.tree.leaves(self._core_ranks())
        try:
            batch = jnp.broadcast_shapes(
                *[tuple(jnp.shape(x))[: jnp.ndim(x) - r] for x, r in zip(leaves, ranks)]
            )
        except ValueError as err:
            raise ValueError(
                f"{self._family}: hyperparameters given as arrays must share sweep axes: {err}"
            ) from None
        if not batch:
            return
        broadcast = [
            jnp.broadcast_to(x, batch + tuple(jnp.shape(x))[jnp.ndim(x) - r :])
            for x, r in zip(leaves, ranks)
        ]
        self.__dict__.update(jax.tree.unflatten(treedef, broadcast).__dict__)

    def __len__(self) -> int:
        batch = self.batch_shape
        if not batch:
            raise TypeError(f"a single {self._family} schedule has no len(); stack schedules first")
        return batch[0]

    def __getitem__(self, index) -> "Schedule":
        """Member ``index`` of a stacked sweep (or a sub-sweep for a slice)."""
        batch = self.batch_shape
        if not batch:
            raise TypeError(f"a single {self._family} schedule cannot be indexed")
        if isinstance(index, (int, np.integer)) and not -batch[0] <= index < batch[0]:
            raise IndexError(f"sweep member {index} out of range for a sweep of {batch[0]}")
        return jax.tree.map(lambda x: x[index], self)

    def __iter__(self) -> Iterator["Schedule"]:
        return (self[i] for i in range(len(self)))

    # -- evaluation --------------------------------------------------------------

    def __call__(self, step) -> jax.Array:
        try:
            if step is None or isinstance(step, (str, bytes)):
                raise TypeError
            step = jnp.asarray(step)
        except (TypeError, ValueError):
            raise ValueError(f"{self._family}: step must be an integer or float, got {step!r}") from None
        if not (jnp.issubdtype(step.dtype, jnp.integer) or jnp.issubdtype(step.dtype, jnp.floating)):
            raise ValueError(f"{self._family}: step must be an integer or float, got dtype {step.dtype}")
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

    # -- editing -----------------------------------------------------------------

    def replace(self, **changes) -> "Schedule":
        """A copy with some hyperparameters changed, validated like the constructor.

        Keys are field names, or dotted paths into composites:
        ``s.replace(**{"schedule.init_value": 0.3, "schedules.1.decay_steps": 50})``.
        """
        fields = {name: getattr(self, name) for name in self._fields}
        nested: dict[str, dict[str, Any]] = {}
        for key, value in changes.items():
            head, _, rest = key.partition(".")
            if head not in self._fields:
                raise ValueError(
                    f"{self._family}: no hyperparameter {head!r}; has {sorted(self._fields)}"
                )
            if rest:
                nested.setdefault(head, {})[rest] = value
            else:
                fields[head] = value
        for head, sub in nested.items():
            child = fields[head]
            if isinstance(child, Schedule):
                fields[head] = child.replace(**sub)
            elif isinstance(child, tuple):
                children = list(child)
                for path, value in sub.items():
                    index, _, rest = path.partition(".")
                    if not index.isdigit() or int(index) >= len(children) or not rest:
                        raise ValueError(
                            f"{self._family}: bad path {head + '.' + path!r}; expected "
                            f"'{head}.<index below {len(children)}>.<hyperparameter>'"
                        )
                    children[int(index)] = children[int(index)].replace(**{rest: value})
                fields[head] = tuple(children)
            else:
                raise ValueError(f"{self._family}: {head} is not a schedule; cannot replace {sub}")
        new = object.__new__(type(self))
        Schedule.__init__(new, **fields)
        return new

    def _hyperparameters(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._fields}

    def __repr__(self) -> str:
        def show(value):
            if isinstance(value, tuple) and value and isinstance(value[0], Schedule):
                return "[" + ", ".join(map(repr, value)) + "]"
            if isinstance(value, (jax.Array, np.ndarray)) and not is_traced(value):
                if value.size <= 8:
                    return _format_number(value)
                return f"<{value.dtype}{list(value.shape)}>"
            return repr(value)

        args = ", ".join(f"{n}={show(v)}" for n, v in self._hyperparameters().items() if v is not None)
        return f"{self._family}({args})"

    # -- arithmetic (implemented in _combinators) ------------------------------

    def __add__(self, other):
        from ._combinators import _binary

        return _binary("add", self, other)

    def __radd__(self, other):
        from ._combinators import _binary

        return _binary("add", other, self)

    def __sub__(self, other):
        from ._combinators import _binary

        return _binary("sub", self, other)

    def __rsub__(self, other):
        from ._combinators import _binary

        return _binary("sub", other, self)

    def __mul__(self, other):
        from ._combinators import _binary

        return _binary("mul", self, other)

    def __rmul__(self, other):
        from ._combinators import _binary

        return _binary("mul", other, self)

    def __truediv__(self, other):
        from ._combinators import _binary

        return _binary("div", self, other)

    def __neg__(self):
        from ._combinators import _binary

        return _binary("mul", -1.0, self)


def as_schedule(x: Any, family: str = "schedule", name: str = "schedule") -> Schedule:
    """Returns x if it is a schedule, else a constant schedule of the number x."""
    if isinstance(x, Schedule):
        return x
    if callable(x):
        raise ValueError(
            f"{family}: {name} must be an optasched schedule or a number, got the function {x!r};"
            " wrap a pure function with optasched.from_function"
        )
    from ._families import constant

    try:
        return constant(x)
    except ValueError as err:
        raise ValueError(f"{family}: {name} must be a schedule or a number, got {x!r}") from err


@contextlib.contextmanager
def renamed(family: str, general: str, names: Mapping[str, str]) -> Iterator[None]:
    """Re-raises a ValueError of the ``general`` family under the name of the
    reparameterisation ``family`` that built it, with its argument names."""
    try:
        yield
    except ValueError as err:
        prefix = f"{general}: "
        if not str(err).startswith(prefix):
            raise
        name, _, rest = str(err)[len(prefix) :].partition(" ")
        raise ValueError(f"{family}: {names.get(name, name)} {rest}") from None


def schedule_nodes(tree: Any, path: str = "") -> Iterator[tuple[str, Schedule]]:
    """Every schedule inside a pytree (nested composites included), with its path."""
    is_schedule = lambda x: isinstance(x, Schedule)  # noqa: E731
    for key_path, node in jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_schedule)[0]:
        if not isinstance(node, Schedule):
            continue
        here = path + jax.tree_util.keystr(key_path)
        yield here, node
        for name in node._leaf_names:
            value = getattr(node, name)
            if isinstance(value, (Schedule, tuple)):
                yield from schedule_nodes(value, f"{here}.{name}")


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
    return f"{x._family} schedule" if isinstance(x, Schedule) else f"{type(x).__name__} {x!r}"
