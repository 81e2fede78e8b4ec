"""The Keras-2.2 blog-post layers (the seed classifier) and what they become.

=============================  ===================================================
legacy class (config keys)      modern layer
=============================  ===================================================
``Position_Embedding`` (mode)   :class:`~modern.layers.SinusoidalPositionEmbedding`
``MultiHeadAttention``          :class:`~modern.layers.ActivatedMultiHeadAttention`
(head_num)
``ScaledDotProductAttention``   :class:`~modern.layers.ScaledDotProductAttention`
(history_only)
``LayerNorm`` (epsilon)         :class:`~modern.layers.LegacyLayerNormalization`
                                ``(center=False, scale=False)``
``LayerNormalization``          :class:`~modern.layers.LegacyLayerNormalization`
(gamma_initializer, no axis)
=============================  ===================================================

Weight rows: :mod:`modern.weight_maps.keras22`. ``--map keras22`` pairs a
legacy HDF5 file with a ``modern`` model whose layers carry the legacy names
(e.g. :func:`modern.models.build_transformer_classifier`). Oracle: a
full-model file is rebuilt on tf_keras with the :mod:`legacy_ref.keras22`
classes.
"""

from __future__ import annotations

from typing import Any

from migrate.weights.errors import PortError
from migrate.weights.families import Family, LegacyClass


def _common(config: dict[str, Any]) -> dict[str, Any]:
    return {"name": config["name"], "trainable": config.get("trainable", True)}


def _position_embedding(config: dict[str, Any]) -> Any:
    from modern.layers import SinusoidalPositionEmbedding

    mode = config.get("mode", "sum")
    # In sum mode the legacy layer overwrote size with the input width.
    size = config.get("size") if mode == "concat" else None
    return SinusoidalPositionEmbedding(mode=mode, size=size, layout="interleaved", **_common(config))


def _multi_head_attention(config: dict[str, Any]) -> Any:
    from modern.layers import ActivatedMultiHeadAttention

    return ActivatedMultiHeadAttention(
        num_heads=config["head_num"],
        activation=config.get("activation", "relu"),
        use_bias=config.get("use_bias", True),
        causal=config.get("history_only", False),
        **_common(config),
    )


def _scaled_dot_product_attention(config: dict[str, Any]) -> Any:
    from modern.layers import ScaledDotProductAttention

    if config.get("return_attention"):
        raise PortError(config["name"], "ScaledDotProductAttention with return_attention=True has two outputs; pass --model")
    return ScaledDotProductAttention(causal=config.get("history_only", False), **_common(config))


def _weightless_layer_norm(config: dict[str, Any]) -> Any:
    from modern.layers import LegacyLayerNormalization

    # The seed's LayerNorm builds no weights: gamma and beta stay 0.0 and
    # scale is off, so centring adds 0. Only the normalisation remains.
    return LegacyLayerNormalization(center=False, scale=False, epsilon=config.get("epsilon") or 1e-14, **_common(config))


def _weighted_layer_norm(config: dict[str, Any]) -> Any:
    from modern.layers import LegacyLayerNormalization

    return LegacyLayerNormalization(
        center=config.get("center", True),
        scale=config.get("scale", True),
        epsilon=config.get("epsilon") or 1e-14,
        **_common(config),
    )


def _rows(class_name: str):
    def rows(name: str, config: dict[str, Any]) -> list[Any]:
        from modern.weight_maps.keras22 import rules_for

        return rules_for(class_name, name, config)

    return rows


def _map_plan(source: Any, model: Any) -> Any:
    from migrate.weights.plan import plan_by_rules
    from modern.weight_maps.keras22 import modern_variables, rules_for_model

    try:
        rules = rules_for_model(model)
    except TypeError as exc:
        raise PortError(source.path, f"--map keras22: {exc}") from exc
    return plan_by_rules(source, model, rules, target_lookup=modern_variables)


def _legacy_custom_objects() -> dict[str, Any]:
    from legacy_ref.keras22 import custom_objects

    return custom_objects()


FAMILY = Family(
    name="keras22",
    description="Keras-2.2 blog layers (MultiHeadAttention _Wq.._bo, LayerNorm(alization), Dense, Embedding) "
                "-> modern classifier layers",
    legacy_classes=(
        LegacyClass("Position_Embedding", frozenset({"mode"}), _position_embedding, _rows("Position_Embedding")),
        # Same config keys as keras-multi-head's and keras-self-attention's
        # originals (the seed copied them); the modern ports take one-tensor
        # calls, the bert family's take the [q, k, v] lists.
        LegacyClass("MultiHeadAttention", frozenset({"head_num"}), _multi_head_attention, _rows("MultiHeadAttention"),
                    called_on="one"),
        LegacyClass("ScaledDotProductAttention", frozenset({"history_only"}), _scaled_dot_product_attention,
                    _rows("ScaledDotProductAttention"), called_on="one"),
        LegacyClass("LayerNorm", frozenset({"epsilon"}), _weightless_layer_norm, _rows("LayerNorm")),
        # The built-in LayerNormalization has `axis`; the Keras-2.2 one does not.
        LegacyClass("LayerNormalization", frozenset({"gamma_initializer"}), _weighted_layer_norm,
                    _rows("LayerNormalization"), excluded_keys=frozenset({"axis"})),
    ),
    map_plan=_map_plan,
    legacy_custom_objects=_legacy_custom_objects,
)
