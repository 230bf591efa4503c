"""Paired statistics over seeds, the same way in every study.

Every arm of a study sees the same initialisation and data order per seed
(common random numbers), so arms are compared through per-seed differences:
the seed-to-seed variation that all arms share cancels. Intervals are
Student-t intervals over seeds; comparisons of many arms against one baseline
get Holm-adjusted p-values (family-wise error 5%).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats as _scipy_stats


class Interval(NamedTuple):
    """Mean of a sample with a two-sided confidence interval."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def as_dict(self) -> dict:
        return {"mean": self.mean, "low": self.low, "high": self.high, "n": self.n}


class Paired(NamedTuple):
    """Mean per-seed difference a - b, its interval, and the paired t-test p-value."""

    mean: float
    low: float
    high: float
    p_value: float
    n: int

    def as_dict(self) -> dict:
        return {"mean": self.mean, "low": self.low, "high": self.high, "p_value": self.p_value, "n": self.n}


def _clean(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    return x[np.isfinite(x)]


def mean_ci(values: Sequence[float], level: float = 0.95) -> Interval:
    """Mean and Student-t interval of the finite values (a NaN member is dropped)."""
    x = _clean(values)
    n = len(x)
    if n == 0:
        return Interval(float("nan"), float("nan"), float("nan"), 0)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, float("nan"), float("nan"), 1)
    half = float(_scipy_stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / np.sqrt(n))
    return Interval(mean, mean - half, mean + half, n)


def paired(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> Paired:
    """a - b per seed (same index = same seed), with a t interval and p-value.

    Seeds where either arm is not finite (a diverged run) are dropped from both.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"paired: arms must have one value per seed each, got {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    d = a[keep] - b[keep]
    n = len(d)
    if n < 2:
        mean = float(d.mean()) if n else float("nan")
        return Paired(mean, float("nan"), float("nan"), float("nan"), n)
    interval = mean_ci(d, level)
    sd = d.std(ddof=1)
    if sd == 0:
        p = 1.0 if d.mean() == 0 else 0.0
    else:
        p = float(2 * _scipy_stats.t.sf(abs(d.mean()) / (sd / np.sqrt(n)), n - 1))
    return Paired(interval.mean, interval.low, interval.high, p, n)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment: adjusted p-values, family-wise error control.

    NaN p-values stay NaN and do not count toward the number of tests.
    """
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full_like(p, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = len(finite)
    order = finite[np.argsort(p[finite], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def compare_to(arms: Mapping[str, Sequence[float]], baseline: str, level: float = 0.95) -> dict[str, dict]:
    """Every arm against ``baseline``, paired over seeds, Holm-adjusted over the arms.

    Returns ``{arm: {mean, low, high, p_value, p_holm, significant, n}}`` for
    every arm except the baseline; ``significant`` means p_holm < 1 - level.
    """
    if baseline not in arms:
        raise ValueError(f"compare_to: baseline {baseline!r} is not an arm; arms: {sorted(arms)}")
    names = [name for name in arms if name != baseline]
    diffs = [paired(arms[name], arms[baseline], level) for name in names]
    adjusted = holm([d.p_value for d in diffs])
    return {
        name: {**d.as_dict(), "p_holm": float(p), "significant": bool(p < 1 - level)}
        for name, d, p in zip(names, diffs, adjusted)
    }


def format_interval(mean: float, low: float, high: float, scale: float = 1.0, digits: int = 1) -> str:
    """``"65.2 [63.1, 67.3]"`` (values times ``scale``); ``"n/a"`` for NaN."""
    if not np.isfinite(mean):
        return "n/a"
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} [{low * scale:.{digits}f}, {high * scale:.{digits}f}]"
