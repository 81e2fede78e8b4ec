"""Rebuild a legacy full-model HDF5 file's architecture in Keras 3.

The ``model_config`` JSON of a Keras 2.2 / tf.keras 2.x HDF5 file is read as
data. Before anything is built, :func:`check_legacy_config` walks every
nested entry (:mod:`migrate.weights.config_safety`) and refuses:

* anything that names code: ``Lambda`` layers anywhere (inside wrappers,
  nested models and config items too), serialized functions, modules outside
  Keras, callables given by import path (rebuild the model in code and pass
  ``--model``);
* classes that are neither Keras 3 built-ins nor a known legacy custom layer.

What each legacy class becomes is said by its family
(:mod:`migrate.weights.families`): known legacy custom layers, recognised by
class name *and* config keys, are replaced by their :mod:`modern`
equivalents; built-in layers are translated by Keras 3's own legacy-config
loader with the built-ins family's fixes applied first.
"""

from __future__ import annotations

import warnings
from typing import Any, Iterator

from migrate.weights.config_safety import MODEL_CLASSES, check_config_is_data, iter_layers
from migrate.weights.errors import PortError, one_line
from migrate.weights.families import LegacyClass, legacy_class_names, legacy_class_of, legacy_classes, translate_config
from migrate.weights.source import WeightSource

__all__ = ["check_legacy_config", "iter_layers", "legacy_class_of", "model_from_legacy_config",
           "plan_for_translated_model"]


def _builtin_names() -> set[str]:
    import keras

    return {name for name in dir(keras.layers) if not name.startswith("_")} | set(MODEL_CLASSES)


def check_legacy_config(config: dict[str, Any], path: str) -> None:
    """Refuse a config that names code anywhere, or holds unknown classes.

    :func:`migrate.weights.config_safety.check_config_is_data` walks every
    nested entry (wrappers, nested models, config items); here, in addition,
    a top-level layer that carries a legacy class name must also carry that
    class's config keys or be a Keras built-in.
    """
    check_config_is_data(config, path, legacy_classes=legacy_class_names())
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


# Config keys that size a layer's variables. Building the model allocates what
# they declare before any stored weight is compared with it, so a crafted
# config over small real weights could make a port allocate gigabytes.
SIZE_KEYS = frozenset({
    "units", "input_dim", "output_dim", "filters", "num_heads", "key_dim", "value_dim", "head_num",
    "size", "hidden_dim", "intermediate_dim", "embed_dim", "feature_dim", "depth_multiplier",
    "vocabulary_size", "max_tokens", "num_tokens",
})


def _size_values(node: Any) -> Iterator[tuple[str, int]]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in SIZE_KEYS and isinstance(value, int) and not isinstance(value, bool):
                    yield key, value
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


def check_declared_sizes(config: dict[str, Any], source: WeightSource) -> None:
    """Refuse a config whose layer sizes exceed what the file stores for the layer.

    Every size a layer's config declares (``units``, ``input_dim``,
    ``num_heads``...) is one of the dimensions of the weights it creates, so
    in a genuine file it is at most the largest dimension stored for that
    layer (for a weightless layer: for any layer). Checked before the model
    is built, so a config declaring a 2**28-row Embedding over a (30, 16)
    dataset is one line instead of a 16 GiB allocation.
    """
    widest: dict[str, int] = {}
    for weight in source.weights:
        widest[weight.layer] = max(widest.get(weight.layer, 1), *weight.shape, 1)
    anywhere = max(widest.values(), default=1)
    inner = config.get("config")
    layers = inner.get("layers") if isinstance(inner, dict) else inner
    for layer in layers if isinstance(layers, list) else []:
        name = (layer.get("config") or {}).get("name", layer.get("name", "?")) if isinstance(layer, dict) else "?"
        bound = widest.get(name, anywhere)
        for key, value in _size_values(layer):
            if value > bound:
                raise PortError(
                    source.path,
                    f"layer {name!r} declares {key}={value}, but the file stores no weight of that layer wider "
                    f"than {bound}: its model_config does not match its weights (a corrupt or crafted file); "
                    "re-export it, or pass --model path/to/file.py:factory",
                )


def model_from_legacy_config(config: dict[str, Any], path: str) -> Any:
    """A Keras 3 model with the legacy architecture (uncompiled, weights fresh)."""
    check_legacy_config(config, path)
    from keras.src.legacy.saving import saving_utils

    names = {legacy.class_name for legacy in legacy_classes()}
    custom = {name: _Adapter(name) for name in names}
    config = translate_config(config)
    try:
        with warnings.catch_warnings():
            # Keras 3 complains about the Keras 2 `batch_input_shape` it is
            # translating for us; the translation is the point.
            warnings.filterwarnings("ignore", message="Do not pass an `input_shape`", category=UserWarning)
            model = saving_utils.model_from_config(config, custom_objects=custom)
    except PortError:
        raise
    except Exception as exc:
        raise PortError(path, f"cannot rebuild the model from its model_config ({type(exc).__name__}: "
                              f"{one_line(exc)}); pass --model") from exc
    return model


class _Adapter:
    """Stands in for a class name in the loader's custom objects.

    A Keras 2 file can use the same class name for a legacy custom layer and a
    Keras built-in (``MultiHeadAttention``, ``LayerNormalization``); the
    config keys decide which one each entry is.
    """

    def __init__(self, class_name: str) -> None:
        self.class_name = class_name

    def from_config(self, layer_config: dict[str, Any]) -> Any:
        legacy: LegacyClass | None = legacy_class_of({"class_name": self.class_name, "config": layer_config})
        if legacy is not None:
            return legacy.build(layer_config)
        import keras

        builtin = getattr(keras.layers, self.class_name, None)
        if builtin is None:
            raise PortError(layer_config.get("name", "?"), f"config of {self.class_name} matches no known class")
        return builtin.from_config(layer_config)


def plan_for_translated_model(source: WeightSource, model: Any) -> Any:
    """Pair an HDF5 source with the model :func:`model_from_legacy_config` built.

    Legacy custom layers go through their family's weight-map rows; built-in
    layers pair their weights by order, as Keras 2 wrote them.
    """
    from migrate.weights.plan import plan_by_rules
    from modern.weight_maps import WeightRule
    from modern.weight_maps.keras22 import modern_variables

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
            rows = legacy.rules(layer_name, entry.get("config") or {})
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
