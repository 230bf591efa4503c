"""Everything the bridge assumes about optax beyond its documented API, in one place.

One assumption remains: which optax transformations keep no state of their
own around an inner one (``chain``, ``named_chain``, ``partition``,
``masked``, ``flatten``, ``freeze``). A stacked :func:`~optasched.inject`
state may sit inside those and still ``jax.vmap``; inside any other optax
transformation that calls its ``init`` (``optax.MultiSteps``,
``optax.apply_if_finite``) the outer counters would get no member axis.

Those combinators are recognised by the code of their ``init`` functions,
taken from transformations built through optax's public API, never by
optax's private module paths; ``tests/test_optax_internals.py`` fails, naming
the optax symbol, if one of them stops behaving as assumed.

Python offers no way for a function to learn who called it other than the
call stack, so :func:`optax_caller_with_own_state` reads it (public
:func:`inspect.currentframe`), only at the ``init`` of a stacked sweep.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable

import optax

__all__ = ["STATELESS_COMBINATORS", "optax_caller_with_own_state", "stateless_combinator_code"]


def _identity() -> optax.GradientTransformation:
    return optax.identity()


# name -> a builder of that combinator through optax's public API
STATELESS_COMBINATORS: dict[str, Callable[[], optax.GradientTransformation]] = {
    "optax.chain": lambda: optax.chain(_identity()),
    "optax.named_chain": lambda: optax.named_chain(("inner", _identity())),
    "optax.partition": lambda: optax.partition({"inner": _identity()}, "inner"),
    "optax.masked": lambda: optax.masked(_identity(), True),
    "optax.flatten": lambda: optax.flatten(_identity()),
    "optax.transforms.freeze": lambda: optax.transforms.freeze(False),
}


def _nested_code(code: types.CodeType) -> set[types.CodeType]:
    """``code`` and the code of its comprehensions and inner functions (their own frames)."""
    found = {code}
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            found |= _nested_code(constant)
    return found


@functools.cache
def stateless_combinator_code() -> frozenset[types.CodeType]:
    """The code objects that run while a stateless optax combinator initialises its inner one.

    A combinator optax no longer builds as assumed is left out: a stacked
    init inside it is then refused (the safe side), and the internals test
    fails naming it.

    Returns:
        The code of each ``init`` of :data:`STATELESS_COMBINATORS` and of the
        comprehensions inside it.
    """
    code: set[types.CodeType] = set()
    for build in STATELESS_COMBINATORS.values():
        try:
            code |= _nested_code(build().init.__code__)
        except (AttributeError, TypeError):
            continue
    return frozenset(code)

def _public_name(frame: types.FrameType) -> str:
    """``optax.MultiSteps`` for ``MultiSteps.init``, ``optax.apply_if_finite`` for its inner ``init``."""
    code = frame.f_code
    name = getattr(code, "co_qualname", code.co_name).split(".<locals>")[0]
    return "optax." + name.removesuffix(".init")


def optax_caller_with_own_state() -> str | None:
    """The optax transformation with a state of its own whose ``init`` called this one, if any.

    Walks outwards from the caller of the calling ``init``: optasched's own
    frames and those of the stateless combinators are passed over; the first
    other optax frame is a transformation with its own state; the first
    frame outside optax (user code, JAX's tracing) ends the search.

    Returns:
        Its public name (``"optax.MultiSteps"``), or None.
    """
    stateless = stateless_combinator_code()
    frame = inspect.currentframe()  # this module's frame, passed over like the caller's
    try:
        while frame is not None:
            module = frame.f_globals.get("__name__", "")
            if module.startswith("optasched.") or frame.f_code in stateless:
                frame = frame.f_back
                continue
            return _public_name(frame) if module.split(".")[0] == "optax" else None
        return None
    finally:
        del frame  # frames hold references to their locals
