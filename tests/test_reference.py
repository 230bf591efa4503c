"""Every schedule family against an independent reference implementation.

References, in order of preference:

* PyTorch ``torch.optim.lr_scheduler``: a real scheduler drives a dummy SGD
  optimizer; ``optimizer.param_groups[0]["lr"]`` is read before each
  ``scheduler.step()``, 10,000 times (so PyTorch's own recursive "chainable"
  update formulas are what we compare against, rounding included).
* Keras 3 ``keras.optimizers.schedules`` (JAX backend), called on the whole
  step array at once. With JAX 64-bit mode on, Keras computes in float64
  (Python-float hyperparameters become float64 tensors), so its schedules are
  float64 references too.
* optax schedules (also evaluated in float64 under 64-bit mode).
* Formulas transcribed in plain Python ``math`` (a scalar float64 loop) where no
  installed library has the schedule: Hugging Face ``get_wsd_schedule`` and
  ``get_inverse_sqrt_schedule``, the Vaswani et al. (Noam) formula, REX, timm's
  ``TanhLRScheduler``; and, for the combinators, direct Python compositions of
  the inner schedules' own float64 values.

For every case, at least 20 random configurations (``numpy.random.default_rng``
with a seed fixed per case), plus some fixed edge configurations, are stacked
with ``osd.stack`` into one sweep and evaluated in ONE call on
``np.arange(10_000)`` (one compile per case). A family whose static options
(a mode string, a flag) differ cannot share one sweep: each static option gets
its own case.

Tolerances: float64 (built and evaluated inside ``jax.enable_x64(True)``, so the
rest of the session stays float32): relative 1e-6, plus an absolute 1e-12 times
the member's peak |value| so that values that reach exactly 0 (or underflow)
compare. float32 (one check per case, the first configurations with every float
hyperparameter rounded to float32 first, against the float64 reference of the
rounded configuration): relative 1e-5, plus an absolute 1e-6 times the peak
where values approach 0.

Note: this JAX (0.10) has no ``jax.experimental.enable_x64``; its replacement is
``jax.enable_x64(True)`` used as a context manager.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import warnings
import zlib
from collections.abc import Callable
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from torch.optim import lr_scheduler as torch_sched

import optasched as osd

keras = pytest.importorskip("keras")
keras_sched = keras.optimizers.schedules

NUM_STEPS = 10_000
STEPS = np.arange(NUM_STEPS)
NUM_RANDOM = 20
NUM_FLOAT32 = 4

RTOL64, ATOL64 = 1e-6, 1e-12
RTOL32, ATOL32 = 1e-5, 1e-6


def x64():
    """64-bit mode for construction AND evaluation (the rest stays float32)."""
    return jax.enable_x64(True)


# -- random configurations ------------------------------------------------------------


def loguniform(rng, low, high) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def uniform(rng, low, high) -> float:
    return float(rng.uniform(low, high))


def integer(rng, low, high) -> int:
    """An int in [low, high]."""
    return int(rng.integers(low, high + 1))


def distinct_sorted(rng, low, high, size) -> list[int]:
    return sorted(int(b) for b in rng.choice(np.arange(low, high + 1), size=size, replace=False))


def round_to_float32(cfg: Any) -> Any:
    """Every Python float in a configuration rounded to the nearest float32."""
    if isinstance(cfg, (bool, int, str)) or cfg is None:
        return cfg
    if isinstance(cfg, float):
        return float(np.float32(cfg))
    if isinstance(cfg, dict):
        return {k: round_to_float32(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(round_to_float32(v) for v in cfg)
    raise TypeError(f"unexpected config entry {cfg!r}")


# -- the cases ------------------------------------------------------------------------------


@dataclasses.dataclass
class Case:
    """One sweep: ``build`` makes an optasched schedule from a configuration,
    ``reference`` gives the float64 reference over STEPS (NaN where a step is
    not compared, such as past PyTorch OneCycleLR's ``total_steps``)."""

    name: str
    sample: Callable[[np.random.Generator], dict]
    build: Callable[[dict], osd.Schedule]
    reference: Callable[[dict], np.ndarray]
    fixed: list[dict] = dataclasses.field(default_factory=list)
    rtol64: float = RTOL64
    atol64: float = ATOL64
    atol32: float = ATOL32

    def configs(self) -> list[dict]:
        rng = np.random.default_rng(zlib.crc32(self.name.encode()))
        return [self.sample(rng) for _ in range(NUM_RANDOM)] + list(self.fixed)

    @functools.cached_property
    def expected64(self) -> tuple[list[dict], np.ndarray]:
        """The configurations and their references (shared by the float64 tests)."""
        cfgs = self.configs()
        return cfgs, self.references(cfgs)

    def references(self, cfgs) -> np.ndarray:
        with x64():
            rows = [np.asarray(self.reference(c), dtype=np.float64) for c in cfgs]
        for row in rows:
            assert row.shape == (NUM_STEPS,)
        return np.stack(rows)


CASES: list[Case] = []


def case(name, sample, build, reference, fixed=(), **tolerances):
    CASES.append(Case(name, sample, build, reference, list(fixed), **tolerances))


# -- PyTorch ----------------------------------------------------------------------------------


def torch_lrs(make_scheduler, lr=1.0, count=NUM_STEPS, key="lr") -> np.ndarray:
    """The learning rate (or, with ``key="momentum"``, the momentum) a real
    PyTorch scheduler sets before each of its steps.

    Values past ``count`` are NaN (not compared).
    """
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    optimizer = torch.optim.SGD([param], lr=lr, momentum=0.9)
    out = np.full(NUM_STEPS, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler = make_scheduler(optimizer)
        optimizer.step()  # no gradient: a no-op that marks the optimizer as stepped
        for i in range(min(count, NUM_STEPS)):
            if i:
                scheduler.step()
            out[i] = optimizer.param_groups[0][key]
    return out


case(
    "torch-StepLR",
    lambda r: {
        "init": loguniform(r, 1e-4, 1.0),
        "step_size": integer(r, 1, 3000),
        "gamma": uniform(r, 0.1, 0.99),
    },
    lambda c: osd.step_decay(c["init"], c["step_size"], c["gamma"]),
    lambda c: torch_lrs(lambda o: torch_sched.StepLR(o, c["step_size"], c["gamma"]), c["init"]),
    fixed=[
        {"init": 0.1, "step_size": 1, "gamma": 0.999},
        {"init": 0.1, "step_size": 1, "gamma": 0.5},  # underflows towards 0
        {"init": 0.3, "step_size": 10_000, "gamma": 0.1},
        {"init": 0.3, "step_size": 9_999, "gamma": 0.1},
    ],
)


def _multistep_sample(r):
    return {
        "init": loguniform(r, 1e-4, 1.0),
        "milestones": sorted(int(m) for m in r.integers(1, 12_000, 4)),
        "gamma": uniform(r, 0.05, 0.95),
    }


case(
    "torch-MultiStepLR",
    _multistep_sample,
    lambda c: osd.multistep(c["init"], c["milestones"], c["gamma"]),
    lambda c: torch_lrs(lambda o: torch_sched.MultiStepLR(o, c["milestones"], c["gamma"]), c["init"]),
    fixed=[
        {"init": 0.1, "milestones": [100, 100, 5000, 9999], "gamma": 0.1},  # repeated milestone: gamma^2
        {"init": 0.1, "milestones": [1, 2, 3, 10_000], "gamma": 0.5},
    ],
)

case(
    "torch-ExponentialLR",
    lambda r: {"init": loguniform(r, 1e-4, 1.0), "gamma": uniform(r, 0.95, 0.99999)},
    lambda c: osd.exponential(c["init"], transition_steps=1, decay_rate=c["gamma"]),
    lambda c: torch_lrs(lambda o: torch_sched.ExponentialLR(o, c["gamma"]), c["init"]),
    fixed=[{"init": 0.1, "gamma": 1.0}, {"init": 0.1, "gamma": 0.9}],
)


def _torch_cosine(c):
    values = torch_lrs(lambda o: torch_sched.CosineAnnealingLR(o, c["T_max"], c["eta_min"]), c["init"])
    values[STEPS > c["T_max"]] = np.nan  # PyTorch goes back up after T_max; we hold eta_min
    return values


case(
    "torch-CosineAnnealingLR",
    lambda r: {
        "init": loguniform(r, 1e-4, 1.0),
        "T_max": integer(r, 100, 40_000),
        "eta_min": 0.0 if r.uniform() < 0.3 else loguniform(r, 1e-7, 1e-4),
    },
    lambda c: osd.cosine(c["init"], c["T_max"], end_value=c["eta_min"]),
    _torch_cosine,
    fixed=[{"init": 0.1, "T_max": 10_000, "eta_min": 0.0}, {"init": 0.1, "T_max": 9_999, "eta_min": 1e-3}],
)

case(
    "torch-CosineAnnealingWarmRestarts",
    lambda r: {
        "init": loguniform(r, 1e-4, 1.0),
        "T_0": integer(r, 1, 3000),
        "T_mult": int(r.choice([1, 2, 3])),
        "eta_min": 0.0 if r.uniform() < 0.3 else loguniform(r, 1e-7, 1e-4),
    },
    lambda c: osd.cosine_restarts(
        c["init"], first_period=c["T_0"], period_multiplier=float(c["T_mult"]), end_value=c["eta_min"]
    ),
    lambda c: torch_lrs(
        lambda o: torch_sched.CosineAnnealingWarmRestarts(o, c["T_0"], c["T_mult"], c["eta_min"]), c["init"]
    ),
    fixed=[
        {"init": 0.1, "T_0": 1, "T_mult": 1, "eta_min": 0.0},
        {"init": 0.1, "T_0": 1, "T_mult": 2, "eta_min": 0.01},
        {"init": 0.1, "T_0": 10, "T_mult": 2, "eta_min": 0.0},
        {"init": 0.1, "T_0": 3, "T_mult": 3, "eta_min": 0.0},
    ],
)

for _mode in ("triangular", "triangular2", "exp_range"):

    def _cyclic_sample(r, mode=_mode):
        base = loguniform(r, 1e-4, 1e-2)
        low = 6 if mode == "triangular2" else 1  # PyTorch's 2.0 ** (cycle - 1) overflows past 1024 cycles
        return {
            "base": base,
            "max": base * uniform(r, 2.0, 100.0),
            "up": integer(r, low, 2000),
            "down": integer(r, low, 2000),
            "mode": mode,
            "gamma": uniform(r, 0.9995, 1.0) if mode == "exp_range" else 1.0,
        }

    case(
        f"torch-CyclicLR-{_mode}",
        _cyclic_sample,
        lambda c: osd.cyclic(c["base"], c["max"], c["up"], c["down"], c["mode"], c["gamma"]),
        lambda c: torch_lrs(
            lambda o: torch_sched.CyclicLR(
                o, c["base"], c["max"], c["up"], c["down"], c["mode"], c["gamma"], cycle_momentum=False
            )
        ),
        fixed=[
            {"base": 0.01, "max": 0.1, "up": 5, "down": 6, "mode": _mode, "gamma": 0.9999},
            {"base": 0.01, "max": 0.1, "up": 2000, "down": 0, "mode": _mode, "gamma": 0.9999},
            {"base": 0.01, "max": 0.1, "up": 3, "down": 7, "mode": _mode, "gamma": 0.9999},
        ],
    )

for _anneal in ("cos", "linear"):
    for _three in (False, True):

        def _one_cycle_sample(r, anneal=_anneal, three=_three):
            return {
                "max": loguniform(r, 1e-3, 1.0),
                "total": integer(r, 50, 20_000),
                "pct": uniform(r, 0.05, 0.45),
                "div": uniform(r, 2.0, 100.0),
                "final_div": loguniform(r, 10.0, 1e5),
                "anneal": anneal,
                "three": three,
            }

        def _torch_one_cycle(c):
            # PyTorch raises past total_steps (and extrapolates at it): compare steps < total_steps.
            return torch_lrs(
                lambda o: torch_sched.OneCycleLR(
                    o,
                    c["max"],
                    total_steps=c["total"],
                    pct_start=c["pct"],
                    anneal_strategy=c["anneal"],
                    cycle_momentum=False,
                    div_factor=c["div"],
                    final_div_factor=c["final_div"],
                    three_phase=c["three"],
                ),
                count=c["total"],
            )

        case(
            f"torch-OneCycleLR-{_anneal}-{'three' if _three else 'two'}_phase",
            _one_cycle_sample,
            lambda c: osd.one_cycle(
                c["max"], c["total"], c["pct"], c["div"], c["final_div"], c["anneal"], c["three"]
            ),
            _torch_one_cycle,
            fixed=[
                {
                    "max": 0.1,
                    "total": 10_000,
                    "pct": 0.3,
                    "div": 25.0,
                    "final_div": 1e4,
                    "anneal": _anneal,
                    "three": _three,
                },
                {
                    "max": 0.1,
                    "total": 12_345,
                    "pct": 0.25,
                    "div": 10.0,
                    "final_div": 100.0,
                    "anneal": _anneal,
                    "three": _three,
                },
            ],
        )

case(
    "torch-PolynomialLR",
    lambda r: {
        "init": loguniform(r, 1e-4, 1.0),
        "total_iters": integer(r, 1, 20_000),
        "power": uniform(r, 0.2, 4.0),
    },
    lambda c: osd.polynomial(c["init"], 0.0, c["power"], c["total_iters"]),
    lambda c: torch_lrs(lambda o: torch_sched.PolynomialLR(o, c["total_iters"], c["power"]), c["init"]),
    fixed=[{"init": 0.1, "total_iters": 10_000, "power": 1.0}, {"init": 0.1, "total_iters": 1, "power": 2.0}],
)

case(
    "torch-LinearLR",
    lambda r: {
        "init": loguniform(r, 1e-4, 1.0),
        "start": uniform(r, 0.01, 1.0),
        "end": uniform(r, 0.0, 1.0),
        "total_iters": integer(r, 1, 20_000),
    },
    lambda c: osd.linear(c["init"] * c["start"], c["init"] * c["end"], c["total_iters"]),
    lambda c: torch_lrs(lambda o: torch_sched.LinearLR(o, c["start"], c["end"], c["total_iters"]), c["init"]),
    fixed=[
        {"init": 0.1, "start": 1 / 3, "end": 1.0, "total_iters": 5},
        {"init": 0.1, "start": 1.0, "end": 0.0, "total_iters": 9_999},
    ],
)


# cycle_momentum=True: the momentum PyTorch cycles inversely to the learning rate is
# osd.cycled_momentum of the learning-rate schedule.
for _anneal, _three in (("cos", False), ("linear", True)):

    def _momentum_one_cycle_sample(r, anneal=_anneal, three=_three):
        base_m = uniform(r, 0.5, 0.9)
        return {
            "max": loguniform(r, 1e-3, 1.0),
            "total": integer(r, 50, 20_000),
            "pct": uniform(r, 0.05, 0.45),
            "div": uniform(r, 2.0, 100.0),
            "final_div": loguniform(r, 10.0, 1e5),
            "anneal": anneal,
            "three": three,
            "base_m": base_m,
            "max_m": uniform(r, base_m, 0.99),
        }

    case(
        f"torch-OneCycleLR-cycle_momentum-{_anneal}-{'three' if _three else 'two'}_phase",
        _momentum_one_cycle_sample,
        lambda c: osd.cycled_momentum(
            osd.one_cycle(c["max"], c["total"], c["pct"], c["div"], c["final_div"], c["anneal"], c["three"]),
            c["base_m"],
            c["max_m"],
        ),
        lambda c: torch_lrs(
            lambda o: torch_sched.OneCycleLR(
                o,
                c["max"],
                total_steps=c["total"],
                pct_start=c["pct"],
                anneal_strategy=c["anneal"],
                cycle_momentum=True,
                base_momentum=c["base_m"],
                max_momentum=c["max_m"],
                div_factor=c["div"],
                final_div_factor=c["final_div"],
                three_phase=c["three"],
            ),
            count=c["total"],
            key="momentum",
        ),
    )

for _mode in ("triangular2", "exp_range"):

    def _momentum_cyclic_sample(r, mode=_mode):
        base = loguniform(r, 1e-4, 1e-2)
        base_m = uniform(r, 0.5, 0.9)
        return {
            "base": base,
            "max": base * uniform(r, 2.0, 100.0),
            "up": integer(r, 6, 2000),
            "down": integer(r, 6, 2000),
            "mode": mode,
            "gamma": uniform(r, 0.9995, 1.0) if mode == "exp_range" else 1.0,
            "base_m": base_m,
            "max_m": uniform(r, base_m, 0.99),
        }

    case(
        f"torch-CyclicLR-cycle_momentum-{_mode}",
        _momentum_cyclic_sample,
        lambda c: osd.cycled_momentum(
            osd.cyclic(c["base"], c["max"], c["up"], c["down"], c["mode"], c["gamma"]),
            c["base_m"],
            c["max_m"],
        ),
        lambda c: torch_lrs(
            lambda o: torch_sched.CyclicLR(
                o,
                c["base"],
                c["max"],
                c["up"],
                c["down"],
                c["mode"],
                c["gamma"],
                cycle_momentum=True,
                base_momentum=c["base_m"],
                max_momentum=c["max_m"],
            ),
            key="momentum",
        ),
    )


# -- Keras ---------------------------------------------------------------------------------------


def keras_values(schedule) -> np.ndarray:
    values = np.asarray(schedule(STEPS))
    assert values.dtype == np.float64, "Keras must compute in float64 under 64-bit mode"
    return values


for _staircase in (False, True):
    case(
        f"keras-ExponentialDecay-staircase={_staircase}",
        lambda r, s=_staircase: {
            "init": loguniform(r, 1e-4, 1.0),
            "decay_steps": integer(r, 1, 3000),
            "rate": uniform(r, 0.1, 0.99),
            "staircase": s,
        },
        lambda c: osd.exponential(c["init"], c["decay_steps"], c["rate"], staircase=c["staircase"]),
        lambda c: keras_values(
            keras_sched.ExponentialDecay(c["init"], c["decay_steps"], c["rate"], c["staircase"])
        ),
        fixed=[
            {"init": 0.1, "decay_steps": 1, "rate": 0.999, "staircase": _staircase},
            {"init": 0.1, "decay_steps": 7, "rate": 1.0001, "staircase": _staircase},
        ],
    )
    case(
        f"keras-InverseTimeDecay-staircase={_staircase}",
        lambda r, s=_staircase: {
            "init": loguniform(r, 1e-4, 1.0),
            "decay_steps": integer(r, 1, 3000),
            "rate": loguniform(r, 0.01, 5.0),
            "staircase": s,
        },
        lambda c: osd.inverse_time(c["init"], c["decay_steps"], c["rate"], staircase=c["staircase"]),
        lambda c: keras_values(
            keras_sched.InverseTimeDecay(c["init"], c["decay_steps"], c["rate"], c["staircase"])
        ),
        fixed=[
            {"init": 0.1, "decay_steps": 1, "rate": 1.0, "staircase": _staircase},
            {"init": 0.1, "decay_steps": 9_999, "rate": 0.0, "staircase": _staircase},
        ],
    )

for _cycle in (False, True):
    case(
        f"keras-PolynomialDecay-cycle={_cycle}",
        lambda r, cyc=_cycle: {
            "init": loguniform(r, 1e-4, 1.0),
            "decay_steps": integer(r, 1, 20_000),
            "end_frac": uniform(r, 0.0, 0.5),
            "power": uniform(r, 0.2, 4.0),
            "cycle": cyc,
        },
        lambda c: osd.polynomial(
            c["init"], c["init"] * c["end_frac"], c["power"], c["decay_steps"], cycle=c["cycle"]
        ),
        lambda c: keras_values(
            keras_sched.PolynomialDecay(
                c["init"], c["decay_steps"], c["init"] * c["end_frac"], c["power"], c["cycle"]
            )
        ),
        fixed=[
            {"init": 0.1, "decay_steps": 1, "end_frac": 0.1, "power": 1.0, "cycle": _cycle},
            {"init": 0.1, "decay_steps": 1000, "end_frac": 0.0, "power": 0.5, "cycle": _cycle},
        ],
    )

# Keras computes its cosine in float32 even in 64-bit mode (keras.ops.cos casts to
# keras result_type(float64, float), which is float32), so the Keras cosine schedules
# are compared within 1e-5 relative (plus 1e-6 of the peak, for float32 cosines near
# -1); their code transcribed into NumPy float64 is compared within 1e-6.
KERAS_FLOAT32_COSINE = {"rtol64": 1e-5, "atol64": 1e-6}


def _keras_cosine_sample(r):
    return {
        "init": loguniform(r, 1e-4, 1.0),
        "decay_steps": integer(r, 1, 20_000),
        "alpha": uniform(r, 0.0, 0.5),
    }


def keras_cosine_decay_float64(c):
    """keras CosineDecay.__call__ (no warmup) in NumPy float64."""
    step = np.minimum(STEPS.astype(np.float64), float(c["decay_steps"]))
    cosine_decayed = 0.5 * (1.0 + np.cos(np.pi * (step / c["decay_steps"])))
    return c["init"] * ((1 - c["alpha"]) * cosine_decayed + c["alpha"])


_COSINE_DECAY_FIXED = [
    {"init": 0.1, "decay_steps": 1, "alpha": 0.0},
    {"init": 0.1, "decay_steps": 10_000, "alpha": 0.0},
]
case(
    "keras-CosineDecay",
    _keras_cosine_sample,
    lambda c: osd.cosine(c["init"], c["decay_steps"], end_value=c["alpha"] * c["init"]),
    lambda c: np.asarray(
        keras_sched.CosineDecay(c["init"], c["decay_steps"], c["alpha"])(STEPS), dtype=np.float64
    ),
    fixed=_COSINE_DECAY_FIXED,
    **KERAS_FLOAT32_COSINE,
)
case(
    "keras-CosineDecay-float64-transcription",
    _keras_cosine_sample,
    lambda c: osd.cosine(c["init"], c["decay_steps"], end_value=c["alpha"] * c["init"]),
    keras_cosine_decay_float64,
    fixed=_COSINE_DECAY_FIXED,
)


def _restarts_sample(r):
    t_mul = [1.0, 1.5, 2.0, uniform(r, 1.0, 3.0)][integer(r, 0, 3)]
    return {
        "init": loguniform(r, 1e-4, 1.0),
        "first": integer(r, 1, 3000),
        "t_mul": t_mul,
        "m_mul": uniform(r, 0.3, 1.0),
        "alpha": uniform(r, 0.0, 0.3),
    }


def keras_cosine_restarts_float64(c):
    """keras CosineDecayRestarts.__call__ in NumPy float64."""
    first, t_mul, m_mul, alpha = float(c["first"]), c["t_mul"], c["m_mul"], c["alpha"]
    completed_fraction = STEPS / first
    if t_mul == 1.0:
        i_restart = np.floor(completed_fraction)
        completed_fraction = completed_fraction - i_restart
    else:
        i_restart = np.floor(np.log(1.0 - completed_fraction * (1.0 - t_mul)) / np.log(t_mul))
        sum_r = (1.0 - t_mul**i_restart) / (1.0 - t_mul)
        completed_fraction = (completed_fraction - sum_r) / t_mul**i_restart
    cosine_decayed = 0.5 * m_mul**i_restart * (1.0 + np.cos(np.pi * completed_fraction))
    return c["init"] * ((1 - alpha) * cosine_decayed + alpha)


_COSINE_RESTARTS_FIXED = [
    {"init": 0.1, "first": 1, "t_mul": 1.0, "m_mul": 0.9, "alpha": 0.0},
    {"init": 0.1, "first": 100, "t_mul": 1.0, "m_mul": 1.0, "alpha": 0.1},
    {"init": 0.1, "first": 100, "t_mul": 1.5, "m_mul": 0.8, "alpha": 0.0},
    {"init": 0.1, "first": 10, "t_mul": 2.0, "m_mul": 1.0, "alpha": 0.0},
]
case(
    "keras-CosineDecayRestarts",
    _restarts_sample,
    lambda c: osd.cosine_restarts(
        c["init"], c["first"], c["t_mul"], c["m_mul"], end_value=c["alpha"] * c["init"]
    ),
    lambda c: np.asarray(
        keras_sched.CosineDecayRestarts(c["init"], c["first"], c["t_mul"], c["m_mul"], c["alpha"])(STEPS),
        dtype=np.float64,
    ),
    fixed=_COSINE_RESTARTS_FIXED,
    **KERAS_FLOAT32_COSINE,
)
case(
    "keras-CosineDecayRestarts-float64-transcription",
    _restarts_sample,
    lambda c: osd.cosine_restarts(
        c["init"], c["first"], c["t_mul"], c["m_mul"], end_value=c["alpha"] * c["init"]
    ),
    keras_cosine_restarts_float64,
    fixed=_COSINE_RESTARTS_FIXED,
)


def keras_piecewise_to_osd(boundaries, values):
    """Keras ``PiecewiseConstantDecay(boundaries, values)`` is ``values[i + 1]`` for
    ``boundaries[i] < t <= boundaries[i + 1]``: it switches one step AFTER each
    boundary. optasched's ``piecewise_constant`` switches AT each boundary and takes
    relative scales, so the mapping is boundaries ``b + 1`` and scales
    ``values[i + 1] / values[i]``.
    """
    return osd.piecewise_constant(
        values[0], [b + 1 for b in boundaries], [values[i + 1] / values[i] for i in range(len(boundaries))]
    )


case(
    "keras-PiecewiseConstantDecay",
    lambda r: {
        "boundaries": distinct_sorted(r, 0, 11_000, 4),
        "values": [loguniform(r, 1e-4, 1.0) for _ in range(5)],
    },
    lambda c: keras_piecewise_to_osd(c["boundaries"], c["values"]),
    lambda c: keras_values(keras_sched.PiecewiseConstantDecay(c["boundaries"], c["values"])),
    fixed=[{"boundaries": [0, 1, 2, 9_999], "values": [0.1, 0.2, 0.05, 0.3, 0.01]}],
)


# -- optax -----------------------------------------------------------------------------------------


def optax_values(schedule, exact_steps=()) -> np.ndarray:
    """An optax schedule over STEPS (vmapped: some optax schedules take scalars only).

    ``exact_steps`` are recomputed one Python int at a time. XLA:CPU divides an
    array by a broadcast scalar through its reciprocal, so optax's staircase
    ``floor(count / T)`` comes out one short at some exact multiples
    (``1807 * (1 / 1807) = 0.9999999999999999``): the reference, not optasched
    (exact integer division), is wrong there. With a Python int count optax
    divides in Python, exactly.
    """
    values = np.array(jax.vmap(schedule)(jnp.asarray(STEPS)), dtype=np.float64)
    for t in exact_steps:
        values[t] = float(schedule(int(t)))
    return values


def staircase_jumps(begin, period) -> np.ndarray:
    """Steps t > begin with (t - begin) a multiple of period: where a staircase jumps."""
    return np.arange(begin + period, NUM_STEPS, period)


case(
    "optax-constant_schedule",
    lambda r: {"value": loguniform(r, 1e-5, 10.0)},
    lambda c: osd.constant(c["value"]),
    lambda c: optax_values(optax.constant_schedule(c["value"])),
)

case(
    "optax-linear_schedule",
    lambda r: {
        "init": uniform(r, -1.0, 1.0),
        "end": uniform(r, -1.0, 1.0),
        "T": integer(r, 1, 20_000),
        "begin": integer(r, 0, 3000),
    },
    lambda c: osd.linear(c["init"], c["end"], c["T"], c["begin"]),
    lambda c: optax_values(optax.linear_schedule(c["init"], c["end"], c["T"], c["begin"])),
    fixed=[
        {"init": 1.0, "end": 0.0, "T": 1, "begin": 0},
        {"init": 0.0, "end": 1.0, "T": 10_000, "begin": 9_999},
    ],
)

case(
    "optax-polynomial_schedule",
    lambda r: {
        "init": loguniform(r, 1e-4, 1.0),
        "end": loguniform(r, 1e-6, 1e-2),
        "power": uniform(r, 0.2, 4.0),
        "T": integer(r, 1, 20_000),
        "begin": integer(r, 0, 3000),
    },
    lambda c: osd.polynomial(c["init"], c["end"], c["power"], c["T"], c["begin"]),
    lambda c: optax_values(optax.polynomial_schedule(c["init"], c["end"], c["power"], c["T"], c["begin"])),
    fixed=[{"init": 0.1, "end": 1.0, "power": 2.0, "T": 5_000, "begin": 100}],
)


def _exponential_sample(r, staircase, with_end):
    grow = r.uniform() < 0.25
    init = loguniform(r, 1e-4, 1.0)
    rate = uniform(r, 1.0001, 1.002) if grow else uniform(r, 0.1, 0.99)
    end = (init * uniform(r, 1.5, 10.0) if grow else init * uniform(r, 0.001, 0.5)) if with_end else None
    return {
        "init": init,
        "T": integer(r, 1, 3000),
        "rate": rate,
        "begin": integer(r, 0, 3000),
        "staircase": staircase,
        "end": end,
    }


for _staircase, _with_end in ((False, True), (True, True), (False, False)):
    case(
        f"optax-exponential_decay-staircase={_staircase}-end_value={_with_end}",
        lambda r, s=_staircase, e=_with_end: _exponential_sample(r, s, e),
        lambda c: osd.exponential(c["init"], c["T"], c["rate"], c["begin"], c["staircase"], c["end"]),
        lambda c: optax_values(
            optax.exponential_decay(c["init"], c["T"], c["rate"], c["begin"], c["staircase"], c["end"]),
            staircase_jumps(c["begin"], c["T"]) if c["staircase"] else (),
        ),
    )

case(
    "optax-cosine_decay_schedule",
    lambda r: {
        "init": loguniform(r, 1e-4, 1.0),
        "decay_steps": integer(r, 1, 20_000),
        "alpha": uniform(r, 0.0, 0.5),
        "exponent": uniform(r, 0.5, 3.0),
    },
    lambda c: osd.cosine(c["init"], c["decay_steps"], c["alpha"] * c["init"], c["exponent"]),
    lambda c: optax_values(
        optax.cosine_decay_schedule(c["init"], c["decay_steps"], c["alpha"], c["exponent"])
    ),
    fixed=[{"init": 0.1, "decay_steps": 10_000, "alpha": 0.0, "exponent": 1.0}],
)

case(
    "optax-piecewise_constant_schedule",
    lambda r: {
        "init": loguniform(r, 1e-4, 1.0),
        "boundaries": distinct_sorted(r, 0, 11_000, 4),
        "scales": [uniform(r, 0.1, 2.0) for _ in range(4)],
    },
    lambda c: osd.piecewise_constant(c["init"], c["boundaries"], c["scales"]),
    lambda c: optax_values(
        optax.piecewise_constant_schedule(c["init"], dict(zip(c["boundaries"], c["scales"])))
    ),
    fixed=[{"init": 0.1, "boundaries": [0, 1, 5000, 9_999], "scales": [0.5, 2.0, 0.1, 0.0]}],
)

for _interpolation in ("linear", "cosine"):

    def _interpolate_osd(c):
        # optax takes multiplicative scales at each boundary (from 0): absolute knots are their products.
        values = np.cumprod([c["init"], *c["scales"]]).tolist()
        return osd.piecewise_linear([0, *c["boundaries"]], values, c["interpolation"])

    case(
        f"optax-piecewise_interpolate_schedule-{_interpolation}",
        lambda r, i=_interpolation: {
            "init": loguniform(r, 1e-4, 1.0),
            "boundaries": distinct_sorted(r, 1, 12_000, 4),
            "scales": [uniform(r, 0.2, 3.0) for _ in range(4)],
            "interpolation": i,
        },
        _interpolate_osd,
        lambda c: optax_values(
            optax.piecewise_interpolate_schedule(
                c["interpolation"], c["init"], dict(zip(c["boundaries"], c["scales"]))
            )
        ),
        fixed=[
            {
                "init": 0.1,
                "boundaries": [1, 2, 5000, 9_999],
                "scales": [10.0, 0.5, 0.1, 0.0],
                "interpolation": _interpolation,
            }
        ],
    )


def _warmup_cosine_sample(r):
    warm = integer(r, 0, 3000)
    return {
        "init": loguniform(r, 1e-6, 1e-3),
        "peak": loguniform(r, 1e-3, 1.0),
        "warmup": warm,
        "decay_steps": warm + integer(r, 1, 15_000),
        "end": loguniform(r, 1e-7, 1e-4),
        "exponent": uniform(r, 0.5, 3.0),
    }


case(
    "optax-warmup_cosine_decay_schedule",
    _warmup_cosine_sample,
    lambda c: osd.warmup(
        osd.cosine(c["peak"], c["decay_steps"] - c["warmup"], c["end"], c["exponent"]), c["warmup"], c["init"]
    ),
    lambda c: optax_values(
        optax.warmup_cosine_decay_schedule(
            c["init"], c["peak"], c["warmup"], c["decay_steps"], c["end"], c["exponent"]
        )
    ),
    fixed=[
        {"init": 0.0, "peak": 0.1, "warmup": 0, "decay_steps": 10_000, "end": 0.0, "exponent": 1.0},
        {"init": 0.0, "peak": 0.1, "warmup": 1, "decay_steps": 2, "end": 0.01, "exponent": 1.0},
    ],
)

for _staircase in (False, True):
    case(
        f"optax-warmup_exponential_decay_schedule-staircase={_staircase}",
        lambda r, s=_staircase: {
            "init": loguniform(r, 1e-6, 1e-3),
            "peak": loguniform(r, 1e-3, 1.0),
            "warmup": integer(r, 0, 3000),
            "T": integer(r, 1, 3000),
            "rate": uniform(r, 0.1, 0.99),
            "begin": integer(r, 0, 2000),
            "staircase": s,
            "end_frac": uniform(r, 0.001, 0.5),
        },
        lambda c: osd.warmup(
            osd.exponential(
                c["peak"], c["T"], c["rate"], c["begin"], c["staircase"], c["peak"] * c["end_frac"]
            ),
            c["warmup"],
            c["init"],
        ),
        lambda c: optax_values(
            optax.warmup_exponential_decay_schedule(
                c["init"],
                c["peak"],
                c["warmup"],
                c["T"],
                c["rate"],
                c["begin"],
                c["staircase"],
                c["peak"] * c["end_frac"],
            ),
            staircase_jumps(c["warmup"] + c["begin"], c["T"]) if c["staircase"] else (),
        ),
    )


def _join_sample(r):
    b1, b2 = distinct_sorted(r, 0, 10_500, 2)
    return {
        "lin": [uniform(r, 0.0, 0.1), uniform(r, 0.1, 1.0), integer(r, 1, 5000)],
        "cos": [loguniform(r, 1e-3, 1.0), integer(r, 1, 10_000), uniform(r, 0.0, 0.5), uniform(r, 0.5, 2.0)],
        "exp": [loguniform(r, 1e-3, 1.0), integer(r, 1, 3000), uniform(r, 0.1, 0.99)],
        "boundaries": [b1, b2],
    }


def _join_optax(c):
    (a, b, t), (p, d, alpha, e), (i, k, g) = c["lin"], c["cos"], c["exp"]
    return optax_values(
        optax.join_schedules(
            [
                optax.linear_schedule(a, b, t),
                optax.cosine_decay_schedule(p, d, alpha, e),
                optax.exponential_decay(i, k, g),
            ],
            c["boundaries"],
        )
    )


def _join_osd(c):
    (a, b, t), (p, d, alpha, e), (i, k, g) = c["lin"], c["cos"], c["exp"]
    return osd.join(
        [osd.linear(a, b, t), osd.cosine(p, d, alpha * p, e), osd.exponential(i, k, g)], c["boundaries"]
    )


case(
    "optax-join_schedules",
    _join_sample,
    _join_osd,
    _join_optax,
    fixed=[
        {"lin": [0.0, 1.0, 10], "cos": [1.0, 100, 0.0, 1.0], "exp": [0.5, 10, 0.5], "boundaries": [0, 0]},
        {"lin": [0.0, 1.0, 10], "cos": [1.0, 100, 0.0, 1.0], "exp": [0.5, 10, 0.5], "boundaries": [5, 9_999]},
    ],
)


def _sgdr_sample(r):
    pieces = []
    for _ in range(3):
        warm = integer(r, 0, 1000)
        pieces.append(
            {
                "init_value": loguniform(r, 1e-6, 1e-3),
                "peak_value": loguniform(r, 1e-3, 1.0),
                "warmup_steps": warm,
                "decay_steps": warm + integer(r, 1, 5000),
                "end_value": loguniform(r, 1e-7, 1e-4),
                "exponent": uniform(r, 0.5, 2.0),
            }
        )
    return {"pieces": pieces}


def _sgdr_osd(c):
    pieces = [
        osd.warmup(
            osd.cosine(p["peak_value"], p["decay_steps"] - p["warmup_steps"], p["end_value"], p["exponent"]),
            p["warmup_steps"],
            p["init_value"],
        )
        for p in c["pieces"]
    ]
    return osd.join(pieces, np.cumsum([p["decay_steps"] for p in c["pieces"]])[:-1].tolist())


case(
    "optax-sgdr_schedule-as-join",
    _sgdr_sample,
    _sgdr_osd,
    lambda c: optax_values(optax.sgdr_schedule(c["pieces"])),
)


def _sgdr_restarts_sample(r):
    # first >= 300 keeps the optax side (one join piece per cycle) under 35 pieces.
    return {
        "init": loguniform(r, 1e-3, 1.0),
        "first": integer(r, 300, 3000),
        "mult": int(r.choice([1, 2, 3])),
        "mu": uniform(r, 0.3, 1.0),
        "end": 0.0 if r.uniform() < 0.3 else loguniform(r, 1e-7, 1e-4),
    }


def _sgdr_restarts_optax(c):
    """SGDR with no warmup, cycle i of T0 m^i steps and peak E + (I - E) mu^i, all
    decaying to E, is ``cosine_restarts(I, T0, m, mu, E)``."""
    pieces, covered, i = [], 0, 0
    while covered <= NUM_STEPS:
        length = c["first"] * c["mult"] ** i
        peak = c["end"] + (c["init"] - c["end"]) * c["mu"] ** i
        pieces.append(
            {
                "init_value": peak,
                "peak_value": peak,
                "warmup_steps": 0,
                "decay_steps": length,
                "end_value": c["end"],
            }
        )
        covered, i = covered + length, i + 1
    return optax_values(optax.sgdr_schedule(pieces))


case(
    "optax-sgdr_schedule-as-cosine_restarts",
    _sgdr_restarts_sample,
    lambda c: osd.cosine_restarts(c["init"], c["first"], float(c["mult"]), c["mu"], c["end"]),
    _sgdr_restarts_optax,
    fixed=[
        {"init": 0.1, "first": 100, "mult": 1, "mu": 0.99, "end": 0.0},
        {"init": 0.1, "first": 10, "mult": 2, "mu": 1.0, "end": 0.0},
    ],
)


# -- formulas written out (papers, Hugging Face, timm) --------------------------------------------------


def scalar_loop(f) -> np.ndarray:
    return np.array([f(t) for t in range(NUM_STEPS)], dtype=np.float64)


def hf_wsd_lambda(step, W, S, D, warmup_type, decay_type, min_lr_ratio):
    """transformers.optimization._get_wsd_scheduler_lambda (num_cycles=0.5)."""
    if step < W:
        progress = float(step) / float(max(1, W))
        if warmup_type == "linear":
            factor = progress
        elif warmup_type == "cosine":
            factor = 0.5 * (1.0 - math.cos(math.pi * progress))
        else:
            factor = 1.0 - math.sqrt(1.0 - progress)
        factor = factor * (1.0 - min_lr_ratio) + min_lr_ratio
        return max(0.0, factor)
    if step < W + S:
        return 1.0
    if step < W + S + D:
        progress = float(step - W - S) / float(max(1, D))
        if decay_type == "linear":
            factor = 1.0 - progress
        elif decay_type == "cosine":
            factor = 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress))
        else:
            factor = 1.0 - math.sqrt(progress)
        factor = factor * (1.0 - min_lr_ratio) + min_lr_ratio
        return max(0.0, factor)
    return min_lr_ratio


for _warm_shape, _decay_shape in (("linear", "1-sqrt"), ("cosine", "linear"), ("1-sqrt", "cosine")):
    case(
        f"hf-wsd-{_warm_shape}-{_decay_shape}",
        lambda r, ws=_warm_shape, ds=_decay_shape: {
            "peak": loguniform(r, 1e-4, 1.0),
            "W": integer(r, 0, 3000),
            "S": integer(r, 0, 5000),
            "D": integer(r, 0, 5000),
            "ratio": uniform(r, 0.0, 0.3),
            "ws": ws,
            "ds": ds,
        },
        lambda c: osd.wsd(c["peak"], c["W"], c["S"], c["D"], c["ratio"] * c["peak"], c["ws"], c["ds"]),
        lambda c: (
            c["peak"]
            * scalar_loop(lambda t: hf_wsd_lambda(t, c["W"], c["S"], c["D"], c["ws"], c["ds"], c["ratio"]))
        ),
        fixed=[
            {"peak": 0.1, "W": 0, "S": 0, "D": 10_000, "ratio": 0.0, "ws": _warm_shape, "ds": _decay_shape},
            {"peak": 0.1, "W": 1, "S": 0, "D": 0, "ratio": 0.1, "ws": _warm_shape, "ds": _decay_shape},
            {"peak": 0.1, "W": 1000, "S": 8000, "D": 1, "ratio": 0.01, "ws": _warm_shape, "ds": _decay_shape},
        ],
    )


def hf_inverse_sqrt_lambda(step, W, timescale):
    """transformers.optimization._get_inverse_sqrt_schedule_lr_lambda."""
    if step < W:
        return float(step) / float(max(1, W))
    shift = timescale - W
    return 1.0 / math.sqrt((step + shift) / timescale)


case(
    "hf-inverse_sqrt",
    lambda r: {"peak": loguniform(r, 1e-4, 1.0), "W": integer(r, 0, 3000), "timescale": integer(r, 1, 5000)},
    lambda c: osd.inverse_sqrt(c["peak"], c["W"], c["timescale"]),
    lambda c: c["peak"] * scalar_loop(lambda t: hf_inverse_sqrt_lambda(t, c["W"], c["timescale"])),
    fixed=[{"peak": 0.1, "W": 0, "timescale": 1}, {"peak": 0.1, "W": 1, "timescale": 10_000}],
)


def _vaswani(c):
    """lr = scale * d_model^-0.5 * min(t^-0.5, t * W^-1.5), for t >= 1 (t = 0 is not compared)."""
    d, w, s = c["d_model"], c["W"], c["scale"]
    values = scalar_loop(lambda t: s * d**-0.5 * min(t**-0.5, t * w**-1.5) if t >= 1 else math.nan)
    return values


case(
    "vaswani-noam",
    lambda r: {"d_model": integer(r, 64, 4096), "W": integer(r, 1, 8000), "scale": uniform(r, 0.1, 3.0)},
    lambda c: osd.noam(c["d_model"], c["W"], c["scale"]),
    _vaswani,
    fixed=[{"d_model": 512, "W": 4000, "scale": 1.0}, {"d_model": 512, "W": 1, "scale": 1.0}],
)


def _rex(c):
    I, T, E = c["init"], c["T"], c["end"]

    def f(t):
        z = min(t / T, 1.0)
        return E + (I - E) * (1.0 - z) / (0.5 + 0.5 * (1.0 - z))

    return scalar_loop(f)


case(
    "paper-rex",
    lambda r: {
        "init": loguniform(r, 1e-4, 1.0),
        "T": integer(r, 1, 20_000),
        "end": loguniform(r, 1e-7, 1e-4),
    },
    lambda c: osd.rex(c["init"], c["T"], c["end"]),
    _rex,
    fixed=[{"init": 0.1, "T": 10_000, "end": 0.0}],
)


def _timm_tanh(c):
    """timm.scheduler.TanhLRScheduler (one cycle, t_in_epochs): for t < T,
    lr_min + 0.5 (lr_max - lr_min) (1 - tanh(lb (1 - t/T) + ub t/T)); lr_min after."""
    lr_max, T, lr_min, lb, ub = c["init"], c["T"], c["end"], c["lb"], c["ub"]

    def f(t):
        if t >= T:
            return lr_min
        tr = t / T
        return lr_min + 0.5 * (lr_max - lr_min) * (1 - math.tanh(lb * (1.0 - tr) + ub * tr))

    return scalar_loop(f)


case(
    "timm-tanh_decay",
    lambda r: {
        "init": loguniform(r, 1e-4, 1.0),
        "T": integer(r, 1, 20_000),
        "end": loguniform(r, 1e-7, 1e-4),
        "lb": uniform(r, -10.0, -1.0),
        "ub": uniform(r, 1.0, 6.0),
    },
    lambda c: osd.tanh_decay(c["init"], c["T"], c["end"], c["lb"], c["ub"]),
    _timm_tanh,
    fixed=[{"init": 0.1, "T": 10_000, "end": 0.0, "lb": -7.0, "ub": 3.0}],
)


# -- combinators against Python compositions of the inner schedules' own float64 values -----------------


@jax.jit
def _evaluate(schedule, steps):
    return schedule(steps)


def inner_values(schedule, steps) -> np.ndarray:
    """An (unbatched) float64 schedule's own values at arbitrary (float) steps
    (jitted: one compile serves every configuration of a case)."""
    values = np.asarray(_evaluate(schedule, jnp.asarray(steps)))
    assert values.dtype == np.float64
    return values


def _cosine_inner(c):
    return osd.cosine(c["peak"], c["D"], c["end"], c["exponent"])


def _cosine_inner_sample(r):
    return {
        "peak": loguniform(r, 1e-3, 1.0),
        "D": integer(r, 1, 12_000),
        "end": loguniform(r, 1e-7, 1e-4),
        "exponent": uniform(r, 0.5, 2.0),
    }


for _shape in ("linear", "cosine", "exponential", "constant"):

    def _warmup_reference(c):
        inner = _cosine_inner(c)
        W, init = c["W"], c["init"]
        target = float(inner_values(inner, 0))
        after = inner_values(inner, np.maximum(STEPS - W, 0))
        p = np.minimum(STEPS / max(W, 1), 1.0)
        if c["shape"] == "linear":
            rising = init + (target - init) * p
        elif c["shape"] == "cosine":
            rising = init + (target - init) * 0.5 * (1.0 - np.cos(np.pi * p))
        elif c["shape"] == "exponential":
            rising = init * (target / init) ** p
        else:
            rising = np.full(NUM_STEPS, init)
        return np.where(STEPS < W, rising, after)

    case(
        f"combinator-warmup-{_shape}",
        lambda r, s=_shape: {
            **_cosine_inner_sample(r),
            "W": integer(r, 0, 5000),
            "init": loguniform(r, 1e-6, 1e-3),
            "shape": s,
        },
        lambda c: osd.warmup(_cosine_inner(c), c["W"], c["init"], c["shape"]),
        _warmup_reference,
        fixed=[
            {"peak": 0.1, "D": 100, "end": 0.0, "exponent": 1.0, "W": 1, "init": 1e-3, "shape": _shape},
            {"peak": 0.1, "D": 100, "end": 0.0, "exponent": 1.0, "W": 9_999, "init": 1e-3, "shape": _shape},
        ],
    )


def _restarts_inner(c):
    return osd.polynomial(c["init"], c["end"], c["power"], c["T"])


def _restarts_reference(c):
    """Cycle i covers [start_i, start_i + T0 m^i), found by walking the cycles (no logs);
    the inner schedule replays its first T0 steps stretched to the cycle's length."""
    T0, m, mu = c["first"], c["mult"], c["mu"]
    starts, lengths, start, i = [], [], 0.0, 0
    while start <= NUM_STEPS:
        length = T0 * m**i
        starts.append(start)
        lengths.append(length)
        start, i = T0 * (m ** (i + 1) - 1) / (m - 1) if m != 1 else T0 * (i + 1), i + 1
    starts, lengths = np.array(starts), np.array(lengths)
    index = np.searchsorted(starts, STEPS, side="right") - 1
    stretched = (STEPS - starts[index]) * T0 / lengths[index]
    return mu ** index.astype(np.float64) * inner_values(_restarts_inner(c), stretched)


case(
    "combinator-restarts",
    lambda r: {
        "init": loguniform(r, 1e-3, 1.0),
        "end": loguniform(r, 1e-6, 1e-4),
        "power": uniform(r, 0.5, 3.0),
        "T": integer(r, 1, 4000),
        "first": integer(r, 1, 3000),
        "mult": [1.0, 1.5, 2.0, uniform(r, 1.0, 2.5)][integer(r, 0, 3)],
        "mu": uniform(r, 0.3, 1.0),
    },
    lambda c: osd.restarts(_restarts_inner(c), c["first"], c["mult"], c["mu"]),
    _restarts_reference,
    fixed=[
        {"init": 0.1, "end": 0.0, "power": 1.0, "T": 10, "first": 1, "mult": 1.0, "mu": 0.999},
        {"init": 0.1, "end": 0.0, "power": 1.0, "T": 100, "first": 8, "mult": 1.5, "mu": 0.9},
    ],
)

case(
    "combinator-cycle",
    lambda r: {
        "init": loguniform(r, 1e-3, 1.0),
        "end": loguniform(r, 1e-6, 1e-4),
        "power": uniform(r, 0.5, 3.0),
        "T": integer(r, 1, 4000),
        "period": integer(r, 1, 3000),
    },
    lambda c: osd.cycle(_restarts_inner(c), c["period"]),
    lambda c: inner_values(_restarts_inner(c), STEPS % c["period"]),
    fixed=[
        {"init": 0.1, "end": 0.0, "power": 1.0, "T": 10, "period": 1},
        {"init": 0.1, "end": 0.0, "power": 1.0, "T": 10, "period": 9_999},
    ],
)

case(
    "combinator-shift",
    lambda r: {**_cosine_inner_sample(r), "offset": integer(r, -5000, 5000)},
    lambda c: osd.shift(_cosine_inner(c), c["offset"]),
    lambda c: inner_values(_cosine_inner(c), np.maximum(STEPS - c["offset"], 0)),
)

case(
    "combinator-staircase",
    lambda r: {**_cosine_inner_sample(r), "k": integer(r, 1, 2000)},
    lambda c: osd.staircase(_cosine_inner(c), c["k"]),
    lambda c: inner_values(_cosine_inner(c), STEPS // c["k"] * c["k"]),
    fixed=[{"peak": 0.1, "D": 100, "end": 0.0, "exponent": 1.0, "k": 1}],
)


def _clip_sample(r):
    s = _cosine_inner_sample(r)
    lo, hi = sorted([uniform(r, 0.0, s["peak"]), uniform(r, 0.0, s["peak"])])
    return {**s, "lo": lo, "hi": hi}


case(
    "combinator-clip",
    _clip_sample,
    lambda c: osd.clip(_cosine_inner(c), c["lo"], c["hi"]),
    lambda c: np.minimum(np.maximum(inner_values(_cosine_inner(c), STEPS), c["lo"]), c["hi"]),
)


def _arithmetic_sample(r):
    return {
        **_cosine_inner_sample(r),
        "lin": [uniform(r, 0.0, 1.0), uniform(r, 0.0, 1.0), integer(r, 1, 15_000)],
        "c": [uniform(r, -2.0, 2.0) for _ in range(5)],
    }


def _arithmetic_osd(c):
    s1, s2 = _cosine_inner(c), osd.linear(*c["lin"])
    c0, c1, c2, c3, c4 = c["c"]
    expr = osd.minimum(-(c0 * s1) + s2 * c1 - c2, s1 + c3) / 3.0
    return osd.maximum(expr + (c4 - s2), osd.minimum(s1 - s2, 0.5 * s2))


def _arithmetic_reference(c):
    v1, v2 = inner_values(_cosine_inner(c), STEPS), inner_values(osd.linear(*c["lin"]), STEPS)
    c0, c1, c2, c3, c4 = c["c"]
    expr = np.minimum(-(c0 * v1) + v2 * c1 - c2, v1 + c3) / 3.0
    return np.maximum(expr + (c4 - v2), np.minimum(v1 - v2, 0.5 * v2))


# The expression cancels operands of size up to about 4 (|c| <= 2, values <= 1), so its
# float32 error is relative to them, not to the (possibly small) result: atol 1e-6 * 4.
case(
    "combinator-arithmetic-minimum-maximum",
    _arithmetic_sample,
    _arithmetic_osd,
    _arithmetic_reference,
    atol32=4e-6,
)


def _decay_fn(t, p):
    return p["floor"] + (p["lr"] - p["floor"]) * jnp.exp(-t / p["tau"])


case(
    "from_function",
    lambda r: {
        "lr": loguniform(r, 1e-3, 1.0),
        "floor": loguniform(r, 1e-7, 1e-4),
        "tau": loguniform(r, 10.0, 5000.0),
    },
    lambda c: osd.from_function(_decay_fn, dict(c)),
    lambda c: scalar_loop(lambda t: c["floor"] + (c["lr"] - c["floor"]) * math.exp(-t / c["tau"])),
)


# -- the tests ----------------------------------------------------------------------------------------------


def assert_close(actual, expected, rtol, atol_scale, cfgs, name):
    """|actual - expected| <= rtol |expected| + atol_scale * peak, member by member,
    ignoring steps where the reference is NaN (not compared)."""
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    compared = ~np.isnan(expected)
    assert compared.sum(axis=1).min() > 0
    peak = np.nanmax(np.abs(expected), axis=1, keepdims=True)
    error = np.where(compared, np.abs(actual - np.where(compared, expected, 0.0)), 0.0)
    bound = rtol * np.abs(np.where(compared, expected, 0.0)) + atol_scale * peak
    bad = error > bound
    if bad.any():
        member, step = np.argwhere(bad)[0]
        raise AssertionError(
            f"{name}: {int(bad.sum())} mismatches; first: member {member} config {cfgs[member]} "
            f"at step {step}: "
            f"optasched {actual[member, step]!r} vs reference {expected[member, step]!r} "
            f"(relative error {error[member, step] / max(abs(expected[member, step]), 1e-300):.3g})"
        )


def case_id(case: Case) -> str:
    """The family's public name first, so ``pytest -k one_cycle`` selects its reference tests."""
    return f"{case.build(case.configs()[0]).family}-{case.name}"


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_float64_against_reference(case: Case):
    cfgs, expected = case.expected64
    assert len(cfgs) >= NUM_RANDOM
    with x64():
        sweep = osd.stack([case.build(c) for c in cfgs])
        assert sweep.dtype == np.float64
        actual = np.asarray(sweep(STEPS))
    assert actual.dtype == np.float64
    assert_close(actual, expected, case.rtol64, case.atol64, cfgs, case.name)


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_float32_against_reference(case: Case):
    cfgs = [round_to_float32(c) for c in case.configs()[:NUM_FLOAT32]]
    expected = case.references(cfgs)
    sweep = osd.stack([case.build(c) for c in cfgs])
    assert sweep.dtype == np.float32
    actual = np.asarray(sweep(STEPS))
    assert actual.dtype == np.float32
    assert_close(actual.astype(np.float64), expected, RTOL32, case.atol32, cfgs, case.name)


# Cases whose jumps come from floor(t / T) (staircases, cycles, restarts): optasched
# must put every jump at the same step for float steps as for integer steps.
FLOAT_STEP_CASES = [
    c
    for c in CASES
    if any(
        k in c.name
        for k in (
            "StepLR",
            "staircase=True",
            "cycle=True",
            "CyclicLR",
            "WarmRestarts",
            "CosineDecayRestarts-float64",
            "combinator-staircase",
            "combinator-cycle",
            "combinator-restarts",
        )
    )
]


@pytest.mark.parametrize("case", FLOAT_STEP_CASES, ids=[case_id(c) for c in FLOAT_STEP_CASES])
def test_float64_float_steps_against_reference(case: Case):
    cfgs, expected = case.expected64
    with x64():
        actual = np.asarray(osd.stack([case.build(c) for c in cfgs])(STEPS.astype(np.float64)))
    assert_close(actual, expected, case.rtol64, case.atol64, cfgs, case.name + " (float steps)")


def test_every_public_family_is_covered():
    covered = " ".join(c.name for c in CASES)
    families = {
        "constant": "constant_schedule",
        "polynomial": "polynomial",
        "linear": "linear",
        "exponential": "exponential",
        "step_decay": "StepLR",
        "inverse_time": "InverseTimeDecay",
        "inverse_sqrt": "inverse_sqrt",
        "noam": "noam",
        "cosine": "CosineDecay",
        "rex": "rex",
        "tanh_decay": "tanh",
        "piecewise_constant": "piecewise_constant",
        "multistep": "MultiStepLR",
        "piecewise_linear": "piecewise_interpolate",
        "one_cycle": "OneCycleLR",
        "wsd": "wsd",
        "cosine_restarts": "cosine_restarts",
        "cyclic": "CyclicLR",
        "warmup": "warmup",
        "join": "join",
        "clip": "clip",
        "minimum": "minimum",
        "maximum": "maximum",
        "restarts": "restarts",
        "cycle": "cycle",
        "shift": "shift",
        "staircase": "staircase",
        "from_function": "from_function",
        "cycled_momentum": "cycle_momentum",
    }
    for family, marker in families.items():
        assert hasattr(osd, family)
        assert marker in covered, family


def test_keras_piecewise_constant_boundary_mapping():
    """Keras ``PiecewiseConstantDecay(boundaries, values)`` gives ``values[i]`` up to
    and INCLUDING ``boundaries[i]`` and switches at ``boundaries[i] + 1``;
    ``osd.piecewise_constant`` switches AT its boundary. So Keras boundary ``b`` is
    optasched boundary ``b + 1``, with scales ``values[i + 1] / values[i]``
    (documented in ``piecewise_constant``'s docstring). Checked here at exactly
    the boundary steps."""
    boundaries, values = [0, 10, 11, 500], [0.1, 0.2, 0.05, 0.3, 0.01]
    steps = np.array(sorted({s for b in boundaries for s in (b - 1, b, b + 1, b + 2) if s >= 0}))
    with x64():
        expected = np.asarray(keras_sched.PiecewiseConstantDecay(boundaries, values)(steps))
        actual = np.asarray(keras_piecewise_to_osd(boundaries, values)(steps))
    np.testing.assert_allclose(actual, expected, rtol=1e-12)
    for i, b in enumerate(boundaries):
        at = actual[steps == b][0]
        after = actual[steps == b + 1][0]
        np.testing.assert_allclose(at, values[i], rtol=1e-12)  # still the old value at the boundary
        np.testing.assert_allclose(after, values[i + 1], rtol=1e-12)  # switched one step later
