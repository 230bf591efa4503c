"""Question 2 alone: does Ma & Yarats' untuned warmup of 2 / (1 - b2) steps serve as a default?

Ma & Yarats (2021) propose a linear warmup over 2 / (1 - b2) steps as an
untuned default for Adam (about as good as RAdam's rectification); they do
not claim it is the shortest warmup that trains. So the declared test asks
what a default must deliver: at each b2, does halving the rule's warmup cost
test loss (is the rule's length needed?), and does doubling it gain test loss
(is the rule's length enough?), paired over seeds, Holm over the six tests?
A third, separate test asks whether the shortest warmup that trains grows
with b2 as the rule would. b2 in {0.96, 0.98, 0.99} gives
rules of 50 / 100 / 200 steps; the warmup grid {0, 25, 50, 100, 200, 400}
holds half, once and twice each rule, and 400 = 2x the largest rule fits well
inside 1000 steps. Post-LN only (it fails without warmup at this peak; Pre-LN
does not, Q1), 8 seeds, one peak.

Size: 3 b2 x 6 warmups x 8 seeds = 144 runs of 1000 steps, one compiled
program. The model is the default's (6 blocks, width 64) with 8 x 16 = 128
predicted characters per step (a quarter of the default's) so the sweep fits
about 25 minutes on 2 free cores (measured beforehand: 0.0115 CPU-seconds per
run-step for this shape, about 1700 CPU-seconds in all).
"""

import dataclasses

from experiments.common.analysis import Question

from . import default

BETA2S = (0.96, 0.98, 0.99)  # rules 2 / (1 - b2): 50, 100, 200 warmup steps


def rule_warmup(b2: float) -> int:
    """Ma & Yarats' warmup length 2 / (1 - b2), in steps."""
    return round(2.0 / (1.0 - b2))


def questions(beta2s: tuple[float, ...], peak: float) -> tuple[Question, ...]:
    """Question 2's declared tests for these b2 values (names: ``study.beta2_study`` computes them).

    Args:
      beta2s: Adam's b2 values, ascending; the warmup grid must hold half, once and twice each rule.
      peak: the peak LR, for the statistic's wording.
    """
    out = []
    for b2 in beta2s:
        rule = rule_warmup(b2)
        stat = (
            "test loss (nats/char, end of training, fixed test windows) of Post-LN "
            f"at peak {peak:g}, b2 = {b2:g}"
        )
        out.append(
            Question(
                name=f"half_minus_rule_b2_{b2:g}",
                question=f"At b2 = {b2:g}, does half the rule's warmup ({rule // 2} steps) lose test loss "
                f"against the rule's {rule}?",
                statistic=f"{stat}: W = {rule // 2} minus W = {rule}, per seed (a failed run keeps its loss)",
                test="paired_t",
                correction_family="q2_rule",
            )
        )
        out.append(
            Question(
                name=f"rule_minus_double_b2_{b2:g}",
                question=f"At b2 = {b2:g}, does twice the rule's warmup ({2 * rule} steps) gain test loss "
                f"over the rule's {rule}?",
                statistic=f"{stat}: W = {rule} minus W = {2 * rule}, per seed (a failed run keeps its loss)",
                test="paired_t",
                correction_family="q2_rule",
            )
        )
    low, high = beta2s[0], beta2s[-1]
    out.append(
        Question(
            name="critical_warmup_growth",
            question=f"Does the shortest warmup that trains grow from b2 = {low:g} to b2 = {high:g} "
            f"(the rule: {rule_warmup(low)} to {rule_warmup(high)} steps)?",
            statistic="per seed: the index in the warmup grid (W = 0 is index 0) of the shortest warmup from "
            f"which every longer warmup of the grid trains, at b2 = {high:g} minus at b2 = {low:g} (NaN, "
            "dropped, where no warmup of the grid trains); on a doubling grid the rule predicts "
            "log2 of the rules' ratio",
            test="one_sample_t",
            error_model="per-seed index differences i.i.d. normal; Student t with n - 1 df (a coarse, "
            "discrete statistic: read the interval against 0 and against the rule's prediction)",
            correction_family=None,
        )
    )
    return tuple(out)


def get_config() -> default.Config:
    return dataclasses.replace(
        default.get_config(),
        context=16,  # characters of context per window
        batch_size=8,  # 8 x 16 = 128 predicted characters per step
        steps=1000,  # optimizer steps: 2.5x the rule's largest warmup x 2
        record_every=50,  # twenty points per curve
        seeds=8,  # seeds per cell, shared by every arm
        architectures=(),  # no Q1/Q3/Q4/Q5 grid: this config is question 2 alone
        beta2s=BETA2S,  # rules 50 / 100 / 200
        beta2_warmups=(0, 25, 50, 100, 200, 400),  # half, once and twice every rule; 400 = 2 x 200
        beta2_peaks=(1e-2,),  # Post-LN fails here without warmup (Q1)
        beta2_architectures=("post",),  # Pre-LN trains without warmup at this peak (Q1)
        radam_peaks=(),  # question 5 is not run here
        noam_warmups=(),  # question 5 is not run here
        gradient_depths=(),  # question 6 is not run here
        analyses=questions(BETA2S, 1e-2),  # declared before the run; study.beta2_study computes exactly these
    )
