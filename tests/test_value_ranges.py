"""Each schedule knows its range (``value_range``), and what normalises by it
(cycled momentum, coupled schedules) follows: built-in families, growing cycles,
and a family a user declares."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import optasched as osd
from optasched.schedules import Schedule, real, steps


def test_cycled_momentum_follows_restarts_whose_peaks_grow():
    lr = osd.restarts(osd.cosine(1.0, 100), first_period=100, peak_multiplier=2.0)
    momentum = osd.cycled_momentum(lr)
    for cycle in range(3):
        start = 100 * cycle
        assert float(momentum(start)) == pytest.approx(0.85)  # the peak of this cycle
        assert 0.86 < float(momentum(start + 50)) < 0.94  # half way down
        assert float(momentum(start + 99)) > 0.94


class Sawtooth(Schedule, family="sawtooth_for_value_ranges"):
    peak_value: float = real()
    period: int = steps(gt=0)

    def _value(self, step):
        return self.peak_value * (step % self.period) / self.period

    def value_range(self, step):
        return 0.0 * self.peak_value, self.peak_value * (self.period - 1) / self.period


def test_a_new_family_gets_coupling_by_defining_its_range():
    momentum = osd.cycled_momentum(Sawtooth(1.0, 10))
    np.testing.assert_allclose(momentum(jnp.asarray([0, 9])), [0.95, 0.85], rtol=1e-6)


def test_a_range_that_cannot_be_read_is_refused_by_name():
    with pytest.raises(ValueError, match="cannot read the value range of a from_function schedule"):
        osd.cycled_momentum(osd.from_function(lambda t, p: p["a"] + 0 * t, {"a": 1.0}))
    with pytest.raises(ValueError, match="values are unbounded"):
        osd.cycled_momentum(osd.exponential(1.0, 10, 1.5))
