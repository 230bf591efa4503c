"""Schedules defined by segments: piecewise constant (MultiStepLR), piecewise
linear / cosine interpolation, one-cycle and warmup-stable-decay.

``one_cycle`` is piecewise interpolation through knots computed from its
hyperparameters, so its ``pct_start`` and ``total_steps`` stay traced leaves.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.typing import ArrayLike

from ._base import Constraint, Schedule, boundaries, ordered, static, steps, value, values
from ._kernels import DECAY_SHAPES, decay_fraction, interpolate, progress


def sorted_constraint(name: str, x) -> Constraint:
    ok = jnp.all(x[..., 1:] >= x[..., :-1], axis=-1)
    return Constraint(name, ok, "sorted in non-decreasing order", x)


def same_length(family: str, first: str, a, second: str, b, offset: int = 0) -> None:
    """Structural check (shapes are static even under tracing)."""
    if a.shape[-1] + offset != b.shape[-1]:
        raise ValueError(
            f"{family}: {second} must have {a.shape[-1] + offset} entries "
            f"({'one more than' if offset == 1 else 'as many as'} {first}), got {b.shape[-1]}"
        )


# -- piecewise constant ---------------------------------------------------------------


class PiecewiseConstant(Schedule, family="piecewise_constant"):
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

    init_value: ArrayLike = value()
    boundaries: ArrayLike = boundaries(ge=0)
    scales: ArrayLike = values(ge=0)

    def _check_structure(self):
        same_length(self.family, "boundaries", self.boundaries, "scales", self.scales)

    def _constraints(self):
        yield sorted_constraint("boundaries", self.boundaries)

    def _value(self, step):
        step = jnp.asarray(step)
        passed = step[..., None] >= self.boundaries.reshape((1,) * step.ndim + (-1,))
        factors = jnp.where(passed, self.scales.reshape((1,) * step.ndim + (-1,)), 1.0)
        return self.init_value * jnp.prod(factors, axis=-1)

    def value_range(self, step):
        levels = self.init_value[..., None] * jnp.cumprod(self.scales, axis=-1)
        return (
            jnp.minimum(self.init_value, jnp.min(levels, axis=-1, initial=jnp.inf)),
            jnp.maximum(self.init_value, jnp.max(levels, axis=-1, initial=-jnp.inf)),
        )


class Multistep(Schedule, family="multistep"):
    r"""PyTorch ``MultiStepLR``: multiply by ``gamma`` at each milestone.

    .. math:: v(t) = I \cdot \gamma^{\#\{i:\ t \ge m_i\}}

    :class:`piecewise_constant` with every scale ``gamma``; ``gamma`` stays one
    leaf (sweep it like any hyperparameter).

    Args:
        init_value: value before the first milestone.
        milestones: sorted step counts >= 0.
        gamma: the factor applied at each milestone (>= 0).

    Example:
        >>> import optasched as osd
        >>> round(float(osd.multistep(1.0, [30, 80], gamma=0.1)(80)), 6)
        0.01
    """

    init_value: ArrayLike = value()
    milestones: ArrayLike = boundaries(ge=0)
    gamma: ArrayLike = value(ge=0)

    def _constraints(self):
        yield sorted_constraint("milestones", self.milestones)

    def _general(self) -> PiecewiseConstant:
        scales = jnp.broadcast_to(self.gamma[..., None], self.gamma.shape + self.milestones.shape[-1:])
        return PiecewiseConstant._build(init_value=self.init_value, boundaries=self.milestones, scales=scales)


# -- piecewise interpolation ----------------------------------------------------------


INTERPOLATIONS = ("linear", "cosine")


class PiecewiseLinear(Schedule, family="piecewise_linear"):
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

    boundaries: ArrayLike = boundaries(ge=0)
    values: ArrayLike = values()
    interpolation: str = static(default="linear", choices=INTERPOLATIONS)

    def _check_structure(self):
        same_length(self.family, "boundaries", self.boundaries, "values", self.values)
        if self.boundaries.shape[-1] < 1:
            raise ValueError(f"{self.family}: boundaries must hold at least one knot, got none")

    def _constraints(self):
        yield sorted_constraint("boundaries", self.boundaries)

    def _value(self, step):
        return interpolate(step, self.boundaries, self.values, self.interpolation, self.dtype)

    def value_range(self, step):
        return jnp.min(self.values, axis=-1), jnp.max(self.values, axis=-1)


# -- one cycle ------------------------------------------------------------------------


class OneCycle(Schedule, family="one_cycle"):
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

    max_value: ArrayLike = value()
    total_steps: ArrayLike = steps(gt=0)
    pct_start: ArrayLike = value(default=0.3, gt=0, lt=1)
    div_factor: ArrayLike = value(default=25.0, gt=0)
    final_div_factor: ArrayLike = value(default=1e4, gt=0)
    anneal_strategy: str = static(default="cos", choices=("cos", "linear"))
    three_phase: bool = static(default=False, choices=(False, True))

    def _constraints(self):
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

    def _knots(self, dtype, initial, peak, minimum):
        total = self.total_steps.astype(dtype)
        peak_at = self.pct_start * total - 1.0  # PyTorch's phase end steps
        if self.three_phase:
            return jnp.stack([0.0 * total, peak_at, 2.0 * peak_at, total - 1.0]), jnp.stack(
                [initial, peak, initial, minimum]
            )
        return jnp.stack([0.0 * total, peak_at, total - 1.0]), jnp.stack([initial, peak, minimum])

    def _levels(self):
        initial = self.max_value / self.div_factor
        return initial, self.max_value, initial / self.final_div_factor

    def _value(self, step):
        dtype = self.dtype
        knots, levels = self._knots(dtype, *self._levels())
        interpolation = "cosine" if self.anneal_strategy == "cos" else "linear"
        return interpolate(step, knots, levels, interpolation, dtype)

    def value_range(self, step):
        levels = jnp.stack(self._levels())
        return jnp.min(levels, axis=0), jnp.max(levels, axis=0)

    def position(self, step):
        """PyTorch ``OneCycleLR``'s own phase factor (0 at the initial and final
        learning rates, 1 at the peak), so cycled momentum matches PyTorch's
        ``cycle_momentum`` exactly."""
        dtype = self.dtype
        zero = 0.0 * self.max_value
        knots, levels = self._knots(dtype, zero, zero + 1.0, zero)
        interpolation = "cosine" if self.anneal_strategy == "cos" else "linear"
        return interpolate(step, knots, levels, interpolation, dtype)


# -- warmup-stable-decay ------------------------------------------------------------------


class Wsd(Schedule, family="wsd"):
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

    peak_value: ArrayLike = value()
    warmup_steps: ArrayLike = steps(ge=0)
    stable_steps: ArrayLike = steps(ge=0)
    decay_steps: ArrayLike = steps(ge=0)
    end_value: ArrayLike = value(default=0.0)
    warmup_shape: str = static(default="linear", choices=DECAY_SHAPES)
    decay_shape: str = static(default="1-sqrt", choices=DECAY_SHAPES)

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

    def value_range(self, step):
        return ordered(self.peak_value, self.end_value)
