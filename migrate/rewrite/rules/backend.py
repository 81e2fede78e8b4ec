"""KM201/KM202/KM203/KM207/KM209: ``K.<fn>`` (any alias) to ``keras.ops``.

The rows live in ``tables.BACKEND_ROWS``; this module binds the call to the
legacy signature, refuses what it cannot express exactly, and renders the
row's template. It is the catch-all for ``keras.backend.*``: the functions that
need more than a template (``batch_dot``, ``switch``, ``get_value``/``set_value``,
the tensor constructors of KM210, the random ops of KM211, ``backend()``) have
their own rule modules, which run before this one and keep what they own.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, KEEP, REFERENCE, Hook, RuleSpec, Site, owned
from migrate.rewrite.tables import BACKEND_BY_NAME, BACKEND_KEPT, BACKEND_UNSUPPORTED
from migrate.rewrite.templating import BindError, bind, head, render, used_params

_PREFIX = "keras.backend."

SPEC = RuleSpec(
    ids=("KM201", "KM202", "KM203", "KM207", "KM209"),
    # Every K.<fn> call and reference is this rule's, rewritten or reported (KEEP: nothing after it
    # reads a backend chain); a nested name (K.tf.foo) is kept as it is.
    hooks=(Hook(CALL, prefixes=(_PREFIX,)), Hook(REFERENCE, prefixes=(_PREFIX,))),
)

_SIMPLE = (cst.Name, cst.Attribute, cst.Integer, cst.Float, cst.SimpleString)


def on_call(ctx: FileContext, site: Site) -> cst.BaseExpression | object:
    fn = site.qualified[len(_PREFIX):]  # type: ignore[index]
    if "." in fn:
        return KEEP
    return owned(_rewrite_call(ctx, fn, site.via_tf, site.original, site.updated))


def _rewrite_call(ctx: FileContext, fn: str, via_tf: bool, original: cst.Call,
                  updated: cst.Call) -> cst.BaseExpression | None:
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


def on_reference(ctx: FileContext, site: Site) -> cst.BaseExpression | object:
    """A backend function used as a value (``Lambda(K.sum)``, ``activation=K.relu``); the callee of a
    call is the call's business."""
    fn = site.qualified[len(_PREFIX):]  # type: ignore[index]
    if site.called or "." in fn:
        return KEEP
    return owned(_rewrite_ref(ctx, fn, site.via_tf, site.original))


def _rewrite_ref(ctx: FileContext, fn: str, via_tf: bool,
                 original: cst.BaseExpression) -> cst.BaseExpression | None:
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
