"""KM201/KM202/KM203/KM207/KM209: ``K.<fn>`` (any alias) to ``keras.ops``.

The rows live in ``tables.BACKEND_ROWS``; this module binds the call to the
legacy signature, refuses what it cannot express exactly, and renders the
row's template. ``batch_dot``, ``switch``, ``get_value``/``set_value``, the
tensor constructors (KM210) and the random ops (KM211) have their own modules.
"""

from __future__ import annotations

from functools import partial

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.rules import backend_ctor, backend_random, batch_dot, get_set_value, switch
from migrate.rewrite.tables import BACKEND_BY_NAME, BACKEND_KEPT, BACKEND_UNSUPPORTED, RANDOM_OPS
from migrate.rewrite.templating import BindError, bind, head, render, used_params

_SPECIAL = {
    "batch_dot": batch_dot.rewrite,
    "switch": switch.rewrite,
    "get_value": get_set_value.rewrite_get,
    "set_value": get_set_value.rewrite_set,
    **{fn: partial(backend_ctor.rewrite, fn) for fn in backend_ctor.PARAMS},
    **{fn: partial(backend_random.rewrite, fn) for fn in RANDOM_OPS},
}

_SIMPLE = (cst.Name, cst.Attribute, cst.Integer, cst.Float, cst.SimpleString)


def rewrite_call(ctx: FileContext, fn: str, via_tf: bool, original: cst.Call,
                 updated: cst.Call) -> cst.BaseExpression | None:
    special = _SPECIAL.get(fn)
    if special is not None:
        return special(ctx, original, updated)
    row = BACKEND_BY_NAME.get(fn)
    if row is None:
        if ctx.enabled("KM209"):
            hint = BACKEND_UNSUPPORTED.get(fn, "no keras.ops equivalent is known")
            ctx.report("KM209", original, f"K.{fn} has no Keras 3 equivalent: {hint}", fixed=False)
        return None
    if not ctx.enabled(row.rule):
        return None
    if fn in BACKEND_KEPT and not via_tf:
        return None  # `K.epsilon()` on the standalone package's backend is still valid Keras 3
    try:
        bound = bind(row.params, updated.args)
    except BindError as exc:
        ctx.report(row.rule, original, f"K.{fn}(...) not converted: {exc}", fixed=False)
        return None
    used = used_params(row.template)
    for name in bound:
        if name not in used and name not in row.drop:
            ctx.report(row.rule, original,
                       f"K.{fn}(..., {name}=...) has no keras.ops equivalent; convert by hand", fixed=False)
            return None
    for name in used:
        if row.template.count("{" + name + "}") > 1 and name in bound and not isinstance(bound[name], _SIMPLE):
            ctx.report(row.rule, original,
                       f"K.{fn}: argument `{name}` would be evaluated twice; bind it to a name first",
                       fixed=False)
            return None
    new = render(ctx, row.template, row.params, bound)
    target = head(ctx, row.template) or ctx.code(new).split("(")[0]
    ctx.report(row.rule, original, f"K.{fn} -> {target} ({row.reason})", fixed=True)
    return new


def rewrite_ref(ctx: FileContext, fn: str, via_tf: bool,
                original: cst.BaseExpression) -> cst.BaseExpression | None:
    """A backend function used as a value (``Lambda(K.sum)``, ``activation=K.relu``)."""
    row = BACKEND_BY_NAME.get(fn)
    if row is None or not row.ref:
        rule = row.rule if row else "KM209"
        if ctx.enabled(rule) and fn not in ("tf",):
            ctx.report(rule, original, f"K.{fn} used as a value: convert by hand to a keras.ops call",
                       fixed=False)
        return None
    if not ctx.enabled(row.rule) or (fn in BACKEND_KEPT and not via_tf):
        return None
    new = ctx.expr(row.ref)
    ctx.report(row.rule, original, f"K.{fn} -> {row.ref}", fixed=True)
    return new
