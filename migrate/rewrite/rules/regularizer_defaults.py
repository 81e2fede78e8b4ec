"""KM601: ``keras.regularizers.l1_l2()`` keeps its Keras 2 strengths.

Keras 2 (2.2.4 and tf.keras 2.x alike) defined ``l1_l2(l1=0.01, l2=0.01)``; Keras 3's
``l1_l2`` is its ``L1L2`` class, whose defaults are ``l1=0.0, l2=0.0``. So
``kernel_regularizer=l1_l2()`` regularised a Keras 2 model and regularises nothing on
Keras 3: no error, a different loss and different trained weights
(``legacy_defaults.py``, row ``l1-l2-defaults``). Every strength the call leaves to its
default is written out with the Keras 2 value, which is exactly what Keras 2 computed
(``L1L2(l1, l2)`` is the same penalty in both). Standalone ``keras`` code of unknown
version (possibly Keras 3 already) is reported instead.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, Hook, RuleSpec, Site
from migrate.rewrite.templating import tidy_args

RULE = "KM601"
#: Keras 2's ``l1_l2`` defaults, in its positional order.
KERAS2_L1_L2 = (("l1", "0.01"), ("l2", "0.01"))

SPEC = RuleSpec(ids=(RULE,), hooks=(Hook(CALL, names=("keras.regularizers.l1_l2",)),))

_EQ = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))


def on_call(ctx: FileContext, site: Site) -> cst.Call | None:
    original: cst.Call = site.original
    updated: cst.Call = site.updated
    if not ctx.enabled(RULE):
        return None
    args = list(updated.args)
    if any(a.star for a in args):
        return None  # *args/**kwargs may carry both strengths; nothing is known
    positional = [a for a in args if a.keyword is None]
    given = {a.keyword.value for a in args if a.keyword is not None}
    given |= {name for (name, _), _a in zip(KERAS2_L1_L2, positional)}
    missing = [(name, value) for name, value in KERAS2_L1_L2 if name not in given]
    if not missing:
        return None
    what = ", ".join(f"{n}={v}" for n, v in missing)
    if ctx.source == "unknown":
        ctx.report(RULE, original, f"l1_l2() defaults are 0.01 in Keras 2 and 0.0 in Keras 3; if this is Keras 2 "
                   f"code write {what} (or rerun with --from keras-2.2 / --from tf-keras-2)", fixed=False,
                   todo=False)
        return None
    for name, value in missing:
        args.append(cst.Arg(keyword=cst.Name(name), value=cst.parse_expression(value), equal=_EQ))
    ctx.report(RULE, original, f"l1_l2: Keras 2 defaults written out: {what} (Keras 3's are 0.0)", fixed=True)
    return updated.with_changes(args=tidy_args(args))

