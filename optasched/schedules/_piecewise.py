"""Schedules defined by segments: piecewise constant (MultiStepLR), piecewise
linear / cosine interpolation, one-cycle and warmup-stable-decay.

``one_cycle`` is piecewise interpolation through knots computed from its
hyperparameters, so its ``pct_start`` and ``total_steps`` stay traced leaves.
"""

from __future__ import annotations

import jax.numpy as jnp

from ._base import Constraint, Kind, Schedule, convert_leaf, renamed
from ._families import at_least
from ._kernels import DECAY_SHAPES, decay_fraction, interpolate, progress


def _sorted(name: str, values) -> Constraint:
    ok = jnp.all(values[..., 1:] >= values[..., :-1], axis=-1)
    return Constraint(name, ok, "sorted in non-decreasing order", values)


def _same_length(family: str, first: str, a, second: str, b, offset: int = 0) -> None:
    """Structural check (shapes are static even under tracing)."""
    if a.shape[-1] + offset != b.shape[-1]:
        raise ValueError(
            f"{family}: {second} must have {a.shape[-1] + offset} entries "
            f"({'one more than' if offset == 1 else 'as many as'} {first}), got {b.shape[-1]}"
        )


# -- piecewise constant ---------------------------------------------------------------


class PiecewiseConstant(Schedule):
    _family = "piecewise_constant"
    _fields = {"init_value": Kind.VALUE, "boundaries": Kind.BOUNDARIES, "scales": Kind.VALUES}

    def __init__(self, **fields):
        super().__init__(**fields)
        _same_length(self._family, "boundaries", self.boundaries, "scales", self.scales)

    def _constraints(self):
        yield at_least("boundaries", self.boundaries, 0, core_axes=1)
        yield _sorted("boundaries", self.boundaries)
        yield at_least("scales", self.scales, 0, core_axes=1)

    def _value(self, step):
        step = jnp.asarray(step)
        passed = step[..., None] >= self.boundaries.reshape((1,) * step.ndim + (-1,))
        factors = jnp.where(passed, self.scales.reshape((1,) * step.ndim + (-1,)), 1.0)
        return self.init_value * jnp.prod(factors, axis=-1)


def piecewise_constant(init_value, boundaries, scales) -> PiecewiseConstant:
    r"""Multiply the value by ``scales[i]`` from step ``boundaries[i]`` on.

    .. math:: v(t) = I \prod_{i:\ t \ge b_i} s_i

    ``optax.piecewise_constant_schedule(I, {b: s, ...})`` with the boundaries
    and scales as traced arrays. Keras ``PiecewiseConstantDecay`` switches one
    step later (at ``t > b``): its boundary ``b`` is our ``b + 1``.

    Args:
        init_value: value before the first boundary.
        boundaries: sorted step counts >= 0 (an array; may be traced).
        scales: one factor >= 0 per boundary.

    Example:
        >>> import optasched as osd
        >>> s = osd.piecewise_constant(1.0, boundaries=[100, 200], scales=[0.1, 0.1])
        >>> [round(float(s(t)), 4) for t in (99, 100, 200)]
        [1.0, 0.1, 0.01]
    """
    return PiecewiseConstant(init_value=init_value, boundaries=boundaries, scales=scales)


def multistep(init_value, milestones, gamma) -> PiecewiseConstant:
    r"""PyTorch ``MultiStepLR``: multiply by ``gamma`` at each milestone.

    .. math:: v(t) = I \cdot \gamma^{\#\{i:\ t \ge m_i\}}

    Example:
        >>> import optasched as osd
        >>> round(float(osd.multistep(1.0, [30, 80], gamma=0.1)(80)), 6)
        0.01
    """
    milestones = convert_leaf("multistep", "milestones", Kind.BOUNDARIES, milestones)
    if milestones.ndim < 1:
        raise ValueError(f"multistep: milestones must be a 1-D array, got {milestones!r}")
    gamma = convert_leaf("multistep", "gamma", Kind.VALUE, gamma)
    with renamed("multistep", "piecewise_constant", {"boundaries": "milestones", "scales": "gamma"}):
        # one scale per milestone; a swept gamma (or swept milestones) broadcast to a common sweep shape
        batch = jnp.broadcast_shapes(gamma.shape, milestones.shape[:-1])
        scales = jnp.broadcast_to(gamma[..., None], batch + milestones.shape[-1:])
        return piecewise_constant(init_value, milestones, scales)


# -- piecewise interpolation ----------------------------------------------------------


INTERPOLATIONS = ("linear", "cosine")


class PiecewiseLinear(Schedule):
    _family = "piecewise_linear"
    _fields = {"boundaries": Kind.BOUNDARIES, "values": Kind.VALUES, "interpolation": Kind.STATIC}
    _choices = {"interpolation": INTERPOLATIONS}

    def __init__(self, **fields):
        super().__init__(**fields)
        _same_length(self._family, "boundaries", self.boundaries, "values", self.values)
        if self.boundaries.shape[-1] < 1:
            raise ValueError(f"{self._family}: boundaries must hold at least one knot, got none")

    def _constraints(self):
        yield at_least("boundaries", self.boundaries, 0, core_axes=1)
        yield _sorted("boundaries", self.boundaries)

    def _value(self, step):
        return interpolate(step, self.boundaries, self.values, self.interpolation, self.dtype)


def piecewise_linear(boundaries, values, interpolation="linear") -> PiecewiseLinear:
    r"""Interpolate between knots ``(boundaries[i], values[i])``; flat outside them.

    .. math::
        v(t) = v_i + (v_{i+1} - v_i)\, g\!\left(\frac{t - b_i}{b_{i+1} - b_i}\right),
        \quad b_i \le t < b_{i+1}

    with :math:`g(x) = x` (``"linear"``) or :math:`(1 - \cos \pi x)/2`
    (``"cosine"``), as ``optax.piecewise_interpolate_schedule`` but with knots
    given as absolute steps. A repeated knot is a jump.

    Example:
        >>> import optasched as osd
        >>> s = osd.piecewise_linear([0, 10, 20], [0.0, 1.0, 0.5])
        >>> float(s(5)), float(s(15)), float(s(99))
        (0.5, 0.75, 0.5)
    """
    return PiecewiseLinear(boundaries=boundaries, values=values, interpolation=interpolation)


# -- one cycle ------------------------------------------------------------------------


class OneCycle(Schedule):
    _family = "one_cycle"
    _fields = {
        "max_value": Kind.VALUE,
        "total_steps": Kind.STEPS,
        "pct_start": Kind.VALUE,
        "div_factor": Kind.VALUE,
        "final_div_factor": Kind.VALUE,
        "anneal_strategy": Kind.STATIC,
        "three_phase": Kind.STATIC,
    }
    _choices = {"anneal_strategy": ("cos", "linear")}

    def _constraints(self):
        yield at_least("total_steps", self.total_steps, 0, strict=True)
        yield Constraint(
            "pct_start", (self.pct_start > 0) & (self.pct_start < 1), "in (0, 1)", self.pct_start
        )
        yield Constraint(
            "pct_start",
            self.pct_start * self.total_steps >= 1,
            "large enough that pct_start * total_steps >= 1",
            self.pct_start,
        )
        if self.three_phase:
            yield Constraint(
                "pct_start",
                2 * (self.pct_start * self.total_steps - 1) <= self.total_steps - 1,
                "small enough for both ramps of three_phase (about <= 0.5)",
                self.pct_start,
            )
        yield at_least("div_factor", self.div_factor, 0, strict=True)
        yield at_least("final_div_factor", self.final_div_factor, 0, strict=True)

    def _value(self, step):
        dtype = self.dtype
        total = self.total_steps.astype(dtype)
        initial = self.max_value / self.div_factor
        minimum = initial / self.final_div_factor
        peak_at = self.pct_start * total - 1.0  # PyTorch's phase end steps
        if self.three_phase:
            knots = jnp.stack([0.0 * total, peak_at, 2.0 * peak_at, total - 1.0])
            values = jnp.stack([initial, self.max_value, initial, minimum])
        else:
            knots = jnp.stack([0.0 * total, peak_at, total - 1.0])
            values = jnp.stack([initial, self.max_value, minimum])
        interpolation = "cosine" if self.anneal_strategy == "cos" else "linear"
        return interpolate(step, knots, values, interpolation, dtype)


def one_cycle(
    max_value,
    total_steps,
    pct_start=0.3,
    div_factor=25.0,
    final_div_factor=1e4,
    anneal_strategy="cos",
    three_phase=False,
) -> OneCycle:
    r"""The one-cycle policy (Smith & Topin 2018), PyTorch ``OneCycleLR`` semantics.

    Rises from ``max_value / div_factor`` to ``max_value`` by step
    :math:`p T - 1`, then anneals to ``max_value / (div_factor * final_div_factor)``
    at step :math:`T - 1` (held after). ``three_phase`` comes back down to the
    initial value by :math:`2 (p T - 1)` before the final anneal. Annealing is
    cosine (``"cos"``) or ``"linear"``.

    Every numeric argument, ``pct_start`` included, is a traced leaf.

    Example:
        >>> import optasched as osd
        >>> s = osd.one_cycle(1.0, total_steps=101, pct_start=0.5, div_factor=10)
        >>> round(float(s(0)), 4), round(float(s(49.5)), 4)
        (0.1, 1.0)
    """
    return OneCycle(
        max_value=max_value,
        total_steps=total_steps,
        pct_start=pct_start,
        div_factor=div_factor,
        final_div_factor=final_div_factor,
        anneal_strategy=anneal_strategy,
        three_phase=bool(three_phase),
    )


# -- warmup-stable-decay ------------------------------------------------------------------


class Wsd(Schedule):
    _family = "wsd"
    _fields = {
        "peak_value": Kind.VALUE,
        "warmup_steps": Kind.STEPS,
        "stable_steps": Kind.STEPS,
        "decay_steps": Kind.STEPS,
        "end_value": Kind.VALUE,
        "warmup_shape": Kind.STATIC,
        "decay_shape": Kind.STATIC,
    }
    _choices = {"warmup_shape": DECAY_SHAPES, "decay_shape": DECAY_SHAPES}

    def _constraints(self):
        for name in ("warmup_steps", "stable_steps", "decay_steps"):
            yield at_least(name, getattr(self, name), 0)

    def _value(self, step):
        dtype = self.dtype
        decay_begin = self.warmup_steps + self.stable_steps
        # HF divides by max(1, length): a zero-length phase is skipped.
        rising = decay_fraction(1.0 - progress(step, jnp.maximum(self.warmup_steps, 1), dtype), self.warmup_shape)
        falling = decay_fraction(
            progress(step - decay_begin, jnp.maximum(self.decay_steps, 1), dtype), self.decay_shape
        )
        fraction = jnp.where(
            step < self.warmup_steps,
            rising,
            jnp.where(step < decay_begin, 1.0, jnp.where(step < decay_begin + self.decay_steps, falling, 0.0)),
        )
        return self.end_value + (self.peak_value - self.end_value) * jnp.maximum(fraction, 0.0)


def wsd(
    peak_value,
    warmup_steps,
    stable_steps,
    decay_steps,
    end_value=0.0,
    warmup_shape="linear",
    decay_shape="1-sqrt",
) -> Wsd:
    r"""Warmup-stable-decay (Hagele et al. 2024; HF ``get_wsd_schedule`` semantics).

    .. math::
        v(t) = E + (P - E) \begin{cases}
        g_w(t / W) & t < W \\ 1 & t < W + S \\
        g_d((t - W - S) / D) & t < W + S + D \\ 0 & \text{after} \end{cases}

    with :math:`g_d` the cooldown shape (``"linear"``, ``"cosine"``,
    ``"1-sqrt"``: :math:`1 - \sqrt{x}`) and :math:`g_w(x) = g_d'(1 - x)` the
    warmup shape. ``end_value`` is HF's ``min_lr_ratio * peak_value``: the
    warmup starts there too.

    Example:
        >>> import optasched as osd
        >>> s = osd.wsd(1.0, warmup_steps=10, stable_steps=70, decay_steps=20)
        >>> float(s(5)), float(s(50)), float(s(85))
        (0.5, 1.0, 0.5)
    """
    return Wsd(
        peak_value=peak_value,
        warmup_steps=warmup_steps,
        stable_steps=stable_steps,
        decay_steps=decay_steps,
        end_value=end_value,
        warmup_shape=warmup_shape,
        decay_shape=decay_shape,
    )
