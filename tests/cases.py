"""One representative schedule per family and combinator, shared by the tests.

CASES maps a name to a zero-argument builder, so each test module builds fresh
schedules (and can build them under ``enable_x64``).
"""

import jax.numpy as jnp

import optasched as osd

CASES = {
    "constant": lambda: osd.constant(0.1),
    "linear": lambda: osd.linear(1.0, 0.1, transition_steps=200, transition_begin=10),
    "polynomial": lambda: osd.polynomial(1.0, 0.1, power=2.0, transition_steps=200, transition_begin=10),
    "polynomial_cycle": lambda: osd.polynomial(1.0, 0.1, power=1.5, transition_steps=90, cycle=True),
    "exponential": lambda: osd.exponential(1.0, transition_steps=40, decay_rate=0.5, transition_begin=5),
    "exponential_staircase": lambda: osd.exponential(
        1.0, transition_steps=40, decay_rate=0.5, staircase=True, end_value=0.05
    ),
    "step_decay": lambda: osd.step_decay(1.0, step_size=60, gamma=0.3),
    "inverse_time": lambda: osd.inverse_time(1.0, decay_steps=50, decay_rate=0.5),
    "inverse_time_staircase": lambda: osd.inverse_time(1.0, decay_steps=50, decay_rate=0.5, staircase=True),
    "inverse_sqrt": lambda: osd.inverse_sqrt(1.0, warmup_steps=40),
    "inverse_sqrt_timescale": lambda: osd.inverse_sqrt(1.0, warmup_steps=40, timescale=100),
    "noam": lambda: osd.noam(64.0, warmup_steps=40, scale=2.0),
    "piecewise_constant": lambda: osd.piecewise_constant(1.0, boundaries=[50, 120, 200], scales=[0.5, 0.3, 0.1]),
    "multistep": lambda: osd.multistep(1.0, milestones=[60, 150], gamma=0.2),
    "piecewise_linear": lambda: osd.piecewise_linear([0, 40, 180, 260], [0.0, 1.0, 0.4, 0.05]),
    "piecewise_cosine": lambda: osd.piecewise_linear([0, 40, 180], [0.1, 1.0, 0.0], interpolation="cosine"),
    "cosine": lambda: osd.cosine(1.0, decay_steps=250, end_value=0.05, exponent=1.5),
    "cosine_restarts": lambda: osd.cosine_restarts(
        1.0, first_period=50, period_multiplier=1.5, peak_multiplier=0.8, end_value=0.01
    ),
    "cosine_restarts_equal": lambda: osd.cosine_restarts(1.0, first_period=50, end_value=0.01),
    "cyclic": lambda: osd.cyclic(0.1, 1.0, step_size_up=30, step_size_down=50),
    "cyclic_triangular2": lambda: osd.cyclic(0.1, 1.0, step_size_up=30, mode="triangular2"),
    "cyclic_exp_range": lambda: osd.cyclic(0.1, 1.0, step_size_up=30, mode="exp_range", gamma=0.99),
    "one_cycle": lambda: osd.one_cycle(1.0, total_steps=300, pct_start=0.3),
    "one_cycle_three_phase": lambda: osd.one_cycle(
        1.0, total_steps=300, pct_start=0.3, anneal_strategy="linear", three_phase=True
    ),
    "wsd": lambda: osd.wsd(1.0, warmup_steps=30, stable_steps=150, decay_steps=60, end_value=0.02),
    "wsd_cosine": lambda: osd.wsd(
        1.0, warmup_steps=30, stable_steps=150, decay_steps=60, warmup_shape="cosine", decay_shape="cosine"
    ),
    "rex": lambda: osd.rex(1.0, total_steps=250, end_value=0.01),
    "tanh_decay": lambda: osd.tanh_decay(1.0, decay_steps=250, end_value=0.01),
    "warmup": lambda: osd.warmup(osd.cosine(1.0, decay_steps=220, end_value=0.01), warmup_steps=30, init_value=0.01),
    "warmup_exponential": lambda: osd.warmup(
        osd.exponential(1.0, 50, 0.7), warmup_steps=30, init_value=0.01, shape="exponential"
    ),
    "warmup_constant": lambda: osd.warmup(osd.linear(1.0, 0.0, 200), warmup_steps=30, init_value=0.1, shape="constant"),
    "join": lambda: osd.join(
        [osd.linear(0.0, 1.0, 30), osd.constant(1.0), osd.cosine(1.0, 100, 0.1)], boundaries=[30, 120]
    ),
    "arithmetic": lambda: osd.cosine(1.0, 250) * 0.5 + osd.linear(0.0, 0.2, 100) - 0.01,
    "division": lambda: osd.cosine(1.0, 250) / 4.0,
    "clip": lambda: osd.clip(osd.cyclic(0.0, 1.0, 40), 0.2, 0.8),
    "min_max": lambda: osd.maximum(osd.minimum(osd.cosine(1.0, 250), osd.linear(0.0, 2.0, 250)), 0.05),
    "cycle": lambda: osd.cycle(osd.linear(1.0, 0.0, 70), period=70),
    "restarts": lambda: osd.restarts(
        osd.rex(1.0, 60), first_period=60, period_multiplier=1.5, peak_multiplier=0.7
    ),
    "shift": lambda: osd.shift(osd.cosine(1.0, 200), offset=25),
    "staircase": lambda: osd.staircase(osd.cosine(1.0, 250), step_size=20),
    # federated: a client schedule of (round, local step)
    "round_clock_across": lambda: osd.round_clock(osd.cosine(1.0, decay_steps=40, end_value=0.05), local_steps=7),
    "round_clock_within": lambda: osd.round_clock(osd.linear(1.0, 0.1, 9), local_steps=10, mode="within"),
    "from_function": lambda: osd.from_function(
        lambda t, p: p["peak"] * jnp.exp(-t / p["tau"]), {"peak": 1.0, "tau": 80.0}
    ),
    "nested": lambda: osd.warmup(
        osd.join([osd.constant(1.0), osd.cycle(osd.cosine(1.0, 40, 0.1), 40)], boundaries=[50]),
        warmup_steps=20,
    ),
    # coupled schedules (optax bridge): a schedule built from another schedule
    "coupled": lambda: osd.cycled_momentum(osd.one_cycle(1.0, total_steps=300, pct_start=0.3)),
    "coupled_weight_decay": lambda: osd.coupled_weight_decay(osd.cosine(1.0, 250, 0.01), 0.1),
    "coupled_weight_decay_proportional": lambda: osd.coupled_weight_decay(
        osd.cosine(1.0, 250, 0.01), 0.1, mode="proportional"
    ),
    "coupled_explicit": lambda: osd.coupled(osd.cyclic(0.1, 1.0, 40), 0.1, 0.3, base_min=0.1, base_max=1.0),
    "coupled_ema_decay": lambda: osd.coupled_ema_decay(
        osd.restarts(osd.cosine(1.0, 50), 50, period_multiplier=1.5, peak_multiplier=1.2)
    ),
    "coupled_temperature": lambda: osd.coupled_temperature(osd.warmup(osd.linear(1.0, 0.1, 200), 20)),
    # the family as a traced hyperparameter
    "switch": lambda: osd.switch([osd.cosine(1.0, 250), osd.wsd(1.0, 20, 150, 60)], 1),
    "clip_one_sided": lambda: osd.clip(osd.cosine(1.0, 250), min_value=0.1),
}

# Public constructors that CASES must exercise (checked by a test).
FAMILIES = [
    "constant", "linear", "polynomial", "exponential", "step_decay", "inverse_time", "inverse_sqrt",
    "piecewise_constant", "multistep", "piecewise_linear", "cosine", "cosine_restarts", "cyclic",
    "one_cycle", "wsd", "rex", "tanh_decay", "warmup", "join", "clip", "minimum", "maximum",
    "cycle", "restarts", "shift", "staircase", "from_function", "noam", "switch", "coupled",
    "cycled_momentum", "coupled_ema_decay", "coupled_temperature", "coupled_weight_decay",
]  # fmt: skip
