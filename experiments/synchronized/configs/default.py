"""The synchronized study: parts A (BatchNorm statistics), B (weight decay), C (augmentation), D
(per-layer schedules) and E (contrastive temperature) on MNIST-1D, and D on transformer_warmup's
character transformer (DT).

Every arm of a part sees the same initialisation and data order per seed; the declared analysis
below is fixed before the run (``experiments.common.analysis``), Holm within each part.
"""

from __future__ import annotations

import dataclasses

from experiments.common.analysis import Question

# Part A: BatchNorm running-statistics arms (Flax convention: decay = weight of the old statistics).
BN_ARMS = ("fixed_0.9", "fixed_0.99", "coupled", "pointnet")  # PreciseBN is the reference of every arm
BN_SCHEDULES = ("step", "warmup_cosine")  # step: two drops of 10x; warmup_cosine: the extra arm
# Part B: how the per-step shrinkage s(t) of the weights follows the LR (AdamW + cosine).
DECAY_ARMS = ("coupled", "constant", "rising")
# Part D: per-depth cosine schedules of the zoo CNN (depths 0-2 convolutions, 3 the head).
LAYER_ARMS = ("uniform", "deeper_slower", "shallower_slower", "layerwise_constant")
# Part C: how the augmentation strength follows the cosine LR (same mean strength; none = no augmentation).
AUG_ARMS = ("none", "constant", "falling", "rising")
# Part E: contrastive temperature arms (Kukleva's periodic cosine, constants, coupled to the LR).
# const_1.0 and cosine_tau_shifted (half a period later: every period starts and ends at 0.1) are
# exploratory controls added after the first run (configs/temperature_controls.py).
TEMPERATURE_ARMS = ("cosine_tau", "const_0.1", "const_0.2", "coupled", "const_1.0", "cosine_tau_shifted")
TEMPERATURE_RUNS = (("fixed", ("cosine_tau", "const_0.1", "const_0.2")),
                    ("cosine", ("cosine_tau", "const_0.1", "const_0.2", "coupled")))  # (LR schedule, arms)
TAIL_CLASSES = (7, 8, 9)  # the three rarest classes of the long-tailed training set

MISMATCH = ("mismatch: test loss in eval mode with the arm's running statistics minus with PreciseBN "
            "statistics (same weights), mean over the checkpoints (every bn_record_every steps; every arm's "
            "statistics start from PreciseBN's at the initial weights)")  # fmt: skip


AUG_TEST = ("final test accuracy at each arm's mean strength chosen on final validation accuracy "
            "(stats.select over aug_means; none has one cell)")
EL_CHOICE = ("each arm's peak LR chosen from temp_lr_grid on final balanced validation accuracy "
             "(stats.select over the LRs, means over seeds)")
TAIL_ACCURACY = ("tail-class test accuracy: mean over the tail classes (TAIL_CLASSES) of the per-class "
                 "accuracy on the balanced test set, nearest-class-mean read-out of the final encoder")


def _q(name, question, statistic, family, test="paired_t"):
    return Question(name=name, question=question, statistic=statistic, test=test, correction_family=family)


ANALYSES = (
    _q("a_mismatch_coupled_vs_fixed_0.9", "A: does coupling the BN momentum to the LR shrink the "
       "train/eval normalisation mismatch, against Flax 0.9 (PyTorch 0.1)?",
       f"{MISMATCH}; coupled minus fixed_0.9 per seed, step schedule", "A"),
    _q("a_mismatch_coupled_vs_fixed_0.99", "A: ... against Flax's default 0.99 (PyTorch 0.01)?",
       f"{MISMATCH}; coupled minus fixed_0.99 per seed, step schedule", "A"),
    _q("a_mismatch_pointnet_vs_fixed_0.9", "A: does PointNet's halving at every drop shrink it?",
       f"{MISMATCH}; pointnet minus fixed_0.9 per seed, step schedule", "A"),
    _q("a_accuracy_coupled_vs_fixed_0.99", "A: does coupling change final test accuracy (eval mode)?",
       "final test accuracy with running statistics, coupled minus fixed_0.99 per seed, step schedule", "A"),
    _q("b_tau_constant", "B: is the best timescale tau = 1/(lr lambda) the same at every LR "
       "(Wang & Aitchison 2025), i.e. does the best lambda scale as 1/lr?",
       "coupled arm, per seed: least-squares slope of log2(validation-best lambda) on log2(lr) over the LR "
       "grid, plus 1 (0 when the best tau is constant; +1 when the best lambda ignores the LR)",
       "B", test="one_sample_t"),
    _q("b_constant_vs_coupled", "B: constant shrinkage while the LR anneals vs the AdamW default (coupled)",
       "test accuracy at each arm's validation-chosen (lr, lambda) cell, constant minus coupled per seed",
       "B"),
    _q("b_rising_vs_coupled", "B: the mission's shrinkage rising as the LR falls vs coupled",
       "test accuracy at each arm's validation-chosen (lr, lambda) cell, rising minus coupled per seed", "B"),
    # -- part C (augmentation strength against the LR) --
    _q("c_rising_vs_constant", "C: augmentation rising as the LR falls (the mission) vs constant, same mean",
       f"{AUG_TEST}, rising minus constant per seed", "C"),
    _q("c_falling_vs_constant", "C: augmentation falling with the LR vs constant, same mean strength",
       f"{AUG_TEST}, falling minus constant per seed", "C"),
    _q("c_constant_vs_none", "C: does the augmentation help at all (constant strength vs none)?",
       f"{AUG_TEST}, constant minus none per seed", "C"),
    # -- part D --
    _q("d_deeper_slower_vs_uniform", "D: do deeper layers decaying more slowly help (the mission)?",
       "final test accuracy, deeper_slower minus uniform per seed", "D"),
    _q("d_shallower_slower_vs_uniform", "D: ... and the opposite shape?",
       "final test accuracy, shallower_slower minus uniform per seed", "D"),
    _q("d_deeper_slower_vs_layerwise", "D: against ELECTRA/BEiT's constant layer-wise decay",
       "final test accuracy, deeper_slower minus layerwise_constant per seed", "D"),
    # -- part E -------------------------------------------------------------------------------------
    _q("e_cosine_tau_vs_const_0.1", "E: does Kukleva et al.'s periodic cosine temperature (0.1 to 1.0) "
       "raise tail-class accuracy over a constant 0.1, with the LR held fixed?",
       f"{TAIL_ACCURACY}; cosine_tau minus const_0.1 per seed, fixed LR", "E"),
    _q("e_cosine_tau_vs_const_0.2", "E: ... over a constant 0.2, with the LR held fixed?",
       f"{TAIL_ACCURACY}; cosine_tau minus const_0.2 per seed, fixed LR", "E"),
    _q("e_coupled_vs_const_0.1", "E: does a temperature coupled to a cosine LR (1.0 at the peak, 0.1 at the "
       "end) raise tail-class accuracy over a constant 0.1 under the same cosine LR (the mission's claim)?",
       f"{TAIL_ACCURACY}; coupled minus const_0.1 per seed, cosine LR", "E"),
    # -- part EL: part E's questions with every arm at its own peak LR (added after E's results showed
    # one LR for every arm; declared before EL's run). Its own family.
    _q("el_cosine_tau_vs_const_0.1", "E, each arm at its validation-chosen peak LR: periodic cosine vs 0.1, "
       "LR fixed", f"{TAIL_ACCURACY}; {EL_CHOICE}; cosine_tau minus const_0.1 per seed, fixed LR", "EL"),
    _q("el_cosine_tau_vs_const_0.2", "E, each arm at its validation-chosen peak LR: periodic cosine vs 0.2",
       f"{TAIL_ACCURACY}; {EL_CHOICE}; cosine_tau minus const_0.2 per seed, fixed LR", "EL"),
    _q("el_coupled_vs_const_0.1", "E, each arm at its validation-chosen peak LR: coupled to the cosine LR "
       "vs a constant 0.1 (the mission's claim)",
       f"{TAIL_ACCURACY}; {EL_CHOICE}; coupled minus const_0.1 per seed, cosine LR", "EL"),
    # Part DT: the same three comparisons on the transformer (lower loss is better), their own family
    _q("dt_deeper_slower_vs_uniform", "D on the transformer: do deeper blocks decaying more slowly help?",
       "final test loss (nats per character), deeper_slower minus uniform per seed", "DT"),
    _q("dt_shallower_slower_vs_uniform", "D on the transformer: ... and the opposite shape?",
       "final test loss (nats per character), shallower_slower minus uniform per seed", "DT"),
    _q("dt_deeper_slower_vs_layerwise", "D on the transformer: against ELECTRA/BEiT's layer-wise decay",
       "final test loss (nats per character), deeper_slower minus layerwise_constant per seed", "DT"),
)


@dataclasses.dataclass(frozen=True)
class Config:
    # parts run (DT: D on the transformer); EL runs alone, in configs/temperature_lr.py
    parts: tuple[str, ...] = ("A", "B", "C", "D", "DT", "E")
    seeds: int = 6  # seeds per cell: init and data order, the same for every arm of a part
    batch_size: int = 100  # minibatch (batches drawn with replacement)
    validation_size: int = 500  # training examples held out for selection (part B)
    data_seed: int = 42  # MNIST-1D generator seed (the paper's data)
    seed: int = 0  # master PRNG seed: results are deterministic for it
    # Part A: BN CNN, SGD with momentum 0.9 at a high LR
    bn_steps: int = 1500  # training steps (drops at 50% and 75%)
    bn_peak_lr: float = 0.4  # SGD peak LR (high; BN makes the convolutions scale-invariant)
    bn_drop: float = 0.1  # each step drop multiplies the LR by this
    bn_warmup_fraction: float = 0.05  # warmup_cosine: linear warmup over this fraction of the steps
    bn_record_every: int = 20  # checkpoint period of the mismatch and statistics error
    bn_coupled_max: float = 0.999  # coupled arm: decay at LR 0 (0.9 at the peak, time constant ~ 1/lr)
    bn_pointnet_start: float = 0.5  # PointNet: PyTorch momentum 0.5, halved at every drop (floor 0.01)
    bn_precise_examples: int = 1000  # training examples PreciseBN recomputes the statistics from
    bn_spike_threshold: float = 0.1  # a checkpoint's mismatch above this (nats) counts as a spike
    # Part B: AdamW-style decay on the MLP, cosine LR to 0
    wd_epochs: int = 40  # training epochs (35 steps each)
    wd_lrs: tuple[float, ...] = (2.5e-3, 5e-3, 1e-2, 2e-2)  # Adam peak LRs (x2 apart; MNIST-1D's 1e-2 inside)
    wd_lambdas: tuple[float, ...] = (2**-5, 2**-4, 2**-3, 2**-2, 2**-1, 1.0, 2.0)  # x2 apart; tau 0.7-366 ep.
    # Part C: MNIST-1D's shift and noise augmentations on the MLP, strength scheduled against the LR
    aug_seeds: int = 12  # part C's seeds (MLP members are cheap): init, data order and draws shared by arms
    aug_epochs: int = 60  # training epochs (35 steps each)
    aug_record_epochs: int = 5  # evaluate every this many epochs (learning curves, exploratory)
    aug_peak_lr: float = 1e-2  # Adam peak LR, cosine to 0 (MNIST-1D's reference LR)
    aug_max_shift: float = 8.0  # strength 1: circular shifts of up to 8 of the 40 positions
    aug_noise_std: float = 0.25  # strength 1: iid Gaussian noise of this std (the inputs' std is 1)
    aug_means: tuple[float, ...] = (2**-2, 2**-1.5, 2**-1, 2**-0.5, 1.0)  # mean strengths (x sqrt 2 apart),
    # each arm's chosen on validation
    # Part D: per-depth cosine on the zoo CNN with Adam
    layer_epochs: int = 30  # training epochs
    layer_peak_lr: float = 1e-2  # Adam peak LR (MNIST-1D's reference)
    layer_short: float = 0.5  # the fastest-decaying depth's cosine lasts this fraction of the run
    # Part E: supervised contrastive CNN on long-tailed MNIST-1D, SGD with momentum
    temp_steps: int = 3000  # training steps (about 400 epochs of the 745 long-tailed examples)
    temp_lr: float = 0.05  # SGD peak LR (the best mean validation accuracy of 0.01/0.05/0.2 in a pilot)
    temp_momentum: float = 0.9  # SGD momentum
    temp_tau_min: float = 0.1  # Kukleva's tau_-, and the coupled temperature at LR 0
    temp_tau_max: float = 1.0  # Kukleva's tau_+, and the coupled temperature at the peak LR
    temp_period: int = 600  # cosine_tau's period in steps: 5 per run (Kukleva: T = 400 of 2000 epochs)
    temp_records: int = 5  # evaluations per run (the last is reported)
    temp_n_max: int = 300  # training examples of class 0 (the head)
    temp_imbalance: float = 100.0  # head count / rarest count: class k keeps n_max * 100 ** (-k / 9)
    temp_runs: tuple = TEMPERATURE_RUNS  # (LR schedule, arms) of part E; the declared arms must be in it
    # Part EL: part E's declared runs, each at every peak LR of the grid (the pilot's), the best per arm
    # chosen on balanced validation accuracy; runs in its own config (configs/temperature_lr.py)
    temp_lr_grid: tuple[float, ...] = (0.01, 0.05, 0.2)
    layer_decay: float = 0.75  # layerwise_constant: peak x decay ** (top - depth) (ELECTRA/BEiT)
    # Part DT: part D's arms on transformer_warmup's Pre-LN character transformer (layers_transformer.py)
    layer_tf_depth: int = 6  # scanned blocks L (depths: embeddings 0, blocks 1..L, final LN + head L + 1)
    layer_tf_width: int = 64  # d_model (transformer_warmup's default)
    layer_tf_heads: int = 4  # attention heads
    layer_tf_context: int = 32  # characters of context
    layer_tf_batch_size: int = 16  # windows per step
    layer_tf_steps: int = 300  # Adam steps
    layer_tf_warmup: int = 25  # linear warmup steps, the same at every depth
    layer_tf_peak_lr: float = 3e-3  # peak LR (Pre-LN trains at it in transformer_warmup)
    layer_tf_b2: float = 0.98  # Adam's b2 (Vaswani et al. 2017)
    layer_tf_eval_windows: int = 256  # validation and test windows of 33 characters
    analyses: tuple[Question, ...] = ANALYSES  # declared before the run (study checks them)


def get_config() -> Config:
    return Config()
