"""KM208: Keras 1 / TF 1 relics on tensors.

``x._keras_shape`` (Keras 1/2.2 private static shape) becomes ``x.shape`` (a
tuple of ints/None on Keras 3 symbolic tensors), and ``x.shape[i].value``
(TF 1 ``Dimension``) becomes ``x.shape[i]``. ``K.image_dim_ordering`` is in the
KM209 table (reported).
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import ATTRIBUTE, Hook, RuleSpec, Site, Triggers

SPEC = RuleSpec(
    ids=("KM208",),
    hooks=(Hook(ATTRIBUTE, methods=("_keras_shape", "value")),),
    # `.value` alone is far too common: it counts only in a statement that also reads a shape
    triggers=Triggers(methods=frozenset({"_keras_shape"}),
                      together=(frozenset({"shape", "_keras_shape"}), frozenset({"value"}))),
)


def _is_shape_subscript(node: cst.BaseExpression) -> bool:
    return (isinstance(node, cst.Subscript) and isinstance(node.value, cst.Attribute)
            and node.value.attr.value in ("shape", "_keras_shape"))


def on_attribute(ctx: FileContext, site: Site) -> cst.BaseExpression | None:
    original: cst.Attribute = site.original
    updated: cst.Attribute = site.updated
    if not ctx.enabled("KM208"):
        return None
    attr = original.attr.value
    if attr == "_keras_shape":
        ctx.report("KM208", original, "_keras_shape -> shape", fixed=True)
        return updated.with_changes(attr=cst.Name("shape"))
    if attr == "value" and _is_shape_subscript(original.value):
        ctx.report("KM208", original, "shape[i].value -> shape[i] (dimensions are ints/None)", fixed=True)
        return updated.value
    return None
