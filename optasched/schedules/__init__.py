"""Schedules: the :class:`Schedule` base (fields declared once, frozen pytrees),
the families, combinators, coupled schedules, the stateful plateau, the switch
over families, checked mode, the config round-trip and the names other
libraries use. Each class is its public constructor: ``osd.cosine`` is
:class:`Cosine`.

To write a family of your own, subclass :class:`Schedule` with the field
specifiers below (see ``docs/adding_a_family.md``). Other layers and the
top-level package import from here only, never from the private modules.
"""

from ._algebra import Add as Add
from ._algebra import Constant as Constant
from ._algebra import Div as Div
from ._algebra import Maximum as Maximum
from ._algebra import Minimum as Minimum
from ._algebra import Mul as Mul
from ._algebra import Sub as Sub
from ._check_context import check_constraint as check_constraint
from ._check_context import checking_inside as checking_inside
from ._checked import check as check
from ._checked import checked as checked
from ._checked import checkified as checkified
from ._checked import first_line as first_check_line
from ._combinators import Clip as Clip
from ._combinators import Cycle as Cycle
from ._combinators import FromFunction as FromFunction
from ._combinators import Join as Join
from ._combinators import Restarts as Restarts
from ._combinators import Shift as Shift
from ._combinators import Staircase as Staircase
from ._combinators import Warmup as Warmup
from ._config_tree import from_config as from_config
from ._config_tree import to_config as to_config
from ._constraints import Constraint as Constraint
from ._constraints import bound as bound
from ._convert import convert_leaf as convert_leaf
from ._convert import is_traced as is_traced
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
from ._fields import Field as Field
from ._fields import Kind as Kind
from ._fields import boundaries as boundaries
from ._fields import child as child
from ._fields import children as children
from ._fields import params as params
from ._fields import real as real
from ._fields import reals as reals
from ._fields import static as static
from ._fields import steps as steps
from ._names import NAMES as NAMES
from ._names import get_schedule as get_schedule
from ._piecewise import Multistep as Multistep
from ._piecewise import OneCycle as OneCycle
from ._piecewise import PiecewiseConstant as PiecewiseConstant
from ._piecewise import PiecewiseLinear as PiecewiseLinear
from ._piecewise import Wsd as Wsd
from ._plateau import Plateau as Plateau
from ._plateau import PlateauState as PlateauState
from ._registry import declared_families as declared_families
from ._registry import families as families
from ._schedule import Declared as Declared
from ._schedule import Schedule as Schedule
from ._schedule import as_schedule as as_schedule
from ._stateful import StatefulSchedule as StatefulSchedule
from ._switch import StatefulSwitch as StatefulSwitch
from ._switch import Switch as Switch
from ._switch import switch as switch
from ._trees import describe_difference as describe_difference
from ._trees import schedule_nodes as schedule_nodes

__all__ = [
    # the base and how a family declares its fields
    "Declared",
    "Schedule",
    "StatefulSchedule",
    "Field",
    "Kind",
    "Constraint",
    "bound",
    "boundaries",
    "child",
    "children",
    "params",
    "real",
    "reals",
    "static",
    "steps",
    # helpers the other layers use
    "as_schedule",
    "convert_leaf",
    "declared_families",
    "describe_difference",
    "families",
    "is_traced",
    "schedule_nodes",
    # the algebra
    "Add",
    "Constant",
    "Div",
    "Maximum",
    "Minimum",
    "Mul",
    "Sub",
    # families and combinators
    "Clip",
    "CosineRestarts",
    "Cosine",
    "Coupled",
    "CoupledEmaDecay",
    "CoupledTemperature",
    "CoupledWeightDecay",
    "Cycle",
    "CycledMomentum",
    "Cyclic",
    "Exponential",
    "FromFunction",
    "InverseSqrt",
    "InverseTime",
    "Join",
    "Linear",
    "Multistep",
    "Noam",
    "OneCycle",
    "PiecewiseConstant",
    "PiecewiseLinear",
    "Plateau",
    "PlateauState",
    "Polynomial",
    "Restarts",
    "Rex",
    "Shift",
    "Staircase",
    "StatefulSwitch",
    "StepDecay",
    "Switch",
    "TanhDecay",
    "Warmup",
    "Wsd",
    "switch",
    # checked mode, configs, names
    "NAMES",
    "check",
    "check_constraint",
    "checked",
    "checking_inside",
    "checkified",
    "first_check_line",
    "from_config",
    "get_schedule",
    "to_config",
]
