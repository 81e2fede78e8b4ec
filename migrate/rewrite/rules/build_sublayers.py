"""KM318: a layer that makes sublayers in ``build`` and has its own ``compute_output_shape``
gets a ``compute_output_spec`` that traces its ``call``.

bert4keras's ``MultiHeadAttention`` (and many hand-written layers) creates its
``Dense`` projections in ``build`` and lets them build themselves on their first call.
Keras 2 always ran ``call`` on the symbolic inputs when the functional model was made,
so the projections got their weights there. Keras 3 runs ``call`` symbolically only
when the layer has no ``compute_output_shape`` of its own; with one, it takes the
shape from it, ``call`` never runs before the first real batch, and the model has no
weights for the projections yet: ``load_weights`` fails with "Layer count mismatch"
and a saved model holds nothing for them.

A module's layer class that defines ``compute_output_shape``, assigns
``self.<name> = <Keras layer>(...)`` (or a list of them) in ``build``, and defines no
``compute_output_spec`` gets, right after its ``call``::

    def compute_output_spec(self, *args, **kwargs):
        return keras.Operation.compute_output_spec(self, *args, **kwargs)

which runs ``call`` on symbolic tensors as Keras 2 did (only while the graph is built;
the numbers are untouched). A layer is a ``keras.layers`` class by the file's imports,
a layer class of the module, or, in a file with ``from keras.layers import *``, a bare
name of Keras 3's ``keras.layers`` that the module does not define itself.
"""

from __future__ import annotations

import re

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CLASS, Hook, Order, RuleSpec, Site
from migrate.rewrite.index import is_layer_class, layer_class_members
from migrate.rewrite.keras3_api import KERAS3_NAMES
from migrate.rewrite.names import dotted_name

RULE = "KM318"

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CLASS, chain=True),),
    after=(Order("multi_output_subclass", "KM314 adds the same method for its own reason; one is enough"),
           Order("build_shape_list", "KM316 rewrites tests inside build(); this rule only adds a method after call()")),
    before=(Order("get_config", "the method goes right after call(), before KM309 and KM312 complete the class"),),
)

_SPEC_METHOD = (
    "def compute_output_spec(self, *args, **kwargs):\n"
    "    # build() makes sublayers that build on their first call; Keras 3 would take the shape from\n"
    "    # compute_output_shape and never call them, so trace call() itself, as Keras 2 did\n"
    "    return keras.Operation.compute_output_spec(self, *args, **kwargs)\n")
_STAR = re.compile(r"^[ \t]*from[ \t]+(?:tensorflow\.)?keras\.layers[ \t]+import[ \t]+\*", re.M)
_LAYERS = KERAS3_NAMES.get("keras.layers", frozenset())


def _is_layer_ctor(ctx: FileContext, value: cst.BaseExpression) -> bool:
    if isinstance(value, (cst.List, cst.Tuple)) and value.elements:
        return all(_is_layer_ctor(ctx, e.value) for e in value.elements)
    if isinstance(value, cst.ListComp):
        return _is_layer_ctor(ctx, value.elt)
    if not isinstance(value, cst.Call):
        return False
    qualified = ctx.qualified(value.func)
    if qualified is not None:
        return qualified.startswith("keras.layers.") and qualified.rpartition(".")[2][:1].isupper()
    name = dotted_name(value.func)
    if name is None or "." in name:
        return False
    if name in ctx.classes:
        return is_layer_class(ctx, name)
    return name in _LAYERS and name[:1].isupper() and _STAR.search(ctx.source_text) is not None


def _sublayers_in_build(ctx: FileContext, build: cst.FunctionDef) -> list[str]:
    found: list[str] = []

    class Finder(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is build

        def visit_Assign(self, node: cst.Assign) -> None:
            for target in node.targets:
                t = target.target
                if (isinstance(t, cst.Attribute) and isinstance(t.value, cst.Name) and t.value.value == "self"
                        and _is_layer_ctor(ctx, node.value)):
                    found.append(t.attr.value)

    build.visit(Finder())
    return found


def on_class(ctx: FileContext, site: Site) -> cst.ClassDef | None:
    members = layer_class_members(ctx, site, RULE)
    if members is None:
        return None
    info, updated = site.cls, site.updated
    assert info is not None
    methods = {m.name.value: m for m in members if isinstance(m, cst.FunctionDef)}
    if "compute_output_spec" in methods or "compute_output_shape" not in methods or "build" not in methods \
            or "call" not in methods:
        return None
    sublayers = _sublayers_in_build(ctx, methods["build"])
    if not sublayers:
        return None
    at = members.index(methods["call"])
    while at + 1 < len(members) and isinstance(members[at + 1], cst.FunctionDef) and \
            members[at + 1].name.value == "compute_mask":  # type: ignore[attr-defined]
        at += 1
    method = ctx.statement(_SPEC_METHOD).with_changes(leading_lines=[cst.EmptyLine(indent=False)])
    members.insert(at + 1, method)
    ctx.report(RULE, site.original, f"{info.name}: compute_output_spec tracing call() added (build() makes "
               f"{', '.join(sublayers)}, which Keras 3 would not build before the first batch because the class "
               "has its own compute_output_shape)", fixed=True)
    return updated.with_changes(body=updated.body.with_changes(body=members))
