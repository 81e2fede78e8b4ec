"""KM322: ``model.add_loss(tensor)`` on a functional model is reported with what to write.

Keras 2 let a program add a loss made of the graph's symbolic tensors to a functional
model after building it; Keras 2.2.4's variational_autoencoder scripts do::

    vae = Model(inputs, outputs)
    kl_loss = ...z_mean...z_log_var...
    vae_loss = K.mean(reconstruction_loss + kl_loss)
    vae.add_loss(vae_loss)
    vae.compile(optimizer='adam')

Keras 3's functional ``Model.add_loss`` raises ``NotImplementedError`` for any argument.
What works is a loss added by a layer's ``call`` (``self.add_loss``), which Keras 3
collects on every forward pass. That is not a mechanical rewrite: the loss is spread over
several statements (some under ``if``), the tensors it reads may belong to a sub-model's
graph (the VAE's ``z_mean`` is inside ``encoder``; the rebuilt model must take it from
``encoder(inputs)``, or it would hold the encoder's layers twice and no longer load the
legacy weights), and the model must be rebuilt around the layer. So the spot is reported
with the code to write, filled in with the program's names.
``tests/realworld/keras_examples/test_suggested_fixes.py`` applies exactly that code to
both VAE scripts, loads the legacy initial weights, trains and reloads the ``.keras``
file on Keras 3.

Only receivers bound once to a ``keras.Model(...)``/``keras.models.Model(...)`` call are
reported; ``self.add_loss(...)`` inside a layer's ``call`` is Keras 3 too.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, Hook, RuleSpec, Site, Triggers
from migrate.rewrite.names import build_dotted
from migrate.rewrite.symbols import map_name

RULE = "KM322"
_MODELS = frozenset({"keras.Model", "keras.models.Model"})

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CALL, methods=("add_loss",), check=True),),
    triggers=Triggers(methods=frozenset({"add_loss"})),
)

#: the code to write, filled in with the program's names (kept in one place: the test applies it)
TEMPLATE = (
    "{model}.add_loss({loss}): Keras 3 has no add_loss on a functional model (NotImplementedError). "
    "Compute the loss in a layer on the model's output: "
    "`@keras.saving.register_keras_serializable()` `class AddLoss(keras.layers.Layer)` with "
    "`def call(self, tensors): output, <the tensors the loss uses> = tensors`, then the statements that "
    "compute {loss} from them, `self.add_loss({loss})` and `return output`; rebuild the model as "
    "`{model} = Model(<its inputs>, AddLoss()([<its output>, <the tensors the loss uses>]), name={model}.name)` "
    "with every tensor taken from the model's own graph (a sub-model's tensors from calling it on the "
    "inputs: `z_mean, z_log_var, z = encoder(inputs)`), before compile(optimizer=...) with no loss, as before"
)


def _functional_model(ctx: FileContext, name: str) -> bool:
    ctor = ctx.var_types.get(name)
    if not ctor:
        return False
    qualified = ctx.qualified(build_dotted(ctor))
    target = map_name(qualified)[0] if qualified else None
    return target in _MODELS


def on_call(ctx: FileContext, site: Site) -> None:
    node: cst.Call = site.original
    func = node.func
    if not (ctx.enabled(RULE) and isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name)):
        return None
    receiver = func.value.value
    if receiver == "self" or len(node.args) != 1 or not _functional_model(ctx, receiver):
        return None
    # as rewritten (K.mean -> ops.mean): the message, and its TODO comment, read the same on a second run
    loss = ctx.code(site.updated.args[0].value).strip()
    ctx.report(RULE, node, TEMPLATE.format(model=receiver, loss=loss), fixed=False)
    return None
