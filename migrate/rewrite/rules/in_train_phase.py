"""KM213: ``K.in_train_phase(x, alt, training=t)`` -> a conditional on ``t``.

Keras 2 chose ``x`` in training and ``alt`` otherwise, calling either when it is a
function (keras-position-wise-feed-forward passes ``dropped_inputs``, a local ``def``);
``training=None`` meant "ask the global learning phase". Keras 3 has no learning phase:
a layer's ``call`` receives ``training`` as a Python bool (``fit`` passes True,
``predict``/``__call__`` leave it None or False), so with the argument given the call is
exactly::

    (x() if callable(x) else x) if t else (alt() if callable(alt) else alt)

A call without ``training`` (the learning phase) or with other arguments is reported
with what to write.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, KEEP, REFERENCE, Hook, Order, RuleSpec, Site

RULE = "KM213"
_NAME = "keras.backend.in_train_phase"
_EMPTY = cst.Module(body=[])
_HINT = ("write `x if training else alt` with the `training` argument of call() (call x/alt if they are "
         "functions); Keras 3 has no learning phase")

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CALL, names=(_NAME,)), Hook(REFERENCE, names=(_NAME,), check=True)),
    before=(Order("backend", "K.in_train_phase has an exact form given `training`; the generic backend rule "
                  "would report it as KM209"),),
)


def _branch(node: cst.BaseExpression) -> str:
    code = _EMPTY.code_for_node(node)
    if isinstance(node, (cst.Name, cst.Attribute)):
        return f"({code}() if callable({code}) else {code})"
    if isinstance(node, cst.Lambda):
        return f"({code})()"
    return f"({code})"


def on_call(ctx: FileContext, site: Site) -> cst.BaseExpression | object:
    call: cst.Call = site.updated
    if not ctx.enabled(RULE):
        return KEEP
    args = list(call.args)
    positional = [a for a in args if a.keyword is None and not a.star]
    keywords = {a.keyword.value: a.value for a in args if a.keyword is not None}
    if any(a.star for a in args) or set(keywords) - {"x", "alt", "training"} or len(positional) > 3:
        ctx.report(RULE, site.original, f"K.in_train_phase with these arguments: {_HINT}", fixed=False)
        return KEEP
    values = [a.value for a in positional]
    names = ["x", "alt", "training"][: len(values)]
    given = dict(zip(names, values))
    for key, value in keywords.items():
        given[key] = value
    training = given.get("training")
    if "x" not in given or "alt" not in given or training is None or (
            isinstance(training, cst.Name) and training.value == "None"):
        ctx.report(RULE, site.original, f"K.in_train_phase without `training`: {_HINT}", fixed=False)
        return KEEP
    text = (f"({_branch(given['x'])} if {_EMPTY.code_for_node(training)} "
            f"else {_branch(given['alt'])})")
    ctx.report(RULE, site.original, "K.in_train_phase(x, alt, training=t) -> (x if t else alt), calling a function "
               "branch as Keras 2 did", fixed=True)
    return cst.parse_expression(text)


def on_reference(ctx: FileContext, site: Site) -> object:
    if not site.called and ctx.enabled(RULE):
        ctx.report(RULE, site.original, f"K.in_train_phase used as a value: {_HINT}", fixed=False)
    return KEEP
