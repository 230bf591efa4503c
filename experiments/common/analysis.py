"""Analyses declared before the run, and computed exactly as declared.

A study's config lists its primary questions in an ``analyses`` field (a
tuple of :class:`Question`), fixed before anything runs; the runner writes them
into ``results.json`` under ``analysis_plan``. The study answers each with
:func:`answer` (or :func:`answer_all`, which also applies Holm within each
correction family), and the record says which test ran. The README reports
these records whatever they say. Anything else a study reports is
exploratory: wrap it with :func:`exploratory` so the file says so.

Tests (``Question.test``), all on per-seed values (the seed is the unit of replication):

- ``"paired_t"``: a - b per seed, Student t interval and two-sided p (``stats.paired``);
- ``"one_sample_t"``: per-seed values (a contrast) against 0 (``stats.one_sample``);
- ``"paired_bootstrap"``: a - b per seed (or a contrast against 0), seeded BCa
  bootstrap interval and percentile-inversion p (``stats.paired_bootstrap``);
- ``"fisher_exact"``: per-seed failure flags of two arms (True = failed),
  Fisher's exact test on the 2x2 table of counts (unpaired; ``mean`` is the
  difference in failure rates, no interval).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats as _scipy_stats

from . import stats

__all__ = ["TESTS", "Question", "answer", "answer_all", "exploratory", "plan"]

TESTS = {
    "paired_t": "t interval and two-sided t test on per-seed differences a - b "
    "(seeds with a non-finite arm dropped)",
    "one_sample_t": "t interval and two-sided t test of mean 0 on per-seed values (non-finite seeds dropped)",
    "paired_bootstrap": "seeded BCa bootstrap interval of the mean per-seed difference; "
    "p by percentile inversion",
    "fisher_exact": "Fisher's exact test on the 2x2 table of failed / succeeded seeds of two arms (unpaired)",
}


@dataclasses.dataclass(frozen=True)
class Question:
    """One primary question of a study, declared in its config before the run.

    Args:
      name: a short key (``"coupled_vs_lr"``); the record in results.json carries it.
      question: the question in words, as the README asks it.
      statistic: what is computed per seed and compared, in words
        (``"test accuracy of coupled minus lr_schedule, each at its validation-chosen peak LR"``).
      test: one of :data:`TESTS`.
      unit: the unit of replication (``"seed"``).
      error_model: how the seeds' variation enters, in words
        (``"per-seed differences i.i.d. normal; t with n-1 df"``).
      correction_family: questions with the same family get Holm-adjusted together;
        None for a question tested alone.
      level: the interval's coverage (and 1 - level the significance threshold, after correction).
      resamples: bootstrap resamples (``paired_bootstrap`` only).
      seed: bootstrap seed (``paired_bootstrap`` only).
    """

    name: str
    question: str
    statistic: str
    test: str = "paired_t"
    unit: str = "seed"
    error_model: str = "per-seed differences i.i.d. normal; Student t with n - 1 df"
    correction_family: str | None = None
    level: float = 0.95
    resamples: int = 10_000
    seed: int = 0

    def __post_init__(self):
        if self.test not in TESTS:
            raise ValueError(f"Question {self.name!r}: test must be one of {sorted(TESTS)}, "
                             f"got {self.test!r}")
        if not 0 < self.level < 1:
            raise ValueError(f"Question {self.name!r}: level must be in (0, 1), got {self.level!r}")
        if not self.name:
            raise ValueError("Question: name must be a non-empty string")


def plan(questions: Sequence[Question]) -> list[dict]:
    """The declared questions as plain dicts (what the runner writes under ``analysis_plan``)."""
    names = [q.name for q in questions]
    if len(set(names)) != len(names):
        raise ValueError(f"analyses: question names must be unique, got {names}")
    return [dataclasses.asdict(q) for q in questions]


def answer(question: Question, a: Sequence[float], b: Sequence[float] | None = None) -> dict[str, Any]:
    """Run exactly the declared test of ``question`` on per-seed values.

    Args:
      question: the declared question.
      a: per-seed values of the first arm, or of the contrast (one_sample_t, paired_bootstrap without b),
        or per-seed failure flags (fisher_exact).
      b: per-seed values of the second arm (paired_t, paired_bootstrap, fisher_exact); same seeds as ``a``.

    Returns:
      ``{name, question, statistic, test, test_description, unit, error_model, correction_family,
      level, declared: True, mean, low, high, p_value, n}`` (``p_holm`` is added by :func:`answer_all`).
    """
    test = question.test
    if test in ("paired_t", "fisher_exact") and b is None:
        raise ValueError(f"answer({question.name!r}): test {test!r} needs two arms, a and b")
    if test == "one_sample_t" and b is not None:
        raise ValueError(f"answer({question.name!r}): one_sample_t takes per-seed values a only")
    if test == "paired_t":
        result = stats.paired(a, b, question.level).as_dict()
    elif test == "one_sample_t":
        result = stats.one_sample(a, question.level).as_dict()
    elif test == "paired_bootstrap":
        b = np.zeros(np.shape(a)) if b is None else b
        result = stats.paired_bootstrap(a, b, question.level, resamples=question.resamples,
                                        seed=question.seed).as_dict()  # fmt: skip
    else:
        fa, fb = np.asarray(a, dtype=bool).reshape(-1), np.asarray(b, dtype=bool).reshape(-1)
        table = [[int(fa.sum()), int((~fa).sum())], [int(fb.sum()), int((~fb).sum())]]
        p = float(_scipy_stats.fisher_exact(table).pvalue)
        result = {"mean": float(fa.mean() - fb.mean()), "low": None, "high": None, "p_value": p,
                  "n": int(fa.size), "table": table}  # fmt: skip
    return {
        "name": question.name,
        "question": question.question,
        "statistic": question.statistic,
        "test": test,
        "test_description": TESTS[test],
        "unit": question.unit,
        "error_model": question.error_model,
        "correction_family": question.correction_family,
        "level": question.level,
        "declared": True,
        **result,
    }


PerSeed = Sequence[float]


def answer_all(questions: Sequence[Question],
               values: Mapping[str, PerSeed | tuple[PerSeed, PerSeed]]) -> dict[str, dict]:
    """Answer every declared question and Holm-adjust within each correction family.

    Args:
      questions: the config's ``analyses``.
      values: ``{question name: a}`` or ``{question name: (a, b)}``; every question must be present.

    Returns:
      ``{name: record}`` in the declared order; each record has ``p_holm`` (the raw p
      for a question alone in its family or with none) and ``significant``
      (``p_holm < 1 - level``).
    """
    missing = [q.name for q in questions if q.name not in values]
    if missing:
        raise ValueError(f"answer_all: no values for declared questions {missing}")
    extra = sorted(set(values) - {q.name for q in questions})
    if extra:
        raise ValueError(f"answer_all: values for undeclared questions {extra}; "
                         "report them with exploratory()")
    records = {}
    for q in questions:
        v = values[q.name]
        records[q.name] = answer(q, *v) if isinstance(v, tuple) else answer(q, v)
    families: dict[str | None, list[str]] = {}
    for q in questions:
        families.setdefault(q.correction_family, []).append(q.name)
    for family, names in families.items():
        raw = [records[n]["p_value"] for n in names]
        adjusted = stats.holm(raw) if family is not None else np.asarray(raw, dtype=np.float64)
        for n, p in zip(names, adjusted):
            records[n]["p_holm"] = float(p)
            records[n]["family_size"] = len(names) if family is not None else 1
            records[n]["significant"] = bool(np.isfinite(p) and p < 1 - records[n]["level"])
    return records


def exploratory(record: Mapping[str, Any], note: str = "") -> dict[str, Any]:
    """Label a reported number (or dict of numbers) as exploratory: not a declared analysis.

    Args:
      record: what is reported.
      note: why it is reported (e.g. "chosen after seeing the results").
    """
    return {"exploratory": True, **({"note": note} if note else {}), **dict(record)}
