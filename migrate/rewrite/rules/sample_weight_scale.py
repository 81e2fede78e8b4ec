"""KM604: sample weights in Keras 2.2 code scale the loss differently on Keras 3 (reported).

Keras 2.2.4's ``weighted_masked_objective`` multiplied each sample's loss by its weight
and then divided the batch mean by the *fraction of non-zero weights*:
``sum(w*l) / count(w != 0)``. tf.keras 2 and Keras 3 divide by the batch size,
``sum(w*l) / N``. With weights that are never zero the two agree; with zeros (the
usual way to drop samples or padded time steps) the Keras 3 loss, its gradients and
so the training run are smaller by the non-zero fraction of each batch (row
``sample-weight-scale`` of ``legacy_defaults.py``). No argument restores the 2.2
division, so ``fit``/``evaluate``/``train_on_batch``/``test_on_batch`` calls that pass
``sample_weight=`` in Keras 2.2 code are reported with what to do.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, Hook, RuleSpec, Site, Triggers

RULE = "KM604"
_METHODS = ("fit", "evaluate", "train_on_batch", "test_on_batch")

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CALL, methods=_METHODS, check=True),),
    triggers=Triggers(keywords=frozenset({"sample_weight"})),
)

MESSAGE = ("sample_weight: Keras 2.2 divided the weighted loss by the number of non-zero weights "
           "(sum(w*l) / count(w != 0)), Keras 3 by the batch size (sum(w*l) / N); if weights can be 0, "
           "scale each batch's weights by N / count(w != 0) to keep the 2.2 loss")


def on_call(ctx: FileContext, site: Site) -> None:
    call: cst.Call = site.original
    if ctx.source != "keras-2.2" or not ctx.enabled(RULE) or not isinstance(call.func, cst.Attribute):
        return None
    if any(a.keyword is not None and a.keyword.value == "sample_weight" for a in call.args):
        ctx.report(RULE, call, f"{call.func.attr.value}: {MESSAGE}",
                   fixed=False)
    return None
