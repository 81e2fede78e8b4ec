"""KM314: a subclass of a built-in Keras layer whose ``call`` returns several outputs
gets a ``compute_output_spec`` that traces its own ``call``.

Code such as keras-embed-sim's ``EmbeddingRet`` or keras-bert's ``TokenEmbedding``
subclasses ``Embedding`` and returns ``[embedded, self.embeddings]``. Keras 2 took the
output shapes from the subclass's ``compute_output_shape`` (or ran ``call``). Keras 3
asks the parent's own ``compute_output_spec`` instead, and ``Embedding``'s (like that of
most built-in layers) builds *one* tensor from the shape it is given, so the functional
build fails with "Cannot convert '[(None, 6, 8), (20, 8)]' to a shape".

A module's layer class that derives from a built-in Keras layer other than ``Layer``
(which already copes with nested shapes), whose ``call`` has a ``return`` of a list or
tuple display with two or more items, and which does not define ``compute_output_spec``
itself, gets, right after its ``call``::

    def compute_output_spec(self, *args, **kwargs):
        return keras.Operation.compute_output_spec(self, *args, **kwargs)

``keras.Operation.compute_output_spec`` runs the layer's ``call`` on symbolic tensors,
which is what the legacy framework did for such a layer, so the outputs get their real
shapes and dtypes; the numbers are untouched (it only runs while the graph is built).
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CLASS, Hook, Order, RuleSpec, Site
from migrate.rewrite.index import keras_base, rewritable_layer_class

RULE = "KM314"

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CLASS, chain=True),),
    after=(Order("mask_argument", "both insert right after call(); compute_mask goes first, as written by KM313"),),
    before=(Order("get_config", "the method goes right after call(), before KM309 and KM312 complete the class"),),
)

_SPEC_METHOD = (
    "def compute_output_spec(self, *args, **kwargs):\n"
    "    # call() returns several outputs; the parent layer's compute_output_spec makes one tensor,\n"
    "    # so trace call() itself, as Keras 2 did\n"
    "    return keras.Operation.compute_output_spec(self, *args, **kwargs)\n")

#: Keras 3 layers whose compute_output_spec handles several outputs already.
_NESTED_AWARE = frozenset({"keras.layers.Layer", "keras.Layer", "keras.Model", "keras.Sequential"})


def _builtin_base(name: str) -> str | None:
    """A built-in Keras layer other than the generic base classes, or None."""
    if name in _NESTED_AWARE or not (name.startswith("keras.layers.") or name.startswith("keras.")):
        return None
    return name


class _Returns(cst.CSTVisitor):
    """Whether a function returns a list/tuple display of two or more items (not in nested defs)."""

    def __init__(self) -> None:
        self.several = False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # a nested function's returns are not call()'s

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_Return(self, node: cst.Return) -> None:
        value = node.value
        if isinstance(value, (cst.List, cst.Tuple)) and len(value.elements) >= 2:
            self.several = True


def _returns_several(fn: cst.FunctionDef) -> bool:
    finder = _Returns()
    fn.body.visit(finder)
    return finder.several


def on_class(ctx: FileContext, site: Site) -> cst.ClassDef | None:
    """A built-in layer's subclass whose call() returns several outputs gets compute_output_spec."""
    info = site.cls
    updated: cst.ClassDef = site.updated
    if not rewritable_layer_class(ctx, site, RULE):
        return None
    base = keras_base(ctx, info, _builtin_base)
    if base is None:
        return None
    members = list(updated.body.body)
    if any(isinstance(m, cst.FunctionDef) and m.name.value == "compute_output_spec" for m in members):
        return None
    at = next((i for i, m in enumerate(members) if isinstance(m, cst.FunctionDef) and m.name.value == "call"), None)
    if at is None or not _returns_several(members[at]):  # type: ignore[arg-type]
        return None
    method = ctx.statement(_SPEC_METHOD).with_changes(leading_lines=[cst.EmptyLine(indent=False)])
    # After call() and a compute_mask that KM313 may just have put there.
    while at + 1 < len(members) and isinstance(members[at + 1], cst.FunctionDef) and \
            members[at + 1].name.value == "compute_mask":  # type: ignore[attr-defined]
        at += 1
    members.insert(at + 1, method)
    ctx.report(RULE, site.original, f"{info.name}: compute_output_spec tracing call() added (call() returns "
               f"several outputs; {base}'s own compute_output_spec makes one tensor in Keras 3)", fixed=True)
    return updated.with_changes(body=updated.body.with_changes(body=members))
