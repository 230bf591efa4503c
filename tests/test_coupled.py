"""Specification of coupled schedules: momentum cycled inversely to the LR
(PyTorch OneCycleLR / CyclicLR ``cycle_momentum``), weight decay tied to the
LR, an EMA decay and a temperature following it; each stacks and vmaps."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import optasched as osd

STEPS = np.arange(0, 260)
evaluate = jax.jit(lambda schedule, steps: schedule(steps))


def torch_momenta(make_scheduler, steps: int, adam: bool = False):
    """The momentum (or Adam beta1) PyTorch uses at each step."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([param], lr=0.1) if adam else torch.optim.SGD([param], lr=0.1, momentum=0.9)
    scheduler = make_scheduler(optimizer)
    momenta = []
    for _ in range(steps):
        group = optimizer.param_groups[0]
        momenta.append(group["betas"][0] if adam else group["momentum"])
        optimizer.step()
        scheduler.step()
    return np.asarray(momenta)


@pytest.mark.parametrize("anneal_strategy", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
def test_cycled_momentum_matches_torch_one_cycle(anneal_strategy, three_phase):
    total = 250
    expected = torch_momenta(
        lambda opt: torch.optim.lr_scheduler.OneCycleLR(
            opt,
            max_lr=1.0,
            total_steps=total,
            pct_start=0.3,
            anneal_strategy=anneal_strategy,
            three_phase=three_phase,
            base_momentum=0.85,
            max_momentum=0.95,
        ),
        total,
        adam=three_phase,  # Adam's beta1 is cycled the same way
    )
    lr = osd.one_cycle(
        1.0, total_steps=total, pct_start=0.3, anneal_strategy=anneal_strategy, three_phase=three_phase
    )
    got = evaluate(osd.cycled_momentum(lr), np.arange(total))
    np.testing.assert_allclose(got, expected, atol=2e-6)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cycled_momentum_matches_torch_cyclic(mode):
    expected = torch_momenta(
        lambda opt: torch.optim.lr_scheduler.CyclicLR(
            opt,
            base_lr=0.01,
            max_lr=0.1,
            step_size_up=20,
            step_size_down=30,
            mode=mode,
            gamma=0.995,
            base_momentum=0.8,
            max_momentum=0.9,
        ),
        len(STEPS),
    )
    lr = osd.cyclic(0.01, 0.1, step_size_up=20, step_size_down=30, mode=mode, gamma=0.995)
    got = evaluate(osd.cycled_momentum(lr, base_momentum=0.8, max_momentum=0.9), STEPS)
    np.testing.assert_allclose(got, expected, atol=2e-6)


def test_closed_forms_of_the_couplings():
    lr = osd.warmup(osd.cosine(1.0, 200, end_value=0.1), warmup_steps=20, init_value=0.0)
    values = np.asarray(evaluate(lr, STEPS))
    position = values  # range [0, 1]: init_value 0 to peak 1
    np.testing.assert_allclose(evaluate(osd.cycled_momentum(lr), STEPS), 0.95 - 0.1 * position, rtol=1e-6)
    np.testing.assert_allclose(
        evaluate(osd.coupled_ema_decay(lr, 0.9, 0.99), STEPS), 0.99 - 0.09 * position, rtol=1e-6
    )
    np.testing.assert_allclose(
        evaluate(osd.coupled_temperature(lr, 0.05, 0.2), STEPS), 0.05 + 0.15 * position, rtol=1e-6
    )
    explicit = osd.coupled(lr, low=1.0, high=3.0, base_min=0.5, base_max=1.0)
    np.testing.assert_allclose(
        evaluate(explicit, STEPS), 1.0 + 2.0 * np.clip((values - 0.5) / 0.5, 0, 1), rtol=1e-6, atol=1e-6
    )


def test_weight_decay_coupled_to_the_learning_rate():
    lr = osd.warmup(osd.cosine(1e-3, 200, end_value=1e-5), warmup_steps=20)
    values = np.asarray(evaluate(lr, STEPS))
    constant_product = np.asarray(evaluate(osd.coupled_weight_decay(lr, 0.05), STEPS))
    uncapped = values > 1e-3 / 1000
    np.testing.assert_allclose((values * constant_product)[uncapped], 0.05 * 1e-3, rtol=1e-5)
    np.testing.assert_allclose(constant_product[~uncapped], 50.0)  # capped at 1000 * weight_decay (lr = 0)
    capped = np.asarray(evaluate(osd.coupled_weight_decay(lr, 0.05, max_value=0.5), STEPS))
    np.testing.assert_allclose(capped, np.minimum(constant_product, 0.5), rtol=1e-6)
    proportional = evaluate(osd.coupled_weight_decay(lr, 0.05, mode="proportional"), STEPS)
    np.testing.assert_allclose(proportional, 0.05 * values / 1e-3, rtol=1e-5)


def test_ranges_are_inferred_from_each_family():
    bases = [
        osd.constant(0.3),
        osd.linear(1.0, 0.1, 100),
        osd.cosine(1.0, 100, 0.1),
        osd.rex(1.0, 100, 0.1),
        osd.tanh_decay(1.0, 100, 0.1),
        osd.wsd(1.0, 20, 50, 30, end_value=0.1),
        osd.cyclic(0.1, 1.0, 20),
        osd.cosine_restarts(1.0, 50, end_value=0.1),
        osd.inverse_sqrt(1.0, 20),
        osd.one_cycle(1.0, 200),
        osd.piecewise_linear([0, 50, 150], [0.1, 1.0, 0.2]),
        osd.piecewise_constant(1.0, [50, 100], [0.5, 0.2]),
        osd.join([osd.linear(0.1, 1.0, 30), osd.cosine(1.0, 100, 0.1)], [30]),
        osd.clip(osd.cyclic(0.0, 1.0, 40), 0.2, 0.8),
        osd.cosine(2.0, 100, 0.2) * 0.5,
        osd.shift(osd.staircase(osd.cycle(osd.linear(1.0, 0.1, 50), 50), 10), 5),
    ]
    for base in bases:
        p = np.asarray(evaluate(osd.coupled(base, 0.0, 1.0), np.arange(300)))
        assert np.all((p >= 0) & (p <= 1)), base
        if base.family != "constant":
            assert p.max() == pytest.approx(1.0, abs=1e-6) and p.min() < 0.25, base
        else:
            np.testing.assert_allclose(p, 1.0)  # a constant is at its maximum


def test_coupled_schedules_stack_vmap_and_differentiate():
    members = [
        osd.cycled_momentum(osd.one_cycle(peak, 200, pct_start=pct)) for peak, pct in [(0.1, 0.2), (1.0, 0.4)]
    ]
    stacked = osd.stack(members)
    swept = jax.jit(jax.vmap(lambda s: s(STEPS)))(stacked)
    for i, member in enumerate(members):
        np.testing.assert_allclose(swept[i], member(STEPS), rtol=1e-6)
    # a sweep over the base learning rate sweeps the coupled momentum with it
    grid = osd.grid(lambda base: osd.coupled_weight_decay(osd.cosine(base, 100), 0.1), base=[1e-3, 1e-2])
    np.testing.assert_allclose(grid.config(50), [0.2, 0.2], rtol=1e-5)
    grads = jax.grad(lambda s: s(30.0), allow_int=True)(
        osd.coupled(osd.cosine(1.0, 100), 0.1, 0.5, base_min=0.0, base_max=1.0)
    )
    assert np.isfinite(grads.low) and float(grads.high) > 0


def test_coupled_momentum_drives_inject():
    lr = osd.one_cycle(0.1, total_steps=50)
    opt = osd.inject(optax.sgd)(learning_rate=lr, momentum=osd.cycled_momentum(lr))
    params = jnp.zeros(2)
    state = opt.init(params)
    update = jax.jit(opt.update)
    for _ in range(20):
        _, state = update(jnp.ones(2), state, params)
    logged = osd.hyperparams(state)
    np.testing.assert_allclose(logged["momentum"], osd.cycled_momentum(lr)(19), rtol=1e-6)


def test_bad_coupling_arguments_raise():
    with pytest.raises(ValueError, match="cannot read the value range of a from_function schedule"):
        osd.cycled_momentum(osd.from_function(lambda t, p: p["a"] / (1 + t), {"a": 1.0}))
    with pytest.raises(ValueError, match="give both base_min and base_max"):
        osd.coupled(osd.cosine(1.0, 10), 0.0, 1.0, base_min=0.0)
    with pytest.raises(ValueError, match=r"coupled: base_max must be > base_min, got 0.5"):
        osd.coupled(osd.cosine(1.0, 10), 0.0, 1.0, base_min=1.0, base_max=0.5)
    with pytest.raises(ValueError, match="coupled_weight_decay: weight_decay must be >= 0"):
        osd.coupled_weight_decay(osd.cosine(1.0, 10), -0.1)
    with pytest.raises(ValueError, match="coupled_weight_decay: mode must be one of"):
        osd.coupled_weight_decay(osd.cosine(1.0, 10), 0.1, mode="inverse")
    with pytest.raises(ValueError, match="give reference"):
        osd.coupled_weight_decay(osd.from_function(lambda t, p: p["a"] + 0 * t, {"a": 1.0}), 0.1)
    with pytest.raises(ValueError, match="coupled: low must be a number"):
        osd.coupled(osd.cosine(1.0, 10), "low", 1.0)


def test_ema_decay_drives_a_flax_batchnorm_inside_jit():
    from flax import linen as nn

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x, momentum):
            return nn.BatchNorm(use_running_average=False, momentum=momentum)(x)

    decay = osd.coupled_ema_decay(osd.cosine(1.0, 10), min_decay=0.5, max_decay=0.9)
    x = jnp.arange(8.0).reshape(4, 2)
    variables = Net().init(jax.random.key(0), x, 0.9)

    @jax.jit
    def step(batch_stats, t):
        _, updated = Net().apply({**variables, "batch_stats": batch_stats}, x, decay(t), mutable=["batch_stats"])
        return updated["batch_stats"]

    stats, mean = variables["batch_stats"], 0.0
    for t in range(3):
        stats = step(stats, t)
        d = float(decay(t))
        mean = d * mean + (1 - d) * 3.0  # column 0 has mean 3
        np.testing.assert_allclose(stats["BatchNorm_0"]["mean"][0], mean, rtol=1e-5)
