"""Weight map: the 2021 tutorial Transformer -> :mod:`modern` seq2seq layers.

Sources are the tutorial's TF object-checkpoint paths relative to the saved
object, without ``/.ATTRIBUTES/VARIABLE_VALUE`` (a checkpoint written as
``tf.train.Checkpoint(transformer=model)`` prefixes them with
``transformer/``). Targets are Keras 3 ``variable.path`` values relative to
the modern layer or model (its own name stripped).

Correspondence of the objects:

=====================  ===============================================
legacy (tutorial)       modern
=====================  ===============================================
``MultiHeadAttention``  :class:`~modern.layers.seq2seq.AdditiveMaskMultiHeadAttention`
``EncoderLayer``        :class:`~modern.layers.seq2seq.TransformerEncoderLayer`
``DecoderLayer``        :class:`~modern.layers.seq2seq.TransformerDecoderLayer`
``Encoder``             :class:`~modern.layers.seq2seq.TransformerEncoder`
``Decoder``             :class:`~modern.layers.seq2seq.TransformerDecoder`
``Transformer``         :class:`~modern.models.seq2seq.Seq2SeqTransformer`
=====================  ===============================================

Why the transforms: the tutorial projects with ``Dense(d_model)`` and then
splits the output columns into heads (``reshape(..., heads, depth)``), so
head ``h`` owns columns ``h * depth:(h + 1) * depth``; Keras'
``MultiHeadAttention`` keeps one ``(d_model, heads, depth)`` kernel
(``split_heads``) and ``(heads, depth)`` bias (``split_bias``). The output
``Dense`` reads the heads concatenated in the same order, so its kernel
rows regroup into ``(heads, depth, d_model)`` (``merge_heads``). The
feed-forward ``Sequential`` appears in checkpoints as
``ffn/layer_with_weights-0`` / ``-1`` (the names TensorFlow's object graph
prefers for a Sequential's children; the same Dense layers are also reachable
as ``ffn/layer-0`` / ``layer-1``, which checkpoints do not use).

Nothing here imports TensorFlow or the legacy code.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from modern.weight_maps.loading import PortReport, assign_by_rules, variables_by_relative_path
from modern.weight_maps.transforms import WeightRule

__all__ = [
    "DECODER_LAYER_RULES",
    "DECODER_RULES",
    "ENCODER_LAYER_RULES",
    "ENCODER_RULES",
    "LEGACY_TO_MODERN",
    "MHA_RULES",
    "TRANSFORMER_RULES",
    "PortReport",
    "load_legacy_weights",
    "modern_variables",
    "rules_for",
]


def _prefixed(rules: Iterable[WeightRule], source_prefix: str, target_prefix: str) -> tuple[WeightRule, ...]:
    return tuple(WeightRule(source_prefix + r.source, target_prefix + r.target, r.transform) for r in rules)


# The tutorial's MultiHeadAttention (wq, wk, wv, dense) -> keras.layers.MultiHeadAttention.
MHA_RULES: tuple[WeightRule, ...] = (
    WeightRule("wq/kernel", "query/kernel", "split_heads"),  # (d, d) -> (d, heads, depth)
    WeightRule("wq/bias", "query/bias", "split_bias"),  # (d,) -> (heads, depth)
    WeightRule("wk/kernel", "key/kernel", "split_heads"),
    WeightRule("wk/bias", "key/bias", "split_bias"),
    WeightRule("wv/kernel", "value/kernel", "split_heads"),
    WeightRule("wv/bias", "value/bias", "split_bias"),
    WeightRule("dense/kernel", "attention_output/kernel", "merge_heads"),  # (d, d) -> (heads, depth, d)
    WeightRule("dense/bias", "attention_output/bias"),  # output bias is per feature, unchanged
)

# point_wise_feed_forward_network's Sequential -> two named Dense layers.
_FFN_RULES: tuple[WeightRule, ...] = (
    WeightRule("ffn/layer_with_weights-0/kernel", "ffn_hidden/kernel"),
    WeightRule("ffn/layer_with_weights-0/bias", "ffn_hidden/bias"),
    WeightRule("ffn/layer_with_weights-1/kernel", "ffn_output/kernel"),
    WeightRule("ffn/layer_with_weights-1/bias", "ffn_output/bias"),
)


def _layer_norm_rules(*names: str) -> tuple[WeightRule, ...]:
    # Same variable names (gamma, beta) and shapes in tf_keras and Keras 3.
    return tuple(WeightRule(f"{n}/{v}", f"{n}/{v}") for n in names for v in ("gamma", "beta"))


ENCODER_LAYER_RULES: tuple[WeightRule, ...] = (
    _prefixed(MHA_RULES, "mha/", "mha/") + _FFN_RULES + _layer_norm_rules("layernorm1", "layernorm2")
)

DECODER_LAYER_RULES: tuple[WeightRule, ...] = (
    _prefixed(MHA_RULES, "mha1/", "mha1/")
    + _prefixed(MHA_RULES, "mha2/", "mha2/")
    + _FFN_RULES
    + _layer_norm_rules("layernorm1", "layernorm2", "layernorm3")
)

# `{i}` is the block index: the tutorial keeps its blocks in a plain Python
# list (`enc_layers/0`), the modern stacks name them `encoder_layer_0`.
ENCODER_RULES: tuple[WeightRule, ...] = (WeightRule("embedding/embeddings", "embedding/embeddings"),) + _prefixed(
    ENCODER_LAYER_RULES, "enc_layers/{i}/", "encoder_layer_{i}/"
)

DECODER_RULES: tuple[WeightRule, ...] = (WeightRule("embedding/embeddings", "embedding/embeddings"),) + _prefixed(
    DECODER_LAYER_RULES, "dec_layers/{i}/", "decoder_layer_{i}/"
)

TRANSFORMER_RULES: tuple[WeightRule, ...] = (
    _prefixed(ENCODER_RULES, "encoder/", "encoder/")
    + _prefixed(DECODER_RULES, "decoder/", "decoder/")
    + (WeightRule("final_layer/kernel", "final_layer/kernel"), WeightRule("final_layer/bias", "final_layer/bias"))
)

# Legacy class name -> (modern class name, rules, whether the rules repeat per block).
LEGACY_TO_MODERN: dict[str, tuple[str, tuple[WeightRule, ...], bool]] = {
    "MultiHeadAttention": ("AdditiveMaskMultiHeadAttention", MHA_RULES, False),
    "EncoderLayer": ("TransformerEncoderLayer", ENCODER_LAYER_RULES, False),
    "DecoderLayer": ("TransformerDecoderLayer", DECODER_LAYER_RULES, False),
    "Encoder": ("TransformerEncoder", ENCODER_RULES, True),
    "Decoder": ("TransformerDecoder", DECODER_RULES, True),
    "Transformer": ("Seq2SeqTransformer", TRANSFORMER_RULES, True),
}

_MODERN_TO_LEGACY = {modern: legacy for legacy, (modern, _, _) in LEGACY_TO_MODERN.items()}


def rules_for(legacy_class: str, num_layers: int | None = None) -> list[WeightRule]:
    """The concrete rows for one legacy object, blocks expanded.

    Args:
        legacy_class: a key of :data:`LEGACY_TO_MODERN` (``"Transformer"``,
            ``"Encoder"``, ``"EncoderLayer"``, ``"MultiHeadAttention"``...).
        num_layers: number of blocks, required for the stacks and the model.

    Returns:
        :class:`WeightRule` rows without placeholders, blocks in order.
    """
    if legacy_class not in LEGACY_TO_MODERN:
        raise KeyError(f"no tutorial weight map for {legacy_class!r}; known: {sorted(LEGACY_TO_MODERN)}")
    _, rules, repeated = LEGACY_TO_MODERN[legacy_class]
    if not repeated:
        return list(rules)
    if num_layers is None or int(num_layers) < 0:
        raise ValueError(f"the {legacy_class} map repeats per block: pass num_layers")
    expanded: list[WeightRule] = []
    for rule in rules:
        if "{i}" in rule.source:
            expanded.extend(rule.format(i=i) for i in range(int(num_layers)))
        else:
            expanded.append(rule)
    return expanded


def modern_variables(layer: Any) -> dict[str, Any]:
    """A built modern layer's variables by ``variable.path`` relative to it.

    Keras 3 paths start with the layer's own name (``seq2_seq_transformer/
    encoder/...``), or with its parents' names too when it was built inside
    another layer; both prefixes are stripped.
    """
    if not layer.weights:
        raise ValueError(f"layer {layer.name!r} has no variables: build it before loading weights")
    prefix = f"{layer.name}/"

    def relative(path: str) -> str:
        if path.startswith(prefix):
            return path[len(prefix) :]
        if f"/{prefix}" in path:
            return path.split(f"/{prefix}", 1)[1]
        raise ValueError(f"variable {path!r} is not under layer {layer.name!r}; cannot name it relative to it")

    return variables_by_relative_path(layer, relative)


def _infer_legacy_class(layer: Any) -> str:
    for klass in type(layer).__mro__:
        if klass.__name__ in _MODERN_TO_LEGACY:
            return _MODERN_TO_LEGACY[klass.__name__]
    raise TypeError(
        f"{type(layer).__name__} is not a modern tutorial layer ({sorted(_MODERN_TO_LEGACY)}); pass legacy_class"
    )


def load_legacy_weights(
    layer: Any,
    weights: Mapping[str, Any],
    legacy_class: str | None = None,
    *,
    source_prefix: str = "",
    strict: bool = True,
) -> PortReport:
    """Fill a built modern layer or model with a legacy tutorial weight dict.

    Every row's legacy array is brought to the exact shape of its target
    variable by the row's transform; the rows are applied by
    :func:`~modern.weight_maps.loading.assign_by_rules`, so in strict mode
    nothing is assigned unless the port is complete and a failed port never
    leaves a half-loaded model.

    Args:
        layer: a built :mod:`modern` seq2seq layer or
            :class:`~modern.models.seq2seq.Seq2SeqTransformer`.
        weights: legacy arrays by checkpoint path relative to the legacy
            object (``encoder/enc_layers/0/mha/wq/kernel``), e.g. a golden's
            ``weights`` or a checkpoint's variables with the root stripped.
        legacy_class: the legacy class name; inferred from ``layer``'s type.
        source_prefix: prepended to every rule's source name (e.g.
            ``"transformer/"`` for raw ``tf.train.Checkpoint`` keys).
        strict: raise on any unmatched source or unfilled target (default).
            With ``False``, assign what matched and report the rest.

    Returns:
        A :class:`PortReport`.

    Raises:
        ValueError: a shape does not fit (the message names both weights), a
            rule names a variable the layer lacks, or (strict) the port is
            incomplete; the message lists the weights concerned.
    """
    legacy_class = legacy_class or _infer_legacy_class(layer)
    return assign_by_rules(
        layer,
        weights,
        rules_for(legacy_class, getattr(layer, "num_layers", None)),
        modern_variables(layer),
        source_prefix=source_prefix,
        strict=strict,
        no_variable_hint=f" (was it built with num_layers={getattr(layer, 'num_layers', '?')}?)",
        what=f"port of a legacy {legacy_class}",
    )
