"""Prove a legacy ``model_config`` is plain data before any deserializer sees it.

A Keras 2 full-model HDF5 file stores its architecture as JSON, and both
Keras deserializers (tf_keras for ``--verify``, Keras 3 for the no-code
rebuild) turn parts of that JSON into Python objects. Some of those parts can
carry code: a ``Lambda`` layer holds marshalled bytecode, and it may hide
inside a wrapper (``TimeDistributed``, ``Bidirectional``), a nested
``Sequential``/``Model``, or a config item such as a layer's
``activity_regularizer`` (tf_keras deserializes any dict marked
``__passive_serialization__``); a ``module``/``registered_name`` field or a
dotted string can name an importable callable (``builtins.eval``).

:func:`check_config_is_data` walks *every* dict and list of the config, not
only the layer list, and refuses with :class:`UnsafeSourceError` (exit 2, one
line naming the layer) anything that names code:

* an object whose ``class_name`` is not on the allow-list: Keras built-in
  layers, initializers, regularizers, constraints and dtype policies, the
  known legacy custom layers, and the container markers tf_keras writes
  (``__tuple__``); ``Lambda``/``TFOpLambda`` and Keras 3's ``__lambda__`` are
  never on it;
* the keys a serialized function carries (``function``, ``function_type``,
  ``output_shape_type``, ``output_shape_module``, ``__lambda__``);
* a ``module`` outside ``keras``/``tf_keras``, a ``registered_name`` that is
  not the class's own name or one of this toolkit's registrations, and a
  serialized ``function`` object that is not a built-in activation;
* a string that names a callable by dotted path (``os.system``) or by
  registration (``package>name``) where Keras would look a callable up.

It also bounds the walk (depth and number of nodes), so a crafted config
cannot exhaust the stack or the time of the deserializers after it, and
checks the shape of the layer list itself (a list of objects).

Nothing here imports TensorFlow: the allow-list comes from Keras 3's public
API and a small table of tf_keras-only names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from migrate.weights.errors import PortError, UnsafeSourceError

# Far above any real model (a layer inside a wrapper inside a nested model is
# about a dozen levels); deep enough JSON would overflow the deserializers'
# own recursion.
MAX_DEPTH = 64
MAX_NODES = 2_000_000

# Keys that only a serialized function (Keras 2 Lambda, Keras 3 __lambda__)
# carries: the marshalled bytecode and how to rebuild it.
CODE_KEYS = frozenset({"function", "function_type", "output_shape_type", "output_shape_module", "__lambda__"})

# Classes that hold code or raw TensorFlow ops, with why a port refuses them.
CODE_CLASSES: dict[str, str] = {
    "Lambda": "holds marshalled Python code, which a port never deserializes",
    "__lambda__": "holds Python code, which a port never deserializes",
    "TFOpLambda": "wraps raw TensorFlow ops that Keras 3 cannot rebuild",
    "SlicingOpLambda": "wraps raw TensorFlow ops that Keras 3 cannot rebuild",
}

# Containers and policies that tf_keras / Keras 3 write inside configs.
MARKER_CLASSES = frozenset({
    "__tuple__", "__keras_tensor__", "Functional", "Model", "Sequential",
    "Policy", "DTypePolicy", "FloatDTypePolicy", "QuantizedDTypePolicy", "TensorShape",
})

# tf_keras names that Keras 3 no longer exports but whose configs are data.
TF_KERAS_ONLY_CLASSES = frozenset({"CuDNNLSTM", "CuDNNGRU", "L1L2"})

# Registrations of this toolkit that a translated config may name.
OWN_REGISTERED_PREFIXES = ("modern>", "migrate_compat>")

# Keys whose string value Keras resolves to a callable or a class.
CALLABLE_KEY = re.compile(r"(activation|initializer|regularizer|constraint|loss|metric|optimizer)s?$")
DOTTED_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")
KERAS_MODULE = re.compile(r"^(keras|tf_keras)(\.[A-Za-z_][\w]*)*$")


MODEL_CLASSES = frozenset({"Functional", "Model", "Sequential"})


def iter_layers(config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every layer entry of a model config, nested models included (call after
    :func:`check_config_is_data`, which proves the layer lists well formed)."""
    inner = config.get("config")
    layers = inner.get("layers") if isinstance(inner, dict) else inner if isinstance(inner, list) else None
    for layer in layers or []:
        yield layer
        if isinstance(layer.get("config"), (dict, list)) and layer.get("class_name") in MODEL_CLASSES:
            yield from iter_layers(layer)


@lru_cache(maxsize=1)
def keras_data_classes() -> frozenset[str]:
    """Class names of Keras 3's public layers, initializers, regularizers and constraints."""
    import keras

    names: set[str] = set()
    for module in (keras.layers, keras.initializers, keras.regularizers, keras.constraints):
        names.update(name for name in dir(module) if not name.startswith("_") and isinstance(getattr(module, name), type))
    return frozenset(names)


@lru_cache(maxsize=1)
def keras_activation_names() -> frozenset[str]:
    import keras

    return frozenset(name for name in dir(keras.activations) if not name.startswith("_"))


class _Where:
    """The layer around a config node, for messages.

    ``layer`` is the chain of layer names from the outermost model layer in,
    e.g. ``time_distributed/lambda`` for a Lambda inside a wrapper; ``path``
    is the config key path inside the innermost layer.
    """

    def __init__(self, layer: str, path: str, *, root: bool = False) -> None:
        self.layer = layer
        self.path = path
        self.root = root

    def inside(self, name: str) -> "_Where":
        return _Where(name if self.root else f"{self.layer}/{name}", "")

    def __str__(self) -> str:
        return f"layer {self.layer!r} ({self.path})" if self.path else f"layer {self.layer!r}"


def _name_of(node: dict[str, Any]) -> str | None:
    config = node.get("config")
    name = config.get("name") if isinstance(config, dict) else None
    name = name if name is not None else node.get("name")
    return name if isinstance(name, str) else None


def _refuse(source: str, where: _Where, what: str) -> UnsafeSourceError:
    return UnsafeSourceError(
        source,
        f"{where} {what}; a port never runs code from a checkpoint: rebuild the model in Keras 3 code "
        "and pass --model path/to/file.py:factory (with --verify, also --legacy old_program.py:factory)",
    )


def check_config_is_data(config: Any, source: str, *, legacy_classes: Iterable[str] = ()) -> None:
    """Refuse a model config that names code anywhere, or is too deep or large to walk.

    Args:
        config: the parsed ``model_config`` JSON.
        source: the file it came from, for the message.
        legacy_classes: class names of the known legacy custom layers, which
            are allowed as data (their configs are checked like any other).

    Raises:
        UnsafeSourceError: something in the config names code; the message
            names the layer and the key.
        PortError: the config is not a model config, or is nested too deep.
    """
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise PortError(source, "model_config is not a Keras model config (no class_name); re-export the file")
    allowed = keras_data_classes() | MARKER_CLASSES | TF_KERAS_ONLY_CLASSES | frozenset(legacy_classes)
    activations = keras_activation_names()
    top = _name_of(config) or "<model>"
    # An explicit stack: the walk itself must not recurse on hostile depth.
    stack: list[tuple[Any, int, _Where, str]] = [(config, 0, _Where(top, "", root=True), "")]
    seen = 0
    while stack:
        node, depth, where, key = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            raise PortError(source, f"model_config has more than {MAX_NODES} entries; not a legacy Keras model")
        if depth > MAX_DEPTH:
            raise PortError(source, f"model_config nests deeper than {MAX_DEPTH} levels at {where}; "
                                    "not a legacy Keras model")
        if isinstance(node, list):
            stack.extend((item, depth + 1, where, key) for item in node)
            continue
        if isinstance(node, str):
            _check_string(node, key, where, source)
            continue
        if not isinstance(node, dict):
            continue
        if "class_name" in node:
            where = _check_object(node, depth, where, source, allowed, activations)
        bad_keys = CODE_KEYS & node.keys()
        if bad_keys and any(node[k] is not None for k in bad_keys):
            raise _refuse(source, where, f"has {sorted(bad_keys)[0]!r}, which holds a serialized function")
        for child_key, value in node.items():
            if not isinstance(child_key, str):
                continue
            path = f"{where.path}.{child_key}" if where.path else child_key
            stack.append((value, depth + 1, _Where(where.layer, path, root=where.root), child_key))
    _check_layer_lists(config, source)


def _check_object(node: dict[str, Any], depth: int, where: _Where, source: str,
                  allowed: frozenset[str], activations: frozenset[str]) -> _Where:
    class_name = node["class_name"]
    if not isinstance(class_name, str):
        raise PortError(source, f"{where}: class_name is {type(class_name).__name__}, not a string; the file is corrupt")
    name = _name_of(node)
    # The model itself (the walk's root) names no layer; every layer inside it does.
    here = where.inside(name) if name is not None and depth > 0 and _is_layer_like(node) else where
    if class_name in CODE_CLASSES:
        raise _refuse(source, here, f"is a {class_name} ({CODE_CLASSES[class_name]})")
    module = node.get("module")
    if module is not None and not (isinstance(module, str) and KERAS_MODULE.match(module)):
        raise _refuse(source, here, f"names module {module!r}, outside Keras")
    registered = node.get("registered_name")
    if registered is not None and registered != class_name and not (
        isinstance(registered, str) and registered.startswith(OWN_REGISTERED_PREFIXES)
    ):
        raise _refuse(source, here, f"names registered object {registered!r}")
    if class_name == "function":
        # Keras 3's form of a function reference: only built-in activations.
        if not (isinstance(module, str) and module.endswith("activations") and node.get("config") in activations):
            raise _refuse(source, here, f"references function {node.get('config')!r} of module {module!r}")
        return here
    if class_name not in allowed:
        raise PortError(
            source,
            f"{here} has unknown custom class {class_name!r}; rebuild the model in Keras 3 code "
            "(migrate rewrite) and pass --model path/to/file.py:factory",
        )
    return here


def _is_layer_like(node: dict[str, Any]) -> bool:
    config = node.get("config")
    return isinstance(config, dict) and "name" in config and ("trainable" in config or "layers" in config)


def _check_string(value: str, key: str, where: _Where, source: str) -> None:
    if not CALLABLE_KEY.search(key):
        return
    if DOTTED_PATH.match(value):
        raise _refuse(source, where, f"names callable {value!r} by import path")
    if ">" in value and not value.startswith(OWN_REGISTERED_PREFIXES):
        raise _refuse(source, where, f"names registered callable {value!r}")


def _check_layer_lists(config: dict[str, Any], source: str) -> None:
    """Every ``layers`` list of a model (nested ones too) holds layer objects."""
    stack = [config]
    while stack:
        model = stack.pop()
        inner = model.get("config")
        layers = inner.get("layers") if isinstance(inner, dict) else inner
        if layers is None and isinstance(inner, dict) and model.get("class_name") not in {"Functional", "Model", "Sequential"}:
            continue
        if not isinstance(layers, list):
            raise PortError(source, f"model {_name_of(model) or '<model>'!r}: its 'layers' is "
                                    f"{type(layers).__name__}, not a list of layers; the file is corrupt")
        for index, layer in enumerate(layers):
            if not isinstance(layer, dict) or not isinstance(layer.get("class_name"), str):
                raise PortError(source, f"model {_name_of(model) or '<model>'!r}: layer #{index} is "
                                        f"{type(layer).__name__}, not a layer config; the file is corrupt")
            if layer["class_name"] in {"Functional", "Model", "Sequential"}:
                stack.append(layer)
