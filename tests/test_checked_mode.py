"""Checked mode checks every schedule it evaluates (issue 23, point 2): those
among the checked function's arguments and those constructed from traced
values inside it, in plain calls, jit, vmap and scan; ``osd.sweep(...,
check=True)`` does the same for every member and names the failing one.
With checking off nothing changes: the same programs (jaxprs), the same
values."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optasched as osd


def lr_sum(w):
    """The user's function: a warmup of ``w`` steps inside a 500-step budget."""
    return osd.warmup(osd.cosine(0.1, 500 - w), w)(jnp.arange(500)).sum()


USERS_ERROR = r"^cosine built inside the checked function: decay_steps must be >= 0, got -100$"


def test_the_users_lambda_raises_naming_the_argument():
    f = lambda w: osd.warmup(osd.cosine(0.1, 500 - w), w)(jnp.arange(500)).sum()  # noqa: E731
    assert float(jax.jit(f)(600)) == 0.0  # unchecked: a learning rate of 0 at every step, silently
    with pytest.raises(ValueError, match=USERS_ERROR):
        osd.checked(jax.jit(f))(600)
    with pytest.raises(ValueError, match=USERS_ERROR):
        osd.checked(f)(600)  # without jit: w is traced by checkify all the same
    # A good value gives what the unchecked function gives, to the bit.
    np.testing.assert_array_equal(osd.checked(jax.jit(f))(400), jax.jit(f)(400))


def test_schedules_built_inside_vmap_scan_and_by_replace_are_checked():
    def in_vmap(decay_steps):
        return jax.vmap(lambda d: osd.cosine(1.0, d)(3))(decay_steps)

    with pytest.raises(ValueError, match=r"cosine built inside the checked function: decay_steps.*-3"):
        osd.checked(jax.jit(in_vmap))(jnp.array([10, 20, -3, 5]))

    def in_scan(peaks):
        def body(total, peak):
            return total + osd.linear(peak, 0.0, 10)(5), None

        return jax.lax.scan(body, 0.0, peaks)[0]

    message = r"linear built inside the checked function: init_value must be finite"
    with pytest.raises(ValueError, match=message):
        osd.checked(jax.jit(in_scan))(jnp.array([0.1, jnp.nan, 0.3]))

    def replaced(decay_steps):
        return osd.cosine(1.0, 100).replace(decay_steps=decay_steps)(3)

    with pytest.raises(ValueError, match=r"decay_steps must be >= 0, got -7"):
        osd.checked(jax.jit(replaced))(-7)


def test_a_stateful_hyperparameter_built_inside_is_checked():
    def train(factor):
        schedule = osd.plateau(osd.constant(0.1), factor=factor)
        return schedule.factor * 2

    message = r"plateau built inside the checked function: factor must be in \[0, 1\)"
    with pytest.raises(ValueError, match=message):
        osd.checked(jax.jit(train))(1.5)
    np.testing.assert_allclose(osd.checked(jax.jit(train))(0.5), 1.0)


def test_arguments_are_still_named_as_arguments():
    bad = jax.jit(lambda d: osd.cosine(1.0, d))(-2)  # built under jit: construction could not look
    with pytest.raises(ValueError, match=r"^cosine at argument 0: decay_steps must be >= 0, got -2$"):
        osd.checked(jax.jit(lambda s: s(3)))(bad)


def test_checking_off_leaves_programs_and_values_unchanged():
    plain = jax.make_jaxpr(lr_sum)(600)
    assert len(plain.out_avals) == 1  # the value alone, no error outputs
    # In checked mode the program computes the checks and returns their error state...
    checked_program = jax.make_jaxpr(osd.schedules.checkified(lr_sum))(600)
    assert len(checked_program.out_avals) > 1 and len(checked_program.eqns) > len(plain.eqns)
    # ...and a checked call leaves JAX's caches as they were for unchecked calls, both ways round.
    jitted = jax.jit(lr_sum)
    with pytest.raises(ValueError, match=USERS_ERROR):
        osd.checked(jitted)(600)  # traced with checks first
    assert float(jitted(600)) == 0.0  # then unchecked: no check, no error, the unchecked value
    assert str(jax.make_jaxpr(lr_sum)(600)) == str(plain)
    jitted_first = jax.jit(lambda w: lr_sum(w) + 0.0)
    assert float(jitted_first(600)) == 0.0  # traced without checks first
    with pytest.raises(ValueError, match=USERS_ERROR):
        osd.checked(jitted_first)(600)  # a cached unchecked program is not reused


# -- sweeps ------------------------------------------------------------------------------------


def build(peak_value, warmup_steps):
    return {"peak_value": peak_value, "warmup_steps": warmup_steps}


def train(config, key):
    """One configuration: the schedule is built inside train from the config's numbers."""
    w = config["warmup_steps"]
    lr = osd.warmup(osd.cosine(config["peak_value"], 500 - w), w)
    return {"lr_sum": lr(jnp.arange(500)).sum()}


def test_sweep_with_check_names_the_failing_member():
    batch = osd.grid(build, peak_value=[0.1, 0.3], warmup_steps=[100, 200, 600])
    assert osd.sweep(train, batch).metric("lr_sum")[2] == 0.0  # unchecked: silently zero
    with pytest.raises(
        ValueError,
        match=r"^sweep member 2 \(peak_value=0\.1, warmup_steps=600\): cosine built inside train: "
        r"decay_steps must be >= 0, got -100$",
    ):
        osd.sweep(train, batch, check=True)
    for strategy, chunk_size in [("map", None), ("chunked", 2)]:
        with pytest.raises(ValueError, match=r"^sweep member 2 \(peak_value=0\.1, warmup_steps=600\)"):
            osd.sweep(train, batch, check=True, strategy=strategy, chunk_size=chunk_size)


def test_sweep_with_check_checks_the_configs_schedules():
    members = [{"lr": osd.cosine(0.1, 100)}, {"lr": osd.cosine(0.2, 100)}, {"lr": osd.cosine(0.3, 100)}]
    # Leaves edited as arrays (say, restored from a checkpoint) skip construction's validation.
    stacked = jax.tree_util.tree_map_with_path(
        lambda path, leaf: leaf.at[2].set(-4) if "decay_steps" in jax.tree_util.keystr(path) else leaf,
        osd.stack(members),
    )
    with pytest.raises(
        ValueError,
        match=r"^sweep member 2 \(c\): cosine at config\['lr'\]: decay_steps must be >= 0, got -4$",
    ):
        osd.sweep(lambda config, key: {"lr": config["lr"](3)}, stacked, labels=["a", "b", "c"], check=True)


def test_sweep_with_check_returns_the_same_results_when_every_member_is_good():
    batch = osd.grid(build, peak_value=[0.1, 0.3], warmup_steps=[0, 100, 200])
    plain, checked = osd.sweep(train, batch), osd.sweep(train, batch, check=True)
    np.testing.assert_array_equal(checked.metric("lr_sum"), plain.metric("lr_sum"))
    assert checked.labels == plain.labels == batch.labels


def test_sweep_check_must_be_a_bool():
    batch = osd.grid(build, peak_value=[0.1], warmup_steps=[0])
    with pytest.raises(ValueError, match=r"sweep: check must be True or False, got 'yes'"):
        osd.sweep(train, batch, check="yes")
