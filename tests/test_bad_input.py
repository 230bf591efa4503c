"""Input a fuzzer found mishandled (issue 17, section 3), each with the right behaviour
or a clear ValueError naming the argument:

- float16 / bfloat16 hyperparameters: step arithmetic does not depend on the value dtype;
- malformed configs for ``from_config`` (a list or dict as family, unknown keys of mixed types);
- a config round trip keeps each leaf's dtype;
- ``from_function`` checks the function's signature at construction.

(The CLI's answers to bad specs are in ``tests/test_cli.py``.)
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from cases import CASES

import optasched as osd

# -- low-precision hyperparameters ---------------------------------------------------------------

LOW_PRECISION = [jnp.float16, jnp.bfloat16]
# Around float16's largest finite number (65,504), bfloat16's exact-integer range (256), float32's
# (2**24) and the int32 limit.
LARGE_STEPS = np.array(
    [0, 1, 7, 50, 199, 255, 257, 1000, 65503, 65504, 65520, 70000, 1_000_003]
    + [2**24 + 1, 2**31 - 2, 2**31 - 1],
    np.int32,
)


def _cast(schedule, dtype, steps_too: bool):
    """``schedule`` with every float leaf (with ``steps_too`` every integer step leaf too) in ``dtype``."""

    def cast(leaf):
        floating = jnp.issubdtype(leaf.dtype, jnp.floating)
        if floating or (steps_too and jnp.issubdtype(leaf.dtype, jnp.integer)):
            return leaf.astype(dtype)
        return leaf

    return jax.tree.map(cast, schedule)


def _plain_cases():
    built = {name: build() for name, build in CASES.items()}
    return [name for name, s in built.items() if not isinstance(s, osd.StatefulSchedule)]


@pytest.mark.parametrize("steps_too", [False, True], ids=["int_steps", "low_precision_steps"])
@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=lambda d: jnp.dtype(d).name)
@pytest.mark.parametrize("name", _plain_cases())
def test_low_precision_hyperparameters_follow_the_float32_schedule(name, dtype, steps_too):
    low = _cast(CASES[name](), dtype, steps_too)
    # The same hyperparameters (the low-precision numbers exactly) in float32; integer step leaves stay.
    reference = _cast(low, jnp.float32, steps_too=False)
    got = low(LARGE_STEPS)
    want = np.asarray(reference(LARGE_STEPS), np.float32)
    assert got.dtype == jnp.dtype(dtype)  # the value stays in the value dtype
    got = np.asarray(got, np.float32)
    assert np.all(np.isfinite(got)), LARGE_STEPS[~np.isfinite(got)]
    # Steps, boundaries and cycle indices are computed exactly as in float32; only the value
    # arithmetic (a few operations, each rounding by eps / 2 relative to numbers no larger than the
    # schedule's largest value) runs in the low-precision dtype.
    tolerance = 4 * float(jnp.finfo(dtype).eps) * np.max(np.abs(want))
    np.testing.assert_allclose(got, want, rtol=0, atol=tolerance)


@pytest.mark.parametrize("dtype", LOW_PRECISION, ids=lambda d: jnp.dtype(d).name)
def test_low_precision_step_fields_past_float16_range(dtype):
    # The fuzzer's cases: NaN past step 65,504 when a step field was float16.
    low = jnp.dtype(dtype).type
    assert float(osd.step_decay(0.1, low(10), 0.5)(70000)) == 0.0
    slow = osd.step_decay(1.0, low(10), 0.9999)
    np.testing.assert_allclose(float(slow(70000)), float(np.float32(0.9999)) ** 7000, rtol=1e-5)
    decay = osd.step_decay(1.0, 10, low(0.5))
    assert float(decay(2**31 - 1)) == 0.0 and float(decay(19)) == 0.5
    cyclic = osd.cyclic(low(0.1), low(1.0), step_size_up=low(30))
    np.testing.assert_allclose(float(cyclic(70005)), float(osd.cyclic(0.1, 1.0, 30)(70005)), atol=4e-3)
    restarts = osd.restarts(osd.linear(1.0, 0.0, 10), first_period=10, period_multiplier=low(2.0))
    # Cycles start at 10 (2**i - 1): 655,350 starts cycle 16, 655,360 steps long, replaying the
    # schedule's first 10 steps stretched 2**16 times.
    assert float(restarts(655_349)) < 0.01 and float(restarts(655_350)) == 1.0
    np.testing.assert_allclose(float(restarts(655_350 + 327_680)), 0.5, atol=4e-3)
    staircase = osd.staircase(osd.linear(1.0, 0.0, 200_000), step_size=low(10))
    np.testing.assert_allclose(float(staircase(100_009)), 0.5, atol=4e-3)
    cycle = osd.cycle(osd.linear(1.0, 0.0, 10), period=low(10))
    np.testing.assert_allclose(float(cycle(70_005)), 0.5, atol=4e-3)
