"""Specification of Flax use and resumption: inject optimizers work in
``nnx.Optimizer`` and ``flax.training.train_state``; the whole optimizer
state (schedule hyperparameters, step, plateau counters) checkpoints with
orbax and resumes bit-identically in a fresh process."""

import functools
import os
import subprocess
import sys

import checkpoint_run as run
import jax
import numpy as np
from flax import serialization

import optasched as osd

HALF = run.TOTAL_STEPS // 2


def straight_run(steps):
    model, optimizer = run.build_nnx()
    run.train_nnx(model, optimizer, 0, steps)
    state = run.train_linen(run.build_train_state(), 0, steps)
    return model, optimizer, state


@functools.cache
def half_run():
    """The first half, shared by the tests (and not trained further)."""
    return straight_run(HALF)


def test_flax_optimizers_log_every_scheduled_value():
    _, optimizer, state = half_run()
    for opt_state in (optimizer.opt_state, state.opt_state):
        logged = osd.hyperparams(opt_state)
        assert sorted(logged) == ["b1", "b2", "eps", "eps_root", "learning_rate", "weight_decay"]  # every one used
        assert all(np.isfinite(v) for v in logged.values())
    # the plateau reduced the NNX run's learning rate below its schedule by now (from the next update on)
    assert float(optimizer.opt_state.schedule_states["learning_rate"].scale[...]) < 1
    assert int(optimizer.step[...]) == HALF and int(state.step) == HALF


def test_resume_in_a_fresh_process_is_bit_identical(tmp_path):
    straight = run.leaves(*straight_run(2 * HALF))

    model, optimizer, state = half_run()
    run.save(str(tmp_path), model, optimizer, state)
    script = os.path.join(os.path.dirname(__file__), "checkpoint_run.py")
    subprocess.run([sys.executable, script, str(tmp_path), str(HALF)], check=True, timeout=300)
    with np.load(tmp_path / "resumed.npz") as resumed:
        arrays = [resumed[f"arr_{i}"] for i in range(len(resumed.files))]

    assert len(arrays) == len(straight)
    for i, (a, b) in enumerate(zip(arrays, straight)):
        assert a.dtype == b.dtype and a.shape == b.shape, i
        np.testing.assert_array_equal(a, b, err_msg=f"leaf {i}")


def test_plateau_counters_and_schedules_are_part_of_the_checkpoint():
    _, _, state = half_run()
    inject_state = state.opt_state
    plateau_state = inject_state.schedule_states["learning_rate"]
    assert isinstance(plateau_state, osd.PlateauState)
    leaves = {id(x) for x in jax.tree.leaves(inject_state)}
    for array in (*plateau_state, inject_state.count, *jax.tree.leaves(inject_state.schedules)):
        assert id(array) in leaves


def test_flax_serialization_round_trip_of_the_leaves():
    _, _, state = half_run()
    # flax.serialization knows no schedule classes; serialise the leaves and rebuild
    # the structure from a freshly built state (the structure lives in the code).
    data = serialization.to_bytes(jax.tree.leaves(state))
    template = run.build_train_state()
    restored = jax.tree.unflatten(
        jax.tree.structure(template), serialization.from_bytes(jax.tree.leaves(template), data)
    )
    for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(state), strict=True):
        np.testing.assert_array_equal(a, b)
    assert float(osd.hyperparams(restored.opt_state)["b1"]) == float(osd.hyperparams(state.opt_state)["b1"])
