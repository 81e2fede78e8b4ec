"""KM324: ``x op= y`` on a tensor in a layer's ``call()`` becomes ``x = x op y``.

Keras 2 code updates tensors with augmented assignments (keras-self-attention's
``e -= 10000.0 * (1.0 - mask)``). On TensorFlow and JAX a tensor is immutable, so
``e -= y`` already binds ``e`` to a new tensor ``e - y``: exactly ``e = e - y``. A
PyTorch tensor is changed *in place* instead, and on Keras 3's torch backend that breaks
training: autograd refuses a tensor that was saved for the backward pass and then
modified ("one of the variables needed for gradient computation has been modified by an
inplace operation", measured with keras-self-attention's additive ``SeqSelfAttention``
rewritten and trained one step on torch), and an in-place update of an argument would
change the caller's tensor. Written as a rebinding, the code computes the same numbers on
every backend and never writes into a tensor.

Only a plain name is rewritten (``x op= y``; an attribute or subscript target is a
variable or a container, left alone, and so is ``outputs += [y]``, a Python list), only in ``call()`` of a layer class of the module,
and not inside functions nested there. The right-hand side is parenthesized unless it
is an atom, so ``e -= a + b`` becomes ``e = e - (a + b)``.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CLASS, Hook, Order, RuleSpec, Site
from migrate.rewrite.index import rewritable_layer_class

RULE = "KM324"

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CLASS, chain=True),),
    # It rewrites statements inside call() alone; the class rules around it add or remove
    # methods and hand their class on (chain), so any order gives the same class.
    after=(Order("get_config", "the layer-class rules that add methods run first; this one only rewrites "
                 "statements inside call()"),),
    before=(Order("optimizer_get_updates", "the optimizer-class rules and the registration come after the "
                  "layer-class rules"),),
)

#: augmented operator -> the binary operator it applies
_BINARY: dict[type, type] = {
    cst.AddAssign: cst.Add, cst.SubtractAssign: cst.Subtract, cst.MultiplyAssign: cst.Multiply,
    cst.DivideAssign: cst.Divide, cst.FloorDivideAssign: cst.FloorDivide, cst.ModuloAssign: cst.Modulo,
    cst.PowerAssign: cst.Power, cst.MatrixMultiplyAssign: cst.MatrixMultiply,
}
_ATOMS = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.Integer, cst.Float, cst.SimpleString)
# ``outputs += [y]`` extends a Python list in place (another name for that list sees it):
# not a tensor, left as written.
_CONTAINERS = (cst.List, cst.Tuple, cst.ListComp)


class _Rebind(cst.CSTTransformer):
    """``x op= y`` -> ``x = x op y`` in one function body, nested functions and classes excluded."""

    def __init__(self) -> None:
        self.count = 0
        self._depth = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self._depth += 1
        return self._depth == 1  # the call() itself, not functions defined inside it

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        self._depth -= 1
        return updated

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def leave_AugAssign(self, original: cst.AugAssign, updated: cst.AugAssign) -> cst.BaseSmallStatement:
        binary = _BINARY.get(type(updated.operator))
        if binary is None or not isinstance(updated.target, cst.Name) or isinstance(updated.value, _CONTAINERS):
            return updated
        value = updated.value
        if not isinstance(value, _ATOMS) and not value.lpar:
            value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        self.count += 1
        target = updated.target
        return cst.Assign(
            targets=[cst.AssignTarget(target=target)],
            value=cst.BinaryOperation(left=target.with_changes(lpar=[], rpar=[]), operator=binary(), right=value),
            semicolon=updated.semicolon,
        )


def on_class(ctx: FileContext, site: Site) -> cst.ClassDef | None:
    info = site.cls
    updated: cst.ClassDef = site.updated
    if not rewritable_layer_class(ctx, site, RULE):
        return None
    members = list(updated.body.body)
    # Findings are placed at the original method (the updated nodes have no position).
    original = next((m for m in site.original.body.body
                     if isinstance(m, cst.FunctionDef) and m.name.value == "call"), None)
    for i, member in enumerate(members):
        if not (isinstance(member, cst.FunctionDef) and member.name.value == "call"):
            continue
        rebind = _Rebind()
        new = member.visit(rebind)
        if rebind.count:
            members[i] = new  # type: ignore[assignment]
            ctx.report(RULE, original or member, f"{info.name}.call: {rebind.count} augmented assignment(s) of a tensor "
                       "(x op= y) written as x = x op y: the same value on every backend, and on torch no "
                       "in-place write into a tensor that autograd saved", fixed=True)
            return updated.with_changes(body=updated.body.with_changes(body=members))
    return None
