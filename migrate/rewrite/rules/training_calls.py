"""KM403-KM407: model training methods that were renamed or lost arguments.

* KM403: ``fit_generator``/``evaluate_generator``/``predict_generator`` become
  ``fit``/``evaluate``/``predict``; positional arguments are named by the
  legacy signature first (the orders differ), worker arguments are dropped.
* KM404: ``metric.reset_states()`` -> ``reset_state()`` (receiver known to be a
  metric: bound to a ``keras.metrics`` constructor in the module).
* KM405: ``predict_classes`` -> ``modern.compat.predict_classes`` (Keras 2
  Sequential semantics), ``predict_proba`` -> ``predict``.
* KM406: Keras 1 ``nb_epoch`` -> ``epochs``; sample counts reported.
* KM407: ``workers``/``use_multiprocessing``/``max_queue_size`` dropped from
  fit/evaluate/predict (they moved to ``keras.utils.PyDataset``; no effect on
  the numbers); removed ``compile`` arguments reported.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, Hook, RuleSpec, Site, Triggers
from migrate.rewrite.names import dotted_name
from migrate.rewrite.templating import tidy_args
from migrate.rewrite.tables import (
    GENERATOR_METHODS,
    KERAS1_FIT_RENAMES,
    KERAS1_FIT_REPORT,
    REMOVED_ARGS,
)

_OTHER_METHODS = ("reset_states", "predict_classes", "predict_proba")
_ARG_METHODS = ("fit", "evaluate", "predict", "compile")

SPEC = RuleSpec(
    ids=("KM403", "KM404", "KM405", "KM406", "KM407"),
    hooks=(Hook(CALL, methods=(*GENERATOR_METHODS, *_OTHER_METHODS, *_ARG_METHODS)),),
    # fit/evaluate/predict/compile are far too common to be trigger words: they are touched only
    # when a removed or renamed keyword is passed, so the keywords are
    triggers=Triggers(methods=frozenset({*GENERATOR_METHODS, *_OTHER_METHODS}),
                      keywords=frozenset({*(key for keys in REMOVED_ARGS.values() for key in keys),
                                          *KERAS1_FIT_RENAMES, *KERAS1_FIT_REPORT})),
)

_EQ = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))


_tidy = tidy_args


def on_call(ctx: FileContext, site: Site) -> cst.BaseExpression | None:
    original: cst.Call = site.original
    updated: cst.Call = site.updated
    func = original.func
    if not isinstance(func, cst.Attribute):
        return None
    method = func.attr.value
    if method in GENERATOR_METHODS:
        return _generator(ctx, method, original, updated)
    if method == "reset_states":
        return _reset_states(ctx, original, updated)
    if method in ("predict_classes", "predict_proba"):
        return _predict_classes(ctx, method, original, updated)
    if method in _ARG_METHODS:
        return _removed_args(ctx, method, original, updated)
    return None


def _generator(ctx: FileContext, method: str, original: cst.Call, updated: cst.Call) -> cst.BaseExpression | None:
    if not ctx.enabled("KM403"):
        return None
    new_name, order = GENERATOR_METHODS[method]
    args = list(updated.args)
    if any(a.star for a in args):
        ctx.report("KM403", original, f"{method} with *args/**kwargs: convert by hand", fixed=False)
        return None
    for i, a in enumerate(args):
        if a.keyword is None:
            if i >= len(order):
                ctx.report("KM403", original, f"{method}: too many positional arguments", fixed=False)
                return None
            if i > 0:
                args[i] = a.with_changes(keyword=cst.Name(order[i]), equal=_EQ)
    kept = []
    for a in args:
        if a.keyword is not None and a.keyword.value in REMOVED_ARGS[new_name]:
            ctx.report("KM407", original,
                       f"{method}({a.keyword.value}=...) dropped: {REMOVED_ARGS[new_name][a.keyword.value]}",
                       fixed=True)
            continue
        kept.append(a)
    if method != "predict_generator":
        kept = [_wrap_batches(ctx, a, i) for i, a in enumerate(kept)]
    func = updated.func
    assert isinstance(func, cst.Attribute)
    ctx.report("KM403", original, f"{method} -> {new_name}", fixed=True)
    return updated.with_changes(func=func.with_changes(attr=cst.Name(new_name)), args=_tidy(kept))


def _wrap_batches(ctx: FileContext, arg: cst.Arg, index: int) -> cst.Arg:
    """The generator (and a ``validation_data`` generator) of ``fit_generator`` /
    ``evaluate_generator`` through ``compat.legacy_batches``: Keras 2 took batches
    ``([x1, x2], y)``; Keras 3's ``fit`` rejects a list in a generator's batch ("output_signature
    must contain objects that are subclass of tf.TypeSpec"). The wrapper turns the lists into
    tuples and passes arrays and ``(x, y)`` tuples through. Predict's batches are left alone: a
    list there is the inputs themselves, and a tuple would read as ``(x, y)``."""
    key = arg.keyword.value if arg.keyword is not None else None
    if not (index == 0 and key in (None, "generator")) and key != "validation_data":
        return arg
    value = arg.value
    if isinstance(value, (cst.Tuple, cst.List)) or (
            isinstance(value, cst.Call) and ctx.code(value.func).strip() == "compat.legacy_batches"):
        return arg
    ctx.needs.add("compat")
    wrapped = cst.Call(func=ctx.expr("compat.legacy_batches"), args=[cst.Arg(value=value)])
    if key == "generator":  # Keras 3's fit/evaluate name it x
        return arg.with_changes(keyword=cst.Name("x"), value=wrapped)
    return arg.with_changes(value=wrapped)


def _reset_states(ctx: FileContext, original: cst.Call, updated: cst.Call) -> cst.BaseExpression | None:
    if not ctx.enabled("KM404") or original.args:
        return None
    func = original.func
    assert isinstance(func, cst.Attribute)
    receiver = dotted_name(func.value)
    if receiver is not None and receiver in ctx.metric_names:
        ufunc = updated.func
        assert isinstance(ufunc, cst.Attribute)
        ctx.report("KM404", original, "metric.reset_states() -> reset_state()", fixed=True)
        return updated.with_changes(func=ufunc.with_changes(attr=cst.Name("reset_state")))
    ctx.report("KM404", original,
               "reset_states(): if this is a metric, Keras 3 calls it reset_state() (RNN layers keep reset_states)",
               fixed=False)
    return None


def _predict_classes(ctx: FileContext, method: str, original: cst.Call,
                     updated: cst.Call) -> cst.BaseExpression | None:
    if not ctx.enabled("KM405"):
        return None
    ufunc = updated.func
    assert isinstance(ufunc, cst.Attribute)
    if method == "predict_proba":
        ctx.report("KM405", original, "predict_proba -> predict (identical in Keras 2)", fixed=True)
        return updated.with_changes(func=ufunc.with_changes(attr=cst.Name("predict")))
    model = ctx.arg_code(ufunc.value, atom=False)
    rest = ", ".join(ctx.code(a).strip().rstrip(",") for a in updated.args)
    new = ctx.expr(f"compat.predict_classes({model}{', ' + rest if rest else ''})")
    ctx.report("KM405", original, "predict_classes -> modern.compat.predict_classes (Keras 2 semantics)",
               fixed=True)
    return new


def _removed_args(ctx: FileContext, method: str, original: cst.Call,
                  updated: cst.Call) -> cst.BaseExpression | None:
    args = list(updated.args)
    changed = False
    kept = []
    for a in args:
        key = a.keyword.value if a.keyword is not None else None
        if key is None:
            kept.append(a)
            continue
        if method == "fit" and key in KERAS1_FIT_RENAMES and ctx.enabled("KM406"):
            ctx.report("KM406", original, f"fit({key}=...) -> {KERAS1_FIT_RENAMES[key]}=", fixed=True)
            kept.append(a.with_changes(keyword=cst.Name(KERAS1_FIT_RENAMES[key])))
            changed = True
            continue
        if method == "fit" and key in KERAS1_FIT_REPORT and ctx.enabled("KM406"):
            ctx.report("KM406", original, f"fit({key}=...): {KERAS1_FIT_REPORT[key]}", fixed=False)
        if key in REMOVED_ARGS.get(method, {}) and ctx.enabled("KM407"):
            why = REMOVED_ARGS[method][key]
            if method == "compile":
                ctx.report("KM407", original, f"compile({key}=...): {why}; remove it by hand", fixed=False)
            else:
                ctx.report("KM407", original, f"{method}({key}=...) dropped: {why}", fixed=True)
                changed = True
                continue
        kept.append(a)
    if not changed:
        return None
    return updated.with_changes(args=_tidy(kept))
