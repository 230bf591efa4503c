"""Every numeric argument is a leaf under its own public name, and anything derived
from the arguments is computed at evaluation: ``replace``, ``grid`` and configs
agree with a fresh construction."""

from __future__ import annotations

import jax
import numpy as np

import optasched as osd

STEPS = np.arange(0, 300)


def test_a_noam_grid_over_warmup_equals_fresh_noam_schedules():
    batch = osd.grid(osd.noam(512, 4000), warmup_steps=[100, 4000])
    np.testing.assert_allclose(batch.config[0](100), osd.noam(512, 100)(100), rtol=1e-6)
    np.testing.assert_allclose(batch.config[0](100), 512**-0.5 * 100**-0.5, rtol=1e-6)  # 4.42e-3
    np.testing.assert_allclose(batch.config[1](4000), osd.noam(512, 4000)(4000), rtol=1e-6)


def test_reparameterised_families_replace_their_own_arguments():
    s = osd.step_decay(0.1, step_size=10, gamma=0.5).replace(step_size=20)
    np.testing.assert_allclose(s(STEPS), osd.step_decay(0.1, 20, 0.5)(STEPS))
    m = osd.multistep(1.0, [10, 20], gamma=0.1).replace(gamma=0.5)
    np.testing.assert_allclose(m(STEPS), osd.multistep(1.0, [10, 20], 0.5)(STEPS))
    n = osd.noam(512, 100).replace(d_model=64, scale=2.0)
    np.testing.assert_allclose(n(STEPS), osd.noam(64, 100, scale=2.0)(STEPS), rtol=1e-6)
    assert osd.to_config(n) == {"family": "noam", "d_model": 64.0, "warmup_steps": 100, "scale": 2.0}


def test_noam_d_model_is_traced():
    traced = jax.jit(lambda d: osd.noam(d, 100)(50))(512.0)
    np.testing.assert_allclose(traced, osd.noam(512.0, 100)(50), rtol=1e-6)
    widths = osd.stack([osd.noam(d, 100) for d in (64.0, 512.0)])
    np.testing.assert_allclose(widths(100), [64**-0.5 * 0.1, 512**-0.5 * 0.1], rtol=1e-6)


def test_coupled_weight_decay_follows_a_replaced_base():
    wd = osd.coupled_weight_decay(osd.cosine(1e-3, 100, 1e-4), 0.05)
    new = wd.replace(**{"schedule.init_value": 2e-3})
    lr = osd.cosine(2e-3, 100, 1e-4)
    # the shrinkage lr x wd stays at the NEW peak x weight_decay
    np.testing.assert_allclose(lr(STEPS[:100]) * new(STEPS[:100]), 2e-3 * 0.05, rtol=1e-5)
