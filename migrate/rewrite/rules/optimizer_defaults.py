"""KM409: optimizer arguments whose Keras 2 meaning Keras 3 does not share.

* ``epsilon=None`` meant ``K.epsilon()`` in Keras 2 (read when the optimizer was
  built); Keras 3 would use ``None`` in its update and fail. It becomes
  ``keras.config.epsilon()``, the same value (1e-7 unless the program changed it).
* The Keras 2.2 ``Adagrad`` started its squared-gradient accumulator at 0
  (``K.zeros``); Keras 3 starts it at ``initial_accumulator_value=0.1``, so 0.0 is
  pinned for Keras 2.2 code. Keras 3 also adds ``epsilon`` inside the square root
  (Keras 2.2 outside), a small difference that is reported.
* ``Nadam(schedule_decay=...)`` is not accepted by Keras 3, which uses a fixed
  ``0.96**step`` momentum schedule; the Keras 2.2 ``Nadam`` used
  ``0.96**(0.004*step)``. Both are reported: the updates differ.
* The Keras 2.2 ``RMSprop`` divided by ``sqrt(v) + epsilon``, Keras 3 by
  ``sqrt(v + epsilon)``; reported like Adagrad's (no argument moves it).
* tf.keras 2's ``Lion`` defaulted to ``learning_rate=1e-4``, Keras 3's to ``1e-3``: the
  tf.keras value is pinned in tf.keras 2 code.

Each of these is a row of ``migrate/rewrite/legacy_defaults.py``, measured on both
runtimes by ``tests/migrate/rules/test_legacy_defaults.py``.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, Hook, Order, RuleSpec, Site
from migrate.rewrite.tables import KERAS22_ADAGRAD_ACCUMULATOR, OPTIMIZERS
from migrate.rewrite.templating import tidy_args

RULE = "KM409"

SPEC = RuleSpec(
    ids=(RULE,),
    # the constructor goes on to KM602 (optimizer_clipnorm), which renames Keras 2.2's clipnorm=
    hooks=(Hook(CALL, prefixes=("keras.optimizers.",), chain=True),),
    after=(Order("optimizer_lr", "KM401 renames lr= and turns decay= into a schedule first; the defaults "
                 "pinned here are added to that call"),),
)


def on_call(ctx: FileContext, site: Site) -> cst.Call | None:
    return _rewrite(ctx, site.qualified, site.original, site.updated)  # type: ignore[arg-type]
_EQ = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


#: tf.keras 2 default learning rates that Keras 3 changed (optimizers KM401 does not know).
TF_KERAS2_LR_DEFAULTS = {"Lion": "0.0001"}


def _rewrite(ctx: FileContext, qualified: str, original: cst.Call, updated: cst.Call) -> cst.Call | None:
    if not qualified.startswith("keras.optimizers.") or qualified.count(".") != 2 or not ctx.enabled(RULE):
        return None
    name = qualified.rsplit(".", 1)[1]
    if name in TF_KERAS2_LR_DEFAULTS:
        return _pin_tf_keras2_lr(ctx, name, original, updated)
    if name not in OPTIMIZERS:
        return None
    args = list(updated.args)
    keywords = {a.keyword.value: i for i, a in enumerate(args) if a.keyword is not None}
    if any(a.star for a in args):
        return None
    changed = False
    if "epsilon" in keywords and _is_none(args[keywords["epsilon"]].value):
        i = keywords["epsilon"]
        args[i] = args[i].with_changes(value=ctx.expr("keras.config.epsilon()"))
        ctx.report(RULE, original, f"{name}(epsilon=None) -> epsilon=keras.config.epsilon() (what None meant "
                   "in Keras 2)", fixed=True)
        changed = True
    keras22 = ctx.source == "keras-2.2"
    if name == "Adagrad" and keras22:
        if "initial_accumulator_value" not in keywords:
            args.append(cst.Arg(keyword=cst.Name("initial_accumulator_value"),
                                value=ctx.expr(KERAS22_ADAGRAD_ACCUMULATOR), equal=_EQ))
            ctx.report(RULE, original, "Adagrad: Keras 2.2 accumulator start pinned: initial_accumulator_value="
                       f"{KERAS22_ADAGRAD_ACCUMULATOR} (Keras 3 starts at 0.1)", fixed=True)
            changed = True
        ctx.report(RULE, original, "Adagrad: Keras 3 divides by sqrt(accumulator + epsilon), Keras 2.2 by "
                   "sqrt(accumulator) + epsilon; updates differ slightly", fixed=False)
    if name == "RMSprop" and keras22:
        ctx.report(RULE, original, "RMSprop: Keras 3 divides by sqrt(v + epsilon), Keras 2.2 by sqrt(v) + epsilon; "
                   "updates differ slightly", fixed=False)
    if name == "Nadam":
        if "schedule_decay" in keywords:
            ctx.report(RULE, original, "Nadam(schedule_decay=...) is not accepted by Keras 3 (fixed 0.96**step "
                       "momentum schedule): remove it; the updates differ", fixed=False)
        elif keras22:
            ctx.report(RULE, original, "Nadam: Keras 2.2 scheduled momentum with 0.96**(0.004*step), Keras 3 "
                       "with 0.96**step; the updates differ", fixed=False)
    if not changed:
        return None
    return updated.with_changes(args=tidy_args(args))


def _pin_tf_keras2_lr(ctx: FileContext, name: str, original: cst.Call, updated: cst.Call) -> cst.Call | None:
    args = list(updated.args)
    if ctx.source != "tf-keras-2" or any(a.star for a in args):
        return None
    if any(a.keyword is None or a.keyword.value in ("learning_rate", "lr") for a in args):
        return None  # the learning rate is given (first positional argument or by keyword)
    value = TF_KERAS2_LR_DEFAULTS[name]
    args.insert(0, cst.Arg(keyword=cst.Name("learning_rate"), value=ctx.expr(value), equal=_EQ))
    ctx.report(RULE, original, f"{name}: tf.keras 2 default learning_rate={value} written out (Keras 3's is "
               "0.001)", fixed=True)
    return updated.with_changes(args=tidy_args(args))
