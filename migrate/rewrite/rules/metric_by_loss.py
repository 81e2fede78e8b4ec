"""KM603: ``compile(metrics=['acc' | 'accuracy' | 'ce' | 'crossentropy'])`` as Keras 2.2 meant them.

Keras 2.2.4's ``Model.compile`` chose the function behind these four names from the
*loss*: binary accuracy/crossentropy when the loss was ``binary_crossentropy`` (or the
output had one unit), the sparse ones for ``sparse_categorical_crossentropy``, else the
categorical ones; and it logged them as ``acc`` / ``ce`` whichever spelling was given.
tf.keras 2 and Keras 3 choose from the *shapes* (binary only for one unit) and log the
name as written; Keras 3 no longer knows ``ce``/``crossentropy`` at all. So in Keras 2.2
code:

* with ``loss='binary_crossentropy'``: ``'acc'``/``'accuracy'`` ->
  ``keras.metrics.BinaryAccuracy(name='acc')`` and ``'ce'``/``'crossentropy'`` ->
  ``keras.metrics.BinaryCrossentropy(name='ce')``. A multi-label model (several sigmoid
  units) otherwise reports categorical accuracy on Keras 3 (row
  ``acc-binary-multilabel`` of ``legacy_defaults.py``);
* with the categorical or sparse loss: ``'ce'``/``'crossentropy'`` -> the matching
  ``keras.metrics`` class named ``'ce'``; ``'accuracy'`` -> ``'acc'`` (the same choice on
  Keras 3, which picks it from the shapes as 2.2 did from the loss, and the log key
  2.2 wrote, so ``monitor='val_acc'`` keeps working);
* any other loss: ``'accuracy'`` -> ``'acc'``; ``'ce'`` is reported (2.2 chose by the
  output's width, which the code does not show); a loss the call does not show (a
  variable, not a function defined in the module) is reported for ``acc`` (binary or
  not cannot be told).

tf.keras 2 code gets only a report for ``'ce'``/``'crossentropy'``, which Keras 3 rejects.
"""

from __future__ import annotations

import re

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, Hook, Order, RuleSpec, Site, Triggers

RULE = "KM603"
_ACC = frozenset({"acc", "accuracy"})
_CE = frozenset({"ce", "crossentropy"})
_WORDS = _ACC | _CE

#: loss name -> the Keras 3 metric classes Keras 2.2 used for 'acc' and for 'ce' with it
_BY_LOSS: dict[str, tuple[str | None, str]] = {
    "binary_crossentropy": ("BinaryAccuracy", "BinaryCrossentropy"),
    "categorical_crossentropy": (None, "CategoricalCrossentropy"),
    "sparse_categorical_crossentropy": (None, "SparseCategoricalCrossentropy"),
}

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CALL, methods=("compile",), chain=True),),
    before=(Order("training_calls", "KM407 drops removed compile arguments and ends the dispatch; the metrics "
                  "are rewritten here first and handed on"),),
    # compile is far too common a word; the metric names (in strings) and the keyword are not
    triggers=Triggers(keywords=frozenset({"metrics"}), names=_WORDS, statement_only=_WORDS),
)


def _argument(call: cst.Call, keyword: str, position: int) -> tuple[int, cst.Arg] | None:
    for i, a in enumerate(call.args):
        if a.keyword is not None and a.keyword.value == keyword:
            return i, a
    positional = [(i, a) for i, a in enumerate(call.args) if a.keyword is None and not a.star]
    return positional[position] if len(positional) > position else None


def _loss_name(ctx: FileContext, node: cst.BaseExpression | None) -> str | None:
    """The loss's name when the code shows it (a string, or a keras.losses function)."""
    if isinstance(node, cst.SimpleString) and isinstance(node.evaluated_value, str):
        return node.evaluated_value
    if node is not None and isinstance(node, (cst.Name, cst.Attribute)):
        q = ctx.qualified(node)
        if q is not None and q.startswith("keras.losses.") and q.count(".") == 2:
            return q.rsplit(".", 1)[1]
    return None


def on_call(ctx: FileContext, site: Site) -> cst.Call | None:
    original: cst.Call = site.original
    updated: cst.Call = site.updated
    if not ctx.enabled(RULE) or not isinstance(original.func, cst.Attribute) or any(a.star for a in updated.args):
        return None
    found = _argument(updated, "metrics", 2)
    if found is None or not isinstance(found[1].value, (cst.List, cst.Tuple)):
        return None
    index, metrics_arg = found
    elements = list(metrics_arg.value.elements)
    named = [(i, e.value.evaluated_value) for i, e in enumerate(elements)
             if isinstance(e.value, cst.SimpleString) and e.value.evaluated_value in _WORDS]
    if not named:
        return None
    if ctx.source != "keras-2.2":
        if ctx.source == "tf-keras-2" and any(name in _CE for _, name in named):
            ctx.report(RULE, original, "metric 'ce'/'crossentropy' is not known to Keras 3: write "
                       "keras.metrics.BinaryCrossentropy / CategoricalCrossentropy / SparseCategoricalCrossentropy"
                       "(name='ce') to match the output", fixed=False)
        return None
    loss_arg = _argument(updated, "loss", 1)
    loss_node = loss_arg[1].value if loss_arg else None
    loss = _loss_name(ctx, loss_node)
    # a function of this module is never Keras's binary_crossentropy: 2.2 then chose as Keras 3 does
    own_function = isinstance(loss_node, cst.Name) and re.search(
        rf"^\s*def\s+{re.escape(loss_node.value)}\s*\(", ctx.source_text, re.M) is not None
    acc_class, ce_class = _BY_LOSS.get(loss or "", (None, None))  # type: ignore[arg-type]
    changed = []
    for i, name in named:
        string: cst.SimpleString = elements[i].value  # type: ignore[assignment]
        quote = string.quote
        short = "acc" if name in _ACC else "ce"
        cls = acc_class if name in _ACC else ce_class
        if cls is not None:
            new: cst.BaseExpression = ctx.expr(f"keras.metrics.{cls}(name={quote}{short}{quote})")
        elif name == "accuracy":
            new = cst.SimpleString(f"{quote}acc{quote}")
        elif name in _CE:
            ctx.report(RULE, original, f"metric {name!r} with loss {loss!r}: Keras 2.2 chose binary crossentropy "
                       "for a one-unit output, else categorical; Keras 3 does not know the name: write "
                       f"keras.metrics.BinaryCrossentropy(name={quote}ce{quote}) or "
                       f"CategoricalCrossentropy(name={quote}ce{quote})", fixed=False)
            continue
        else:
            new = string
        if loss is None and name in _ACC and not own_function:
            ctx.report(RULE, original, "metric 'acc': if the loss is binary_crossentropy on several units, Keras 2.2 "
                       f"computed binary accuracy and Keras 3 computes categorical: write "
                       f"keras.metrics.BinaryAccuracy(name={quote}acc{quote})", fixed=False)
        if new is not string:
            elements[i] = elements[i].with_changes(value=new)
            changed.append(f"{name!r} -> {ctx.code(new)}")
    if not changed:
        return None
    shown = f"loss {loss!r}" if loss else "loss not a Keras name"
    ctx.report(RULE, original, f"metrics as Keras 2.2 chose them ({shown}): {', '.join(changed)}", fixed=True)
    args = list(updated.args)
    args[index] = metrics_arg.with_changes(value=metrics_arg.value.with_changes(elements=elements))
    return updated.with_changes(args=args)
