"""The optax side: :func:`inject` (schedule any hyperparameter, the values in the
optimizer state), logging and swapping them, evaluating schedules of the model's
hyperparameters at the optimizer's step, configs of their schedules, reduce on plateau as a
transformation, per-layer and per-group schedules, the learning-rate range
test, Keras, hypergradient descent and meta-gradients of a schedule. Other layers
and the top-level package import from here only.
"""

from ._hypergradient import HypergradientState as HypergradientState
from ._hypergradient import adam_hd as adam_hd
from ._hypergradient import hypergradient as hypergradient
from ._hypergradient import sgd_hd as sgd_hd
from ._hyperparams import hyperparams as hyperparams
from ._inject import inject as inject
from ._keras import to_keras as to_keras
from ._layerwise import layerwise_decay as layerwise_decay
from ._layerwise import param_groups as param_groups
from ._meta import MetaTuneResult as MetaTuneResult
from ._meta import meta_gradient as meta_gradient
from ._meta import meta_tune as meta_tune
from ._meta import unrolled_loss as unrolled_loss
from ._outside import schedule_values as schedule_values
from ._outside import step_count as step_count
from ._per_layer import per_layer as per_layer
from ._range_test import RangeTest as RangeTest
from ._range_test import lr_range_test as lr_range_test
from ._range_test import plot_range_test as plot_range_test
from ._reduce_on_plateau import plateau_step as plateau_step
from ._reduce_on_plateau import reduce_on_plateau as reduce_on_plateau
from ._replace import replace_schedules as replace_schedules
from ._state import InjectState as InjectState
from ._state_config import restore_schedules as restore_schedules
from ._state_config import to_config as to_config
from ._traced_model import dropout as dropout
from ._traced_model import overriding as overriding

__all__ = [
    "HypergradientState",
    "InjectState",
    "MetaTuneResult",
    "RangeTest",
    "adam_hd",
    "dropout",
    "hypergradient",
    "hyperparams",
    "inject",
    "layerwise_decay",
    "lr_range_test",
    "meta_gradient",
    "meta_tune",
    "overriding",
    "param_groups",
    "per_layer",
    "plateau_step",
    "plot_range_test",
    "reduce_on_plateau",
    "replace_schedules",
    "restore_schedules",
    "schedule_values",
    "sgd_hd",
    "step_count",
    "to_config",
    "to_keras",
    "unrolled_loss",
]
