"""KM606: frozen layers in Keras 2.2 code that may hold BatchNormalization (reported).

In Keras 2.2 ``trainable=False`` only stopped the weights from being trained: a frozen
``BatchNormalization`` still normalised each training batch with that batch's
statistics. Since tf.keras 2 (TensorFlow 2.0) and in Keras 3 a frozen
``BatchNormalization`` runs in inference mode, with its moving statistics, even inside
``fit`` (row ``frozen-batchnorm`` of ``legacy_defaults.py``); 2.2 also skipped the moving
averages' updates of a frozen layer. Fine-tuning a frozen
pretrained network (``keras.applications``, which are full of BatchNormalization)
therefore trains against different activations, with no error. No argument gives back
the 2.2 behaviour (batch statistics without moving-average updates), so in Keras 2.2
code these spots are reported:

* ``BatchNormalization(..., trainable=False)``;
* ``<x>.trainable = False`` in a file that names ``BatchNormalization`` or uses
  ``keras.applications``.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import ASSIGN, CALL, Hook, RuleSpec, Site, Triggers

RULE = "KM606"

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CALL, names=("keras.layers.BatchNormalization", "keras.layers.normalization.BatchNormalization"),
                check=True),
           Hook(ASSIGN, check=True)),
    triggers=Triggers(methods=frozenset({"trainable"}), keywords=frozenset({"trainable"})),
)

MESSAGE = ("a frozen BatchNormalization normalised training batches with their own statistics in Keras 2.2 (and "
           "left its moving statistics alone); Keras 3, like tf.keras 2, uses the moving statistics, so fine-tuning "
           "trains differently. No Keras 3 setting does exactly what 2.2 did: keep the Keras 3 behaviour (usually "
           "the better one) and check the results, or leave BatchNormalization trainable to train with batch "
           "statistics (its moving statistics then update too)")


def _is_false(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "False"


def on_call(ctx: FileContext, site: Site) -> None:
    if ctx.source != "keras-2.2" or not ctx.enabled(RULE):
        return None
    call: cst.Call = site.original
    if any(a.keyword is not None and a.keyword.value == "trainable" and _is_false(a.value) for a in call.args):
        ctx.report(RULE, call, f"BatchNormalization(trainable=False): {MESSAGE}", fixed=False)
    return None


def on_assign(ctx: FileContext, site: Site) -> None:
    if ctx.source != "keras-2.2" or not ctx.enabled(RULE):
        return None
    node: cst.Assign = site.original
    if not _is_false(node.value):
        return None
    if not any(isinstance(t.target, cst.Attribute) and t.target.attr.value == "trainable" for t in node.targets):
        return None
    text = ctx.source_text
    if "BatchNormalization" in text or "applications" in text:
        ctx.report(RULE, node, f"trainable = False: if this freezes BatchNormalization layers, {MESSAGE}",
                   fixed=False)
    return None
