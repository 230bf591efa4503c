"""Specification of interop: what optax, Flax, Hugging Face, PyTorch,
timm, fastai and Keras users already do works unchanged.

Every code block of docs/interop.md (the README's interop section) runs as
written and its results are checked; then each item has its own tests:
optax's tree utilities, swapping schedules on resume (orbax), logging every
hyperparameter (Flax NNX too), functions of the step, names users know
(against Hugging Face's documented formulas, PyTorch's real schedulers and
timm's formulas; tests/test_names_agree_with_timm_and_hf.py checks them against
timm's real classes and HF's own expected values), the quick look, sweep results, and Keras 3.
"""

import bisect
import math
import pathlib
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np
import optax
import pytest

import optasched as osd

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DOC = pathlib.Path(__file__).resolve().parent.parent / "docs" / "interop.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
TREE_UTILITIES, RESUME, LOGGING, FUNCTIONS, NAMES, QUICK_LOOK, RESULTS, MULTISTEPS, KERAS = range(9)

PARAMS = {"w": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3), "b": jnp.zeros(3)}
GRADS = jax.tree.map(lambda x: jnp.full_like(x, 0.5), PARAMS)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def run_block(index, tmp_path, monkeypatch):
    """Run one code block of docs/interop.md as a user would (in a fresh namespace and directory)."""
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "interop_example"}
    exec(compile(BLOCKS[index], f"docs/interop.md, code block {index}", "exec"), namespace)
    return namespace


def test_the_doc_has_one_block_per_example():
    assert len(BLOCKS) == 9


def loss_fn(params, x):
    return jnp.sum(jnp.tanh(x @ params["w"] + params["b"][None, :]) ** 2)


INPUTS = jax.random.normal(jax.random.key(1), (12, 4, 2))


def train(optimizer, state=None, params=PARAMS, inputs=INPUTS):
    def step(carry, x):
        params, state = carry
        updates, state = optimizer.update(jax.grad(loss_fn)(params, x), state, params)
        return (optax.apply_updates(params, updates), state), None

    state = optimizer.init(params) if state is None else state
    return jax.lax.scan(step, (params, state), inputs)[0]


# -- 1. optax's tree utilities ------------------------------------------------------------------


def test_tree_utilities_example(tmp_path, monkeypatch):
    ns = run_block(TREE_UTILITIES, tmp_path, monkeypatch)
    state, states = ns["state"], ns["states"]
    assert float(osd.hyperparams(state)["learning_rate"]) == pytest.approx(3e-4)
    assert optax.tree_utils.tree_get(state, "b2") == 0.999
    np.testing.assert_allclose(osd.hyperparams(states)["learning_rate"], [1e-4, 3e-4, 1e-3], rtol=1e-6)
    first = ns["opt"].init(ns["params"])
    _, first = ns["opt"].update(ns["grads"], first, ns["params"])
    assert float(optax.tree_utils.tree_get(first, "learning_rate")) == 0.0


def test_tree_get_finds_the_one_value_each_update_used():
    opt = osd.inject(optax.adamw)(learning_rate=osd.cosine(0.1, 10), b1=osd.constant(0.9))
    state = opt.init(PARAMS)
    found = optax.tree_utils.tree_get_all_with_path(state, "learning_rate")
    assert [jax.tree_util.keystr(path) for path, _ in found] == ["InjectState.hyperparams['learning_rate']"]
    for t in range(3):
        _, state = opt.update(GRADS, state, PARAMS)
        assert float(optax.tree_utils.tree_get(state, "learning_rate")) == pytest.approx(
            float(osd.cosine(0.1, 10)(t))
        )


@pytest.mark.parametrize("jit", [False, True])
def test_tree_set_changes_the_next_update_and_every_later_one(jit):
    opt = osd.inject(optax.sgd)(learning_rate=osd.cosine(0.1, 100), momentum=0.9)
    update = jax.jit(opt.update) if jit else opt.update
    state = opt.init(PARAMS)
    for _ in range(3):
        _, state = update(GRADS, state, PARAMS)
    # a scheduled hyperparameter: the value set replaces the schedule
    state = optax.tree_utils.tree_set(state, learning_rate=0.02)
    momentum = state.inner_state[0].trace
    updates, state = update(GRADS, state, PARAMS)
    expected = jax.tree.map(lambda g, m: -0.02 * (g + 0.9 * m), GRADS, momentum)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), updates, expected)
    momentum = state.inner_state[0].trace
    updates, state = update(GRADS, state, PARAMS)  # still 0.02, not the cosine
    expected = jax.tree.map(lambda g, m: -0.02 * (g + 0.9 * m), GRADS, momentum)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), updates, expected)
    assert float(osd.hyperparams(state)["learning_rate"]) == pytest.approx(0.02)
    # a Python number: the same
    state = optax.tree_utils.tree_set(state, momentum=0.5)
    momentum = state.inner_state[0].trace
    updates, state = update(GRADS, state, PARAMS)
    expected = jax.tree.map(lambda g, m: -0.02 * (g + 0.5 * m), GRADS, momentum)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), updates, expected)
    assert float(osd.hyperparams(state)["momentum"]) == 0.5
    # replace_schedules gives the hyperparameter back to a schedule
    state = osd.replace_schedules(state, learning_rate=osd.constant(0.07))
    _, state = update(GRADS, state, PARAMS)
    assert float(osd.hyperparams(state)["learning_rate"]) == pytest.approx(0.07)


def test_the_tree_set_sweep_recipe_equals_separate_optimizers():
    rates = jnp.array([1e-3, 1e-2, 1e-1])
    opt = osd.inject(optax.adamw)(learning_rate=1e-3, weight_decay=1e-2)
    template = opt.init(PARAMS)
    states = jax.vmap(lambda lr: optax.tree_utils.tree_set(template, learning_rate=lr))(rates)
    params = jax.tree.map(lambda x: jnp.broadcast_to(x, (3, *x.shape)), PARAMS)
    swept, _ = jax.jit(jax.vmap(lambda p, s: train(opt, s, p)))(params, states)
    for i, lr in enumerate(rates):
        alone, _ = jax.jit(lambda: train(optax.adamw(float(lr), weight_decay=1e-2)))()
        jax.tree.map(
            lambda a, b, i=i: np.testing.assert_allclose(a[i], b, rtol=1e-4, atol=1e-6), swept, alone
        )


# -- 2. changing the schedule on resume -------------------------------------------------------


def test_resume_example_continues_on_the_new_curve_with_the_counters_kept(tmp_path, monkeypatch):
    pytest.importorskip("orbax.checkpoint")
    ns = run_block(RESUME, tmp_path, monkeypatch)
    restored, state = ns["restored"], ns["state"]
    assert int(restored.count) == 5 and int(state.count) == 6
    assert float(restored.schedule_states["learning_rate"].scale) == 0.5  # the plateau had halved it
    # the update after the swap used the new family at step 5, scaled by the kept plateau
    assert float(osd.hyperparams(state)["learning_rate"]) == pytest.approx(0.5 * 2e-3)
    assert type(state.schedules["learning_rate"].schedule).__name__ == "Wsd"


def test_replace_schedules_keeps_count_moments_and_plateau_state(tmp_path):
    ocp = pytest.importorskip("orbax.checkpoint")

    def make(schedule):
        return osd.inject(optax.adam)(learning_rate=osd.plateau(schedule, factor=0.5, patience=0))

    state = make(osd.cosine(1e-2, 100)).init(PARAMS)
    for loss in [1.0, 2.0, 3.0]:
        _, state = make(osd.cosine(1e-2, 100)).update(GRADS, state, PARAMS, value=loss)
    # Restoring into an optimizer built with a new schedule of the same family loads the
    # checkpoint's schedule: the schedule is state. replace_schedules is the way to change it.
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(tmp_path / "state", state)
        checkpointer.wait_until_finished()
        restored = checkpointer.restore(tmp_path / "state", make(osd.cosine(5e-2, 100)).init(PARAMS))
    assert float(restored.schedules["learning_rate"].schedule.init_value) == pytest.approx(1e-2)
    jax.tree.map(np.testing.assert_array_equal, restored, state)
    swapped = osd.replace_schedules(
        restored, learning_rate=osd.plateau(osd.linear(5e-3, 0.0, 50), factor=0.5, patience=0)
    )
    assert swapped.count is restored.count and swapped.inner_state is restored.inner_state
    assert swapped.schedule_states["learning_rate"] is restored.schedule_states["learning_rate"]
    scale = float(state.schedule_states["learning_rate"].scale)
    assert scale == 0.25  # halved twice: the counters carried over
    assert float(osd.hyperparams(swapped)["learning_rate"]) == pytest.approx(
        scale * float(osd.linear(5e-3, 0.0, 50)(3))
    )
    _, after = make(osd.cosine(1e-2, 100)).update(GRADS, swapped, PARAMS, value=0.5)
    assert float(osd.hyperparams(after)["learning_rate"]) == pytest.approx(
        scale * float(osd.linear(5e-3, 0.0, 50)(3))
    )
    # a plateau replaced by a plain schedule drops its counters; a new plateau starts fresh
    plain = osd.replace_schedules(restored, learning_rate=osd.cosine(1e-3, 10))
    assert "learning_rate" not in plain.schedule_states
    fresh = osd.replace_schedules(plain, learning_rate=osd.plateau(osd.constant(1e-3)))
    assert float(fresh.schedule_states["learning_rate"].scale) == 1.0


def test_replace_schedules_on_sweeps_train_states_and_errors():
    members = osd.stack([{"learning_rate": osd.cosine(p, 10)} for p in (0.1, 0.2)])
    opt = osd.inject(optax.sgd)(**members)
    states = opt.init(PARAMS)
    _, states = jax.vmap(opt.update, in_axes=(None, 0, None))(GRADS, states, PARAMS)
    one = osd.replace_schedules(states, learning_rate=osd.constant(0.3))  # every member
    np.testing.assert_allclose(osd.hyperparams(one)["learning_rate"], [0.3, 0.3])
    each = osd.replace_schedules(states, learning_rate=osd.stack([osd.constant(0.3), osd.constant(0.4)]))
    np.testing.assert_allclose(osd.hyperparams(each)["learning_rate"], [0.3, 0.4])
    with pytest.raises(ValueError, match=r"replace_schedules: learning_rate is a sweep of shape \(3,\)"):
        osd.replace_schedules(states, learning_rate=osd.stack([osd.constant(0.3)] * 3))
    with pytest.raises(
        ValueError, match=r"the state holds no hyperparameter 'learning_rat'; it holds \['learning_rate'"
    ):
        osd.replace_schedules(states, learning_rat=osd.constant(0.3))
    with pytest.raises(ValueError, match="replace_schedules: found no optasched.inject state"):
        osd.replace_schedules(optax.adam(1e-3).init(PARAMS), learning_rate=osd.constant(0.3))

    from flax.training import train_state

    ts = train_state.TrainState.create(
        apply_fn=None, params=PARAMS, tx=osd.inject(optax.adam)(learning_rate=osd.cosine(1e-3, 10))
    )
    ts = osd.replace_schedules(ts, learning_rate=osd.constant(5e-4))
    ts = ts.apply_gradients(grads=GRADS)
    assert float(osd.hyperparams(ts)["learning_rate"]) == pytest.approx(5e-4)


def test_replace_schedules_in_an_nnx_optimizer_keeps_its_variables():
    from flax import nnx

    model = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
    tx = osd.inject(optax.adamw)(learning_rate=osd.plateau(osd.cosine(0.1, 10), patience=0))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer, loss):
        grads = nnx.grad(lambda m: jnp.sum(m(jnp.ones((1, 3))) ** 2))(model)
        optimizer.update(model, grads, value=loss)

    for loss in [1.0, 2.0]:  # the plateau cuts the rate to 0.1x
        step(model, optimizer, loss)
    moments = optimizer.opt_state.inner_state[0].mu["kernel"]
    assert (
        osd.replace_schedules(optimizer, learning_rate=osd.plateau(osd.constant(0.5), patience=0))
        is optimizer
    )
    kept = optimizer.opt_state.inner_state[0].mu["kernel"]
    assert type(kept) is type(moments)
    np.testing.assert_array_equal(kept[...], moments[...])
    step(model, optimizer, 3.0)  # and once more: 0.5 * 0.1 (the loss 3.0 cuts it again from the next update)
    assert float(osd.hyperparams(optimizer)["learning_rate"]) == pytest.approx(5e-2)
    assert int(optimizer.opt_state.count[...]) == 3


# -- 3. logging every hyperparameter ------------------------------------------------------------


def test_logging_example(tmp_path, monkeypatch):
    ns = run_block(LOGGING, tmp_path, monkeypatch)
    nnx = ns["nnx"]
    expected = {
        "b1": 0.85,
        "b2": 0.999,
        "eps": 1e-8,
        "eps_root": 0.0,
        "learning_rate": 1e-3,
        "weight_decay": 1e-4,
    }
    for source in (ns["optimizer"], ns["optimizer"].opt_state, nnx.state(ns["optimizer"]), ns["state"]):
        logged = osd.hyperparams(source)
        assert sorted(logged) == sorted(expected)
        for name, value in expected.items():
            assert float(logged[name]) == pytest.approx(value, rel=1e-6), name
    with pytest.raises(ValueError, match="hyperparams: found no optasched.inject state in this tuple"):
        osd.hyperparams(optax.adam(1e-3).init(jnp.ones(3)))


def test_partition_names_are_the_same_for_optax_and_nnx_states():
    from flax import nnx

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.body = nnx.Linear(3, 4, rngs=rngs)
            self.head = nnx.Linear(4, 1, rngs=rngs)

    model = Net(nnx.Rngs(0))
    tx = osd.param_groups(
        optax.sgd,
        lambda path, leaf: path.split("/")[0],
        {"body": dict(learning_rate=osd.cosine(0.1, 10)), "head": dict(learning_rate=0.01, momentum=0.9)},
    )
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    from_optax = osd.hyperparams(optimizer.opt_state)
    assert sorted(from_optax) == ["body/learning_rate", "head/learning_rate", "momentum"]
    from_nnx = osd.hyperparams(nnx.split(optimizer)[1])
    assert sorted(from_nnx) == sorted(from_optax)
    assert float(from_nnx["head/learning_rate"]) == pytest.approx(0.01)


# -- 4. functions of the step -------------------------------------------------------------------


def test_functions_example(tmp_path, monkeypatch):
    ns = run_block(FUNCTIONS, tmp_path, monkeypatch)
    logged = osd.hyperparams(ns["state"])
    assert float(logged["learning_rate"]) == 0.0 and float(logged["b1"]) == pytest.approx(0.9)
    assert len(ns["sweep"]) == 3
    with pytest.raises(ValueError, match="list of functions, which cannot be swept.*optasched schedules"):
        osd.inject(optax.adamw)(learning_rate=[ns["lr"], ns["lr"]])


def test_a_function_of_the_step_is_logged_every_update():
    lr = optax.warmup_cosine_decay_schedule(0.0, 1e-2, warmup_steps=3, decay_steps=12)
    opt = osd.inject(optax.adamw)(learning_rate=lr)
    state = opt.init(PARAMS)
    update = jax.jit(opt.update)
    for t in range(12):
        _, state = update(GRADS, state, PARAMS)
        assert float(osd.hyperparams(state)["learning_rate"]) == pytest.approx(
            float(lr(t)), rel=1e-6, abs=1e-9
        )


# -- 5. names users know -----------------------------------------------------------------------


def test_names_example(tmp_path, monkeypatch):
    ns = run_block(NAMES, tmp_path, monkeypatch)
    assert len(ns["sweep"]) == 3
    assert float(ns["lr"](0)) == pytest.approx(1e-6, rel=1e-5)  # timm's warmup_lr_init
    assert float(ns["wsd"](10_000)) == pytest.approx(3e-5, rel=1e-5)  # min_lr_ratio * peak after the decay


def hf_factor(name, step, warmup, total, peak, **kw):
    """Hugging Face transformers' lr_lambda (optimization.py), from its documented formulas."""
    if name == "constant":
        return 1.0
    if name == "warmup_stable_decay":
        return hf_wsd_factor(step, warmup, **kw)
    if step < warmup:
        return step / max(1, warmup)
    if name == "constant_with_warmup":
        return 1.0
    progress = (step - warmup) / max(1, total - warmup)
    if name == "linear":
        return max(0.0, (total - step) / max(1, total - warmup))
    if name == "cosine":
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * kw.get("num_cycles", 0.5) * 2.0 * progress)))
    if name == "cosine_with_restarts":
        if progress >= 1.0:
            return 0.0
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((kw.get("num_cycles", 1) * progress) % 1.0))))
    if name == "polynomial":
        lr_end, power = kw.get("lr_end", 1e-7), kw.get("power", 1.0)
        if step > total:
            return lr_end / peak
        decay = (peak - lr_end) * (1 - (step - warmup) / (total - warmup)) ** power + lr_end
        return decay / peak
    if name == "inverse_sqrt":
        timescale = kw.get("timescale") or (warmup or 10_000)
        return 1.0 / math.sqrt((step + timescale - warmup) / timescale)
    if name == "cosine_with_min_lr":
        rate = kw["min_lr"] / peak if "min_lr" in kw else kw["min_lr_rate"]
        factor = 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress))
        return max(0.0, factor * (1.0 - rate) + rate)
    raise AssertionError(name)


def hf_wsd_factor(
    step,
    warmup,
    num_decay_steps,
    num_stable_steps,
    warmup_type="linear",
    decay_type="cosine",
    min_lr_ratio=0.0,
):
    if step < warmup:
        progress = step / max(1, warmup)
        factor = {
            "linear": progress,
            "cosine": 0.5 * (1.0 - math.cos(math.pi * progress)),
            "1-sqrt": 1.0 - math.sqrt(1.0 - progress),
        }[warmup_type]
        return max(0.0, factor * (1.0 - min_lr_ratio) + min_lr_ratio)
    if step < warmup + num_stable_steps:
        return 1.0
    if step < warmup + num_stable_steps + num_decay_steps:
        progress = (step - warmup - num_stable_steps) / max(1, num_decay_steps)
        factor = {
            "linear": 1.0 - progress,
            "cosine": 0.5 * (1.0 + math.cos(math.pi * progress)),
            "1-sqrt": 1.0 - math.sqrt(progress),
        }[decay_type]
        return max(0.0, factor * (1.0 - min_lr_ratio) + min_lr_ratio)
    return min_lr_ratio


HF_CASES = [
    ("linear", {}),
    ("cosine", {}),
    ("cosine_with_restarts", {}),
    ("cosine_with_restarts", {"num_cycles": 3}),
    ("polynomial", {}),
    ("polynomial", {"lr_end": 0.1, "power": 2.0}),
    ("constant", {}),
    ("constant_with_warmup", {}),
    ("inverse_sqrt", {}),
    ("inverse_sqrt", {"timescale": 50}),
    ("cosine_with_min_lr", {"min_lr_rate": 0.1}),
    ("cosine_with_min_lr", {"min_lr": 0.3}),
]
# Past num_training_steps HF's cosine rises again (documented difference): compared up to T.
UNCLIPPED = {"cosine", "cosine_with_min_lr"}


@pytest.mark.parametrize("warmup,total", [(0, 100), (7, 333), (100, 1000)])
@pytest.mark.parametrize("name,kwargs", HF_CASES, ids=[f"{n}-{k}" for n, k in HF_CASES])
def test_hugging_face_names_follow_their_formulas(name, kwargs, warmup, total):
    peak = 2.0
    entry = osd.schedules._names.NAMES[name]
    args = {"peak_value": peak, "num_warmup_steps": warmup, "num_training_steps": total}
    schedule = osd.get_schedule(name, **{k: v for k, v in args.items() if k in entry.uses}, **kwargs)
    steps = np.arange(total + 1 if name in UNCLIPPED else total + 60)
    expected = np.array([peak * hf_factor(name, int(t), warmup, total, peak, **kwargs) for t in steps])
    np.testing.assert_allclose(jax.jit(schedule)(steps), expected, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_decay_steps": 30},
        {"num_decay_steps": 30, "decay_type": "linear", "warmup_type": "cosine", "min_lr_ratio": 0.1},
        {"num_decay_steps": 50, "num_stable_steps": 20, "decay_type": "1-sqrt", "warmup_type": "1-sqrt"},
    ],
)
def test_hugging_face_warmup_stable_decay(kwargs):
    warmup, total = 10, 100
    schedule = osd.get_schedule(
        "warmup_stable_decay", 3.0, warmup, None if "num_stable_steps" in kwargs else total, **kwargs
    )
    stable = kwargs.get("num_stable_steps", total - warmup - kwargs["num_decay_steps"])
    reference = {k: v for k, v in kwargs.items() if k != "num_stable_steps"}
    steps = np.arange(150)
    expected = [3.0 * hf_wsd_factor(int(t), warmup, num_stable_steps=stable, **reference) for t in steps]
    np.testing.assert_allclose(schedule(steps), expected, rtol=2e-5, atol=2e-6)


torch = pytest.importorskip("torch")
lr_scheduler = torch.optim.lr_scheduler


def torch_values(make, count, lr=0.1):
    """The learning rate each of ``count`` optimizer steps uses with a real PyTorch scheduler."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=lr, momentum=0.9)
    scheduler = make(optimizer)
    values = []
    for i in range(count):
        values.append(optimizer.param_groups[0]["lr"])
        if i < count - 1:
            optimizer.step()
            scheduler.step()
    return np.array(values)


TORCH_CASES = [
    ("StepLR", {"step_size": 7, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [5, 12, 30], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.95}),
    ("CosineAnnealingLR", {"T_max": 60, "eta_min": 0.01}),
    ("CosineAnnealingWarmRestarts", {"T_0": 10, "T_mult": 2, "eta_min": 0.001}),
    ("LinearLR", {"start_factor": 0.25, "end_factor": 1.0, "total_iters": 20}),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 40}),
    ("ConstantLR", {"factor": 0.5, "total_iters": 8}),
    ("PolynomialLR", {"total_iters": 30, "power": 2.0}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 60, "pct_start": 0.25}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 60, "three_phase": True, "anneal_strategy": "linear"}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 10, "mode": "triangular2"}),
    (
        "CyclicLR",
        {
            "base_lr": 0.01,
            "max_lr": 0.1,
            "step_size_up": 7,
            "step_size_down": 4,
            "mode": "exp_range",
            "gamma": 0.98,
        },
    ),
]


@pytest.mark.parametrize("name,kwargs", TORCH_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(TORCH_CASES)])
def test_pytorch_names_equal_the_real_schedulers(name, kwargs):
    count = 60 if name in ("CosineAnnealingLR", "OneCycleLR") else 100
    expected = torch_values(lambda optimizer: getattr(lr_scheduler, name)(optimizer, **kwargs), count)
    schedule = osd.get_schedule(name, peak_value=0.1, **kwargs)
    np.testing.assert_allclose(jax.jit(schedule)(np.arange(count)), expected, rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("StepLR", {"step_size": 3, "gamma": 0.5}),
        ("CosineAnnealingLR", {"T_max": 12, "eta_min": 0.01}),
        ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2}),
        ("ExponentialLR", {"gamma": 0.8}),
        ("MultiStepLR", {"milestones": [2, 5], "gamma": 0.1}),
    ],
)
def test_pytorch_per_epoch_stepping_is_a_staircase(name, kwargs):
    steps_per_epoch, epochs = 7, 12
    per_epoch = torch_values(lambda optimizer: getattr(lr_scheduler, name)(optimizer, **kwargs), epochs)
    schedule = osd.get_schedule(name, peak_value=0.1, steps_per_epoch=steps_per_epoch, **kwargs)
    np.testing.assert_allclose(
        schedule(np.arange(epochs * steps_per_epoch)),
        np.repeat(per_epoch, steps_per_epoch),
        rtol=2e-5,
        atol=1e-8,
    )


def test_one_cycle_takes_pytorchs_epochs_and_steps_per_epoch():
    expected = torch_values(
        lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.3, epochs=4, steps_per_epoch=15), 60
    )
    schedule = osd.get_schedule("OneCycleLR", max_lr=0.3, epochs=4, steps_per_epoch=15)
    np.testing.assert_allclose(schedule(np.arange(60)), expected, rtol=2e-5, atol=1e-8)


def timm_lr(name, t, base, **kw):
    """timm.scheduler's _get_lr for one parameter group, from its documented code."""
    warmup_t, warmup_lr_init = kw.get("warmup_t", 0), kw.get("warmup_lr_init", 0.0)
    # The step schedulers default warmup_prefix=True; the others False.
    prefix = kw.get("warmup_prefix", name in ("StepLRScheduler", "MultiStepLRScheduler"))
    if t < warmup_t:
        # The tanh scheduler without the prefix warms up to its own value at warmup_t, not to the peak.
        if name == "TanhLRScheduler" and not prefix:
            target = timm_lr(name, warmup_t, base, **kw)
        else:
            target = base
        return warmup_lr_init + t * (target - warmup_lr_init) / warmup_t
    if prefix:
        t = t - warmup_t
    if name == "StepLRScheduler":
        return base * kw.get("decay_rate", 1.0) ** (t // kw["decay_t"])
    if name == "MultiStepLRScheduler":  # milestones compared with t + 1
        return base * kw.get("decay_rate", 1.0) ** bisect.bisect_right(kw["decay_t"], t + 1)
    t_initial, lr_min = kw["t_initial"], kw.get("lr_min", 0.0)
    cycle_mul, cycle_decay, cycle_limit = (
        kw.get("cycle_mul", 1.0),
        kw.get("cycle_decay", 1.0),
        kw.get("cycle_limit", 1),
    )
    if cycle_mul != 1:
        i = math.floor(math.log(1 - t / t_initial * (1 - cycle_mul), cycle_mul))
        t_i = cycle_mul**i * t_initial
        t_curr = t - (1 - cycle_mul**i) / (1 - cycle_mul) * t_initial
    else:
        i = t // t_initial
        t_i = t_initial
        t_curr = t - t_initial * i
    if i >= cycle_limit:
        return lr_min
    lr_max = base * cycle_decay**i
    if name == "CosineLRScheduler":
        return lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * t_curr / t_i))
    if name == "PolyLRScheduler":
        return lr_min + (lr_max - lr_min) * (1 - t_curr / t_i) ** kw.get("power", 0.5)
    if name == "TanhLRScheduler":
        tr = t_curr / t_i
        lb, ub = kw.get("lb", -7.0), kw.get("ub", 3.0)
        return lr_min + 0.5 * (lr_max - lr_min) * (1 - math.tanh(lb * (1.0 - tr) + ub * tr))
    raise AssertionError(name)


TIMM_CASES = [
    ("CosineLRScheduler", {"t_initial": 50}),
    ("CosineLRScheduler", {"t_initial": 50, "warmup_t": 5, "warmup_lr_init": 1e-3, "lr_min": 1e-2}),
    ("CosineLRScheduler", {"t_initial": 40, "warmup_t": 5, "warmup_lr_init": 1e-3, "warmup_prefix": True}),
    (
        "CosineLRScheduler",
        {"t_initial": 10, "cycle_mul": 2.0, "cycle_decay": 0.5, "cycle_limit": 3, "lr_min": 0.01},
    ),
    ("CosineLRScheduler", {"t_initial": 15, "cycle_decay": 0.7, "cycle_limit": 4}),
    ("PolyLRScheduler", {"t_initial": 60, "power": 0.9, "lr_min": 1e-3, "warmup_t": 4}),
    ("TanhLRScheduler", {"t_initial": 60, "lr_min": 1e-3, "warmup_t": 4, "warmup_prefix": True}),
    ("TanhLRScheduler", {"t_initial": 60, "lb": -2.0, "ub": 2.0, "warmup_t": 10, "warmup_lr_init": 1e-4}),
    ("StepLRScheduler", {"decay_t": 15, "decay_rate": 0.5, "warmup_t": 5}),
    ("StepLRScheduler", {"decay_t": 9, "decay_rate": 0.5, "warmup_t": 3, "warmup_lr_init": 0.0}),
    ("MultiStepLRScheduler", {"decay_t": [10, 25, 60], "decay_rate": 0.3}),
]


@pytest.mark.parametrize("name,kwargs", TIMM_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(TIMM_CASES)])
def test_timm_names_follow_their_formulas(name, kwargs):
    steps = np.arange(100)
    expected = [timm_lr(name, int(t), 0.1, **kwargs) for t in steps]
    schedule = osd.get_schedule(name, peak_value=0.1, **kwargs)
    np.testing.assert_allclose(jax.jit(schedule)(steps), expected, rtol=2e-5, atol=1e-7)
    per_epoch = osd.get_schedule(name, peak_value=0.1, steps_per_epoch=4, **kwargs)  # t_in_epochs
    np.testing.assert_allclose(per_epoch(np.arange(400)), np.repeat(expected, 4), rtol=2e-5, atol=1e-7)


def test_named_schedules_sweep_like_any_schedule():
    batch = osd.grid(
        lambda peak_value, num_warmup_steps: osd.get_schedule("linear", peak_value, num_warmup_steps, 100),
        peak_value=[0.1, 0.2],
        num_warmup_steps=[0, 10],
    )
    values = jax.vmap(lambda s: s(jnp.arange(101)))(batch.config)
    for i, label in enumerate(batch.labels):
        peak, warmup = batch.values["peak_value"][i], batch.values["num_warmup_steps"][i]
        expected = [peak * hf_factor("linear", t, warmup, 100, peak) for t in range(101)]
        np.testing.assert_allclose(values[i], expected, rtol=2e-5, atol=1e-7, err_msg=label)


@pytest.mark.parametrize(
    "call,message",
    [
        (
            lambda: osd.get_schedule("cosin", 1.0),
            r"unknown schedule 'cosin' \(did you mean 'cosine'\?\); known "
            r"names: Hugging Face: linear, cosine.*PyTorch: StepLR.*timm: CosineLRScheduler",
        ),
        (
            lambda: osd.get_schedule("cosine", 1.0, 10),
            r"get_schedule\('cosine'\): num_training_steps is required",
        ),
        (
            lambda: osd.get_schedule("cosine", num_warmup_steps=1, num_training_steps=10),
            r"get_schedule\('cosine'\): peak_value is required",
        ),
        (lambda: osd.get_schedule("StepLR", 0.1), r"get_schedule\('StepLR'\): step_size is required"),
        (
            lambda: osd.get_schedule("StepLR", 0.1, step_size=3, gama=0.1),
            r"unknown argument 'gama'; torch.optim.lr_scheduler.StepLR takes peak_value, step_size, gamma",
        ),
        (lambda: osd.get_schedule("StepLR", 0.1, 5, step_size=3), r"StepLR takes no num_warmup_steps"),
        (
            lambda: osd.get_schedule("linear", 1.0, 200, 100),
            r"num_training_steps \(100\) must be >= num_warmup_steps",
        ),
        (
            lambda: osd.get_schedule("polynomial", 1e-8, 0, 100),
            r"lr_end \(1e-07\) must be smaller than peak_value",
        ),
        (
            lambda: osd.get_schedule("ReduceLROnPlateau", 0.1),
            r"'ReduceLROnPlateau' has no closed form; .*osd.plateau",
        ),
        (lambda: osd.get_schedule("LambdaLR", 0.1), r"osd.from_function"),
        (
            lambda: osd.get_schedule("CosineLRScheduler", 0.1, t_initial=10, noise_range_t=5),
            r"noise_range_t=5",
        ),
        (
            lambda: osd.get_schedule("StepLR", 0.1, step_size=3, steps_per_epoch=0),
            r"steps_per_epoch must be a positive",
        ),
        (
            lambda: osd.get_schedule("CosineAnnealingLR", 0.1, T_max=-1),
            r"CosineAnnealingLR'\): cosine: decay_steps",
        ),
    ],
)
def test_get_schedule_errors_are_clear(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# -- 6. a quick look ----------------------------------------------------------------------------


def test_quick_look_example(tmp_path, monkeypatch):
    run_block(QUICK_LOOK, tmp_path, monkeypatch)
    assert (tmp_path / "schedule.png").stat().st_size > 5000


def test_plot_draws_schedules_sweeps_and_functions_and_refuses_stateful_ones():
    schedule = osd.warmup(osd.cosine(0.1, 90), 10)
    ax = osd.plot(schedule, 100)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), schedule(np.arange(100)))
    ax = osd.plot(osd.stack([osd.cosine(0.1, 50), osd.cosine(0.2, 50)]), np.arange(0, 100, 5))
    assert len(ax.get_lines()) == 2 and list(ax.get_lines()[1].get_xdata()) == list(range(0, 100, 5))
    assert (
        len(
            osd.plot(
                {"optax": optax.cosine_decay_schedule(0.1, 50), "ours": osd.cosine(0.1, 50)}, 60
            ).get_lines()
        )
        == 2
    )
    with pytest.raises(
        ValueError, match="plot: schedule is a plateau schedule, which follows a monitored value"
    ):
        osd.plot(osd.plateau(osd.constant(0.1)), 10)
    with pytest.raises(ValueError, match="plot: steps must be >= 1"):
        osd.plot(schedule, 0)


def test_import_optasched_imports_no_plotting_dataframe_or_keras_code():
    code = "import sys, optasched; print(sorted(m for m in ('matplotlib', 'pandas', 'keras') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- 7. sweep results ----------------------------------------------------------------------------


def test_sweep_results_example(tmp_path, monkeypatch, capsys):
    ns = run_block(RESULTS, tmp_path, monkeypatch)
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header == ["member", "peak_value", "seed", "loss"]
    frame, curves = ns["frame"], ns["curves"]
    assert list(frame.columns) == ["peak_value", "seed", "label", "loss"] and len(frame) == 9
    assert list(curves.columns) == ["peak_value", "seed", "member", "record", "curve"] and len(curves) == 900
    np.testing.assert_allclose(frame["loss"], ns["result"].metric("loss"))
    assert (tmp_path / "loss.png").stat().st_size > 5000 and (tmp_path / "curves.png").stat().st_size > 5000


def test_result_plots_handle_one_value_axes_bands_and_bad_names():
    batch = osd.grid(lambda a, b, seed: {"a": a, "b": b, "seed": seed}, a=[0.1, 0.2], b=[5.0], seed=[0, 1])

    def train(config, key):
        return {"score": config["a"] + config["seed"], "curve": config["a"] * jnp.arange(4.0)}

    result = osd.sweep(train, batch)
    fig = result.plot("score")  # b has one value: a heatmap over a and seed
    assert fig.axes[0].get_xlabel() == "a" and fig.axes[0].get_ylabel() == "seed"
    fig = result.plot("score", x="a", y="b")  # a one-row heatmap when asked for
    assert fig.axes[0].images[0].get_array().shape == (1, 2)
    one_axis = osd.sweep(train, osd.grid(lambda a: {"a": a, "b": 5.0, "seed": 0}, a=[0.1]))
    one_axis.plot("score")  # a single member, a single value: a bar
    fig = result.plot_curves("curve", band="seed")
    assert len(fig.axes[0].get_lines()) == 2  # one band per value of a
    fig = result.plot_curves("curve", steps=10 * (1 + np.arange(4)))
    assert len(fig.axes[0].get_lines()) == 4
    with pytest.raises(ValueError, match="band must name a swept axis"):
        result.plot_curves("curve", band="lr")
    with pytest.raises(ValueError, match=r"must be recorded over training, shape \(members, records\)"):
        result.plot_curves("score")
    with pytest.raises(ValueError, match="use plot_curves for a metric recorded over training"):
        result.plot("curve")


def test_stacked_states_through_multisteps_and_apply_if_finite(tmp_path, monkeypatch):
    ns = run_block(MULTISTEPS, tmp_path, monkeypatch)
    assert ns["states"].gradient_step.shape == (3,)
    members = ns["members"]
    for wrap, name in [
        (lambda o: optax.MultiSteps(o, every_k_schedule=4), "optax.MultiSteps"),
        (lambda o: optax.apply_if_finite(o, max_consecutive_errors=3), "optax.apply_if_finite"),
    ]:
        with pytest.raises(
            ValueError, match=rf"sweep of 3 stacked members inside {name}.*jax.vmap\(lambda member"
        ):
            wrap(osd.inject(optax.adamw)(**members)).init(PARAMS)
        # the recipe the error gives trains every member as its own optimizer would
        build = lambda member, wrap=wrap: wrap(osd.inject(optax.adamw)(**member))  # noqa: E731
        states = jax.vmap(lambda member, build=build: build(member).init(PARAMS))(members)
        params = jax.tree.map(lambda x: jnp.broadcast_to(x, (3, *x.shape)), PARAMS)
        swept, _ = jax.jit(jax.vmap(lambda p, s, build=build: train(build(members), s, p)))(params, states)
        for i in range(3):
            alone, _ = jax.jit(lambda i=i, build=build: train(build(jax.tree.map(lambda x: x[i], members))))()
            jax.tree.map(
                lambda a, b, i=i: np.testing.assert_allclose(a[i], b, rtol=1e-4, atol=1e-6), swept, alone
            )
    # chain, partition and masked keep no state of their own: a stacked init inside them works
    states = optax.chain(optax.clip(1.0), osd.inject(optax.adamw)(**members)).init(PARAMS)
    assert states[1].count.shape == (3,)


# -- 8. Keras 3 -----------------------------------------------------------------------------------


def test_keras_example(tmp_path, monkeypatch):
    keras = pytest.importorskip("keras")
    with jax.numpy_rank_promotion("allow"):  # Keras' own layers add biases by implicit broadcasting
        ns = run_block(KERAS, tmp_path, monkeypatch)
    assert int(ns["model"].optimizer.iterations) == 16
    assert float(ns["model"].optimizer.learning_rate) == pytest.approx(float(ns["lr"](16)))
    assert keras.backend.backend() == "jax"


@jax.numpy_rank_promotion("allow")  # Keras' own layers add biases by implicit broadcasting
def keras_training(learning_rate):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="tanh"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9), loss="mse")
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    model.fit(x, np.sin(x.sum(axis=1, keepdims=True)), batch_size=8, epochs=3, shuffle=False, verbose=0)
    return model


def test_a_keras_training_step_follows_the_schedule_as_keras_own_does(tmp_path):
    keras = pytest.importorskip("keras")
    ours = keras_training(osd.to_keras(osd.warmup(osd.cosine(0.05, decay_steps=20), warmup_steps=4)))
    theirs = keras_training(
        keras.optimizers.schedules.CosineDecay(0.0, 20, warmup_target=0.05, warmup_steps=4)
    )
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    path = str(tmp_path / "model.keras")
    ours.save(path)
    with jax.numpy_rank_promotion("allow"):
        loaded = keras.saving.load_model(path)
    assert float(loaded.optimizer.learning_rate) == pytest.approx(float(ours.optimizer.learning_rate))
    assert repr(loaded.optimizer._learning_rate).startswith("to_keras(warmup(")


def test_keras_adapter_errors():
    pytest.importorskip("keras")
    with pytest.raises(ValueError, match="to_keras: schedule must be an optasched schedule"):
        osd.to_keras(optax.cosine_decay_schedule(0.1, 10))
    with pytest.raises(ValueError, match="to_keras: schedule is a stacked sweep of shape"):
        osd.to_keras(osd.stack([osd.cosine(0.1, 10)] * 2))
    with pytest.raises(ValueError, match="keras.callbacks.ReduceLROnPlateau"):
        osd.to_keras(osd.plateau(osd.constant(0.1)))
