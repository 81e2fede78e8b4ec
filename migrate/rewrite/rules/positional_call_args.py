"""KM301: non-input positional arguments of layer calls become keywords.

Keras 3 accepts only input tensors positionally in ``Layer.__call__``; the 2021
tutorial style ``self.enc_layers[i](x, training, mask)`` fails. The callee
class is resolved within the module: ``self.encoder = Encoder(...)`` and
``self.enc_layers = [EncoderLayer(...) for ...]`` in any method of the class,
or a module-level ``layer = EncoderLayer(...)`` bound once. The keyword names
come from that class's ``call`` signature, so Python binds exactly as before.
A call whose callee cannot be resolved is left alone (no finding: most calls
with several positional arguments are not layer calls).
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import ClassInfo, FileContext
from migrate.rewrite.hooks import CALL, Hook, Order, RuleSpec, Site
from migrate.rewrite.index import is_layer_class

_WHY = ("a call recognised by its method name belongs to that rule; this one takes the calls of layer "
        "instances that remain")

SPEC = RuleSpec(
    ids=("KM301",),
    # the callee is an instance (`self.encoder(...)`, `layer(...)`), which imports do not resolve
    hooks=(Hook(CALL, unresolved=True),),
    after=(Order("add_weight", _WHY), Order("training_calls", _WHY)),
)


def _callee_class(ctx: FileContext, func: cst.BaseExpression, current: ClassInfo | None) -> str | None:
    if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self":
        if current is not None:
            return current.attr_types.get(func.attr.value)
        return None
    if isinstance(func, cst.Subscript):
        base = func.value
        if (isinstance(base, cst.Attribute) and isinstance(base.value, cst.Name)
                and base.value.value == "self" and current is not None):
            return current.list_attr_types.get(base.attr.value)
        return None
    if isinstance(func, cst.Name):
        return ctx.var_types.get(func.value)
    return None


def on_call(ctx: FileContext, site: Site) -> cst.Call | None:
    original: cst.Call = site.original
    updated: cst.Call = site.updated
    current = site.cls
    if not ctx.enabled("KM301"):
        return None
    args = updated.args
    n_pos = 0
    for a in args:
        if a.keyword is not None or a.star:
            break
        n_pos += 1
    if n_pos < 2:
        return None
    cls = _callee_class(ctx, original.func, current)
    if cls is None or cls not in ctx.classes or not is_layer_class(ctx, cls):
        return None
    info = ctx.classes[cls]
    if info.call_params is None:
        # `call` inherited from a base in this module?
        for base in info.bases:
            if base in ctx.classes and ctx.classes[base].call_params is not None:
                info = ctx.classes[base]
                break
    if info.call_params is None:
        return None
    if any(a.star for a in args):
        ctx.report("KM301", original, f"call of {cls} with *args: pass training/mask as keywords by hand",
                   fixed=False)
        return None
    params = info.call_params
    if n_pos > len(params):
        if info.call_has_varargs:
            return None
        ctx.report("KM301", original, f"{cls} called with more positional arguments than its call() takes",
                   fixed=False)
        return None
    new_args = list(args)
    names = []
    for i in range(1, n_pos):
        arg = args[i]
        names.append(params[i])
        new_args[i] = arg.with_changes(
            keyword=cst.Name(params[i]),
            equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                  whitespace_after=cst.SimpleWhitespace("")))
    ctx.report("KM301", original,
               f"{cls} call: positional {', '.join(names)} passed by keyword (Keras 3 takes only inputs positionally)",
               fixed=True)
    return updated.with_changes(args=new_args)
