"""Config round-trip: to_config / from_config rebuild every family exactly."""

import json

import jax.numpy as jnp

import numpy as np
import pytest
from cases import CASES

import optasched as osd

STEPS = np.arange(0, 400)
SERIALISABLE = [name for name in CASES if name != "from_function"]


@pytest.mark.parametrize("name", SERIALISABLE)
def test_round_trip_is_exact_through_json(name):
    schedule = CASES[name]()
    config = json.loads(json.dumps(osd.to_config(schedule)))
    rebuilt = osd.from_config(config)
    assert type(rebuilt) is type(schedule)
    np.testing.assert_array_equal(rebuilt(STEPS), schedule(STEPS))
    assert osd.to_config(rebuilt) == config


@pytest.mark.parametrize("name", ["warmup", "join", "piecewise_constant", "cyclic"])
def test_round_trip_of_a_stacked_sweep(name):
    schedule = CASES[name]()
    stacked = osd.stack([schedule, schedule])
    rebuilt = osd.from_config(json.loads(json.dumps(osd.to_config(stacked))))
    assert rebuilt.batch_shape == (2,)
    np.testing.assert_array_equal(rebuilt(STEPS), stacked(STEPS))


def test_config_names_family_and_every_hyperparameter():
    config = osd.to_config(osd.cyclic(0.1, 1.0, step_size_up=30, mode="triangular2"))
    assert config == {
        "family": "cyclic", "base_value": pytest.approx(0.1), "max_value": 1.0, "step_size_up": 30,
        "gamma": 1.0, "mode": "triangular2",
    }


@pytest.mark.parametrize(
    "config,message",
    [
        ({"family": "cosinus", "init_value": 1.0}, "unknown family 'cosinus'"),
        ({"init_value": 1.0}, "needs a 'family' key"),
        ({"family": "cosine", "init_value": 1.0, "decay_steps": 10, "end_value": 0.0, "exponent": 1.0, "alpha": 0.1},
         "has no argument ['alpha']"),
        ({"family": "cosine", "init_value": 1.0, "decay_steps": -10, "end_value": 0.0, "exponent": 1.0},
         "decay_steps must be >= 0, got -10"),
        ({"family": "cyclic", "base_value": 0.1, "step_size_up": 3}, "cyclic needs 'max_value'"),
        ({"family": "cyclic", "base_value": 0.1, "max_value": 1.0, "mode": "triangle"}, "mode must be one of"),
        ({"family": "join", "schedules": {"family": "constant"}, "boundaries": []}, "must be a list"),
        ("cosine", "expected a dict"),
    ],
)
def test_bad_configs_raise_clear_errors(config, message):
    with pytest.raises(ValueError, match=None) as info:
        osd.from_config(config)
    assert message in str(info.value)


def test_functions_cannot_be_written():
    with pytest.raises(ValueError, match="cannot be written to a config"):
        osd.to_config(CASES["from_function"]())


HAND_WRITTEN = [
    ({"family": "cosine", "init_value": 0.1, "decay_steps": 1000}, osd.cosine(0.1, 1000)),
    ({"family": "linear", "init_value": 1.0, "end_value": 0.0, "transition_steps": 10}, osd.linear(1.0, 0.0, 10)),
    ({"family": "multistep", "init_value": 0.1, "milestones": [30, 80], "gamma": 0.1}, osd.multistep(0.1, [30, 80], 0.1)),
    ({"family": "step_decay", "init_value": 0.1, "step_size": 30, "gamma": 0.5}, osd.step_decay(0.1, 30, 0.5)),
    ({"family": "noam", "d_model": 512, "warmup_steps": 4000}, osd.noam(512, 4000)),
    ({"family": "warmup", "schedule": {"family": "cosine", "init_value": 0.1, "decay_steps": 900},
      "warmup_steps": 100}, osd.warmup(osd.cosine(0.1, 900), 100)),
    ({"family": "add", "left": {"family": "cosine", "init_value": 0.1, "decay_steps": 100}, "right": 0.01},
     osd.cosine(0.1, 100) + 0.01),
    ({"family": "mul", "left": {"family": "linear", "init_value": 1.0, "end_value": 0.0, "transition_steps": 10},
      "right": 0.5}, osd.linear(1.0, 0.0, 10) * 0.5),
    ({"family": "clip", "schedule": {"family": "cyclic", "base_value": 0.0, "max_value": 1.0, "step_size_up": 10},
      "max_value": 0.5}, osd.clip(osd.cyclic(0.0, 1.0, 10), max_value=0.5)),
]


@pytest.mark.parametrize("config,expected", HAND_WRITTEN, ids=[c["family"] for c, _ in HAND_WRITTEN])
def test_hand_written_configs_use_public_names_and_defaults(config, expected):
    built = osd.from_config(config)
    steps = jnp.arange(200)
    np.testing.assert_array_equal(built(steps), expected(steps))
    assert osd.to_config(built) == osd.to_config(expected)


def test_a_three_line_yaml_spec():
    yaml = pytest.importorskip("yaml")
    spec = yaml.safe_load("family: cosine\ninit_value: 0.1\ndecay_steps: 1000\n")
    np.testing.assert_allclose(osd.from_config(spec)(500), 0.05, rtol=1e-6)
