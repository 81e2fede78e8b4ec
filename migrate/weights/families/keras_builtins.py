"""Keras 2 built-in layers, which Keras 3's own legacy-config loader rebuilds.

Keras 3 (``keras.src.legacy.saving``) reads Keras 2 configs of its built-in
layers; this family only fills the gaps where it would fail or silently
change a number:

* constructor keys tf_keras wrote that Keras 3's built-ins refuse, dropped
  where dropping keeps the layer the same (:data:`DROPPED_BUILTIN_KEYS`);
* the Keras 2 ``hard_sigmoid`` (``0.2 x + 0.5``, not Keras 3's ``x / 6 + 0.5``)
  pinned to :func:`modern.compat.legacy_hard_sigmoid`;
* call kwargs that name other tensors (``mha(x, value=y)``), rewritten into
  Keras 3's node format.

Built-in layers keep their variable names and order, so their weights pair by
order inside each layer (:func:`migrate.weights.config.plan_for_translated_model`).
"""

from __future__ import annotations

from typing import Any

from migrate.weights.config_safety import iter_layers
from migrate.weights.families import Family, legacy_class_of

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


def _pin_hard_sigmoid(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _pin_hard_sigmoid(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_pin_hard_sigmoid(v) for v in value]
    if value == "hard_sigmoid":
        return "migrate_compat>legacy_hard_sigmoid"
    return value


def translate(config: dict[str, Any]) -> dict[str, Any]:
    import modern.compat  # noqa: F401  (registers legacy_hard_sigmoid)

    config = _pin_hard_sigmoid(config)
    _drop_refused_keys(config)
    _modernize_tensor_kwargs(config)
    return config


FAMILY = Family(
    name="keras-builtins",
    description="Keras 2 built-in layers -> Keras 3 built-ins (Keras 3's legacy loader, with its gaps filled)",
    translate_config=translate,
)
