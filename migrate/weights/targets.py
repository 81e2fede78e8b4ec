"""Names under which a live Keras 3 model's variables can be found.

Legacy checkpoints name weights in two ways, and a Keras 3 model is indexed
both ways so that a port "by structure" (into a model of the same
architecture, e.g. one built from the user's rewritten code) needs no map:

* HDF5 files name each weight by its layer and its order inside the layer:
  :func:`layer_weights` gives a Keras 3 model's weights per layer name, in
  creation order, which is the order Keras 2 wrote them in.
* TF object checkpoints name each weight by the attribute path from the saved
  object (``encoder/enc_layers/0/mha/wq/kernel``): :func:`object_paths` walks a
  Keras 3 model's attributes the way TensorFlow's object graph did (lists by
  index, ``Sequential``/functional children as ``layer_with_weights-K`` and
  ``layer-I``), ending at each variable's own name (``kernel``, ``gamma``).
"""

from __future__ import annotations

from typing import Any, Iterator

# Attributes of Keras 3 layers that hold layers but are bookkeeping, not
# structure: following them would produce paths no legacy checkpoint has.
_BOOKKEEPING = frozenset(
    {"_layers", "_tracker", "_inbound_nodes", "_outbound_nodes", "_metrics", "_seed_generators",
     "_operations", "_functional", "_self_unconditional_checkpoint_dependencies"}
)


def _is_layer(value: Any) -> bool:
    import keras

    return isinstance(value, keras.layers.Layer)


def _own_variables(layer: Any) -> list[Any]:
    return list(getattr(layer, "_trainable_variables", [])) + list(getattr(layer, "_non_trainable_variables", []))


def _children(layer: Any) -> Iterator[tuple[str, Any]]:
    for key, value in vars(layer).items():
        if key in _BOOKKEEPING:
            continue
        if _is_layer(value):
            yield key, value
        elif isinstance(value, (list, tuple)) and value and all(_is_layer(v) for v in value):
            for index, item in enumerate(value):
                yield f"{key}/{index}", item
        elif isinstance(value, dict) and value and all(_is_layer(v) for v in value.values()):
            for name, item in value.items():
                yield f"{key}/{name}", item
    if isinstance(layer, keras_model_classes()):
        # tf_keras tracked the children of Sequential and functional models
        # by position: every layer as layer-I, those with weights also as
        # layer_with_weights-K (the name TensorFlow's object graph prefers).
        with_weights = 0
        for index, item in enumerate(layer.layers):
            yield f"layer-{index}", item
            if item.weights:
                yield f"layer_with_weights-{with_weights}", item
                with_weights += 1


def object_paths(root: Any) -> dict[str, Any]:
    """Map every object-graph path of ``root`` to the Keras 3 variable it reaches.

    A variable reachable by several paths (a Sequential child is both
    ``layer-1`` and ``layer_with_weights-0``) appears under each.
    """
    paths: dict[str, Any] = {}
    visiting: set[int] = set()

    def walk(layer: Any, prefix: str) -> None:
        if id(layer) in visiting:
            return
        visiting.add(id(layer))
        for variable in _own_variables(layer):
            paths.setdefault(f"{prefix}{variable.name}", variable)
        for name, child in _children(layer):
            walk(child, f"{prefix}{name}/")
        visiting.discard(id(layer))

    walk(root, "")
    if isinstance(root, keras_model_classes()):
        # A tf_keras model's SavedModel may reach a weight through the root's
        # own `variables` list (trainable first, then non-trainable, layer by
        # layer) when that is the shortest path in the object graph.
        for index, variable in enumerate(list(root.trainable_weights) + list(root.non_trainable_weights)):
            paths.setdefault(f"variables/{index}", variable)
    return paths


def keras_model_classes() -> tuple[type, ...]:
    import keras

    return (keras.Sequential, keras.src.models.functional.Functional)


def layer_weights(model: Any) -> dict[str, list[Any]]:
    """Each top-level layer's weights by layer name, in creation order."""
    return {layer.name: list(layer.weights) for layer in model.layers if layer.weights}
