"""KM212: ``K.backend()`` -> ``keras.backend.backend()``.

Keras 2 answered with the name of the backend in use (``"tensorflow"``; Keras 2.2
also ``"theano"``/``"cntk"``), and Keras 3 keeps that very function as
``keras.backend.backend()`` (``"tensorflow"``, ``"jax"``, ``"torch"``, ``"numpy"``),
so code that branches on it keeps its meaning. The standalone spelling
(``from keras import backend as K``; ``K.backend()``) is already valid Keras 3 and
stays as it is; ``tf.keras.backend.backend()`` (any alias) moves to the ``keras``
package, as a call or as a value. A call with arguments (the function takes none)
is reported.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, KEEP, REFERENCE, Hook, Order, RuleSpec, Site

RULE = "KM212"
_NAME = "keras.backend.backend"
_WHY = "the name of the backend in use"

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CALL, names=(_NAME,)), Hook(REFERENCE, names=(_NAME,))),
    before=(Order("backend", "K.backend has a Keras 3 twin; the generic backend rule has no row for it and "
                  "would report it as KM209"),),
)


def on_call(ctx: FileContext, site: Site) -> cst.BaseExpression | object:
    call: cst.Call = site.original
    if not ctx.enabled(RULE):
        return KEEP
    if call.args:
        ctx.report(RULE, call, "K.backend() takes no arguments; convert this call by hand", fixed=False)
        return KEEP
    if not site.via_tf:
        return KEEP  # keras.backend.backend() is Keras 3 as it stands
    ctx.report(RULE, call, f"{ctx.dotted(call.func)}() -> keras.backend.backend() ({_WHY})", fixed=True)
    return ctx.expr("keras.backend.backend()")


def on_reference(ctx: FileContext, site: Site) -> cst.BaseExpression | object:
    """``K.backend`` used as a value (``get_backend = K.backend``); a callee is the call's business."""
    if site.called or not site.via_tf or not ctx.enabled(RULE):
        return KEEP
    ctx.report(RULE, site.original, f"{ctx.dotted(site.original)} -> keras.backend.backend ({_WHY})", fixed=True)
    return ctx.expr("keras.backend.backend")
