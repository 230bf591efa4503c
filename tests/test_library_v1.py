"""The defects of the first core, each as a test that failed before the v1 redesign:
derived values baked in at construction, coupled ranges read through an isinstance
ladder, stateful hyperparameters outside the base machinery, undocumented
differences from optax, mutable schedules printing float32 noise. Plus the layering
the package promises (imports point downwards, ``import optasched`` stays light).
"""

from __future__ import annotations

import json
import subprocess
import sys

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optasched as osd
from optasched.schedules import Schedule, steps, value

STEPS = jnp.arange(0, 300)


# -- 1. every numeric argument is a leaf under its own name; derived values at evaluation ------


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


# -- 2. each schedule knows its range --------------------------------------------------------------


def test_cycled_momentum_follows_restarts_whose_peaks_grow():
    lr = osd.restarts(osd.cosine(1.0, 100), first_period=100, peak_multiplier=2.0)
    momentum = osd.cycled_momentum(lr)
    for cycle in range(3):
        start = 100 * cycle
        assert float(momentum(start)) == pytest.approx(0.85)  # the peak of this cycle
        assert 0.86 < float(momentum(start + 50)) < 0.94  # half way down
        assert float(momentum(start + 99)) > 0.94


def test_a_new_family_gets_coupling_by_defining_its_range():
    class Sawtooth(Schedule, family="sawtooth_test"):
        peak_value: float = value()
        period: int = steps(gt=0)

        def _value(self, step):
            return self.peak_value * (step % self.period) / self.period

        def value_range(self, step):
            return 0.0 * self.peak_value, self.peak_value * (self.period - 1) / self.period

    momentum = osd.cycled_momentum(Sawtooth(1.0, 10))
    np.testing.assert_allclose(momentum(jnp.asarray([0, 9])), [0.95, 0.85], rtol=1e-6)
    with pytest.raises(ValueError, match="cannot read the value range of a from_function schedule"):
        osd.cycled_momentum(osd.from_function(lambda t, p: p["a"] + 0 * t, {"a": 1.0}))
    with pytest.raises(ValueError, match="values are unbounded"):
        osd.cycled_momentum(osd.exponential(1.0, 10, 1.5))


# -- 3. stateful hyperparameters share the machinery -------------------------------------------------


def test_checked_mode_sees_a_traced_plateau_factor():
    checked = osd.checked(jax.jit(lambda plateau: plateau.factor * 1.0))
    with pytest.raises(ValueError, match=r"plateau at argument 0: factor must be in \[0, 1\), got 2.0"):
        checked(_plateau_with_factor(2.0))
    assert float(checked(_plateau_with_factor(0.5))) == 0.5


def _plateau_with_factor(factor):
    """A plateau whose factor was set by editing its leaves (as a traced sweep would), unvalidated."""
    plateau = osd.plateau(osd.cosine(0.1, 10))
    leaves, treedef = jax.tree.flatten(plateau)
    names = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_leaves_with_path(plateau)]
    leaves[names.index(".factor")] = jnp.float32(factor)
    return jax.tree.unflatten(treedef, leaves)


def test_plateau_round_trips_through_a_config_and_sweeps():
    plateau = osd.plateau(osd.warmup(osd.constant(1e-3), 10), factor=0.5, patience=3, accumulation_size=5)
    config = osd.to_config(plateau)
    assert config["family"] == "plateau" and config["factor"] == 0.5 and config["patience"] == 3
    rebuilt = osd.from_config(json.loads(json.dumps(config)))
    chex.assert_trees_all_equal(rebuilt, plateau)
    swept = osd.grid(plateau, patience=[1, 2, 5])
    assert swept.config.patience.tolist() == [1, 2, 5]


# -- 5. differences from optax: matched or documented -----------------------------------------------


def test_exponential_rate_one_with_end_value_clips_as_optax():
    ours = osd.exponential(1.0, 2, decay_rate=1.0, end_value=0.1)
    theirs = optax.exponential_decay(1.0, 2, decay_rate=1.0, end_value=0.1)
    np.testing.assert_allclose(ours(STEPS), jax.vmap(theirs)(STEPS))


def test_exponential_rate_zero_follows_the_formula_on_purpose():
    """optax returns init_value forever for decay_rate=0 (a special case with a warning);
    Keras and PyTorch give I * 0**p. We keep the formula (documented in the docstring
    and the README's conventions table)."""
    ours = osd.exponential(1.0, 2, decay_rate=0.0)
    np.testing.assert_array_equal(ours(jnp.asarray([0, 1, 2, 5])), [1.0, 0.0, 0.0, 0.0])
    assert "decay_rate=0" in osd.exponential.__doc__


# -- 6. frozen, and numbers printed as given ------------------------------------------------------------


def test_schedules_are_immutable():
    s = osd.cosine(0.1, 100)
    with pytest.raises(AttributeError, match=r"immutable; use .replace\(init_value=...\)"):
        s.init_value = "oops"
    with pytest.raises(AttributeError):
        del s.decay_steps


def test_repr_and_configs_print_the_shortest_round_tripping_numbers():
    s = osd.cosine(0.1, 900, end_value=1e-4)
    assert repr(s) == "cosine(init_value=0.1, decay_steps=900, end_value=0.0001, exponent=1.0)"
    config = osd.to_config(s)
    assert json.dumps(config) == (
        '{"family": "cosine", "init_value": 0.1, "decay_steps": 900, "end_value": 0.0001, "exponent": 1.0}'
    )
    chex.assert_trees_all_equal(osd.from_config(config), s)  # bit-identical leaves
    sweep = osd.stack([osd.cosine(0.1, 100), osd.cosine(0.3, 100)])
    assert osd.to_config(sweep)["init_value"] == [0.1, 0.3]


# -- layering ----------------------------------------------------------------------------------------------


def test_import_optasched_pulls_in_no_model_dataset_or_plotting_code():
    code = (
        "import sys, optasched; heavy = [m for m in ('flax', 'matplotlib', 'keras', 'sklearn', 'torch', "
        "'pandas', 'mnist1d', 'orbax', 'experiments') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_imports_point_downwards():
    """schedules imports neither bridge nor sweeps; bridge does not import sweeps."""
    import pathlib

    root = pathlib.Path(osd.__file__).parent
    for layer, forbidden in (("schedules", ("bridge", "sweeps", "cli")), ("bridge", ("sweeps", "cli"))):
        for path in (root / layer).glob("*.py"):
            text = path.read_text()
            for name in forbidden:
                assert f"from ..{name}" not in text and f"optasched.{name}" not in text, (path.name, name)
