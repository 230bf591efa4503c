"""Bad input to osd.sweep: each is a ValueError naming the argument and the value
given, before anything is compiled or run (an unmeetable memory budget after
compiling the smallest chunk)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optasched as osd

ONE_DEVICE = jax.devices()[:1]
BATCH = osd.grid(lambda peak_value: osd.cosine(peak_value, 40), peak_value=[0.1, 0.2, 0.3])


def train(schedule, key):
    """A tiny train function: the schedule's value at step 10 plus a key-dependent draw."""
    return {"value": schedule(10) + jax.random.uniform(key)}


def test_an_empty_sweep_says_it_has_no_members():
    with pytest.raises(ValueError, match=r"configs has no members \(its leading member axis has size 0\)"):
        osd.sweep(train, osd.cosine(jnp.zeros((0,)), 40))


@pytest.mark.parametrize("strategy", ["chunked", "map"])
def test_a_memory_budget_that_cannot_be_met_names_budget_and_need(strategy):
    with pytest.raises(ValueError, match=r"memory_budget=64 bytes cannot be met: .* needs (\d+) bytes") as error:
        osd.sweep(train, BATCH, strategy=strategy, memory_budget=64, devices=ONE_DEVICE)
    needed = int(error.value.args[0].split(" needs ")[1].split()[0])
    assert needed > 64
    # The amount named is enough: the same sweep runs within it.
    result = osd.sweep(train, BATCH, strategy=strategy, memory_budget=needed, devices=ONE_DEVICE)
    assert result.memory_bytes <= needed


@pytest.mark.parametrize("budget", ["1GB", math.nan, math.inf, -1, 0, True, [2**30]])
def test_memory_budget_must_be_a_positive_finite_number_of_bytes(budget):
    with pytest.raises(ValueError, match=r"memory_budget must be a positive, finite number of bytes .* got"):
        osd.sweep(train, BATCH, memory_budget=budget)


def test_an_int_key_is_a_seed():
    by_seed = osd.sweep(train, BATCH, 7, devices=ONE_DEVICE)
    by_key = osd.sweep(train, BATCH, jax.random.key(7), devices=ONE_DEVICE)
    np.testing.assert_array_equal(by_seed.metric("value"), by_key.metric("value"))
    legacy = osd.sweep(train, BATCH, jax.random.PRNGKey(7), devices=ONE_DEVICE)
    np.testing.assert_array_equal(legacy.metric("value"), by_key.metric("value"))


@pytest.mark.parametrize(
    "key",
    [1.5, "0", True, jax.random.split(jax.random.key(0), 3), jnp.zeros(3, jnp.uint32)],
    ids=["float", "str", "bool", "batch-of-keys", "bad-key-data"],
)
def test_a_key_that_is_not_one_key_or_seed_is_named(key):
    with pytest.raises(ValueError, match=r"sweep: key must be one PRNG key .* got"):
        osd.sweep(train, BATCH, key)


@pytest.mark.parametrize("devices", [[], (), ["cpu"]], ids=["empty-list", "empty-tuple", "not-devices"])
def test_devices_must_be_a_non_empty_sequence_of_devices(devices):
    with pytest.raises(ValueError, match=r"sweep: devices must be a non-empty sequence of jax devices"):
        osd.sweep(train, BATCH, devices=devices)


@pytest.mark.parametrize("chunk_size", [0, -2, 2.0, True])
def test_chunk_size_must_be_a_positive_int(chunk_size):
    with pytest.raises(ValueError, match=r"sweep: chunk_size must be a positive int, got"):
        osd.sweep(train, BATCH, chunk_size=chunk_size)
