"""Per-sample weightings: the training loss of a batch as a weighted function of
its per-example losses or margins, every hyperparameter a number or a schedule
of the step. Declared like schedules (:class:`~optasched.schedules.Declared`),
so they jit, sweep, ``replace``, round-trip through configs and are checked the
same way. They act on the loss, before any optimizer. Each class is its public
constructor: ``osd.small_loss`` is :class:`SmallLoss`.

Other layers and the top-level package import from here only.
"""

from ._base import Weighting as Weighting
from ._co_teaching import CoTeaching as CoTeaching
from ._families import MarginWeighting as MarginWeighting
from ._families import SelfPaced as SelfPaced
from ._families import SmallLoss as SmallLoss
from ._families import UniformWeighting as UniformWeighting
from ._fields import hyperparameter as hyperparameter
from ._per_example import cross_entropy as cross_entropy
from ._per_example import margin as margin
from ._robust import GCE as GCE
from ._robust import Focal as Focal

__all__ = [
    "CoTeaching",
    "Focal",
    "GCE",
    "MarginWeighting",
    "SelfPaced",
    "SmallLoss",
    "UniformWeighting",
    "Weighting",
    "cross_entropy",
    "hyperparameter",
    "margin",
]
