"""Conversion of user arguments into leaves: strong dtypes (so jit caches one
entry for every value), numbers only, rejected by name otherwise."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._fields import Kind


def default_float_dtype() -> np.dtype:
    """float64 with x64 enabled, else float32."""
    return jax.dtypes.canonicalize_dtype(np.float64)


def default_int_dtype() -> np.dtype:
    """int64 with x64 enabled, else int32."""
    return jax.dtypes.canonicalize_dtype(np.int64)


def is_traced(x: Any) -> bool:
    """True for a value traced by jit, vmap or grad (no concrete value to check)."""
    return isinstance(x, jax.core.Tracer)


def _numeric_array(family: str, name: str, x: Any):
    """Returns x as a NumPy or JAX array, rejecting non-numbers by name."""
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
            # A list holding arrays (a boundary traced by vmap or jit) stacks in JAX;
            # NumPy cannot hold a tracer.
            traced = any(isinstance(v, jax.Array) for v in jax.tree.leaves(x))
            x = jnp.asarray(x) if traced else np.asarray(x)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{family}: {name} must be numeric, got {x!r}") from err
    if not (jnp.issubdtype(x.dtype, jnp.integer) or jnp.issubdtype(x.dtype, jnp.floating)):
        raise ValueError(f"{family}: {name} must be a real number, got {x!r} of dtype {x.dtype}")
    return x


def convert_leaf(family: str, name: str, kind: Kind, x: Any) -> jax.Array:
    """Converts a user argument into the canonical leaf array for its kind.

    Args:
        family: the family's public name, for errors.
        name: the argument's name, for errors.
        kind: the field's kind: step counts stay integers, everything else is a float.
        x: a number, a list of numbers or an array.
    """
    x = _numeric_array(family, name, x)
    if kind in (Kind.STEPS, Kind.BOUNDARIES) and jnp.issubdtype(x.dtype, jnp.integer):
        dtype = default_int_dtype()
    elif jnp.issubdtype(x.dtype, jnp.floating):
        dtype = jax.dtypes.canonicalize_dtype(x.dtype)
    else:
        dtype = default_float_dtype()
    # Strong (non-weak) dtypes, so jit caches one entry for every value.
    return jnp.asarray(x, dtype=dtype)


def convert_params(family: str, tree: Any) -> Any:
    """Converts every leaf of a parameter pytree (for from_function).

    Args:
        family: the family's public name, for errors.
        tree: any pytree of numbers; Python ints become integer leaves.
    """

    def convert(path, leaf):
        kind = Kind.STEPS if isinstance(leaf, int) and not isinstance(leaf, bool) else Kind.REAL
        return convert_leaf(family, f"params{jax.tree_util.keystr(path)}", kind, leaf)

    return jax.tree_util.tree_map_with_path(convert, tree)


def as_step(family: str, step: Any) -> jax.Array:
    """The step a schedule is called on, as an array (integer or float, any shape).

    Args:
        family: the family's public name, for errors.
        step: a number or an array of numbers.
    """
    try:
        if step is None or isinstance(step, (str, bytes)):
            raise TypeError
        step = jnp.asarray(step)
    except (TypeError, ValueError):
        raise ValueError(f"{family}: step must be an integer or float, got {step!r}") from None
    if not (jnp.issubdtype(step.dtype, jnp.integer) or jnp.issubdtype(step.dtype, jnp.floating)):
        raise ValueError(f"{family}: step must be an integer or float, got dtype {step.dtype}")
    return step


__all__ = [
    "as_step",
    "convert_leaf",
    "convert_params",
    "default_float_dtype",
    "default_int_dtype",
    "is_traced",
]
