"""KM315: Keras 2 merge layers keep Keras 2's output mask (``compat.Add``, ...).

A merge layer's output mask changed meaning in Keras 3. Keras 2 (2.2 and tf.keras
2.x) returned the AND of the input masks that are present; Keras 3's ``Add``,
``Subtract``, ``Multiply``, ``Average``, ``Maximum`` and ``Minimum`` return *no* mask
when any input has none, and the OR of the masks otherwise. The outputs of the merge
are the same, but every masked layer after it computes something else: keras-bert adds
its masked token embedding to the unmasked segment embedding, and on Keras 3 the
attention layers downstream lost the padding mask (outputs off by 0.58).

In Keras 2 code (reached through ``tensorflow.keras``, or a known Keras 2 dialect) the
constructor is rewritten to its ``modern.compat`` twin, a subclass that only overrides
``compute_mask`` with the Keras 2 rule, so the numbers are Keras 2's with or without
masks, and a ``.keras`` file names ``migrate_compat>Add`` (registered by importing
``modern.compat``, which the rewritten module does). Code whose dialect cannot be
told (plain ``keras`` without Keras 2.2 markers: it may be Keras 3 already) is left
alone.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, Hook, Order, RuleSpec, Site

RULE = "KM315"
_LAYERS = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CALL, names=tuple(f"keras.layers.{name}" for name in _LAYERS)),
           # The class handed to a factory as a value: bert4keras's self.apply(inputs, layer=Add, name=...)
           Hook(CALL, unresolved=True)),
    after=(Order("layer_kwargs", "Keras 1 keywords are renamed on the keras.layers call before its callee "
                 "becomes the compat twin"),
           # The unresolved-call hook only swaps a class argument; rules that own such a call go first.
           *(Order(rule, "it may own an unresolved method call; a merge class handed to it is swapped after")
             for rule in ("variable_update", "add_weight", "metric_by_loss", "training_calls",
                          "positional_call_args"))),
)


def _class_values(ctx: FileContext, site: Site) -> cst.Call | None:
    """Arguments of an unresolved call that are a Keras 2 merge layer class (not called): its twin."""
    updated: cst.Call = site.updated
    args = list(updated.args)
    changed = False
    for index, (arg, written) in enumerate(zip(args, site.original.args)):
        if not isinstance(written.value, (cst.Name, cst.Attribute)):
            continue
        raw = ctx.qualified_raw(written.value)
        if raw is None or raw[0].rpartition(".")[0] != "keras.layers" or raw[0].rpartition(".")[2] not in _LAYERS:
            continue
        if not (raw[1] or ctx.source in ("keras-2.2", "tf-keras-2")):
            continue
        name = raw[0].rpartition(".")[2]
        ctx.report(RULE, written.value, f"keras.layers.{name} (a class handed on) -> compat.{name} (Keras 2's output "
                   "mask: the AND of the masks given; Keras 3's drops it when one input has none)", fixed=True)
        args[index] = arg.with_changes(value=ctx.expr(f"compat.{name}"))
        changed = True
    return updated.with_changes(args=args) if changed else None


def on_call(ctx: FileContext, site: Site) -> cst.Call | None:
    updated: cst.Call = site.updated
    if not ctx.enabled(RULE):
        return None
    if site.qualified is None:
        return _class_values(ctx, site)
    if not (site.via_tf or ctx.source in ("keras-2.2", "tf-keras-2")):
        return None
    name = str(site.qualified).rsplit(".", 1)[1]
    ctx.report(RULE, site.original, f"keras.layers.{name} -> compat.{name} (Keras 2's output mask: the AND of the "
               "masks given; Keras 3's drops it when one input has none)", fixed=True)
    return updated.with_changes(func=ctx.expr(f"compat.{name}"))
