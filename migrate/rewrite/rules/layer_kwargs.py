"""KM303/KM304/KM306/KM307: layer constructor arguments whose meaning changed.

* KM306: Keras 1 keyword names (``output_dim``, ``init``, ``border_mode``, ...).
* KM303: Keras 2.2 recurrent defaults (``recurrent_activation='hard_sigmoid'``,
  GRU ``reset_after=False``) are pinned explicitly when the source is Keras 2.2
  (detected from its imports, or ``--from keras-2.2``), because Keras 3 changed
  both defaults. The 2.2 hard sigmoid is ``0.2*x+0.5``, so the pin uses
  ``modern.compat.legacy_hard_sigmoid``.
  tf.keras 2 code gets the same pin on ``ConvLSTM1D/2D/3D``, whose
  ``recurrent_activation`` stayed ``'hard_sigmoid'`` in tf.keras 2 while LSTM/GRU moved
  to ``'sigmoid'`` (row ``convlstm-recurrent-activation`` of ``legacy_defaults.py``).
* KM304: an explicit ``'hard_sigmoid'`` activation in Keras 2 code (2.2 or
  tf.keras 2.x: both used ``0.2*x+0.5``) likewise; reported when the dialect is
  unknown (the code may already be Keras 3).
* KM307: standalone ``keras`` code without a 2.2 marker: the defaults cannot be
  decided, so the spot is reported (pass ``--from``).

A module-level name bound once to one of these classes (``RNN = recurrent.LSTM``) is
resolved (:func:`migrate.rewrite.names.module_aliases`), so calls through it are pinned
like direct ones; a name bound more than once is reported under KM303 instead.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import ASSIGN, CALL, Hook, RuleSpec, Site
from migrate.rewrite.symbols import map_name
from migrate.rewrite.tables import KERAS1_KWARGS_KEPT, KERAS1_LAYER_KWARGS, KERAS22_RNN_DEFAULTS
from migrate.rewrite.templating import tidy_args

SPEC = RuleSpec(
    ids=("KM303", "KM304", "KM306", "KM307"),
    # the rewritten constructor call goes on to the checks of KM310/KM311 and to KM305's Input marker
    hooks=(Hook(CALL, prefixes=("keras.layers.", "keras.engine", "keras.legacy"), chain=True),
           # `RNN = recurrent.LSTM` bound more than once: calls through it are not resolved, so
           # the defaults cannot be pinned there; the alias is reported
           Hook(ASSIGN, check=True)),
)

#: tf.keras 2 layers whose defaults Keras 3 changed (KM303 in tf.keras 2 code): the
#: convolutional LSTMs kept Keras 2.2's hard sigmoid (0.2*x+0.5) through tf.keras 2.
TF_KERAS2_RNN_DEFAULTS: dict[str, tuple[tuple[str, str], ...]] = {
    name: (("recurrent_activation", "compat.legacy_hard_sigmoid"),)
    for name in ("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")
}

#: How many positional arguments may come before the first pinned keyword in the legacy
#: signature (``filters, kernel_size, strides, padding, data_format, dilation_rate,
#: activation`` for the convolutional LSTMs; checked against tf_keras by the tests);
#: more than that and the pin is left to a human. Other layers: one (the units).
POSITIONAL_BEFORE_PINS: dict[str, int] = {"ConvLSTM1D": 7, "ConvLSTM2D": 7, "ConvLSTM3D": 7}

_ACTIVATION_KWARGS = ("activation", "recurrent_activation", "inner_activation")
_EQ = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))


def _string(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        return node.evaluated_value if isinstance(node.evaluated_value, str) else None
    return None


def on_call(ctx: FileContext, site: Site) -> cst.Call | None:
    qualified: str = site.qualified  # type: ignore[assignment]
    original: cst.Call = site.original
    updated: cst.Call = site.updated
    target, _, _ = map_name(qualified)
    if target is None or not target.startswith("keras.layers."):
        return None
    layer = target.rsplit(".", 1)[1]
    args = list(updated.args)
    changed = False
    # KM306
    if ctx.enabled("KM306"):
        present = {a.keyword.value for a in args if a.keyword is not None}
        kept = KERAS1_KWARGS_KEPT.get(layer, frozenset())
        for i, a in enumerate(args):
            if a.keyword is not None and a.keyword.value in KERAS1_LAYER_KWARGS and a.keyword.value not in kept:
                new = KERAS1_LAYER_KWARGS[a.keyword.value]
                if new in present:
                    ctx.report("KM306", original, f"both {a.keyword.value}= and {new}= given", fixed=False)
                    continue
                args[i] = a.with_changes(keyword=cst.Name(new))
                ctx.report("KM306", original, f"Keras 1 keyword {a.keyword.value}= -> {new}=", fixed=True)
                changed = True
    keras22 = ctx.source == "keras-2.2"
    # KM304: every Keras 2 (2.2 and tf.keras 2.x) hard_sigmoid was 0.2*x+0.5
    if ctx.enabled("KM304"):
        for i, a in enumerate(args):
            is_act_kw = a.keyword is not None and a.keyword.value in _ACTIVATION_KWARGS
            is_act_pos = a.keyword is None and i == 0 and layer == "Activation"
            if not ((is_act_kw or is_act_pos) and _string(a.value) == "hard_sigmoid"):
                continue
            if ctx.source == "unknown":
                ctx.report("KM304", original, "'hard_sigmoid' is 0.2*x+0.5 in Keras 2 and relu6(x+3)/6 in Keras 3; "
                           "rerun with --from keras-2.2 or --from tf-keras-2 if this is Keras 2 code", fixed=False,
                           todo=False)
                continue
            args[i] = a.with_changes(value=ctx.expr("compat.legacy_hard_sigmoid"))
            ctx.report("KM304", original,
                       "'hard_sigmoid' -> compat.legacy_hard_sigmoid (Keras 2 formula 0.2*x+0.5)", fixed=True)
            changed = True
    # KM303 / KM307
    pins = KERAS22_RNN_DEFAULTS.get(layer)
    tf_keras2 = ctx.source == "tf-keras-2" and layer in TF_KERAS2_RNN_DEFAULTS
    if tf_keras2:
        pins = TF_KERAS2_RNN_DEFAULTS[layer]
    if pins:
        present = {a.keyword.value for a in args if a.keyword is not None}
        n_pos = sum(1 for a in args if a.keyword is None and not a.star)
        if (keras22 or tf_keras2) and ctx.enabled("KM303"):
            if any(a.star for a in args) or n_pos > POSITIONAL_BEFORE_PINS.get(layer, 1):
                ctx.report("KM303", original, f"{layer}: Keras 2 defaults differ; pin them by hand", fixed=False)
            else:
                added = []
                for key, value in pins:
                    if key not in present:
                        args.append(cst.Arg(keyword=cst.Name(key), value=ctx.expr(value), equal=_EQ))
                        added.append(f"{key}={value}")
                if added:
                    dialect = "tf.keras 2" if tf_keras2 else "Keras 2.2"
                    ctx.report("KM303", original, f"{layer}: {dialect} defaults pinned: {', '.join(added)}",
                               fixed=True)
                    changed = True
        elif ctx.source == "unknown" and ctx.enabled("KM307"):
            missing = [k for k, _ in pins if k not in present]
            if missing:
                ctx.report("KM307", original,
                           f"{layer}: {', '.join(missing)} default differs between Keras 2.2 and 2.3+/3; "
                           "rerun with --from keras-2.2 or --from tf-keras-2", fixed=False, todo=False)
    if not changed:
        return None
    return updated.with_changes(args=tidy_args(args))


def on_assign(ctx: FileContext, site: Site) -> None:
    """KM303 for ``NAME = keras.layers.LSTM`` in Keras 2.2 code: the calls through NAME keep Keras 3's defaults."""
    node: cst.Assign = site.original
    if not ctx.enabled("KM303") or not isinstance(node.value, (cst.Name, cst.Attribute)):
        return None
    qualified = ctx.qualified(node.value)
    target = map_name(qualified)[0] if qualified else None
    if target is None or not target.startswith("keras.layers."):
        return None
    layer = target.rsplit(".", 1)[1]
    pins = TF_KERAS2_RNN_DEFAULTS.get(layer) if ctx.source == "tf-keras-2" else (
        KERAS22_RNN_DEFAULTS.get(layer) if ctx.source == "keras-2.2" else None)
    if pins and len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
        alias = node.targets[0].target.value
        if alias in ctx.imports:
            return None  # a module-level alias bound once: names.module_aliases resolves its calls, pinned above
        what = ", ".join(f"{k}={v}" for k, v in pins)
        ctx.report("KM303", node, f"{alias} = {layer}: calls through {alias}(...) keep Keras 3's defaults; "
                   f"pass {what} at each call (or bind {alias} to a function that does)", fixed=False)
    return None
