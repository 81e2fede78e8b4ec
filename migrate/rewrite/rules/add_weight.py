"""KM302: ``add_weight`` positional arguments to keywords.

Keras 2 declared ``add_weight(name, shape, dtype, initializer, regularizer,
trainable, constraint)``; Keras 3 takes ``shape`` first and everything else by
keyword, so ``self.add_weight('w', (3, 4))`` would pass the name as the shape.
The keywords keep the Keras 2 binding exactly.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, Hook, RuleSpec, Site, Triggers
from migrate.rewrite.tables import ADD_WEIGHT_KERAS2_ORDER

SPEC = RuleSpec(
    ids=("KM302",),
    hooks=(Hook(CALL, methods=("add_weight",)),),
    triggers=Triggers(methods=frozenset({"add_weight"})),
)


def on_call(ctx: FileContext, site: Site) -> cst.Call | None:
    original: cst.Call = site.original
    updated: cst.Call = site.updated
    if not ctx.enabled("KM302"):
        return None
    func = original.func
    if not (isinstance(func, cst.Attribute) and func.attr.value == "add_weight"):
        return None
    args = list(updated.args)
    n_pos = 0
    for a in args:
        if a.keyword is not None or a.star:
            break
        n_pos += 1
    if n_pos == 0:
        return None
    if any(a.star for a in args):
        ctx.report("KM302", original, "add_weight with *args: pass name/shape as keywords by hand", fixed=False)
        return None
    if n_pos > len(ADD_WEIGHT_KERAS2_ORDER):
        ctx.report("KM302", original, "add_weight with too many positional arguments", fixed=False)
        return None
    for i in range(n_pos):
        args[i] = args[i].with_changes(
            keyword=cst.Name(ADD_WEIGHT_KERAS2_ORDER[i]),
            equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                  whitespace_after=cst.SimpleWhitespace("")))
    names = ", ".join(ADD_WEIGHT_KERAS2_ORDER[:n_pos])
    ctx.report("KM302", original, f"add_weight positional ({names}) passed by keyword in the Keras 2 order",
               fixed=True)
    return updated.with_changes(args=args)
