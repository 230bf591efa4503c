"""The Schedule base class: a frozen pytree whose leaves are its hyperparameters
(and :class:`Declared`, the machinery it shares with its siblings in the layers above).

A family declares its fields once, as annotated class attributes with a field
specifier (see :mod:`._fields`)::

    class Cosine(Schedule, family="cosine"):
        init_value: ArrayLike = real()
        decay_steps: ArrayLike = steps(ge=0)
        end_value: ArrayLike = real(default=0.0)
        exponent: ArrayLike = real(default=1.0, gt=0)

        def _value(self, step): ...

From that declaration the base derives the constructor (its signature, seen by
IDEs and type checkers through ``dataclass_transform``), conversion to strong
dtypes, validation with errors naming the argument, pytree registration,
sweep axes, indexing, ``replace``, ``repr`` and the family's entry in the
registry. Numeric fields are leaves (traced, vmapped, differentiated); static
fields are structure. Instances are immutable.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from ._constraints import Constraint, all_constraints, format_number, validate
from ._convert import as_step, convert_leaf, convert_params, default_float_dtype, is_traced
from ._fields import SPECIFIERS, Field, Kind
from ._kernels import safe_divide
from ._registry import family_class, register
from ._replace import replace_inside
from ._signature import make_init

try:
    from typing import dataclass_transform
except ImportError:  # Python 3.10
    from typing_extensions import dataclass_transform


@dataclass_transform(eq_default=False, frozen_default=True, field_specifiers=SPECIFIERS)
class Declared:
    """A frozen pytree whose leaves are its declared hyperparameters: the machinery
    that schedules (:class:`Schedule`) and their siblings in the layers above
    (per-sample weightings) share.

    A subclass with ``family="name"`` (its public name, unique across every
    declared kind, so configs find it) declares its fields with the specifiers
    of :mod:`._fields` and gets the constructor, conversion, validation with
    errors naming the argument, pytree registration, sweep axes, indexing,
    ``replace``, ``repr``, checked mode and the config round trip. Cross-field
    requirements go in ``_constraints()``; structural ones (lengths that must
    match) in ``_check_structure()``. What the object computes is the
    subclass's business: a :class:`Schedule` is a function of the step.
    """

    family: ClassVar[str] = "declared"
    # The word errors use for one object of this kind ("a single cosine schedule has no len()").
    _noun: ClassVar[str] = "object"
    fields: ClassVar[dict[str, Field]] = {}
    _leaf_names: ClassVar[tuple[str, ...]] = ()
    _static_names: ClassVar[tuple[str, ...]] = ()
    # The core ranks of the leaves of ``params`` fields (from_function), in leaf order: the one
    # piece of structure a field's kind does not fix. Recorded by ``_setup`` from the arguments as
    # given, carried as static aux data of the pytree and kept by ``replace``; None means all 0.
    _param_ranks: tuple[int, ...] | None = None

    def __init_subclass__(cls, family: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if family is not None:
            cls.family = family
        declared: dict[str, Field] = {}
        for base in reversed(cls.__mro__[1:]):
            declared.update(getattr(base, "fields", {}) if issubclass(base, Declared) else {})
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
            cls.__init__ = make_init(cls.family, cls.__qualname__, cls.__doc__, declared)
        jax.tree_util.register_pytree_with_keys(
            cls, cls._tree_flatten_with_keys, cls._tree_unflatten, cls._tree_flatten
        )
        if family is not None and declared and not cls.__name__.startswith("_"):
            register(cls)

    # -- construction --------------------------------------------------------------------

    def _setup(self, arguments: Mapping[str, Any], param_ranks: tuple[int, ...] | None = None) -> None:
        """Converts, checks structure, broadcasts sweep axes and validates.

        ``param_ranks`` keeps the recorded ranks of ``params`` leaves (see ``_param_ranks``);
        None records them from the arguments.
        """
        for name, spec in self.fields.items():
            object.__setattr__(self, name, self._convert(spec, arguments[name]))
        if param_ranks is None:
            param_ranks = tuple(
                jnp.ndim(leaf)
                for name, spec in self.fields.items()
                if spec.kind is Kind.PARAMS
                for leaf in jax.tree.leaves(getattr(self, name))
            )
        object.__setattr__(self, "_param_ranks", param_ranks or None)
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
        if kind is Kind.STATIC:
            return self._check_option(spec, x)
        if x is None and (spec.optional or kind is Kind.PARAMS):
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
        if isinstance(x, Schedule):
            raise ValueError(f"{family}: {name} must be a number or an array, got a schedule {x!r}")
        leaf = convert_leaf(family, name, kind, x)
        if leaf.ndim < kind.core_rank:
            raise ValueError(f"{family}: {name} must be a 1-D array, got {x!r}")
        return leaf

    def _check_option(self, spec: Field, x: Any) -> Any:
        """An option is structure: one hashable value, one of its choices if it has them."""
        if isinstance(x, (np.ndarray, jax.Array)):
            raise ValueError(
                f"{self.family}: {spec.name} is an option (structure, shared by every sweep member) "
                f"and takes one value, not an array; got {x!r}"
            )
        if spec.choices is not None and x not in spec.choices:
            raise ValueError(f"{self.family}: {spec.name} must be one of {spec.choices}, got {x!r}")
        return x

    def __setattr__(self, name: str, new: Any) -> None:
        raise AttributeError(
            f"{self.family} {self._noun}s are immutable; use .replace({name}=...) for a copy with a new value"
        )

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{self.family} {self._noun}s are immutable")

    def _constraints(self) -> Iterator[Constraint]:
        return iter(())

    def _check_structure(self) -> None:
        """Structural requirements (array lengths): shapes are static, so this runs
        even on traced values."""

    # -- validation (the checks themselves live in _constraints) ---------------------------------

    def _validate(self) -> None:
        """Raises ValueError for the first violated constraint on concrete values.

        Traced values are skipped here; :func:`optasched.check` covers them.
        """
        validate(self)

    def _all_constraints(self) -> Iterator[Constraint]:
        """Finiteness of every numeric field, the declared bounds, then the family's own."""
        return all_constraints(self)

    # -- pytree -------------------------------------------------------------------------------

    def _tree_flatten(self):
        statics = tuple(getattr(self, n) for n in self._static_names)
        return tuple(getattr(self, n) for n in self._leaf_names), (statics, self._param_ranks)

    def _tree_flatten_with_keys(self):
        children_, aux = self._tree_flatten()
        keys = tuple(jax.tree_util.GetAttrKey(n) for n in self._leaf_names)
        return tuple(zip(keys, children_)), aux

    @classmethod
    def _tree_unflatten(cls, aux, children_):
        obj = object.__new__(cls)
        statics, param_ranks = aux
        object.__setattr__(obj, "_param_ranks", param_ranks)
        for name, field_value in zip(cls._static_names, statics):
            object.__setattr__(obj, name, field_value)
        for name, field_value in zip(cls._leaf_names, children_):
            object.__setattr__(obj, name, field_value)
        return obj

    def _core_ranks(self) -> list[int]:
        """The core (unbatched) rank of every leaf, in ``jax.tree.leaves`` order."""
        ranks: list[int] = []
        param_ranks = iter(self._param_ranks or ())
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
                ranks += [next(param_ranks, 0) for _ in jax.tree.leaves(field_value)]
            else:
                ranks.append(kind.core_rank)
        return ranks

    # -- batching ------------------------------------------------------------------------------

    def _sweep_shapes(self) -> list[tuple[int, ...]]:
        leaves = jax.tree.leaves(self)
        return [tuple(jnp.shape(x))[: jnp.ndim(x) - r] for x, r in zip(leaves, self._core_ranks())]

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
            raise ValueError(
                f"{self.family}: hyperparameters given as arrays must share sweep axes: {err}"
            ) from None
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

    def __bool__(self) -> bool:
        # A schedule is a value, never empty: without this, bool() would fall back to __len__.
        return True

    def __len__(self) -> int:
        batch = self.batch_shape
        if not batch:
            raise TypeError(f"a single {self.family} {self._noun} has no len(); stack {self._noun}s first")
        return batch[0]

    def __getitem__(self, index) -> Declared:
        """Member ``index`` of a stacked sweep (or a sub-sweep for a slice)."""
        batch = self.batch_shape
        if not batch:
            raise TypeError(f"a single {self.family} {self._noun} cannot be indexed")
        if isinstance(index, (int, np.integer)) and not -batch[0] <= index < batch[0]:
            raise IndexError(f"sweep member {index} out of range for a sweep of {batch[0]}")
        return jax.tree.map(lambda x: x[index], self)

    def __iter__(self) -> Iterator[Declared]:
        return (self[i] for i in range(len(self)))

    # -- editing ---------------------------------------------------------------------------------

    def replace(self, **changes) -> Declared:
        """A copy with some hyperparameters changed, validated like the constructor.

        Keys are field names, or dotted paths into composites and parameter trees:
        ``s.replace(**{"schedule.init_value": 0.3, "schedules.1.decay_steps": 50})``.

        Args:
            **changes: the new values, by field name or dotted path.
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
            arguments[head] = replace_inside(self.family, head, self.fields[head].kind, arguments[head], sub)
        # A parameter tree edited inside keeps its recorded ranks; one given anew records its own.
        new_params = any(self.fields[k].kind is Kind.PARAMS for k in changes if k in self.fields)
        new_schedule = object.__new__(type(self))
        new_schedule._setup(arguments, None if new_params else self._param_ranks)
        return new_schedule

    def _hyperparameters(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.fields}

    def __repr__(self) -> str:
        def show(field_value):
            if isinstance(field_value, tuple) and field_value and isinstance(field_value[0], Schedule):
                return "[" + ", ".join(map(repr, field_value)) + "]"
            if isinstance(field_value, (jax.Array, np.ndarray)) and not is_traced(field_value):
                if field_value.size <= 8:
                    return format_number(field_value)
                return f"<{field_value.dtype}{list(field_value.shape)}>"
            if isinstance(field_value, dict):
                return "{" + ", ".join(f"{k!r}: {show(v)}" for k, v in field_value.items()) + "}"
            return repr(field_value)

        args = ", ".join(f"{n}={show(v)}" for n, v in self._hyperparameters().items() if v is not None)
        return f"{self.family}({args})"


class Schedule(Declared):
    """A schedule: a pure, jittable function of the step whose numeric
    hyperparameters are the leaves of a pytree.

    Call it on an integer (or float) step, scalar or array, inside or outside
    ``jit``. A schedule whose leaves carry leading sweep axes (from
    :func:`optasched.stack` or :func:`optasched.grid`) evaluates every member at
    once: the result has shape ``batch_shape + step.shape``.

    A family subclasses it with ``family="name"`` (its public name, unique),
    declares its fields (see the module docstring), implements ``_value(step)``
    for one member, and ``value_range(step)`` if its range can be read off its
    hyperparameters. A reparameterisation of another family implements
    ``_general()`` (the general family built from its own leaves, at
    evaluation time) instead of ``_value``. Cross-field requirements go in
    ``_constraints()``; structural ones (lengths that must match) in
    ``_check_structure()``.
    """

    family: ClassVar[str] = "schedule"
    _noun: ClassVar[str] = "schedule"
    # True for schedules whose value needs a state besides the step (StatefulSchedule).
    _needs_state: ClassVar[bool] = False

    # -- subclass hooks ---------------------------------------------------------------------

    def _general(self) -> Schedule | None:
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

        Args:
            step: the step whose cycle bounds the range (for growing cycles).
        """
        general = self._general()
        return None if general is None else general.value_range(step)

    def position(self, step):
        """Where the value at ``step`` lies within :meth:`value_range`, in [0, 1]
        (1 for a constant); None when the range is unknown.

        Args:
            step: the step.
        """
        general = self._general()
        if general is not None:
            return general.position(step)
        found = self.value_range(step)
        if found is None:
            return None
        low, high = found
        current = self._value(step)
        fraction = jnp.clip(safe_divide(current - low, high - low, 1.0), 0.0, 1.0)
        # At or beyond the ends exactly (a constant is at its top; inf - inf must not give NaN).
        return jnp.where(current >= high, 1.0, jnp.where(current <= low, 0.0, fraction))

    # -- evaluation --------------------------------------------------------------------------

    def __call__(self, step) -> jax.Array:
        step = as_step(self.family, step)
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

    # -- arithmetic: the pointwise families of the algebra module, found by name (they subclass
    # Schedule, so this module cannot import them) ------------------------------------------------

    def __add__(self, other):
        return family_class("add")(self, other)

    def __radd__(self, other):
        return family_class("add")(other, self)

    def __sub__(self, other):
        return family_class("sub")(self, other)

    def __rsub__(self, other):
        return family_class("sub")(other, self)

    def __mul__(self, other):
        return family_class("mul")(self, other)

    def __rmul__(self, other):
        return family_class("mul")(other, self)

    def __truediv__(self, other):
        return family_class("div")(self, other)

    def __neg__(self):
        return family_class("mul")(-1.0, self)


def as_schedule(x: Any, family: str = "schedule", name: str = "schedule") -> Schedule:
    """Returns x if it is a schedule, else a constant schedule of the number x.

    Args:
        x: a schedule of the step, or a number.
        family: the family asking, for errors.
        name: the argument, for errors.
    """
    if isinstance(x, Schedule) and x._needs_state:
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
        return family_class("constant")(x)
    except ValueError as err:
        raise ValueError(f"{family}: {name} must be a schedule or a number, got {x!r}") from err


__all__ = ["Declared", "Schedule", "as_schedule"]
