"""Weight correspondences from legacy layers and models to ``modern`` ones.

A weight map is data: an ordered list of :class:`WeightRule` rows, each saying
which legacy weight (by its legacy name, as the legacy checkpoint format names
it) fills which modern variable (by its Keras 3 ``variable.path`` relative to
the modern layer or model), through which named transform. The closed set of
transforms lives in :mod:`modern.weight_maps.transforms`; loading a legacy
weight dict through a map, the part every family shares, in
:mod:`modern.weight_maps.loading`.

The maps are used by the tests that prove ``modern`` equal to the legacy
goldens and by ``migrate port``, so there is exactly one copy of each.
"""

from modern.weight_maps.loading import PortReport, assign_by_rules, variables_by_relative_path
from modern.weight_maps.transforms import TRANSFORMS, WeightRule, apply_transform, transform_fits

__all__ = [
    "TRANSFORMS",
    "PortReport",
    "WeightRule",
    "apply_transform",
    "assign_by_rules",
    "transform_fits",
    "variables_by_relative_path",
]
