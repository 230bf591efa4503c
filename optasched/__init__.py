"""optasched: learning-rate (and any-hyperparameter) schedules as pytrees.

A schedule's numeric hyperparameters are the leaves of a pytree, so schedules
jit without retracing, vmap over whole sweeps (warmup lengths and boundaries
included), and differentiate with respect to their float hyperparameters.

    import optasched as osd
"""

from .schedules._combinators import clip as clip
from .schedules._combinators import cycle as cycle
from .schedules._combinators import from_function as from_function
from .schedules._combinators import join as join
from .schedules._combinators import maximum as maximum
from .schedules._combinators import minimum as minimum
from .schedules._combinators import restarts as restarts
from .schedules._combinators import shift as shift
from .schedules._combinators import staircase as staircase
from .schedules._combinators import warmup as warmup
from .schedules._base import Schedule as Schedule
from .schedules._base import as_schedule as as_schedule
from .schedules._cyclic import cosine_restarts as cosine_restarts
from .schedules._cyclic import cyclic as cyclic
from .schedules._families import constant as constant
from .schedules._families import cosine as cosine
from .schedules._families import exponential as exponential
from .schedules._families import inverse_sqrt as inverse_sqrt
from .schedules._families import inverse_time as inverse_time
from .schedules._families import linear as linear
from .schedules._families import noam as noam
from .schedules._families import polynomial as polynomial
from .schedules._families import rex as rex
from .schedules._families import step_decay as step_decay
from .schedules._families import tanh_decay as tanh_decay
from .schedules._piecewise import multistep as multistep
from .schedules._piecewise import one_cycle as one_cycle
from .schedules._piecewise import piecewise_constant as piecewise_constant
from .schedules._piecewise import piecewise_linear as piecewise_linear
from .schedules._piecewise import wsd as wsd
from .sweeps._stack import Batch as Batch
from .sweeps._stack import check as check
from .sweeps._stack import checked as checked
from .sweeps._stack import choice as choice
from .sweeps._stack import grid as grid
from .sweeps._stack import int_uniform as int_uniform
from .sweeps._stack import log_uniform as log_uniform
from .sweeps._stack import sample as sample
from .sweeps._stack import stack as stack
from .sweeps._stack import uniform as uniform
from .bridge._inject import InjectState as InjectState
from .bridge._inject import hyperparams as hyperparams
from .bridge._inject import inject as inject
from .schedules._coupled import coupled as coupled
from .schedules._coupled import coupled_ema_decay as coupled_ema_decay
from .schedules._coupled import coupled_temperature as coupled_temperature
from .schedules._coupled import coupled_weight_decay as coupled_weight_decay
from .schedules._coupled import cycled_momentum as cycled_momentum
from .bridge._plateau import PlateauState as PlateauState
from .bridge._plateau import plateau as plateau
from .bridge._plateau import reduce_on_plateau as reduce_on_plateau
from .bridge._layerwise import layerwise_decay as layerwise_decay
from .bridge._layerwise import param_groups as param_groups
from .bridge._range_test import RangeTest as RangeTest
from .bridge._range_test import lr_range_test as lr_range_test
from .bridge._range_test import plot_range_test as plot_range_test

from .sweeps._engine import sweep as sweep
from .sweeps._loop import LoopResult as LoopResult
from .sweeps._loop import all_finite as all_finite
from .sweeps._loop import train_loop as train_loop
from .sweeps._results import Best as Best
from .sweeps._results import SweepResult as SweepResult

from .schedules._config import from_config as from_config
from .schedules._config import to_config as to_config

__version__ = "0.1.0"
