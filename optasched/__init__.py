"""optasched: learning-rate (and any-hyperparameter) schedules as pytrees.

A schedule's numeric hyperparameters are the leaves of a pytree, so schedules
jit without retracing, vmap over whole sweeps (warmup lengths and boundaries
included), and differentiate with respect to their float hyperparameters.

    import optasched as osd
"""

from ._combinators import clip as clip
from ._combinators import cycle as cycle
from ._combinators import from_function as from_function
from ._combinators import join as join
from ._combinators import maximum as maximum
from ._combinators import minimum as minimum
from ._combinators import restarts as restarts
from ._combinators import shift as shift
from ._combinators import staircase as staircase
from ._combinators import warmup as warmup
from ._core import Schedule as Schedule
from ._core import as_schedule as as_schedule
from ._cyclic import cosine_restarts as cosine_restarts
from ._cyclic import cyclic as cyclic
from ._families import constant as constant
from ._families import cosine as cosine
from ._families import exponential as exponential
from ._families import inverse_sqrt as inverse_sqrt
from ._families import inverse_time as inverse_time
from ._families import linear as linear
from ._families import noam as noam
from ._families import polynomial as polynomial
from ._families import rex as rex
from ._families import step_decay as step_decay
from ._families import tanh_decay as tanh_decay
from ._piecewise import multistep as multistep
from ._piecewise import one_cycle as one_cycle
from ._piecewise import piecewise_constant as piecewise_constant
from ._piecewise import piecewise_linear as piecewise_linear
from ._piecewise import wsd as wsd
from ._sweep import Batch as Batch
from ._sweep import check as check
from ._sweep import checked as checked
from ._sweep import choice as choice
from ._sweep import grid as grid
from ._sweep import int_uniform as int_uniform
from ._sweep import log_uniform as log_uniform
from ._sweep import sample as sample
from ._sweep import stack as stack
from ._sweep import uniform as uniform
from ._inject import InjectState as InjectState
from ._inject import hyperparams as hyperparams
from ._inject import inject as inject
from ._coupled import coupled as coupled
from ._coupled import coupled_ema_decay as coupled_ema_decay
from ._coupled import coupled_temperature as coupled_temperature
from ._coupled import coupled_weight_decay as coupled_weight_decay
from ._coupled import cycled_momentum as cycled_momentum
from ._plateau import PlateauState as PlateauState
from ._plateau import plateau as plateau
from ._plateau import reduce_on_plateau as reduce_on_plateau
from ._layerwise import layerwise_decay as layerwise_decay
from ._layerwise import param_groups as param_groups
from ._range_test import RangeTest as RangeTest
from ._range_test import lr_range_test as lr_range_test
from ._range_test import plot_range_test as plot_range_test

from ._engine import sweep as sweep
from ._loop import LoopResult as LoopResult
from ._loop import all_finite as all_finite
from ._loop import train_loop as train_loop
from ._results import Best as Best
from ._results import SweepResult as SweepResult
from ._data import load_mnist1d as load_mnist1d

from ._config import from_config as from_config
from ._config import to_config as to_config

__version__ = "0.1.0"
