"""optasched: learning-rate (and any-hyperparameter) schedules as pytrees.

A schedule's numeric hyperparameters are the leaves of a pytree, so schedules
jit without retracing, vmap over whole sweeps (warmup lengths and boundaries
included), and differentiate with respect to their float hyperparameters.

    import optasched as osd
"""

# -- schedules: each class is its public constructor (osd.cosine is schedules.Cosine) --
from .schedules import Schedule as Schedule
from .schedules import StatefulSchedule as StatefulSchedule
from .schedules import as_schedule as as_schedule
from .schedules import check as check
from .schedules import checked as checked
from .schedules import from_config as from_config
from .schedules import switch as switch
from .schedules import Clip as clip
from .schedules import Constant as constant
from .schedules import Cosine as cosine
from .schedules import CosineRestarts as cosine_restarts
from .schedules import Coupled as coupled
from .schedules import CoupledEmaDecay as coupled_ema_decay
from .schedules import CoupledTemperature as coupled_temperature
from .schedules import CoupledWeightDecay as coupled_weight_decay
from .schedules import Cycle as cycle
from .schedules import CycledMomentum as cycled_momentum
from .schedules import Cyclic as cyclic
from .schedules import Exponential as exponential
from .schedules import FromFunction as from_function
from .schedules import InverseSqrt as inverse_sqrt
from .schedules import InverseTime as inverse_time
from .schedules import Join as join
from .schedules import Linear as linear
from .schedules import Maximum as maximum
from .schedules import Minimum as minimum
from .schedules import Multistep as multistep
from .schedules import Noam as noam
from .schedules import OneCycle as one_cycle
from .schedules import PiecewiseConstant as piecewise_constant
from .schedules import PiecewiseLinear as piecewise_linear
from .schedules import Polynomial as polynomial
from .schedules import Restarts as restarts
from .schedules import Rex as rex
from .schedules import Shift as shift
from .schedules import Staircase as staircase
from .schedules import StepDecay as step_decay
from .schedules import TanhDecay as tanh_decay
from .schedules import Warmup as warmup
from .schedules import Wsd as wsd

# -- per-sample weightings (each class is its public constructor: osd.small_loss is weightings.SmallLoss) --
from .weightings import Weighting as Weighting
from .weightings import CoTeaching as co_teaching
from .weightings import Focal as focal
from .weightings import GCE as gce
from .weightings import MarginWeighting as margin_weighting
from .weightings import SelfPaced as self_paced
from .weightings import SmallLoss as small_loss
from .weightings import UniformWeighting as uniform_weighting

# -- names users know (Hugging Face, PyTorch, timm) --
from .schedules import get_schedule as get_schedule

# -- sweeps --
from .sweeps import Batch as Batch
from .sweeps import choice as choice
from .sweeps import grid as grid
from .sweeps import int_uniform as int_uniform
from .sweeps import log_uniform as log_uniform
from .sweeps import sample as sample
from .sweeps import stack as stack
from .sweeps import uniform as uniform
from .bridge import InjectState as InjectState
from .bridge import hyperparams as hyperparams
from .bridge import inject as inject
from .bridge import replace_schedules as replace_schedules
from .bridge import restore_schedules as restore_schedules
from .bridge import to_config as to_config  # schedules' to_config, and optimizer states too
from .schedules import PlateauState as PlateauState
from .schedules import Plateau as plateau
from .bridge import reduce_on_plateau as reduce_on_plateau
from .bridge import plateau_step as plateau_step
from .bridge import layerwise_decay as layerwise_decay
from .bridge import param_groups as param_groups
from .bridge import per_layer as per_layer
from .bridge import schedule_values as schedule_values
from .bridge import step_count as step_count
from .bridge import dropout as dropout
from .bridge import overriding as overriding
from .bridge import RangeTest as RangeTest
from .bridge import lr_range_test as lr_range_test
from .bridge import plot_range_test as plot_range_test
from .bridge import to_keras as to_keras
from .bridge import HypergradientState as HypergradientState
from .bridge import hypergradient as hypergradient
from .bridge import sgd_hd as sgd_hd
from .bridge import adam_hd as adam_hd
from .bridge import unrolled_loss as unrolled_loss
from .bridge import meta_gradient as meta_gradient
from .bridge import meta_tune as meta_tune
from .bridge import MetaTuneResult as MetaTuneResult

from .sweeps import sweep as sweep
from .sweeps import LoopResult as LoopResult
from .sweeps import all_finite as all_finite
from .sweeps import train_loop as train_loop
from .sweeps import Best as Best
from .sweeps import SweepResult as SweepResult
from .sweeps import stepped_sweep as stepped_sweep
from .sweeps import SteppedSweep as SteppedSweep
from .sweeps import successive_halving as successive_halving
from .sweeps import HalvingResult as HalvingResult
from .sweeps import pbt as pbt
from .sweeps import PBTResult as PBTResult
from .sweeps import explore as explore
from .sweeps import Explore as Explore
from .sweeps import leaf_names as leaf_names

# -- federated learning (osd.round_clock is federated.RoundClock) --
from .federated import RoundClock as round_clock
from .federated import ClientData as ClientData
from .federated import FederationResult as FederationResult
from .federated import federate as federate
from .federated import pad_clients as pad_clients
from .federated import fedavg as fedavg
from .federated import fedavgm as fedavgm
from .federated import fedadam as fedadam
from .federated import fedyogi as fedyogi

# -- a quick look --
from ._plot import plot as plot


__version__ = "0.1.0"
