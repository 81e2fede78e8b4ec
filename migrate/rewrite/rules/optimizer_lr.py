"""KM401/KM402: the optimizer learning rate.

* KM401: ``Adam(lr=...)`` -> ``Adam(learning_rate=...)`` for every optimizer;
  ``decay=d`` (Keras 2: ``lr / (1 + d * iterations)``) becomes the exact
  ``keras.optimizers.schedules.InverseTimeDecay(lr, decay_steps=1, decay_rate=d)``.
  Keras 2.2 defaults that Keras 3 changed (Adagrad/Adadelta/Adamax/Nadam learning
  rate) are pinned when the source is Keras 2.2.
* KM402: ``optimizer.lr`` reads and writes -> ``optimizer.learning_rate``.
  The receiver must look like an optimizer: a name bound to an optimizer
  constructor in the module, or an attribute chain ending in ``optimizer``/``opt``.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import ATTRIBUTE, CALL, Hook, RuleSpec, Site, Triggers
from migrate.rewrite.names import dotted_name
from migrate.rewrite.tables import OPTIMIZERS
from migrate.rewrite.templating import tidy_args

#: Keras 2.2 default learning rates that differ from Keras 3's.
KERAS22_LR_DEFAULTS = {"Adagrad": "0.01", "Adadelta": "1.0", "Adamax": "0.002", "Nadam": "0.002"}
_EQ = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))
_OPT_SUFFIXES = ("optimizer", "opt", "optim")

SPEC = RuleSpec(
    ids=("KM401", "KM402"),
    # the constructor's rewrite goes on to KM409 (optimizer_defaults), which pins more arguments
    hooks=(Hook(CALL, prefixes=("keras.optimizers.",), chain=True), Hook(ATTRIBUTE, methods=("lr",))),
    triggers=Triggers(methods=frozenset({"lr"})),
)


def on_call(ctx: FileContext, site: Site) -> cst.Call | None:
    """KM401 on an optimizer constructor."""
    return _rewrite_ctor(ctx, site.qualified, site.original, site.updated)  # type: ignore[arg-type]


def on_attribute(ctx: FileContext, site: Site) -> cst.Attribute | None:
    """KM402 on ``<optimizer>.lr``."""
    return _rewrite_attr(ctx, site.original, site.updated)


def _is_zero(node: cst.BaseExpression) -> bool:
    return isinstance(node, (cst.Integer, cst.Float)) and float(node.value) == 0.0


def _rewrite_ctor(ctx: FileContext, qualified: str, original: cst.Call, updated: cst.Call) -> cst.Call | None:
    if not qualified.startswith("keras.optimizers.") or qualified.count(".") != 2:
        return None
    name = qualified.rsplit(".", 1)[1]
    if name not in OPTIMIZERS or not ctx.enabled("KM401"):
        return None
    args = list(updated.args)
    lr_index = None
    decay_index = None
    for i, a in enumerate(args):
        if a.keyword is not None and a.keyword.value in ("lr", "learning_rate"):
            lr_index = i
        elif a.keyword is None and i == 0 and not a.star:
            lr_index = i
        elif a.keyword is not None and a.keyword.value == "decay":
            decay_index = i
    changed = False
    if lr_index is not None and args[lr_index].keyword is not None and args[lr_index].keyword.value == "lr":
        args[lr_index] = args[lr_index].with_changes(keyword=cst.Name("learning_rate"))
        ctx.report("KM401", original, f"{name}(lr=...) -> {name}(learning_rate=...)", fixed=True)
        changed = True
    if decay_index is not None:
        decay = args[decay_index].value
        del args[decay_index]
        if lr_index is not None and lr_index > decay_index:
            lr_index -= 1
        if not _is_zero(decay):
            if lr_index is not None:
                lr_code = ctx.arg_code(args[lr_index].value, atom=False)
            else:
                lr_code = KERAS22_LR_DEFAULTS.get(name) if ctx.source == "keras-2.2" else None
                if lr_code is None:
                    lr_code = "0.01" if name == "SGD" else ("1.0" if name == "Adadelta" and ctx.source == "keras-2.2" else "0.001")
            sched = ctx.expr(
                f"keras.optimizers.schedules.InverseTimeDecay({lr_code}, decay_steps=1, "
                f"decay_rate={ctx.arg_code(decay, atom=False)})")
            new_arg = cst.Arg(keyword=cst.Name("learning_rate"), value=sched, equal=_EQ)
            if lr_index is not None:
                args[lr_index] = args[lr_index].with_changes(keyword=cst.Name("learning_rate"), value=sched,
                                                             equal=_EQ)
            else:
                args.insert(0, new_arg)
            ctx.report("KM401", original,
                       f"{name}(decay=...) -> InverseTimeDecay schedule (same lr / (1 + decay * step))", fixed=True)
        else:
            ctx.report("KM401", original, f"{name}(decay=0) dropped (no effect)", fixed=True)
        changed = True
    elif lr_index is None and ctx.source == "keras-2.2" and name in KERAS22_LR_DEFAULTS:
        args.insert(0, cst.Arg(keyword=cst.Name("learning_rate"), value=ctx.expr(KERAS22_LR_DEFAULTS[name]),
                               equal=_EQ))
        ctx.report("KM401", original,
                   f"{name}: Keras 2.2 default learning rate {KERAS22_LR_DEFAULTS[name]} pinned (Keras 3 uses 0.001)",
                   fixed=True)
        changed = True
    if not changed:
        return None
    return updated.with_changes(args=tidy_args(args))


def looks_like_optimizer(ctx: FileContext, node: cst.BaseExpression) -> bool:
    name = dotted_name(node)
    if name is None:
        return False
    if name in ctx.optimizer_names:
        return True
    last = name.rsplit(".", 1)[-1].lower()
    return last.endswith(_OPT_SUFFIXES) and last not in ("adopt",)


def _rewrite_attr(ctx: FileContext, original: cst.Attribute, updated: cst.Attribute) -> cst.Attribute | None:
    if original.attr.value != "lr" or not ctx.enabled("KM402"):
        return None
    if not looks_like_optimizer(ctx, original.value):
        return None
    ctx.report("KM402", original, "optimizer.lr -> optimizer.learning_rate", fixed=True)
    return updated.with_changes(attr=cst.Name("learning_rate"))
