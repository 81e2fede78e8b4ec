"""KM205: ``K.switch`` by condition kind; never ``ops.switch`` (an index switch).

``K.switch`` was ``tf.cond`` for a scalar condition and a broadcasting
``tf.where`` (condition padded with trailing axes) otherwise, and accepted
callables for either branch. When both branches are zero-argument lambdas and
the condition is a Python comparison of plain names or numbers (a scalar), the
call becomes ``ops.cond``; otherwise ``modern.compat.switch`` reproduces the
rule at trace time.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, Hook, Order, RuleSpec, Site, owned
from migrate.rewrite.templating import BindError, bind

PARAMS = ("condition", "then_expression", "else_expression")

SPEC = RuleSpec(
    ids=("KM205",),
    hooks=(Hook(CALL, names=("keras.backend.switch",)),),
    before=(Order("backend", "K.switch is ops.cond or compat.switch by its arguments, never a template row "
                  "(ops.switch is a false friend)"),),
)


def on_call(ctx: FileContext, site: Site) -> cst.BaseExpression | object:
    return owned(_rewrite(ctx, site.original, site.updated))


def _is_thunk(node: cst.BaseExpression) -> bool:
    return (isinstance(node, cst.Lambda) and not node.params.params
            and not isinstance(node.params.star_arg, cst.Param))


def _rewrite(ctx: FileContext, original: cst.Call, updated: cst.Call) -> cst.BaseExpression | None:
    if not ctx.enabled("KM205"):
        return None
    try:
        b = bind(PARAMS, updated.args)
    except BindError as exc:
        ctx.report("KM205", original, f"K.switch not converted: {exc}", fixed=False)
        return None
    c = ctx.arg_code(b["condition"], atom=False)
    t = ctx.arg_code(b["then_expression"], atom=False)
    e = ctx.arg_code(b["else_expression"], atom=False)
    if _is_thunk(b["then_expression"]) and _is_thunk(b["else_expression"]) and isinstance(
            b["condition"], cst.Name) and b["condition"].value in ("True", "False"):
        new = ctx.expr(f"ops.cond({c}, {t}, {e})")
        ctx.report("KM205", original, "K.switch on a scalar -> ops.cond", fixed=True)
        return new
    new = ctx.expr(f"compat.switch({c}, {t}, {e})")
    ctx.report("KM205", original,
               "K.switch -> modern.compat.switch (condition kind decided at trace time, as K.switch did)",
               fixed=True)
    return new
