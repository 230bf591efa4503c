"""Statistics over seeds, the same way in every study.

Every arm of a study sees the same initialisation and data order per seed
(common random numbers), so arms are compared through per-seed differences:
the seed-to-seed variation that all arms share cancels. The seed is the unit
of replication: a per-seed value (a difference, a contrast) is one
observation, and intervals are over seeds.

- intervals: :func:`mean_ci` (Student t), :func:`bootstrap_ci` (seeded
  percentile or BCa bootstrap), :func:`prediction_interval` (where ONE new
  observation, such as a single published trial, should fall);
- tests on per-seed values: :func:`one_sample` (t), :func:`paired` (t on a - b),
  :func:`paired_bootstrap`; :func:`holm` over a family; :func:`compare_to`
  (every arm against a baseline, Holm-adjusted);
- contrasts: :func:`contrast` (any weighted sum of cells, per seed),
  :func:`interaction_2x2`, :func:`home_advantage` and
  :func:`pairwise_interactions` for crossed matrices;
- selection: :func:`select` (THE validation-selection rule, failed runs
  treated the same everywhere) and :func:`held_out` (choose on some seeds,
  report on the others).

Non-finite values mark failed (diverged) runs. In intervals and tests a seed
whose value is not finite is dropped (from both arms when paired, and the
returned ``n`` says how many seeds remain); in selection a configuration with
any failed seed is never chosen (see :func:`select`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats as _scipy_stats

__all__ = [
    "Interval",
    "Paired",
    "Selection",
    "HeldOut",
    "mean_ci",
    "bootstrap_ci",
    "prediction_interval",
    "one_sample",
    "paired",
    "paired_bootstrap",
    "holm",
    "compare_to",
    "contrast",
    "interaction_2x2",
    "home_advantage",
    "pairwise_interactions",
    "select",
    "held_out",
    "format_interval",
]

_NAN = float("nan")


class Interval(NamedTuple):
    """A point estimate with a two-sided interval (``n`` finite values behind it)."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def contains(self, value: float) -> bool:
        """Whether ``low <= value <= high`` (False when the interval is undefined)."""
        return bool(self.low <= value <= self.high)

    def as_dict(self) -> dict:
        return {"mean": self.mean, "low": self.low, "high": self.high, "n": self.n}


class Paired(NamedTuple):
    """A mean per-seed value (a difference a - b, or a contrast), its interval, and a two-sided p-value."""

    mean: float
    low: float
    high: float
    p_value: float
    n: int

    def as_dict(self) -> dict:
        return {"mean": self.mean, "low": self.low, "high": self.high, "p_value": self.p_value, "n": self.n}


def _vector(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).reshape(-1)


def _clean(x) -> np.ndarray:
    x = _vector(x)
    return x[np.isfinite(x)]


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")


def mean_ci(values: Sequence[float], level: float = 0.95) -> Interval:
    """Mean and Student-t interval of the finite values (a NaN member is dropped).

    .. math:: \\bar x \\pm t_{n-1,\\,(1+\\ell)/2}\\; s / \\sqrt{n},
       \\qquad s^2 = \\tfrac{1}{n-1} \\sum_i (x_i - \\bar x)^2

    Args:
      values: one value per seed; non-finite ones are dropped.
      level: the interval's coverage, e.g. 0.95.

    Returns:
      ``Interval(mean, low, high, n)``; low and high are NaN with fewer than 2 values.

    >>> mean_ci([1.0, 2.0, 3.0]).mean
    2.0
    """
    _check_level(level)
    x = _clean(values)
    n = len(x)
    if n == 0:
        return Interval(_NAN, _NAN, _NAN, 0)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, _NAN, _NAN, 1)
    half = float(_scipy_stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / np.sqrt(n))
    return Interval(mean, mean - half, mean + half, n)


def prediction_interval(values: Sequence[float], level: float = 0.95) -> Interval:
    """Where ONE new observation from the same distribution falls, with probability ``level``.

    The yardstick for a single published trial (one seed) against our seeds: a
    confidence interval of our mean shrinks as 1/sqrt(n) and says nothing about
    where one run lands. Under a normal model,

    .. math:: \\bar x \\pm t_{n-1,\\,(1+\\ell)/2}\\; s \\sqrt{1 + 1/n}.

    Args:
      values: our per-seed values; non-finite ones are dropped.
      level: the probability that the new observation falls inside.

    Returns:
      ``Interval(mean, low, high, n)`` (low and high NaN with fewer than 2 values);
      ``.contains(x)`` tells whether a published trial ``x`` is inside.
    """
    _check_level(level)
    x = _clean(values)
    n = len(x)
    if n < 2:
        return Interval(float(x.mean()) if n else _NAN, _NAN, _NAN, n)
    mean = float(x.mean())
    half = float(_scipy_stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) * np.sqrt(1 + 1 / n))
    return Interval(mean, mean - half, mean + half, n)


def _bootstrap_means(x: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return x[rng.integers(0, len(x), size=(resamples, len(x)))].mean(axis=1)


def bootstrap_ci(values: Sequence[float], level: float = 0.95, *, resamples: int = 10_000, seed: int = 0,
                 method: str = "bca") -> Interval:
    """Mean and a seeded bootstrap interval (percentile or BCa) of the finite values.

    ``resamples`` means of n values drawn with replacement, ``theta*_b``, from a
    ``numpy.random.default_rng(seed)`` (the same seed gives the same interval).
    Percentile: the ``(1-l)/2`` and ``(1+l)/2`` quantiles of ``theta*``. BCa
    (Efron 1987) moves those quantiles to

    .. math:: \\alpha_{1,2} = \\Phi\\Big(z_0 + \\frac{z_0 + z_{1,2}}{1 - a (z_0 + z_{1,2})}\\Big),
       \\quad z_0 = \\Phi^{-1}\\big(\\#\\{\\theta^*_b < \\hat\\theta\\}/B\\big),
       \\quad a = \\frac{\\sum_i (\\bar\\theta_{(\\cdot)} - \\theta_{(i)})^3}
                     {6\\,[\\sum_i (\\bar\\theta_{(\\cdot)} - \\theta_{(i)})^2]^{3/2}}

    with ``z_{1,2}`` the normal quantiles of the percentile method and
    ``theta_(i)`` the jackknife means (value i left out).

    Args:
      values: one value per seed; non-finite ones are dropped.
      level: the interval's coverage.
      resamples: bootstrap resamples B.
      seed: seed of the resampling.
      method: ``"bca"`` or ``"percentile"``.

    Returns:
      ``Interval(mean, low, high, n)``; with fewer than 2 values low and high are NaN,
      with all values equal the interval is that value.
    """
    _check_level(level)
    if method not in ("bca", "percentile"):
        raise ValueError(f"bootstrap_ci: method must be 'bca' or 'percentile', got {method!r}")
    if resamples < 100:
        raise ValueError(f"bootstrap_ci: resamples must be at least 100, got {resamples}")
    x = _clean(values)
    n = len(x)
    if n < 2:
        return Interval(float(x.mean()) if n else _NAN, _NAN, _NAN, n)
    mean = float(x.mean())
    if np.all(x == x[0]):
        return Interval(mean, mean, mean, n)
    means = _bootstrap_means(x, resamples, seed)
    quantiles = np.array([0.5 - level / 2, 0.5 + level / 2])
    if method == "bca":
        below = np.mean(means < mean)
        z0 = _scipy_stats.norm.ppf(np.clip(below, 1 / resamples, 1 - 1 / resamples))
        jackknife = (x.sum() - x) / (n - 1)
        d = jackknife.mean() - jackknife
        denominator = 6 * np.sum(d**2) ** 1.5
        a = np.sum(d**3) / denominator if denominator > 0 else 0.0
        z = _scipy_stats.norm.ppf(quantiles)
        quantiles = _scipy_stats.norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z)))
    low, high = np.quantile(means, quantiles)
    return Interval(mean, float(low), float(high), n)


def one_sample(values: Sequence[float], level: float = 0.95) -> Paired:
    """t test of mean zero on per-seed values (differences or contrasts), with its t interval.

    .. math:: t = \\bar d / (s_d / \\sqrt n), \\qquad p = 2\\,P(T_{n-1} > |t|)

    Args:
      values: one value per seed; non-finite ones are dropped.
      level: the interval's coverage.

    Returns:
      ``Paired(mean, low, high, p_value, n)``; with zero spread p is 1 when the
      mean is 0 and 0 otherwise; NaN fields with fewer than 2 values.
    """
    d = _clean(values)
    n = len(d)
    if n < 2:
        return Paired(float(d.mean()) if n else _NAN, _NAN, _NAN, _NAN, n)
    interval = mean_ci(d, level)
    sd = d.std(ddof=1)
    if sd == 0:
        p = 1.0 if d.mean() == 0 else 0.0
    else:
        p = float(2 * _scipy_stats.t.sf(abs(d.mean()) / (sd / np.sqrt(n)), n - 1))
    return Paired(interval.mean, interval.low, interval.high, p, n)


def _differences(a, b, where: str) -> np.ndarray:
    a, b = _vector(a), _vector(b)
    if a.shape != b.shape:
        raise ValueError(f"{where}: arms must have one value per seed each, got {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep] - b[keep]


def paired(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> Paired:
    """a - b per seed (same index = same seed), with a t interval and p-value (:func:`one_sample`).

    Seeds where either arm is not finite (a diverged run) are dropped from both.

    Args:
      a, b: one value per seed each.
      level: the interval's coverage.
    """
    return one_sample(_differences(a, b, "paired"), level)


def paired_bootstrap(a: Sequence[float], b: Sequence[float], level: float = 0.95, *, resamples: int = 10_000,
                     seed: int = 0, method: str = "bca") -> Paired:
    """a - b per seed with a seeded bootstrap interval (:func:`bootstrap_ci`) and a bootstrap p-value.

    The p-value inverts the percentile interval: the smallest ``1 - level`` at
    which it excludes zero,

    .. math:: p = \\min\\big(1,\\; 2 \\min(\\#\\{\\theta^*_b \\le 0\\} + 1,\\;
              \\#\\{\\theta^*_b \\ge 0\\} + 1) / (B + 1)\\big).

    Seeds where either arm is not finite are dropped from both.

    Args:
      a, b: one value per seed each (pass ``b = zeros`` for a contrast).
      level: the interval's coverage.
      resamples, seed, method: as in :func:`bootstrap_ci`.
    """
    d = _differences(a, b, "paired_bootstrap")
    interval = bootstrap_ci(d, level, resamples=resamples, seed=seed, method=method)
    if interval.n < 2:
        return Paired(interval.mean, _NAN, _NAN, _NAN, interval.n)
    if np.all(d == d[0]):
        return Paired(interval.mean, interval.low, interval.high, 1.0 if d[0] == 0 else 0.0, interval.n)
    means = _bootstrap_means(d, resamples, seed)
    tail = min(np.sum(means <= 0) + 1, np.sum(means >= 0) + 1)
    p = min(1.0, 2 * tail / (resamples + 1))
    return Paired(interval.mean, interval.low, interval.high, float(p), interval.n)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment: adjusted p-values, family-wise error control.

    With the m finite p-values sorted, ``p_(1) <= ... <= p_(m)``,

    .. math:: \\tilde p_{(j)} = \\max_{i \\le j} \\min\\big(1, (m - i + 1)\\, p_{(i)}\\big).

    NaN p-values stay NaN and do not count toward m.

    Args:
      p_values: the raw p-values of one correction family.

    >>> holm([0.01, 0.04, 0.03]).tolist()
    [0.03, 0.06, 0.06]
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

    Args:
      arms: ``{arm: per-seed values}``, the same seeds in the same order for every arm.
      baseline: the arm the others are compared with.
      level: interval coverage; ``significant`` means p_holm < 1 - level.

    Returns:
      ``{arm: {mean, low, high, p_value, p_holm, significant, n}}`` for every arm except the baseline.
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


# -- contrasts ---------------------------------------------------------------------------------


def contrast(cells: Mapping[str, Sequence[float]] | Sequence[Sequence[float]],
             weights: Mapping[str, float] | Sequence[float]) -> np.ndarray:
    """Per-seed value of a contrast: ``sum_c w_c x_{c,s}`` for every seed s.

    Test its mean with :func:`one_sample` (t) or ``paired_bootstrap(values, 0 * values)``.
    The weights must sum to zero (a contrast compares cells; shared seed effects cancel).
    A seed with a non-finite value in any weighted cell gives NaN for that seed.

    Args:
      cells: ``{cell: per-seed values}`` or a sequence of per-seed arrays, same seeds for all.
      weights: ``{cell: weight}`` (cells not named get weight 0) or one weight per cell.

    Returns:
      A float array, one value per seed.

    >>> contrast({"a": [1.0, 2.0], "b": [0.5, 1.0]}, {"a": 1, "b": -1}).tolist()
    [0.5, 1.0]
    """
    if isinstance(cells, Mapping):
        if not isinstance(weights, Mapping):
            raise ValueError("contrast: with named cells, weights must be a mapping {cell: weight}")
        unknown = sorted(set(weights) - set(cells))
        if unknown:
            raise ValueError(f"contrast: weights name cells {unknown} that are not in cells {sorted(cells)}")
        names = list(weights)
        matrix = [_vector(cells[name]) for name in names]
        w = np.array([weights[name] for name in names], dtype=np.float64)
    else:
        matrix = [_vector(c) for c in cells]
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if len(w) != len(matrix):
            raise ValueError(f"contrast: {len(matrix)} cells but {len(w)} weights")
    if len({len(row) for row in matrix}) > 1:
        lengths = [len(r) for r in matrix]
        raise ValueError(f"contrast: cells must have one value per seed each, got lengths {lengths}")
    if not math.isclose(float(w.sum()), 0.0, abs_tol=1e-12):
        raise ValueError(f"contrast: weights must sum to 0, got {w.tolist()} (sum {w.sum():g})")
    x = np.stack(matrix)  # [cell, seed]
    used = w != 0
    values = np.einsum("c,cs->s", w[used], np.where(np.isfinite(x[used]), x[used], 0.0))
    values[~np.all(np.isfinite(x[used]), axis=0)] = np.nan
    return values


def interaction_2x2(a1b1: Sequence[float], a1b2: Sequence[float], a2b1: Sequence[float],
                    a2b2: Sequence[float]) -> np.ndarray:
    """Per-seed interaction of a 2x2 design: ``(a1b1 - a1b2) - (a2b1 - a2b2)``.

    How much the effect of factor B (level 1 vs 2) differs between levels 1 and 2
    of factor A; zero when the two factors add.

    Args:
      a1b1, a1b2, a2b1, a2b2: per-seed values of the four cells (same seeds).
    """
    return contrast([a1b1, a1b2, a2b1, a2b2], [1.0, -1.0, -1.0, 1.0])


def _crossed(matrix) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 3 or m.shape[0] != m.shape[1] or m.shape[0] < 2:
        raise ValueError(f"crossed matrix must have shape [k, k, seeds] with k >= 2, got {m.shape}")
    return m


def home_advantage(matrix) -> np.ndarray:
    """Per-seed mean diagonal minus mean off-diagonal of a crossed k x k matrix.

    ``matrix[i, j, s]``: seed s's value of the thing found under condition i
    (e.g. a mask found with schedule i) evaluated under condition j. The home
    advantage is

    .. math:: H_s = \\frac1k \\sum_i m_{iis} - \\frac{1}{k(k-1)} \\sum_{i \\ne j} m_{ijs}.

    Identity: the 2x2 interactions of all pairs, ``m_ii + m_jj - m_ij - m_ji``,
    averaged over the k(k-1)/2 pairs, equal ``2 H_s`` exactly for every k, so
    the pair-averaged interaction carries no information beyond H (its test is
    the same test). To ask whether the advantage is more than a baseline gets,
    contrast two matrices: ``home_advantage(a) - home_advantage(b)``.

    Args:
      matrix: array-like of shape ``[k, k, seeds]``.

    Returns:
      One value per seed (NaN where any cell of that seed is not finite).
    """
    m = _crossed(matrix)
    k = m.shape[0]
    diagonal = np.eye(k, dtype=bool)
    w = np.where(diagonal, 1 / k, -1 / (k * (k - 1)))
    return contrast(m.reshape(k * k, -1), w.reshape(-1))


def pairwise_interactions(matrix) -> dict[tuple[int, int], np.ndarray]:
    """Per-seed ``m_ii + m_jj - m_ij - m_ji`` for every pair i < j of a crossed ``[k, k, seeds]`` matrix.

    Their mean over pairs is ``2 * home_advantage(matrix)`` (see there).

    Args:
      matrix: array-like of shape ``[k, k, seeds]``.
    """
    m = _crossed(matrix)
    k = m.shape[0]
    return {
        (i, j): interaction_2x2(m[i, i], m[i, j], m[j, i], m[j, j])
        for i in range(k)
        for j in range(i + 1, k)
    }


# -- selection ---------------------------------------------------------------------------------


class Selection(NamedTuple):
    """The outcome of :func:`select`.

    ``index`` is None when no configuration is eligible. ``means[c]`` is the
    mean validation metric of configuration c over the seeds (NaN if any failed),
    ``eligible[c]`` whether it could be chosen, ``at_edge`` whether the choice is
    the first or last of the grid (report it: the grid may be too narrow).
    """

    index: int | None
    label: object
    mean: float
    means: tuple[float, ...]
    eligible: tuple[bool, ...]
    at_edge: bool

    def as_dict(self) -> dict:
        return {"index": self.index, "label": self.label, "mean": self.mean, "means": list(self.means),
                "eligible": list(self.eligible), "at_edge": self.at_edge}


def select(validation, *, higher_is_better: bool = True, failed=None, order: Sequence[int] | None = None,
           labels: Sequence | None = None) -> Selection:
    """THE validation-selection rule of every study.

    Rule:

    1. A configuration is eligible only if every one of its seeds succeeded:
       its validation metric is finite for every seed and no seed is marked in
       ``failed`` (e.g. ``diverged_at >= 0``). A configuration that failed on
       any seed is never chosen, however good its other seeds are.
    2. Among eligible configurations the one with the best mean validation
       metric over the seeds is chosen (highest, or lowest with
       ``higher_is_better=False``).
    3. Exact ties are broken by the declared ``order`` (a list of configuration
       indices, most preferred first; default: the grid order, the first wins).
    4. No eligible configuration: ``index`` is None (the study reports that arm
       as failed, it does not fall back to a failed configuration).

    Args:
      validation: array-like ``[configs, seeds]`` of the validation metric.
      higher_is_better: whether larger is better (accuracy) or smaller (loss).
      failed: optional boolean ``[configs, seeds]``, True for a failed run.
      order: tie-break preference, a permutation of ``range(configs)``.
      labels: optional names of the configurations (e.g. the peak LRs), returned as ``label``.

    Returns:
      A :class:`Selection`.

    >>> select([[0.9, 0.8], [0.95, float("nan")], [0.9, 0.85]]).index
    2
    """
    v = np.asarray(validation, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim != 2:
        raise ValueError(f"select: validation must have shape [configs, seeds], got {v.shape}")
    ok = np.isfinite(v)
    if failed is not None:
        bad = np.asarray(failed, dtype=bool).reshape(v.shape) if np.size(failed) == v.size else None
        if bad is None:
            raise ValueError(f"select: failed must have shape {v.shape}, got {np.shape(failed)}")
        ok &= ~bad
    eligible = ok.all(axis=1)
    means = np.where(eligible, np.where(ok, v, 0.0).mean(axis=1), np.nan)
    num = v.shape[0]
    preference = list(range(num)) if order is None else [int(i) for i in order]
    if sorted(preference) != list(range(num)):
        raise ValueError(f"select: order must be a permutation of range({num}), got {list(order)}")
    if labels is not None and len(labels) != num:
        raise ValueError(f"select: {num} configurations but {len(labels)} labels")
    best = None
    for index in preference:  # strict improvement only: earlier in the order wins ties
        if not eligible[index]:
            continue
        if best is None or (means[index] > means[best] if higher_is_better else means[index] < means[best]):
            best = index
    return Selection(
        index=best,
        label=None if best is None or labels is None else labels[best],
        mean=_NAN if best is None else float(means[best]),
        means=tuple(float(m) for m in means),
        eligible=tuple(bool(e) for e in eligible),
        at_edge=best is not None and num > 1 and best in (0, num - 1),
    )


class HeldOut(NamedTuple):
    """:func:`held_out`'s outcome: the selection (on the first seeds) and the reported per-seed values."""

    selection: Selection
    values: np.ndarray  # the report metric of the chosen configuration on the held-out seeds
    selection_seeds: int


def held_out(validation, report, selection_seeds: int, **select_kwargs) -> HeldOut:
    """Choose on seeds ``0 .. selection_seeds-1``, report on the others.

    With the same seeds for choosing and reporting, a configuration that was
    lucky on those seeds is chosen and its luck is reported too. Here the
    choice (:func:`select` on ``validation[:, :k]``) never sees the reported
    seeds, so the reported values ``report[choice, k:]`` are an unbiased sample
    of the chosen configuration. Arms that each choose this way are still
    paired over the held-out seeds.

    Args:
      validation: ``[configs, seeds]`` validation metric.
      report: ``[configs, seeds]`` reported metric (e.g. test accuracy).
      selection_seeds: k, the number of leading seeds used to choose (1 <= k < seeds).
      **select_kwargs: ``higher_is_better``, ``failed`` (full ``[configs, seeds]``; sliced here),
        ``order``, ``labels``, as in :func:`select`.

    Returns:
      ``HeldOut(selection, values, selection_seeds)``; ``values`` is all NaN when nothing was
      eligible. A failed run among the reported seeds stays in ``values`` as it is (NaN when not
      finite, which the tests then drop and count out of ``n``): it is reported, not re-chosen.
    """
    v = np.asarray(validation, dtype=np.float64)
    r = np.asarray(report, dtype=np.float64)
    if v.ndim != 2 or v.shape != r.shape:
        raise ValueError(f"held_out: validation and report must both be [configs, seeds], "
                         f"got {v.shape} and {r.shape}")
    if not 1 <= selection_seeds < v.shape[1]:
        raise ValueError(f"held_out: selection_seeds must be in [1, {v.shape[1] - 1}], got {selection_seeds}")
    failed = select_kwargs.pop("failed", None)
    if failed is not None:
        failed = np.asarray(failed, dtype=bool).reshape(v.shape)[:, :selection_seeds]
    selection = select(v[:, :selection_seeds], failed=failed, **select_kwargs)
    values = (np.full(v.shape[1] - selection_seeds, np.nan) if selection.index is None
              else r[selection.index, selection_seeds:].copy())  # fmt: skip
    return HeldOut(selection, values, selection_seeds)


def format_interval(mean: float, low: float, high: float, scale: float = 1.0, digits: int = 1) -> str:
    """``"65.2 [63.1, 67.3]"`` (values times ``scale``); ``"n/a"`` for NaN."""
    if not np.isfinite(mean):
        return "n/a"
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} [{low * scale:.{digits}f}, {high * scale:.{digits}f}]"
