"""Schedules: the :class:`Schedule` base (fields declared once, frozen pytrees),
the families, combinators, coupled schedules, the switch over families, checked
mode and the config round-trip. Each class is its public constructor:
``osd.cosine`` is :class:`Cosine`.

To write a family of your own, subclass :class:`Schedule` with the field
specifiers below (see ``docs/adding_a_family.md``).
"""

from ._base import Constant as Constant
from ._base import Kind as Kind
from ._base import Schedule as Schedule
from ._base import StatefulSchedule as StatefulSchedule
from ._base import as_schedule as as_schedule
from ._base import boundaries as boundaries
from ._base import convert_leaf as convert_leaf
from ._base import describe_difference as describe_difference
from ._base import is_traced as is_traced
from ._base import child as child
from ._base import children as children
from ._base import params as params
from ._base import static as static
from ._base import steps as steps
from ._base import value as value
from ._base import values as values
from ._checked import check as check
from ._checked import checked as checked
from ._combinators import Clip as Clip
from ._combinators import Cycle as Cycle
from ._combinators import FromFunction as FromFunction
from ._combinators import Join as Join
from ._combinators import Restarts as Restarts
from ._combinators import Shift as Shift
from ._combinators import Staircase as Staircase
from ._combinators import Warmup as Warmup
from ._config import families as families
from ._config import from_config as from_config
from ._config import to_config as to_config
from ._coupled import Coupled as Coupled
from ._coupled import CoupledEmaDecay as CoupledEmaDecay
from ._coupled import CoupledTemperature as CoupledTemperature
from ._coupled import CoupledWeightDecay as CoupledWeightDecay
from ._coupled import CycledMomentum as CycledMomentum
from ._cyclic import CosineRestarts as CosineRestarts
from ._cyclic import Cyclic as Cyclic
from ._families import Cosine as Cosine
from ._families import Exponential as Exponential
from ._families import InverseSqrt as InverseSqrt
from ._families import InverseTime as InverseTime
from ._families import Linear as Linear
from ._families import Noam as Noam
from ._families import Polynomial as Polynomial
from ._families import Rex as Rex
from ._families import StepDecay as StepDecay
from ._families import TanhDecay as TanhDecay
from ._base import Add as Add
from ._base import Div as Div
from ._base import Maximum as Maximum
from ._base import Minimum as Minimum
from ._base import Mul as Mul
from ._base import Sub as Sub
from ._piecewise import Multistep as Multistep
from ._piecewise import OneCycle as OneCycle
from ._piecewise import PiecewiseConstant as PiecewiseConstant
from ._piecewise import PiecewiseLinear as PiecewiseLinear
from ._piecewise import Wsd as Wsd
from ._switch import StatefulSwitch as StatefulSwitch
from ._switch import Switch as Switch
from ._switch import switch as switch
