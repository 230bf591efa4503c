"""Configs of whole trees (issue 23, point 4): ``osd.to_config`` / ``osd.from_config``
round-trip any tree of numbers, strings, bools, None, lists, tuples, dicts and
schedules through JSON, validated on load, with no eval or pickle; a schedule
alone keeps its one-schedule format (tests/test_config.py)."""

import json
import math
import pathlib
import re
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optasched as osd

STEPS = jnp.arange(0, 300)
SCHEDULES = [
    lambda: osd.warmup(osd.cosine(0.1, 900), 100),
    lambda: osd.multistep(0.1, [30, 80], 0.1),
    lambda: osd.cyclic(0.1, 1.0, step_size_up=30, mode="triangular2"),
    lambda: osd.stack([osd.cosine(0.1, 100), osd.cosine(0.3, 200)]),
    lambda: osd.plateau(0.1, factor=0.5, patience=2),
]


def json_round_trip(tree):
    return osd.from_config(json.loads(json.dumps(osd.to_config(tree), allow_nan=False)))


def assert_same(rebuilt, original, path="tree"):
    """Equal values and equal types all the way down (a tuple stays a tuple, a schedule its family)."""
    assert type(rebuilt) is type(original), path
    if isinstance(original, osd.Schedule):
        assert osd.to_config(rebuilt) == osd.to_config(original), path
        if not isinstance(original, osd.StatefulSchedule):
            np.testing.assert_array_equal(rebuilt(STEPS), original(STEPS), err_msg=path)
    elif isinstance(original, dict):
        assert list(rebuilt) == list(original), path
        for key in original:
            assert_same(rebuilt[key], original[key], f"{path}[{key!r}]")
    elif isinstance(original, (list, tuple)):
        assert len(rebuilt) == len(original), path
        for i, (r, o) in enumerate(zip(rebuilt, original)):
            assert_same(r, o, f"{path}[{i}]")
    elif isinstance(original, float) and math.isnan(original):
        assert math.isnan(rebuilt), path
    else:
        assert rebuilt == original, path


def test_the_users_training_config_round_trips():
    """The issue's call: ``osd.to_config({"lr": schedule, "seed": 0})`` was refused."""
    schedule = osd.warmup(osd.cosine(0.1, 900), 100)
    config = osd.to_config({"lr": schedule, "seed": 0})
    assert config == {"$tree": {"lr": osd.to_config(schedule), "seed": 0}}
    rebuilt = osd.from_config(json.loads(json.dumps(config)))
    assert rebuilt["seed"] == 0
    np.testing.assert_array_equal(rebuilt["lr"](STEPS), schedule(STEPS))


def test_schedules_nested_anywhere():
    setup = {
        "runs": [{"lr": SCHEDULES[0](), "momentum": (SCHEDULES[2](), 0.9)}, {"lr": SCHEDULES[1]()}],
        "sweep": SCHEDULES[3](),
        "plateau": SCHEDULES[4](),
        "model": {"widths": (64, 64), "activation": "gelu", "dropout": None, "bias": True},
    }
    assert_same(json_round_trip(setup), setup)


def test_tuples_and_lists_stay_apart():
    config = osd.to_config({"shape": (2, 3), "sizes": [2, 3], "empty": (), "nested": ([(1,)],)})
    assert config["$tree"]["shape"] == {"$tuple": [2, 3]}
    assert config["$tree"]["sizes"] == [2, 3]
    rebuilt = osd.from_config(json.loads(json.dumps(config)))
    assert rebuilt == {"shape": (2, 3), "sizes": [2, 3], "empty": (), "nested": ([(1,)],)}
    assert type(rebuilt["nested"][0][0]) is tuple


def test_arrays_and_numpy_scalars_become_numbers_or_lists():
    tree = {
        "f32": np.float32(0.1), "i64": np.int64(7), "b": np.bool_(True), "jax": jnp.asarray(0.1),
        "matrix": jnp.arange(6.0).reshape(2, 3), "ints": np.arange(3), "inf": np.array([1.0, np.inf]),
    }
    config = osd.to_config(tree)["$tree"]
    assert config == {
        "f32": 0.1, "i64": 7, "b": True, "jax": 0.1, "matrix": [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]],
        "ints": [0, 1, 2], "inf": [1.0, {"$float": "inf"}],
    }
    assert all(type(v) in (float, int, bool, list) for v in config.values())
    assert osd.from_config(json.loads(json.dumps(osd.to_config(tree))))["inf"] == [1.0, math.inf]


def test_non_finite_floats_and_look_alike_dicts_are_tagged():
    tree = {"clip": math.inf, "floor": -math.inf, "missing": math.nan,
            "model": {"family": "resnet", "depth": 50}, "odd": {"$tuple": 1}}
    text = json.dumps(osd.to_config(tree), allow_nan=False)  # strict JSON: no NaN / Infinity literals
    rebuilt = osd.from_config(json.loads(text))
    assert_same(rebuilt, tree)


def test_a_dict_with_a_family_key_at_the_top_is_a_tree_not_a_schedule():
    tree = {"family": "cosine", "init_value": 0.1}  # a user's dict that looks like a schedule's config
    assert_same(json_round_trip(tree), tree)


def test_a_hand_written_tree_needs_no_tags():
    yaml = pytest.importorskip("yaml")
    text = "$tree:\n  seed: 0\n  lr: {family: cosine, init_value: 0.1, decay_steps: 1000}\n"
    setup = osd.from_config(yaml.safe_load(text))
    assert setup["seed"] == 0
    np.testing.assert_allclose(setup["lr"](500), 0.05, rtol=1e-6)


def test_leaves_at_the_top_round_trip_too():
    for leaf in (0, 1.5, "adamw", None, True, (1, 2), [osd.constant(0.1)]):
        assert_same(json_round_trip(leaf), leaf)


def random_tree(rng: np.random.Generator, depth: int):
    kind = rng.integers(0, 9 if depth < 4 else 5)
    if kind == 0:
        return [None, True, False][rng.integers(0, 3)]
    if kind == 1:
        return int(rng.integers(-(2**40), 2**40))
    if kind == 2:
        return [float(rng.normal()), math.inf, -math.inf, math.nan, 0.0, -0.0, 1e-300][rng.integers(0, 7)]
    if kind == 3:
        return ["", "x", "$tuple", "family", "$tree", "日本"][rng.integers(0, 6)]
    if kind == 4:
        return SCHEDULES[rng.integers(0, len(SCHEDULES))]()
    children = [random_tree(rng, depth + 1) for _ in range(rng.integers(0, 4))]
    if kind in (5, 6):
        return children if kind == 5 else tuple(children)
    keys = ["a", "family", "$dict", "$float", "lr", "$", "seed", "b"]
    return {keys[rng.integers(0, len(keys))]: child for child in children}


@pytest.mark.parametrize("seed", range(40))
def test_random_nested_trees_round_trip_through_json(seed):
    rng = np.random.default_rng(seed)
    tree = {"root": [random_tree(rng, 0) for _ in range(3)]}
    rebuilt = json_round_trip(tree)
    assert_same(rebuilt, tree)
    assert osd.to_config(rebuilt) == osd.to_config(tree)


@pytest.mark.parametrize(
    "tree,message",
    [
        ({"step": lambda t: t}, "to_config at ['step']: cannot write <function"),
        ({"runs": [1, {"fn": print}]},
         "to_config at ['runs'][1]['fn']: cannot write <built-in function print>"),
        ({"point": jax.tree_util.GetAttrKey("x")}, "cannot write"),
        ({1: 2}, "to_config at the top: dict keys must be strings (JSON's), got 1"),
        ({"s": osd.from_function(lambda t, p: p * t, 0.1)},
         "to_config at ['s']: a from_function schedule holds"),
        ({"z": np.array(["a"])}, "to_config at ['z']: cannot write an array of dtype <U1"),
        ({"c": 1j}, "cannot write 1j, a complex"),
    ],
)
def test_what_a_config_cannot_hold_is_refused_naming_where(tree, message):
    with pytest.raises(ValueError) as info:
        osd.to_config(tree)
    assert message in str(info.value)


class Point(NamedTuple):
    x: int


def test_a_namedtuple_is_refused_by_name():
    message = r"to_config at \['p'\]: cannot write Point\(x=1\), a NamedTuple \(Point\)"
    with pytest.raises(ValueError, match=message):
        osd.to_config({"p": Point(1)})


def test_traced_values_are_refused():
    with pytest.raises(ValueError, match=r"to_config at \['x'\]: a traced value"):
        jax.jit(lambda x: osd.to_config({"x": x})["$tree"]["x"])(1.0)


@pytest.mark.parametrize(
    "config,message",
    [
        ({"$tree": {"lr": {"family": "cosinus"}}}, "from_config at ['lr']: unknown family 'cosinus'"),
        ({"$tree": [{"family": "cosine", "init_value": 0.1, "decay_steps": -3}]},
         "from_config at [0]: cosine: decay_steps must be >= 0, got -3"),
        ({"$tree": {"a": {"$tupel": [1]}}},
         "from_config at ['a']: unknown tag '$tupel'; known: $dict, $float, $tuple"),
        ({"$tree": {"a": {"$tuple": [1], "b": 2}}},
         "from_config at ['a']: the tag '$tuple' must be the only key"),
        ({"$tree": {"a": {"$tuple": 1}}}, "from_config at ['a']: $tuple must hold a list, got 1"),
        ({"$tree": {"a": {"$dict": [1]}}}, "from_config at ['a']: $dict must hold a dict, got [1]"),
        ({"$tree": {"a": {"$float": "infinity"}}},
         "from_config at ['a']: $float must be one of ['-inf', 'inf', 'nan']"),
        ({"$tree": {"a": {"$tree": 1}}}, "from_config at ['a']: unknown tag '$tree'"),
        ({"$tree": {"a": [1, {2: 3}]}}, "from_config at ['a'][1]: dict keys must be strings, got 2"),
        ({"$tree": {"a": {1, 2}}}, "from_config at ['a']: cannot read {1, 2} (a set)"),
        ({"$tree": {"a": np.float32(1.0)}}, "from_config at ['a']: cannot read"),
        ({"$tree": 1, "seed": 0}, "'$tree' must be the only key of a tree's config"),
        ({"seed": 0}, "needs a 'family' key"),
        (["cosine"], "expected a dict"),
    ],
)
def test_bad_tree_configs_raise_naming_where_and_what(config, message):
    with pytest.raises(ValueError) as info:
        osd.from_config(config)
    assert message in str(info.value)


def test_no_eval_a_string_stays_a_string():
    setup = osd.from_config({"$tree": {"code": "__import__('os').system('false')", "family_name": "cosine"}})
    assert setup == {"code": "__import__('os').system('false')", "family_name": "cosine"}


README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def test_the_readmes_configs_example_runs_as_written(tmp_path, monkeypatch):
    """The code block of the README's configs section, run as a user would, and what its comments say."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    (block,) = [b for b in blocks if "restore_schedules" in b]
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme_example"}
    exec(compile(block, "README.md, configs example", "exec"), namespace)
    text, setup, saved = namespace["text"], namespace["setup"], namespace["saved"]
    assert text.startswith('{"$tree": {"lr": {"family": "warmup", "schedule": {"family": "cosine", ')
    assert '"seed": 0, "widths": {"$tuple": [64, 64]}}}' in text
    assert setup["widths"] == (64, 64) and isinstance(setup["lr"], osd.Schedule)
    assert saved.startswith('{"$tree": {"learning_rate": {"family": "warmup", ')
    fresh = namespace["fresh"]
    assert fresh[1].schedules["learning_rate"].warmup_steps == 100
