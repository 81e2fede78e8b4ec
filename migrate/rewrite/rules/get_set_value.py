"""KM206: ``K.get_value(x)`` -> ``ops.convert_to_numpy(x)``; ``K.set_value(x, v)`` -> ``x.assign(v)``.

Together with KM402 (``optimizer.lr`` -> ``optimizer.learning_rate``) the
callback idiom ``K.set_value(self.model.optimizer.lr, v)`` becomes
``self.model.optimizer.learning_rate.assign(v)``, which Keras 3 accepts (the
learning rate is a variable unless a schedule is used, as in Keras 2).
``Variable.assign`` casts to the variable's dtype like ``K.set_value`` did.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, Hook, Order, RuleSpec, Site, owned
from migrate.rewrite.templating import BindError, bind

SPEC = RuleSpec(
    ids=("KM206",),
    hooks=(Hook(CALL, names=("keras.backend.get_value", "keras.backend.set_value")),),
    before=(Order("backend", "K.get_value/K.set_value are not template rows: set_value becomes a method call "
                  "on its first argument"),),
)


def on_call(ctx: FileContext, site: Site) -> cst.BaseExpression | object:
    rewrite = _rewrite_get if site.qualified == "keras.backend.get_value" else _rewrite_set
    return owned(rewrite(ctx, site.original, site.updated))


def _rewrite_get(ctx: FileContext, original: cst.Call, updated: cst.Call) -> cst.BaseExpression | None:
    if not ctx.enabled("KM206"):
        return None
    try:
        b = bind(("x",), updated.args)
    except BindError as exc:
        ctx.report("KM206", original, f"K.get_value not converted: {exc}", fixed=False)
        return None
    new = ctx.expr(f"ops.convert_to_numpy({ctx.arg_code(b['x'], atom=False)})")
    ctx.report("KM206", original, "K.get_value(x) -> ops.convert_to_numpy(x)", fixed=True)
    return new


def _rewrite_set(ctx: FileContext, original: cst.Call, updated: cst.Call) -> cst.BaseExpression | None:
    if not ctx.enabled("KM206"):
        return None
    try:
        b = bind(("x", "value"), updated.args)
    except BindError as exc:
        ctx.report("KM206", original, f"K.set_value not converted: {exc}", fixed=False)
        return None
    target = ctx.arg_code(b["x"], atom=True)
    new = ctx.expr(f"{target}.assign({ctx.arg_code(b['value'], atom=False)})")
    ctx.report("KM206", original, "K.set_value(x, v) -> x.assign(v)", fixed=True)
    return new
