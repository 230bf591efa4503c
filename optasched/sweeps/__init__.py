"""sweeps: many configurations in one compiled program.

Build a sweep (:func:`stack`, :func:`grid`, :func:`sample`), run a training
function written for ONE configuration over all its members (:func:`sweep`,
with :func:`train_loop` isolating divergent members), and read the results
(:class:`SweepResult`). Search beyond a grid stops bad members early
(:func:`successive_halving`) or evolves a population (:func:`pbt`). Other
layers and the top-level package import from here only, never from the
private modules.
"""

from ._engine import sweep as sweep
from ._halving import HalvingResult as HalvingResult
from ._halving import successive_halving as successive_halving
from ._loop import LoopResult as LoopResult
from ._loop import all_finite as all_finite
from ._loop import stayed_finite as stayed_finite
from ._loop import train_loop as train_loop
from ._pbt import Explore as Explore
from ._pbt import PBTResult as PBTResult
from ._pbt import explore as explore
from ._pbt import leaf_names as leaf_names
from ._pbt import pbt as pbt
from ._results import Best as Best
from ._results import Cell as Cell
from ._results import SweepResult as SweepResult
from ._steps import SteppedSweep as SteppedSweep
from ._steps import stepped_sweep as stepped_sweep
from ._stack import Batch as Batch
from ._stack import Distribution as Distribution
from ._stack import choice as choice
from ._stack import grid as grid
from ._stack import int_uniform as int_uniform
from ._stack import log_uniform as log_uniform
from ._stack import sample as sample
from ._stack import stack as stack
from ._stack import uniform as uniform

__all__ = [
    "Batch",
    "Best",
    "Cell",
    "Distribution",
    "Explore",
    "HalvingResult",
    "LoopResult",
    "PBTResult",
    "SteppedSweep",
    "SweepResult",
    "all_finite",
    "choice",
    "explore",
    "grid",
    "int_uniform",
    "leaf_names",
    "log_uniform",
    "pbt",
    "sample",
    "stack",
    "stayed_finite",
    "stepped_sweep",
    "successive_halving",
    "sweep",
    "train_loop",
    "uniform",
]
