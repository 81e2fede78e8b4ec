"""Weight map: the Keras-2.2 blog-post layers and classifier -> :mod:`modern`.

Sources are legacy HDF5 weight names without ``:0`` (the ``weight_names``
attribute a Keras 2 ``save_weights`` writes, which is also what the golden
files use): ``mha/mha_Wq`` for a ``MultiHeadAttention`` named ``mha``,
``t1_fc1/kernel``, ``embedding/embeddings``, ``ln/gamma``. ``{name}`` stands
for the legacy layer's name, ``{i}`` for a block number (1-based, as in the
legacy ``t1``, ``t2``...). Targets are Keras 3 ``variable.path`` values
relative to the modern layer or model (its own name stripped), as
:func:`migrate.weights.plan.plan_by_rules` looks them up.

Correspondence of the objects:

* ``Position_Embedding`` -> :class:`~modern.layers.SinusoidalPositionEmbedding` (no weights)
* ``ScaledDotProductAttention`` -> :class:`~modern.layers.ScaledDotProductAttention` (no weights)
* ``MultiHeadAttention`` -> :class:`~modern.layers.ActivatedMultiHeadAttention`
* ``LayerNorm`` (weightless) -> :class:`~modern.layers.LegacyLayerNormalization`
  ``(center=False, scale=False)`` (no weights)
* ``LayerNormalization`` -> :class:`~modern.layers.LegacyLayerNormalization`
* ``Dense``, ``Embedding`` -> ``keras.layers.Dense``, ``keras.layers.Embedding``
* ``build_model`` -> :func:`~modern.models.build_transformer_classifier`

Every transform here is ``identity``: the modern attention keeps the legacy
2-D kernel layout (``Dense`` sublayers ``query``, ``key``, ``value``,
``attention_output``), so heads are split the legacy way at run time and no
array is reshaped when porting.

Nothing here imports TensorFlow or the legacy code.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from modern.weight_maps.loading import PortReport, assign_by_rules, variables_by_relative_path
from modern.weight_maps.transforms import WeightRule

__all__ = [
    "CLASSIFIER_RULES",
    "DENSE_RULES",
    "EMBEDDING_RULES",
    "LAYER_NORMALIZATION_RULES",
    "LEGACY_TO_MODERN",
    "MULTI_HEAD_ATTENTION_RULES",
    "PortReport",
    "classifier_rules",
    "load_legacy_weights",
    "modern_variables",
    "rules_for",
    "rules_for_model",
]

# --------------------------------------------------------------------------
# The maps (data). Source names use {name}; targets are relative to the layer.
# --------------------------------------------------------------------------

# Keras-2.2 MultiHeadAttention -> ActivatedMultiHeadAttention. Both keep
# (in_dim, model_dim) kernels whose column j*head_dim + d is feature d of head j.
MULTI_HEAD_ATTENTION_RULES: tuple[WeightRule, ...] = (
    WeightRule("{name}/{name}_Wq", "query/kernel"),
    WeightRule("{name}/{name}_bq", "query/bias"),
    WeightRule("{name}/{name}_Wk", "key/kernel"),
    WeightRule("{name}/{name}_bk", "key/bias"),
    WeightRule("{name}/{name}_Wv", "value/kernel"),
    WeightRule("{name}/{name}_bv", "value/bias"),
    WeightRule("{name}/{name}_Wo", "attention_output/kernel"),
    WeightRule("{name}/{name}_bo", "attention_output/bias"),
)

# The weighted LayerNormalization: same variable names and shapes.
LAYER_NORMALIZATION_RULES: tuple[WeightRule, ...] = (
    WeightRule("{name}/gamma", "gamma"),
    WeightRule("{name}/beta", "beta"),
)

# Built-in layers keep their variable names from Keras 2 to Keras 3.
DENSE_RULES: tuple[WeightRule, ...] = (
    WeightRule("{name}/kernel", "kernel"),
    WeightRule("{name}/bias", "bias"),
)
EMBEDDING_RULES: tuple[WeightRule, ...] = (WeightRule("{name}/embeddings", "embeddings"),)

# Legacy class name -> (modern class name, rows). Position_Embedding,
# ScaledDotProductAttention and the blog's LayerNorm have no weights.
LEGACY_TO_MODERN: dict[str, tuple[str, tuple[WeightRule, ...]]] = {
    "Position_Embedding": ("SinusoidalPositionEmbedding", ()),
    "ScaledDotProductAttention": ("ScaledDotProductAttention", ()),
    "MultiHeadAttention": ("ActivatedMultiHeadAttention", MULTI_HEAD_ATTENTION_RULES),
    "LayerNorm": ("LegacyLayerNormalization", ()),
    "LayerNormalization": ("LegacyLayerNormalization", LAYER_NORMALIZATION_RULES),
    "Dense": ("Dense", DENSE_RULES),
    "Embedding": ("Embedding", EMBEDDING_RULES),
}


def _nested(rules: Iterable[WeightRule], name: str) -> tuple[WeightRule, ...]:
    """Rows of a layer named ``name`` inside a model: targets gain the layer's name."""
    return tuple(WeightRule(r.source.replace("{name}", name), f"{name}/{r.target}", r.transform) for r in rules)


# The whole classifier of legacy build_model / build_transformer_classifier,
# with {i} the 1-based block number. Weightless layers (position embedding,
# dropouts, adds, the LayerNorms, pooling) have no rows.
CLASSIFIER_RULES: tuple[WeightRule, ...] = (
    _nested(EMBEDDING_RULES, "embedding")
    + _nested(MULTI_HEAD_ATTENTION_RULES, "t{i}_att1")
    + _nested(DENSE_RULES, "t{i}_fc1")
    + _nested(DENSE_RULES, "t{i}_fc2")
    + _nested(DENSE_RULES, "outputs")
)


def _without_leaves(rules: Iterable[WeightRule], leaves: set[str]) -> tuple[WeightRule, ...]:
    return tuple(r for r in rules if r.target.rsplit("/", 1)[-1] not in leaves)


def rules_for(legacy_class: str, name: str, config: Mapping[str, Any] | None = None) -> list[WeightRule]:
    """The concrete rows for one legacy layer, optional weights dropped per its config.

    Args:
        legacy_class: a key of :data:`LEGACY_TO_MODERN`.
        name: the legacy layer's name (fills ``{name}`` in the sources).
        config: the legacy layer's constructor arguments (``use_bias``,
            ``center``, ``scale``); defaults are the legacy defaults.

    Returns:
        Rows without placeholders; targets relative to the modern layer.
    """
    if legacy_class not in LEGACY_TO_MODERN:
        raise KeyError(f"no Keras-2.2 weight map for {legacy_class!r}; known: {sorted(LEGACY_TO_MODERN)}")
    config = dict(config or {})
    rules = LEGACY_TO_MODERN[legacy_class][1]
    if legacy_class in ("MultiHeadAttention", "Dense") and not config.get("use_bias", True):
        rules = _without_leaves(rules, {"bias"})
    if legacy_class == "LayerNormalization":
        dropped = set()
        if not config.get("scale", True):
            dropped.add("gamma")
        if not config.get("center", True):
            dropped.add("beta")
        rules = _without_leaves(rules, dropped)
    return [WeightRule(r.source.replace("{name}", name), r.target, r.transform) for r in rules]


def classifier_rules(num_blocks: int) -> list[WeightRule]:
    """:data:`CLASSIFIER_RULES` expanded for blocks ``t1 .. t{num_blocks}``, in legacy weight order."""
    if int(num_blocks) < 1:
        raise ValueError(f"num_blocks must be at least 1, got {num_blocks}")
    block = [r for r in CLASSIFIER_RULES if "{i}" in r.source]
    head = [r for r in CLASSIFIER_RULES if r.source.startswith("embedding/")]
    tail = [r for r in CLASSIFIER_RULES if "{i}" not in r.source and not r.source.startswith("embedding/")]
    expanded = list(head)
    for index in range(1, int(num_blocks) + 1):
        expanded.extend(rule.format(i=index) for rule in block)
    return expanded + tail


def rules_for_model(model: Any) -> list[WeightRule]:
    """Rows for a modern model whose layers carry the legacy layer names (a structural port).

    Walks ``model.layers`` and emits the rows of every layer with weights
    by its type: :class:`~modern.layers.ActivatedMultiHeadAttention`,
    :class:`~modern.layers.LegacyLayerNormalization`, ``Dense`` and
    ``Embedding``. Layers of any other type with weights raise, so nothing
    is silently left out. For :func:`~modern.models.build_transformer_classifier`
    this gives the same rows as :func:`classifier_rules`.
    """
    import keras

    from modern.layers import ActivatedMultiHeadAttention, LegacyLayerNormalization

    rules: list[WeightRule] = []
    for layer in model.layers:
        if not layer.weights:
            continue
        if isinstance(layer, ActivatedMultiHeadAttention):
            rows = rules_for("MultiHeadAttention", layer.name, {"use_bias": layer.use_bias})
        elif isinstance(layer, LegacyLayerNormalization):
            rows = rules_for("LayerNormalization", layer.name, {"center": layer.center, "scale": layer.scale})
        elif isinstance(layer, keras.layers.Dense):
            rows = rules_for("Dense", layer.name, {"use_bias": layer.use_bias})
        elif isinstance(layer, keras.layers.Embedding):
            rows = rules_for("Embedding", layer.name)
        else:
            raise TypeError(
                f"layer {layer.name!r} ({type(layer).__name__}) has weights but no Keras-2.2 weight map; "
                "port it by layer order or add its rows to modern.weight_maps.keras22"
            )
        rules.extend(WeightRule(r.source, f"{layer.name}/{r.target}", r.transform) for r in rows)
    return rules


# --------------------------------------------------------------------------
# Loading a legacy weight dict through a map
# --------------------------------------------------------------------------


def modern_variables(target: Any) -> dict[str, Any]:
    """A built layer's or model's variables by ``variable.path`` relative to it.

    The target's own name is stripped when the paths start with it (a
    standalone layer: ``mha/query/kernel`` -> ``query/kernel``); a
    functional model's paths start with its layers' names and stay as they
    are (``t1_att1/query/kernel``).
    """
    if not target.weights and not getattr(target, "built", False):
        # Weightless layers (position embedding, LayerNorm) have nothing to fill.
        raise ValueError(f"{target.name!r} is not built: build it (call it once) before loading weights")
    prefix = f"{target.name}/"
    return variables_by_relative_path(
        target, lambda path: path[len(prefix) :] if path.startswith(prefix) else path
    )


def _legacy_key(name: str) -> str:
    return name[:-2] if name.endswith(":0") else name


def load_legacy_weights(
    target: Any,
    weights: Mapping[str, Any],
    rules: Iterable[WeightRule] | None = None,
    *,
    strict: bool = True,
) -> PortReport:
    """Fill a built modern layer or model from a legacy Keras-2.2 weight dict.

    The rows are applied by :func:`~modern.weight_maps.loading.assign_by_rules`:
    every array must fit its variable's shape exactly, and in strict mode
    nothing is assigned unless the port is complete, so a failed port never
    leaves a half-loaded layer.

    Args:
        target: a built layer or model (e.g. from
            :func:`~modern.models.build_transformer_classifier`).
        weights: legacy arrays by HDF5 weight name, with or without ``:0``
            (``t1_att1/t1_att1_Wq``), e.g. a golden's ``weights``.
        rules: concrete rows (:func:`rules_for`, :func:`classifier_rules`);
            by default :func:`rules_for_model` for a model, or the rows of
            the layer's type under its own name for a single layer.
        strict: raise on any unmatched source or unfilled target (default);
            with ``False`` assign what matched and report the rest.

    Returns:
        A :class:`PortReport`.

    Raises:
        ValueError: a shape does not fit (the message names both weights),
            a row names a variable the target lacks, or (strict) the port is
            incomplete; the message lists the weights concerned.
    """
    import keras

    weights = {_legacy_key(name): value for name, value in weights.items()}
    if rules is None:
        if isinstance(target, keras.Model):
            rules = rules_for_model(target)
        else:
            # One layer: its rows, targets relative to the layer itself.
            rows = rules_for_model(_Single(target))
            rules = [WeightRule(r.source, r.target.split("/", 1)[1], r.transform) for r in rows]
    targets = modern_variables(target)
    return assign_by_rules(
        target, weights, rules, targets, strict=strict, no_variable_hint=f"; it has {sorted(targets)}"
    )


class _Single:
    """Presents one layer as a one-layer model to :func:`rules_for_model`."""

    def __init__(self, layer: Any) -> None:
        self.layers = [layer]
