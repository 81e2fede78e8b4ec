"""KM418: arguments of Keras 2's ``TensorBoard`` that Keras 3 removed are dropped.

Keras 2.2.4's ``TensorBoard(log_dir, histogram_freq, batch_size, write_graph,
write_grads, write_images, embeddings_freq, embeddings_layer_names,
embeddings_metadata, embeddings_data, update_freq)`` took four arguments that Keras 3's
``TensorBoard`` does not have; Keras 3 raises ``TypeError: ... unexpected keyword
argument 'batch_size'`` when the callback is made, before anything trains
(tensorboard_embeddings_mnist of Keras 2.2.4's examples passes all of them but one).

Dropping them keeps every number of the model: a callback only writes logs. What each
one did, and what is lost, is in :data:`migrate.rewrite.tables.TENSORBOARD_REMOVED_ARGS`;
the finding names it. tf.keras 2 already accepted them only to warn that they were
ignored. The rewrite is keyword-only: with more than two positional arguments the third
is 2.2's ``batch_size`` where Keras 3 has ``write_graph``, so such a call is reported
with what to write instead of being guessed at.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, Hook, RuleSpec, Site
from migrate.rewrite.tables import TENSORBOARD_REMOVED_ARGS
from migrate.rewrite.templating import tidy_args

RULE = "KM418"
_NAMES = ("keras.callbacks.TensorBoard",)
# log_dir and histogram_freq keep their places; the third positional is where 2.2 and 3 part.
_SAME_POSITIONS = 2

SPEC = RuleSpec(ids=(RULE,), hooks=(Hook(CALL, names=_NAMES),))


def on_call(ctx: FileContext, site: Site) -> cst.Call | None:
    original: cst.Call = site.original
    updated: cst.Call = site.updated
    if not ctx.enabled(RULE):
        return None
    positional = [a for a in updated.args if a.keyword is None and not a.star]
    if len(positional) > _SAME_POSITIONS:
        ctx.report(RULE, original, "TensorBoard with more than two positional arguments: Keras 2.2's third is "
                   "batch_size, Keras 3's is write_graph; pass them by keyword (batch_size, write_grads, "
                   "embeddings_layer_names and embeddings_data are gone in Keras 3)", fixed=False)
        return None
    kept, dropped = [], []
    for arg in updated.args:
        if arg.keyword is not None and arg.keyword.value in TENSORBOARD_REMOVED_ARGS:
            dropped.append(arg.keyword.value)
        else:
            kept.append(arg)
    if not dropped:
        return None
    for name in dropped:
        ctx.report(RULE, original, f"TensorBoard({name}=...) dropped: {TENSORBOARD_REMOVED_ARGS[name]}", fixed=True)
    if kept and kept[-1] is not updated.args[-1]:
        # The new last argument ends the call as the old last one did (no comma and line
        # break left before the closing parenthesis).
        kept[-1] = kept[-1].with_changes(comma=updated.args[-1].comma)
    return updated.with_changes(args=tidy_args(kept))
