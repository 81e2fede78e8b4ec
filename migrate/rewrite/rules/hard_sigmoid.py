"""KM308: references to ``keras.activations.hard_sigmoid`` in Keras 2 code.

Keras 2 (standalone 2.2 and tf.keras 2.x alike) computed ``clip(0.2*x + 0.5, 0, 1)``;
Keras 3's ``hard_sigmoid`` is ``relu6(x + 3) / 6``. So that migrated code keeps its
numbers, every reference becomes ``modern.compat.legacy_hard_sigmoid``:

* ``keras.activations.hard_sigmoid`` (any alias, ``tf.keras`` included) where it is used;
* ``from keras.activations import hard_sigmoid`` becomes
  ``from modern.compat import legacy_hard_sigmoid as hard_sigmoid``, which keeps
  every use of the name valid;
* ``keras.activations.get('hard_sigmoid')``.

String activations (``activation='hard_sigmoid'``) are KM304. When the dialect is
unknown (standalone ``keras`` without a 2.2 marker: possibly Keras 3 already) the
spots are reported instead.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, REFERENCE, Hook, Order, RuleSpec, Site

RULE = "KM308"
LEGACY = "keras.activations.hard_sigmoid"
TARGET = "modern.compat.legacy_hard_sigmoid"
SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CALL, names=("keras.activations.get",)), Hook(REFERENCE, names=(LEGACY,))),
    before=(Order("imports", "keras.activations.hard_sigmoid exists in Keras 3 under the same name, so the "
                  "namespace rule would keep it; its formula changed, which only this rule knows"),),
)

_WHY = "Keras 2 hard_sigmoid is 0.2*x+0.5, Keras 3's relu6(x+3)/6"
_UNKNOWN = ("hard_sigmoid differs between Keras 2 (0.2*x+0.5) and Keras 3 (relu6(x+3)/6); rerun with "
            "--from keras-2.2 or --from tf-keras-2 if this is Keras 2 code")


def _applies(ctx: FileContext, node: cst.CSTNode) -> bool:
    if not ctx.enabled(RULE):
        return False
    if ctx.source == "unknown":
        ctx.report(RULE, node, _UNKNOWN, fixed=False, todo=False)
        return False
    return True


def on_reference(ctx: FileContext, site: Site) -> cst.BaseExpression | None:
    original = site.original
    if not _applies(ctx, original):
        return None
    ctx.report(RULE, original, f"keras.activations.hard_sigmoid -> compat.legacy_hard_sigmoid ({_WHY})", fixed=True)
    return ctx.expr("compat.legacy_hard_sigmoid")


def on_call(ctx: FileContext, site: Site) -> cst.BaseExpression | None:
    """``keras.activations.get('hard_sigmoid')``."""
    original: cst.Call = site.original
    args = original.args
    if len(args) != 1 or args[0].keyword is not None or args[0].star:
        return None
    value = args[0].value
    if not (isinstance(value, cst.SimpleString) and value.evaluated_value == "hard_sigmoid"):
        return None
    if not _applies(ctx, original):
        return None
    ctx.report(RULE, original, f"activations.get('hard_sigmoid') -> compat.legacy_hard_sigmoid ({_WHY})", fixed=True)
    return ctx.expr("compat.legacy_hard_sigmoid")


def import_target(ctx: FileContext, legacy: str, node: cst.CSTNode) -> tuple[str, str, str] | None:
    """(target, rule, reason) for an imported name, or None to leave it to the other rules."""
    if legacy != LEGACY or not _applies(ctx, node):
        return None
    return TARGET, RULE, _WHY
