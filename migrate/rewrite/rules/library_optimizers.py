"""KM417: optimizers from published Keras 2 libraries -> the ready ``modern.optimizers`` class, or what to write.

keras-bert's ``AdamWarmup``, keras-rectified-adam's ``RAdam`` and
keras-lookahead's ``Lookahead`` subclass the Keras 2 / ``OptimizerV2`` base
class (``_set_hyper``, ``_resource_apply_dense`` or ``get_updates``), which
Keras 3 does not have: the library fails at import or at the first step on
Keras 3. :mod:`modern.optimizers` has each of them as a Keras 3 optimizer
with the same arguments and the same update (checked over 20 steps against
the library on tf_keras), so each use is reported with the class to import
instead. The rewrite does not swap the import itself: the library may stay
installed for other reasons, and keras-bert's ``AdamWarmup`` spells the
learning rate ``lr=`` in old code (``learning_rate=`` in the modern class).

bert4keras's ``extend_with_*(BaseOptimizer)`` functions build a new Keras 2
optimizer class by patching ``K.update`` inside ``get_updates``; each call
is reported with its Keras 3 equivalent, where there is one:

* ``extend_with_weight_decay``: the optimizer's own ``weight_decay=rate``
  (Keras 3 subtracts ``lr * rate * var`` each step, as bert4keras did) and
  ``optimizer.exclude_from_weight_decay(var_names=[...])``;
* ``extend_with_gradient_accumulation``: ``gradient_accumulation_steps=``;
* ``extend_with_exponential_moving_average``: ``use_ema=True,
  ema_momentum=`` and ``optimizer.finalize_variable_values(...)``;
* ``extend_with_lookahead``: ``modern.optimizers.Lookahead`` -- but
  bert4keras started its slow weights at zero (the first synchronisation
  pulls every weight to ``alpha * w``), the paper and keras-lookahead at the
  weights, so the numbers differ from the first synchronisation on;
* ``extend_with_piecewise_linear_lr``: the schedule
  ``modern.schedules_piecewise.PiecewiseLinearDecay(lr, lr_schedule)``;
* the others (layer adaptation, lazy optimization, parameter-wise rates):
  no Keras 3 equivalent; a subclass overriding ``update_step``.

A class imported under another name (``from keras_radam import RAdam as R``)
is missed where ``R(...)`` stands alone in a statement: the fast path looks
for the class names themselves. Module aliases (``import keras_radam as
kr``) are seen.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, Hook, RuleSpec, Site, Triggers

RULE = "KM417"

#: library optimizer -> what to use instead.
READY = {
    "keras_bert.AdamWarmup": "modern.optimizers.AdamWarmup (keras-bert's warmup + linear decay Adam, same "
                             "arguments; learning_rate= for lr=)",
    "keras_bert.optimizers.AdamWarmup": "modern.optimizers.AdamWarmup (keras-bert's warmup + linear decay Adam, same "
                                        "arguments; learning_rate= for lr=)",
    "keras_radam.RAdam": "modern.optimizers.RAdam (same arguments, total_steps/warmup_proportion/min_lr included)",
    "keras_radam.optimizers.RAdam": "modern.optimizers.RAdam (same arguments, total_steps/warmup_proportion/min_lr "
                                    "included)",
    "keras_lookahead.Lookahead": "modern.optimizers.Lookahead(optimizer, sync_period=..., slow_step=...) around a "
                                 "Keras 3 optimizer",
    "keras_lookahead.optimizers.Lookahead": "modern.optimizers.Lookahead(optimizer, sync_period=..., slow_step=...) "
                                            "around a Keras 3 optimizer",
}

_EXTEND = "bert4keras.optimizers.extend_with_"
EXTENSIONS = {
    "weight_decay": "give the Keras 3 optimizer weight_decay=<weight_decay_rate> (it subtracts lr * rate * var each "
                    "step, as bert4keras did) and call optimizer.exclude_from_weight_decay(var_names=[...]) for "
                    "exclude_from_weight_decay",
    "gradient_accumulation": "give the Keras 3 optimizer gradient_accumulation_steps=<grad_accum_steps>",
    "exponential_moving_average": "give the Keras 3 optimizer use_ema=True, ema_momentum=<ema_momentum>; "
                                  "optimizer.finalize_variable_values(model.trainable_variables) replaces "
                                  "apply_ema_weights()",
    "lookahead": "wrap it: modern.optimizers.Lookahead(optimizer, sync_period=<steps_per_slow_update>, "
                 "slow_step=<slow_step_size>); bert4keras started the slow weights at zero, Lookahead at the weights, "
                 "so the numbers differ from the first synchronisation on",
    "piecewise_linear_lr": "give the Keras 3 optimizer learning_rate=modern.schedules_piecewise."
                           "PiecewiseLinearDecay(<lr>, <lr_schedule>) (bert4keras's multiplier, checked against it)",
}


# bert4keras 0.11's extension functions (each also as ``..._v2``).
_ALL_EXTENSIONS = (*EXTENSIONS, "layer_adaptation", "lazy_optimization", "parameter_wise_lr")

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CALL, names=tuple(READY)), Hook(CALL, prefixes=(_EXTEND,))),
    # The calls name no keras/tensorflow import, so the fast path needs their own words.
    triggers=Triggers(names=frozenset({"AdamWarmup", "RAdam", "Lookahead"}
                                      | {f"extend_with_{n}{v}" for n in _ALL_EXTENSIONS for v in ("", "_v2")}),
                      methods=frozenset({"AdamWarmup", "RAdam", "Lookahead"})),
)


def on_call(ctx: FileContext, site: Site) -> cst.BaseExpression | None:
    if not ctx.enabled(RULE) or site.qualified is None:
        return None
    qualified = site.qualified
    if qualified in READY:
        library = qualified.split(".", 1)[0].replace("_", "-")
        ctx.report(RULE, site.original, f"{qualified} is a {library} Keras 2 optimizer that Keras 3 cannot run; use "
                   f"{READY[qualified]}", fixed=False)
        return None
    if qualified.startswith(_EXTEND):
        what = qualified[len(_EXTEND):].removesuffix("_v2")
        advice = EXTENSIONS.get(what, "no Keras 3 equivalent: subclass the Keras 3 optimizer and override "
                                      "update_step(gradient, variable, learning_rate)")
        ctx.report(RULE, site.original, f"bert4keras {qualified.rsplit('.', 1)[1]} patches K.update inside a Keras 2 "
                   f"get_updates, which Keras 3 never calls: {advice}", fixed=False)
    return None
