"""``osd.get_schedule``'s timm and Hugging Face names agree with those libraries.

timm: against timm's real scheduler classes (``timm.scheduler``), over random
seeded configurations of every option optasched supports (warmup with and
without prefix, cycles, lr_min, power, k-decay, tanh bounds, milestones), several
hundred steps, with ``t_in_epochs`` both True (``scheduler.step(epoch)`` once
per epoch; ``steps_per_epoch`` here) and False (``step_update(num_updates)``
after every update).

Hugging Face: against the expected learning-rate lists of transformers' own
scheduler test, transcribed as data (transformers is not a dependency), called
the way ``transformers.get_scheduler`` is called: one uniform call with both
counts and ``scheduler_specific_kwargs``.
"""

import importlib.util
import math
import pathlib
import sys
import types

import jax
import numpy as np
import pytest

import optasched as osd

torch = pytest.importorskip("torch")

PEAK = 0.1


@pytest.fixture(scope="module")
def timm_scheduler():
    """``timm.scheduler`` imported without running ``timm/__init__``.

    timm's package ``__init__`` imports its models and torchvision (which can be
    broken beside a CPU torch build); the scheduler classes need torch only. A
    bare package module stands in for ``timm`` while ``timm.scheduler`` loads.
    """
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("timm is not installed (pip install 'timm>=1.0,<2'; it is in the 'test' extra)")
    saved = {k: v for k, v in sys.modules.items() if k == "timm" or k.startswith("timm.")}
    package = types.ModuleType("timm")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["timm"] = package
    try:
        import timm.scheduler as scheduler

        yield scheduler
    finally:
        for key in [k for k in sys.modules if k == "timm" or k.startswith("timm.")]:
            del sys.modules[key]
        sys.modules.update(saved)


# -- timm ---------------------------------------------------------------------------------------


def _warmup(rng, config):
    if rng.random() < 0.6:
        config["warmup_t"] = int(rng.integers(1, 25))
        config["warmup_lr_init"] = float(rng.choice([0.0, 1e-4, 0.02]))
    if rng.random() < 0.7:  # otherwise timm's own default for the class
        config["warmup_prefix"] = bool(rng.random() < 0.5)
    return config


def _cycles(rng, config):
    if rng.random() < 0.5:
        config["lr_min"] = float(rng.uniform(0.0, 0.02))
    if rng.random() < 0.6:
        config["cycle_limit"] = int(rng.choice([0, 1, 2, 3, 6]))
        config["cycle_mul"] = float(rng.choice([1.0, 1.0, 1.5, 2.0]))
        config["cycle_decay"] = float(rng.choice([1.0, rng.uniform(0.3, 0.95)]))
    return config


def random_config(name, seed):
    rng = np.random.default_rng([seed, len(name)])
    if name == "StepLRScheduler":
        config = {"decay_t": int(rng.integers(1, 40)), "decay_rate": float(rng.uniform(0.1, 0.9))}
    elif name == "MultiStepLRScheduler":
        count = int(rng.integers(1, 5))
        milestones = sorted(int(m) for m in rng.choice(np.arange(1, 200), size=count, replace=False))
        config = {"decay_t": milestones, "decay_rate": float(rng.uniform(0.1, 0.9))}
    else:
        config = _cycles(rng, {"t_initial": int(rng.integers(5, 90))})
        if name == "PolyLRScheduler":
            config["power"] = float(rng.uniform(0.5, 3.0))
        if name in ("CosineLRScheduler", "PolyLRScheduler") and rng.random() < 0.4:
            config["k_decay"] = float(rng.uniform(0.5, 3.0))
        if name == "TanhLRScheduler":
            config["lb"] = float(rng.uniform(-8.0, -1.0))
            config["ub"] = float(rng.uniform(1.0, 4.0))
    return _warmup(rng, config)


def timm_cycle_index_is_exact(config, t):
    """False where timm's float ``floor(log(..., cycle_mul))`` lands a step in the wrong cycle
    (a rounding artefact of timm's, at a cycle start); optasched computes the index exactly."""
    mul = config.get("cycle_mul", 1.0)
    if mul == 1 or "t_initial" not in config:
        return True
    if config.get("warmup_prefix", False):
        t = t - config.get("warmup_t", 0)
    if t < 0 or t < config.get("warmup_t", 0) and not config.get("warmup_prefix", False):
        return True
    t0 = config["t_initial"]
    timm_index = math.floor(math.log(1 - t / t0 * (1 - mul), mul))
    exact = 0
    while t0 * (mul ** (exact + 1) - 1) / (mul - 1) <= t:
        exact += 1
    return timm_index == exact


def timm_values(timm_scheduler, name, config, t_in_epochs, epochs, steps_per_epoch):
    """The learning rate of every optimizer update in a timm training loop (train.py's order):
    ``step_update(num_updates)`` after each update, ``step(epoch + 1)`` after each epoch. The first
    update's value is set by ``step(0)`` / ``step_update(0)`` too, so every value is timm's
    ``_get_lr(t)`` (before any call timm holds the optimizer's own lr, or ``warmup_lr_init``)."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=PEAK)
    scheduler = getattr(timm_scheduler, name)(optimizer, t_in_epochs=t_in_epochs, **config)
    scheduler.step(0) if t_in_epochs else scheduler.step_update(0)
    values, updates = [], 0
    for epoch in range(epochs):
        for _ in range(steps_per_epoch):
            values.append(optimizer.param_groups[0]["lr"])
            updates += 1
            scheduler.step_update(num_updates=updates)
        scheduler.step(epoch + 1)
    return np.array(values)


TIMM_NAMES = [
    "CosineLRScheduler",
    "PolyLRScheduler",
    "TanhLRScheduler",
    "StepLRScheduler",
    "MultiStepLRScheduler",
]
SEEDS = range(8)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", TIMM_NAMES)
def test_timm_names_equal_timms_classes_per_update(timm_scheduler, name, seed):
    config = random_config(name, seed)
    expected = timm_values(timm_scheduler, name, config, t_in_epochs=False, epochs=40, steps_per_epoch=10)
    schedule = osd.get_schedule(name, PEAK, t_in_epochs=False, **config)
    actual = np.asarray(schedule(np.arange(len(expected))))
    exact = np.array([timm_cycle_index_is_exact(config, t) for t in range(len(expected))])
    assert exact.mean() > 0.97, config
    np.testing.assert_allclose(actual[exact], expected[exact], rtol=2e-5, atol=1e-8, err_msg=str(config))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", TIMM_NAMES)
def test_timm_names_equal_timms_classes_per_epoch(timm_scheduler, name, seed):
    config = random_config(name, seed)
    steps_per_epoch, epochs = 3, 150
    expected = timm_values(timm_scheduler, name, config, True, epochs, steps_per_epoch)
    per_epoch = expected[::steps_per_epoch]
    exact = np.array([timm_cycle_index_is_exact(config, e) for e in range(epochs)])
    assert exact.mean() > 0.97, config
    # t counts epochs: the schedule's step is the epoch (t_in_epochs=True is timm's default) ...
    schedule = osd.get_schedule(name, PEAK, **config)
    actual = np.asarray(schedule(np.arange(epochs)))
    np.testing.assert_allclose(actual[exact], per_epoch[exact], rtol=2e-5, atol=1e-8, err_msg=str(config))
    # ... or, with steps_per_epoch, every update of the epoch gets the epoch's value.
    stepped = osd.get_schedule(name, PEAK, steps_per_epoch=steps_per_epoch, t_in_epochs=True, **config)
    mask = np.repeat(exact, steps_per_epoch)
    np.testing.assert_allclose(
        np.asarray(stepped(np.arange(len(expected))))[mask], expected[mask], rtol=2e-5, atol=1e-8
    )


@pytest.mark.parametrize("t,value", [(28, 0.1), (29, 0.01), (30, 0.01), (58, 0.01), (59, 1e-3), (89, 1e-4)])
def test_timm_multistep_decays_one_step_before_each_milestone(timm_scheduler, t, value):
    # timm compares the milestones with t + 1 (bisect_right(decay_t, t + 1)), unlike PyTorch's MultiStepLR.
    config = {"decay_t": [30, 60, 90], "decay_rate": 0.1}
    expected = timm_values(timm_scheduler, "MultiStepLRScheduler", config, False, 1, 100)[t]
    assert expected == pytest.approx(value)
    schedule = osd.get_schedule("MultiStepLRScheduler", PEAK, **config)
    assert float(schedule(t)) == pytest.approx(value, rel=1e-6)


def test_timm_defaults_the_warmup_prefix_per_class(timm_scheduler):
    # StepLRScheduler and MultiStepLRScheduler default warmup_prefix=True; the others False.
    config = {"warmup_t": 5, "decay_t": 15, "decay_rate": 0.5}
    expected = timm_values(timm_scheduler, "StepLRScheduler", config, False, 1, 200)
    actual = np.asarray(osd.get_schedule("StepLRScheduler", PEAK, **config)(np.arange(200)))
    np.testing.assert_allclose(actual, expected, rtol=2e-6)
    assert float(actual[15]) == pytest.approx(0.1)


def test_timm_tanh_without_prefix_warms_up_to_its_own_value_at_warmup_t(timm_scheduler):
    config = {"t_initial": 122, "lb": -2.0, "ub": 2.0, "warmup_t": 10, "warmup_lr_init": 1e-4}
    expected = timm_values(timm_scheduler, "TanhLRScheduler", config, False, 1, 200)
    actual = np.asarray(osd.get_schedule("TanhLRScheduler", PEAK, **config)(np.arange(200)))
    np.testing.assert_allclose(actual, expected, rtol=2e-5)
    assert float(actual[1]) == pytest.approx(0.0097495, rel=1e-4)  # not 0.01009 (warming up to the peak)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"noise_range_t": 10}, r"noise_range_t=10: timm's learning-rate noise"),
        ({"t_in_epochs": False, "steps_per_epoch": 4}, r"t_in_epochs=False counts optimizer updates"),
    ],
)
def test_timm_noise_and_contradictory_epoch_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        osd.get_schedule("CosineLRScheduler", PEAK, t_initial=10, **kwargs)


# -- Hugging Face -------------------------------------------------------------------------------

# Transcribed from huggingface/transformers, tests/optimization/test_optimization.py,
# ScheduleInitTest.test_schedulers (optimizer lr 10.0, 10 steps, compared with tol=1e-2):
# common_kwargs = {"num_warmup_steps": 2, "num_training_steps": 10}.
HF_EXPECTED = {
    "constant": ({}, [10.0] * 10),
    "constant_with_warmup": (
        {"num_warmup_steps": 4},
        [0.0, 2.5, 5.0, 7.5, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0],
    ),
    "linear": ({}, [0.0, 5.0, 10.0, 8.75, 7.5, 6.25, 5.0, 3.75, 2.5, 1.25]),
    "cosine": ({}, [0.0, 5.0, 10.0, 9.61, 8.53, 6.91, 5.0, 3.08, 1.46, 0.38]),
    "cosine_with_restarts": ({"num_cycles": 2}, [0.0, 5.0, 10.0, 8.53, 5.0, 1.46, 10.0, 8.53, 5.0, 1.46]),
    "polynomial": (
        {"power": 2.0, "lr_end": 1e-7},
        [0.0, 5.0, 10.0, 7.656, 5.625, 3.906, 2.5, 1.406, 0.625, 0.156],
    ),
    "inverse_sqrt": ({}, [0.0, 5.0, 10.0, 8.165, 7.071, 6.325, 5.774, 5.345, 5.0, 4.714]),
}
# HF's test file lists no values for these two; worked out by hand from optimization.py's
# lr lambdas (_get_cosine_schedule_with_warmup_lr_lambda with min_lr_rate, _get_wsd_scheduler_lambda)
# for the same call: lr 10, num_warmup_steps=2, num_training_steps=10.
HF_WORKED = {
    # 10 * (0.1 + 0.9 * 0.5 (1 + cos(pi (t - 2) / 8))) after a linear warmup over 2 steps
    "cosine_with_min_lr": (
        {"min_lr_rate": 0.1},
        [0.0, 5.0, 10.0, 9.6573, 8.6820, 7.2218, 5.5, 3.7782, 2.3180, 1.3427],
    ),
    # (_get_cosine_with_min_lr_schedule_with_warmup_lr_rate_lambda) one step ahead of cosine_with_min_lr:
    # warmup (t + 1) / 2, then 10 * (0.1 + 0.9 * 0.5 (1 + cos(pi (t - 1) / 8)))
    "cosine_warmup_with_min_lr": (
        {"min_lr_rate": 0.1},
        [5.0, 10.0, 9.6575, 8.6820, 7.2221, 5.5, 3.7779, 2.3180, 1.3425, 1.0],
    ),
    # warmup 2, stable 10 - 2 - 4 = 4, linear decay over 4 to min_lr_ratio 0.1, then 0.1
    # with warmup_lr_rate 0.2 and num_warmup_steps 4: 0.2 + 0.8 t / 3 for t < 4, then the decay
    # with progress (t - 3) / 6: 10 * (0.1 + 0.9 * 0.5 (1 + cos(pi / 6))) = 9.3971 at t = 4
    "cosine_warmup_with_min_lr:warmup_lr_rate": (
        {"num_warmup_steps": 4, "min_lr_rate": 0.1, "warmup_lr_rate": 0.2},
        [2.0, 4.6667, 7.3333, 10.0, 9.3971, 7.75, 5.5, 3.25, 1.6029, 1.0],
    ),
    "warmup_stable_decay": (
        {"num_decay_steps": 4, "decay_type": "linear", "min_lr_ratio": 0.1},
        [1.0, 5.5, 10.0, 10.0, 10.0, 10.0, 10.0, 7.75, 5.5, 3.25],
    ),
}


@pytest.mark.parametrize("name", [*HF_EXPECTED, *HF_WORKED])
def test_hugging_face_names_give_transformers_expected_values(name):
    specific, expected = {**HF_EXPECTED, **HF_WORKED}[name]
    specific, name = dict(specific), name.split(":")[0]
    counts = {"num_warmup_steps": 2, "num_training_steps": 10}
    if "num_warmup_steps" in specific:
        counts["num_warmup_steps"] = specific.pop("num_warmup_steps")
    schedule = osd.get_schedule(name, 10.0, **counts, scheduler_specific_kwargs=specific)
    np.testing.assert_allclose(np.asarray(schedule(np.arange(10))), expected, atol=1e-2)
    if specific and name not in ("constant", "constant_with_warmup", "inverse_sqrt"):
        by_keyword = osd.get_schedule(name, 10.0, **counts, **specific)  # keyword arguments: the same
        steps = np.arange(10)
        np.testing.assert_array_equal(np.asarray(by_keyword(steps)), np.asarray(schedule(steps)))


@pytest.mark.parametrize("name", list(osd.schedules._names.NAMES))
def test_every_hugging_face_name_takes_the_trainers_uniform_call(name):
    entry = osd.schedules._names.NAMES[name]
    if entry.library != "Hugging Face":
        return
    specific = {
        "cosine_with_min_lr": {"min_lr": 0.01},
        "cosine_warmup_with_min_lr": {"min_lr_rate": 0.1},
        "warmup_stable_decay": {"num_decay_steps": 20},
    }
    schedule = osd.get_schedule(
        name, 0.1, num_warmup_steps=10, num_training_steps=100, scheduler_specific_kwargs=specific.get(name)
    )
    assert np.isfinite(np.asarray(schedule(np.arange(120)))).all()


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: osd.get_schedule("linear", 1.0, num_training_steps=10), r"num_warmup_steps is required"),
        (lambda: osd.get_schedule("inverse_sqrt", 1.0), r"num_warmup_steps is required"),
        (lambda: osd.get_schedule("constant_with_warmup", 1.0), r"num_warmup_steps is required"),
        (lambda: osd.get_schedule("cosine", 1.0, 2), r"num_training_steps is required"),
        (
            lambda: osd.get_schedule("warmup_stable_decay", 1.0, 2, 10),
            r"num_decay_steps is required \(Hugging Face get_wsd_schedule\)",
        ),
        (
            lambda: osd.get_schedule(
                "warmup_stable_decay", 1.0, 2, scheduler_specific_kwargs={"num_decay_steps": 3}
            ),
            r"give num_training_steps or num_stable_steps",
        ),
        (
            lambda: osd.get_schedule("cosine_with_min_lr", 1.0, 2, 10, min_lr=0.1,
                                     scheduler_specific_kwargs={"min_lr": 0.2}),
            r"'min_lr' given both as a keyword argument and in scheduler_specific_kwargs",
        ),
        (
            lambda: osd.get_schedule("cosine", 1.0, 2, 10, scheduler_specific_kwargs=[("num_cycles", 0.5)]),
            r"scheduler_specific_kwargs must be a dict",
        ),
        (
            lambda: osd.get_schedule("cosine", 1.0, 2, 10, scheduler_specific_kwargs={"min_lr_rate": 0.1}),
            r"unknown argument 'min_lr_rate'",
        ),
    ],
)
def test_hugging_face_calls_missing_what_hf_requires_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_hugging_face_ignores_scheduler_specific_kwargs_where_transformers_does():
    # get_scheduler builds constant, constant_with_warmup and inverse_sqrt from the counts alone.
    plain = osd.get_schedule("inverse_sqrt", 1.0, 4, 100)
    given = osd.get_schedule("inverse_sqrt", 1.0, 4, 100, scheduler_specific_kwargs={"timescale": 50})
    np.testing.assert_array_equal(np.asarray(plain(np.arange(50))), np.asarray(given(np.arange(50))))


def test_the_dependency_is_declared():
    pyproject = (pathlib.Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    assert '"timm>=1.0,<2"' in pyproject


@pytest.mark.parametrize(
    "name,swept,kwargs",
    [
        ("CosineLRScheduler", "cycle_mul", {"t_initial": 10, "cycle_limit": 3, "lr_min": 0.01}),
        ("PolyLRScheduler", "cycle_decay", {"t_initial": 10, "cycle_limit": 2, "cycle_mul": 1.5}),
        ("StepLRScheduler", "warmup_t", {"decay_t": 10}),
    ],
)
@pytest.mark.parametrize("value", [1.5, 2.0])
def test_timm_names_built_under_jit_equal_concrete_ones(name, swept, kwargs, value):
    value = int(value * 2) if swept == "warmup_t" else value
    steps = np.arange(120)
    traced = jax.jit(lambda x: osd.get_schedule(name, PEAK, **kwargs, **{swept: x})(steps))(value)
    concrete = osd.get_schedule(name, PEAK, **kwargs, **{swept: value})(steps)
    np.testing.assert_allclose(np.asarray(traced), np.asarray(concrete), rtol=1e-6, atol=1e-9)
