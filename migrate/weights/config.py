"""Rebuild a legacy full-model HDF5 file's architecture in Keras 3.

The ``model_config`` JSON of a Keras 2.2 / tf.keras 2.x HDF5 file is read as
data. Before anything is built, :func:`check_legacy_config` walks every
nested entry (:mod:`migrate.weights.config_safety`) and refuses:

* anything that names code: ``Lambda`` layers anywhere (inside wrappers,
  nested models and config items too), serialized functions, modules outside
  Keras, callables given by import path (rebuild the model in code and pass
  ``--model``);
* classes that are neither Keras 3 built-ins nor a known legacy custom layer.

Known legacy custom layers (those of :mod:`legacy_ref.keras22`, recognised by
class name *and* config keys, since e.g. a Keras-2.2 ``MultiHeadAttention``
with ``head_num`` is not the built-in one with ``num_heads``) are replaced by
their :mod:`modern` equivalents; built-in layers are translated by Keras 3's
own legacy-config loader, with the Keras 2 ``hard_sigmoid`` (``0.2 x + 0.5``,
not Keras 3's ``x / 6 + 0.5``) pinned to :func:`modern.compat.legacy_hard_sigmoid`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from migrate.weights.config_safety import check_config_is_data
from migrate.weights.errors import PortError
from migrate.weights.source import WeightSource


@dataclass(frozen=True)
class LegacyClass:
    """How to recognise one legacy custom layer and what replaces it.

    Attributes:
        class_name: the class name stored in the legacy config.
        required_keys: config keys that identify the legacy class (and tell it
            apart from a Keras built-in of the same name).
        build: makes the modern layer from the legacy config.
    """

    class_name: str
    required_keys: frozenset[str]
    build: Callable[[dict[str, Any]], Any]


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


# Data: the legacy custom layers a full-model file may name, in match order.
LEGACY_CLASSES: tuple[LegacyClass, ...] = (
    LegacyClass("Position_Embedding", frozenset({"mode"}), _position_embedding),
    LegacyClass("MultiHeadAttention", frozenset({"head_num"}), _multi_head_attention),
    LegacyClass("ScaledDotProductAttention", frozenset({"history_only"}), _scaled_dot_product_attention),
    LegacyClass("LayerNorm", frozenset({"epsilon"}), _weightless_layer_norm),
    # The built-in LayerNormalization has `axis`; the Keras-2.2 one does not.
    LegacyClass("LayerNormalization", frozenset({"gamma_initializer"}), _weighted_layer_norm),
)

# Data: constructor keys tf_keras wrote that Keras 3's built-in layers refuse,
# with why dropping them keeps the layer the same.
DROPPED_BUILTIN_KEYS: dict[str, dict[str, str]] = {
    "MultiHeadAttention": {
        "query_shape": "build shapes, recomputed when the layer is called",
        "key_shape": "build shapes, recomputed when the layer is called",
        "value_shape": "build shapes, recomputed when the layer is called",
        "softmax_robust_masking": "tf_keras-only switch; False (its default) is Keras 3's masking",
    },
    "Embedding": {"input_length": "Keras 3 infers the length from the input"},
}


def _is_tensor_reference(value: Any) -> bool:
    return (
        isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)
        and isinstance(value[1], int) and isinstance(value[2], int)
    )


def _keras_tensor(reference: list[Any]) -> dict[str, Any]:
    # Keras 3 swaps this placeholder for the real output of the named layer
    # node while rebuilding; shape and dtype are not used for that.
    return {"class_name": "__keras_tensor__", "config": {"shape": [None], "dtype": "float32", "keras_history": reference}}


def _modernize_tensor_kwargs(config: dict[str, Any]) -> None:
    """Rewrite legacy nodes whose call kwargs name other tensors.

    tf_keras stored ``mha(x, value=y)`` as ``[["x", 0, 0, {"value": ["y", 0, 0]}]]``;
    Keras 3 reads that legacy form but passes the kwargs through raw, so the
    layer would receive a list instead of a tensor. Such nodes are rewritten
    in Keras 3's own node format, where tensors are references it resolves.
    """
    for layer in iter_layers(config):
        nodes = layer.get("inbound_nodes") or []
        for index, node in enumerate(nodes):
            if not isinstance(node, list) or not node:
                continue
            kwargs = node[-1][3] if len(node[-1]) == 4 else {}
            if not any(_is_tensor_reference(v) for v in kwargs.values()):
                continue
            refs = [_keras_tensor(list(item[:3])) for item in node]
            nodes[index] = {
                "args": [refs[0] if len(refs) == 1 else refs],
                "kwargs": {k: _keras_tensor(v) if _is_tensor_reference(v) else v for k, v in kwargs.items()},
            }


def _drop_refused_keys(config: dict[str, Any]) -> None:
    for layer in iter_layers(config):
        if legacy_class_of(layer) is not None:
            continue
        for key in DROPPED_BUILTIN_KEYS.get(layer.get("class_name", ""), {}):
            (layer.get("config") or {}).pop(key, None)


def legacy_class_of(layer: dict[str, Any]) -> LegacyClass | None:
    """The known legacy custom class of one layer entry, if it is one."""
    config = layer.get("config") or {}
    for candidate in LEGACY_CLASSES:
        if layer.get("class_name") == candidate.class_name and candidate.required_keys <= config.keys():
            if candidate.class_name == "LayerNormalization" and "axis" in config:
                return None
            return candidate
    return None


def iter_layers(config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every layer entry of a model config, nested models included."""
    inner = config.get("config")
    layers = inner.get("layers") if isinstance(inner, dict) else inner if isinstance(inner, list) else None
    for layer in layers or []:
        yield layer
        if isinstance(layer.get("config"), (dict, list)) and layer.get("class_name") in {"Functional", "Model", "Sequential"}:
            yield from iter_layers(layer)


def _builtin_names() -> set[str]:
    import keras

    return {name for name in dir(keras.layers) if not name.startswith("_")} | {"Functional", "Model", "Sequential"}


def check_legacy_config(config: dict[str, Any], path: str) -> None:
    """Refuse a config that names code anywhere, or holds unknown classes.

    :func:`migrate.weights.config_safety.check_config_is_data` walks every
    nested entry (wrappers, nested models, config items); here, in addition,
    a top-level layer that carries a legacy class name must also carry that
    class's config keys or be a Keras built-in.
    """
    check_config_is_data(config, path, legacy_classes={legacy.class_name for legacy in LEGACY_CLASSES})
    builtins = _builtin_names()
    for layer in iter_layers(config):
        class_name = layer.get("class_name", "?")
        name = (layer.get("config") or {}).get("name", layer.get("name", "?"))
        if legacy_class_of(layer) is None and class_name not in builtins:
            raise PortError(
                path,
                f"layer {name!r} has unknown custom class {class_name!r}; "
                "rebuild the model in Keras 3 code (migrate rewrite) and pass --model path/to/file.py:factory",
            )


def _pin_hard_sigmoid(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _pin_hard_sigmoid(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_pin_hard_sigmoid(v) for v in value]
    if value == "hard_sigmoid":
        return "migrate_compat>legacy_hard_sigmoid"
    return value


def model_from_legacy_config(config: dict[str, Any], path: str) -> Any:
    """A Keras 3 model with the legacy architecture (uncompiled, weights fresh)."""
    check_legacy_config(config, path)
    from keras.src.legacy.saving import saving_utils

    import modern.compat  # noqa: F401  (registers legacy_hard_sigmoid)

    custom = {legacy.class_name: _Adapter(legacy) for legacy in LEGACY_CLASSES}
    config = _pin_hard_sigmoid(config)
    _drop_refused_keys(config)
    _modernize_tensor_kwargs(config)
    try:
        with warnings.catch_warnings():
            # Keras 3 complains about the Keras 2 `batch_input_shape` it is
            # translating for us; the translation is the point.
            warnings.filterwarnings("ignore", message="Do not pass an `input_shape`", category=UserWarning)
            model = saving_utils.model_from_config(config, custom_objects=custom)
    except PortError:
        raise
    except Exception as exc:
        raise PortError(path, f"cannot rebuild the model from its model_config ({type(exc).__name__}: {exc}); pass --model") from exc
    return model


class _Adapter:
    """Stands in for a class name in the loader's custom objects.

    A Keras 2 file can use the same class name for a legacy custom layer and a
    Keras built-in (``MultiHeadAttention``, ``LayerNormalization``); the
    config keys decide which one each entry is.
    """

    def __init__(self, legacy: LegacyClass) -> None:
        self.legacy = legacy

    def from_config(self, layer_config: dict[str, Any]) -> Any:
        entry = {"class_name": self.legacy.class_name, "config": layer_config}
        if legacy_class_of(entry) is self.legacy:
            return self.legacy.build(layer_config)
        import keras

        builtin = getattr(keras.layers, self.legacy.class_name, None)
        if builtin is None:
            raise PortError(layer_config.get("name", "?"), f"config of {self.legacy.class_name} matches no known class")
        return builtin.from_config(layer_config)


def plan_for_translated_model(source: WeightSource, model: Any) -> Any:
    """Pair an HDF5 source with the model :func:`model_from_legacy_config` built.

    Legacy custom layers go through their ``modern`` weight-map rows; built-in
    layers pair their weights by order, as Keras 2 wrote them.
    """
    from migrate.weights.plan import plan_by_rules
    from modern.weight_maps import WeightRule
    from modern.weight_maps.keras22 import modern_variables, rules_for

    assert source.model_config is not None
    layers = {(entry.get("config") or {}).get("name", entry.get("name")): entry for entry in iter_layers(source.model_config)}
    lookup = modern_variables(model)
    relative = {id(v): name for name, v in lookup.items()}
    by_layer: dict[str, list[Any]] = {}
    for weight in source.weights:
        by_layer.setdefault(weight.layer, []).append(weight)
    rules: list[WeightRule] = []
    for layer_name in source.layer_order:
        weights = by_layer.get(layer_name, [])
        if not weights:
            continue
        entry = layers.get(layer_name, {})
        legacy = legacy_class_of(entry)
        if legacy is not None:
            rows = rules_for(legacy.class_name, layer_name, entry.get("config") or {})
            rules += [WeightRule(r.source, f"{layer_name}/{r.target}", r.transform) for r in rows]
            continue
        try:
            variables = model.get_layer(layer_name).weights
        except ValueError:
            variables = []
        rules += [
            WeightRule(w.name, relative.get(id(v), v.path)) for w, v in zip(weights, variables)
        ]
    return plan_by_rules(source, model, rules, target_lookup=lambda _: lookup)
