"""The family as a traced hyperparameter: a sweep over schedule families (stateful
ones included) is one pytree, trained by one compiled program."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import optasched as osd

STEPS = jnp.arange(0, 300)
FAMILIES = [
    osd.cosine(0.1, 300),
    osd.wsd(0.1, 20, 200, 80),
    osd.one_cycle(0.1, 300),
    osd.cyclic(0.01, 0.1, 50, mode="triangular2"),
    osd.warmup(osd.cosine(0.05, 250), 50),
]


def test_stacking_families_evaluates_each_members_own_schedule():
    sweep = osd.stack(FAMILIES + [osd.cosine(0.3, 100)])
    assert sweep.family == "switch" and len(sweep) == 6
    assert sweep.index.tolist() == [0, 1, 2, 3, 4, 0]  # the last cosine shares branch 0's structure
    values = jax.jit(jax.vmap(lambda s: s(STEPS)))(sweep)
    for i, member in enumerate(FAMILIES + [osd.cosine(0.3, 100)]):
        np.testing.assert_allclose(values[i], member(STEPS), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(sweep[i](STEPS), member(STEPS), rtol=1e-6, atol=1e-8)


def test_a_grid_over_families_and_peaks_is_one_program():
    def make(family, peak_value):
        return {"cosine": osd.cosine(peak_value, 300), "wsd": osd.wsd(peak_value, 20, 200, 80),
                "constant": osd.constant(peak_value)}[family]

    batch = osd.grid(make, family=["cosine", "wsd", "constant"], peak_value=[0.01, 0.1])
    chex.clear_trace_counter()
    evaluate = jax.jit(jax.vmap(chex.assert_max_traces(lambda s: s(STEPS), n=1)))
    values = evaluate(batch.config)
    for i, (family, peak) in enumerate(zip(batch.values["family"], batch.values["peak_value"])):
        np.testing.assert_allclose(values[i], make(family, peak)(STEPS), rtol=1e-6)
    # new values, same families: no new trace
    evaluate(osd.grid(make, family=["cosine", "wsd", "constant"], peak_value=[0.02, 0.2]).config)


def test_a_sweep_of_families_with_a_plateau_trains_in_one_vmapped_update():
    members = [osd.cosine(0.1, 50), osd.plateau(0.1, factor=0.5, patience=1), osd.wsd(0.1, 5, 30, 15)]
    opt = osd.inject(optax.sgd)(learning_rate=osd.stack(members))
    params = jnp.ones(3)
    losses = jnp.asarray([1.0, 0.9, 0.9, 0.9, 0.9, 0.8] * 5)
    chex.clear_trace_counter()

    @jax.jit
    @jax.vmap
    def run(state):
        def step(carry, loss):
            params, state = carry
            updates, state = opt.update(params, state, params, value=loss)
            return (optax.apply_updates(params, updates), state), osd.hyperparams(state)["learning_rate"]

        return jax.lax.scan(chex.assert_max_traces(step, n=1), (params, state), losses)

    (final, _), rates = run(opt.init(params))
    for i, member in enumerate(members):  # the same as training each member alone
        alone = osd.inject(optax.sgd)(learning_rate=member)
        state, p, expected = alone.init(params), params, []
        for loss in losses:
            updates, state = alone.update(p, state, p, value=loss)
            p = optax.apply_updates(p, updates)
            expected.append(osd.hyperparams(state)["learning_rate"])
        np.testing.assert_allclose(rates[i], np.asarray(expected), rtol=1e-6)
        np.testing.assert_allclose(final[i], p, rtol=1e-5)
    assert float(rates[1, -1]) < 0.1  # the plateau member did reduce


def test_switch_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"switch: index must be in \[0, 2\), got 2"):
        osd.switch([osd.cosine(0.1, 10), osd.constant(0.1)], 2)
    with pytest.raises(ValueError, match="switch: schedules must hold at least one schedule"):
        osd.switch([], 0)
    with pytest.raises(ValueError, match="switch: index must be an integer"):
        osd.switch([osd.constant(0.1)], 0.5)
    with pytest.raises(ValueError, match="stack: member 1 differs in structure from member 0"):
        osd.stack([{"lr": osd.constant(0.1)}, {"lr": osd.constant(0.1), "wd": 1.0}])


def test_stacking_plain_functions_says_what_to_do():
    with pytest.raises(ValueError, match=r"stack: member 0 holds the function .* at \['learning_rate'\]; a function of"):
        osd.stack([{"learning_rate": optax.cosine_decay_schedule(0.1, 10)}] * 2)
