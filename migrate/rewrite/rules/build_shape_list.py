"""KM316: ``isinstance(input_shape, list)`` in ``build``/``compute_output_shape`` means
"several input shapes", which Keras 3 must be asked differently.

Keras 2 passed one input's shape as a ``TensorShape`` and several as a list of them, so
layers written for it (keras-multi-head's ``MultiHeadAttention``, keras-self-attention's
``ScaledDotProductAttention``, ...) tell the two apart with ``isinstance(input_shape,
list)``. Keras 3 passes a tuple when the layer is first built, but when a ``.keras``
file is loaded it rebuilds the layer from its ``build_config``, whose shape came back
from JSON as a *list* (``[None, 6, 8]``): the several-inputs branch is taken, ``q, k, v =
input_shape`` unpacks integers, and loading fails ("'int' object is not subscriptable").

In a layer class's ``build`` and ``compute_output_shape``, a test ``isinstance(S, list)``
or ``isinstance(S, (list, tuple))`` of the shape parameter ``S`` becomes::

    (isinstance(S, list) and len(S) > 0 and isinstance(S[0], (list, tuple)))

true exactly for a list of shapes, whichever form each shape has. The layer takes the
same branch as in Keras 2 on every path, so the numbers do not change.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CLASS, Hook, Order, RuleSpec, Site
from migrate.rewrite.index import rewritable_layer_class

RULE = "KM316"
_METHODS = ("build", "compute_output_shape")

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CLASS, chain=True),),
    before=(Order("get_config", "only rewrites expressions inside build(); KM309 and KM312 complete the class "
                  "afterwards"),),
    after=(Order("mask_argument", "KM313 and KM314 add methods after call(); this one rewrites inside build() "
                 "and compute_output_shape(), which they never add"),
           Order("multi_output_subclass", "as for KM313: independent edits, fixed order for a stable output"),),
)

_EMPTY = cst.Module(body=[])


def _type_names(node: cst.BaseExpression) -> set[str] | None:
    if isinstance(node, cst.Name):
        return {node.value}
    if isinstance(node, cst.Tuple) and all(isinstance(e.value, cst.Name) for e in node.elements):
        return {e.value.value for e in node.elements}  # type: ignore[attr-defined]
    return None


class _ShapeTests(cst.CSTTransformer):
    def __init__(self, param: str) -> None:
        self.param = param
        self.count = 0

    def _ours(self, node: cst.BooleanOperation) -> bool:
        return _EMPTY.code_for_node(node.right).startswith(f"isinstance({self.param}[0], (list, tuple))")

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> bool:
        return not self._ours(node)  # already rewritten (a second run changes nothing)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # a nested function has its own parameters

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        if not (isinstance(updated.func, cst.Name) and updated.func.value == "isinstance" and len(updated.args) == 2):
            return updated
        subject, kinds = updated.args[0].value, updated.args[1].value
        names = _type_names(kinds)
        if not (isinstance(subject, cst.Name) and subject.value == self.param and names and "list" in names
                and names <= {"list", "tuple"}):
            return updated
        self.count += 1
        p = self.param
        return cst.parse_expression(
            f"(isinstance({p}, list) and len({p}) > 0 and isinstance({p}[0], (list, tuple)))")


def _shape_param(fn: cst.FunctionDef) -> str | None:
    params = [*fn.params.posonly_params, *fn.params.params]
    return params[1].name.value if len(params) >= 2 else None


def on_class(ctx: FileContext, site: Site) -> cst.ClassDef | None:
    info = site.cls
    updated: cst.ClassDef = site.updated
    if not rewritable_layer_class(ctx, site, RULE):
        return None
    members = list(updated.body.body)
    # Findings are placed at the original method (the updated nodes have no position).
    originals = {m.name.value: m for m in site.original.body.body if isinstance(m, cst.FunctionDef)}
    changed = False
    for i, member in enumerate(members):
        if not (isinstance(member, cst.FunctionDef) and member.name.value in _METHODS):
            continue
        param = _shape_param(member)
        if param is None:
            continue
        tests = _ShapeTests(param)
        body = member.body.visit(tests)
        if tests.count:
            members[i] = member.with_changes(body=body)
            changed = True
            where = originals.get(member.name.value, site.original)
            ctx.report(RULE, where, f"{info.name}.{member.name.value}: isinstance({param}, list) -> a test for "
                       "a list of shapes (Keras 3 rebuilds from a JSON list on load)", fixed=True)
    if not changed:
        return None
    return updated.with_changes(body=updated.body.with_changes(body=members))
