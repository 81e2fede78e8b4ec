"""keras-xlnet (with keras-transformer-xl and keras-trans-mask) and what it becomes.

``keras_xlnet.build_xlnet`` builds XLNet from the layers below and from
CyberZHG layers that :mod:`migrate.weights.families.bert_family` already
ports (``EmbeddingRet``, ``EmbeddingSim``, ``FeedForward``, the tanh
``gelu``; its ``LayerNormalization`` is the Keras-2.2 family's weighted
one). Its full-model HDF5 files port with no code: every layer below
becomes its :mod:`modern.layers.xlnet_family` port, which takes the
library's constructor arguments and call form and keeps its weight names,
so the rows are name for name (``<layer>/<weight>`` -> ``<weight>``).

=========================================  ==========================================
legacy class (recognised by)               weights
=========================================  ==========================================
``CreateMask`` (mask_value)                none
``RestoreMask`` (no keys) *on a list*      none
``Memory`` (batch_size, memory_len,        ``memory`` (the recurrence state)
target_len, output_dim)
``RelativeBias`` (units) *on one*          ``bias_context``, ``bias_relative``
``SegmentBias`` (units) *on one*           ``bias_segment``
``PositionalEmbedding`` (output_dim,       none
clamp_len, directional)
``RelativeSegmentEmbedding`` (units,       ``embeddings`` (2, units)
input_dim, output_dim)
``MaskEmbedding`` (units, initializer)     ``embeddings`` (1, 1, units)
``PermutationMask`` (enabled,              none
directional)
``RelativePartialMultiHeadSelfAttention``  ``kernel`` (units, 5 units), ``bias``
(units, num_head, attention_dropout)       with use_bias
=========================================  ==========================================

Recognition and refusals. A class is this family's when its saved config
has the identifying keys above (and, for the key-less ``RestoreMask`` and
the one-key biases, the saved call's shape); an entry of one of these
names with keys the library never writes (:data:`CLASSES`), an
inconsistent ``RelativeSegmentEmbedding`` (not ``input_dim=2,
output_dim=units``), ``units`` not a multiple of ``num_head``, or weights
of other shapes (the plan checks each row's exact shape) is refused in one
line naming the layer; nothing is written.

Memory (:mod:`modern.layers.xlnet_family.memory` says what the state is).
The file's ``memory`` weight is ported like any weight, so the port starts
from the saved state and the written ``.keras`` file holds it unchanged
(the porter's probe calls put every non-trainable variable back:
:func:`migrate.weights.writer.predict`); it advances on every call, in the
port as in the library. ``--verify`` calls both sides once from that
state with a memory length of at least 1, so the comparison covers the
memory read.

File-wide fix (:func:`translate`): keras-xlnet's inputs are float32
``Input`` layers holding ids (tokens, segments, memory length); the ones
that only feed id slots (:data:`ID_SLOTS`) are declared ``int32`` so the
ported model says what it takes and the port's probe draws ids (Keras 3
casts a float array given to them, as the library cast).

Oracle: the libraries' classes on tf_keras in the verification child
(:func:`legacy_ref.artefacts.xlnet_family.library_classes`, from
``migrate port --legacy-path DIR``), with the era shim that keras-
transformer-xl's ``Memory`` needs on tf_keras 2.21 (:mod:`legacy_ref.era`).
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from migrate.weights.config_safety import iter_layers
from migrate.weights.errors import PortError
from migrate.weights.families import Family, LegacyClass, family_of, legacy_class_of
from migrate.weights.families.bert_family import BASE_KEYS

PACKAGE = "modern.xlnet_family"

_BIAS_OPTIONS = frozenset({"bias_initializer", "bias_regularizer", "bias_constraint"})
_EMBEDDING_KEYS = frozenset({"input_dim", "output_dim", "embeddings_initializer", "embeddings_regularizer",
                             "embeddings_constraint", "mask_zero", "input_length"})
_ATTENTION_KEYS = frozenset({"units", "num_head", "activation", "use_bias", "attention_dropout", "kernel_initializer",
                             "bias_initializer", "kernel_regularizer", "bias_regularizer", "kernel_constraint",
                             "bias_constraint"})

# Data: legacy class -> (identifying keys, every key its get_config writes, saved call: "one"/"several"/None).
CLASSES: dict[str, tuple[frozenset[str], frozenset[str], str | None]] = {
    "CreateMask": (frozenset({"mask_value"}), frozenset({"mask_value"}), None),
    # No keys of its own: the call on [values, masked] and no other key tell it.
    "RestoreMask": (frozenset(), frozenset(), "several"),
    "Memory": (frozenset({"batch_size", "memory_len", "target_len", "output_dim"}),
               frozenset({"batch_size", "memory_len", "target_len", "output_dim"}), "several"),
    "RelativeBias": (frozenset({"units"}), frozenset({"units"}) | _BIAS_OPTIONS, "one"),
    "SegmentBias": (frozenset({"units"}), frozenset({"units"}) | _BIAS_OPTIONS, "one"),
    "PositionalEmbedding": (frozenset({"output_dim", "clamp_len", "directional"}),
                            frozenset({"output_dim", "clamp_len", "directional"}), "several"),
    "RelativeSegmentEmbedding": (frozenset({"units", "input_dim", "output_dim"}), _EMBEDDING_KEYS | {"units"},
                                 "several"),
    "MaskEmbedding": (frozenset({"units", "initializer"}),
                      frozenset({"units", "initializer", "regularizer", "constraint"}), "several"),
    "PermutationMask": (frozenset({"enabled", "directional"}), frozenset({"enabled", "directional"}), "several"),
    "RelativePartialMultiHeadSelfAttention": (frozenset({"units", "num_head", "attention_dropout"}), _ATTENTION_KEYS,
                                              "several"),
}

# Input slots that take ids: (class, position in the call's list).
ID_SLOTS = frozenset({("EmbeddingRet", 0), ("TokenEmbedding", 0), ("CreateMask", 0),
                      ("RelativeSegmentEmbedding", 0), ("Memory", 1)})


def _weight_names(class_name: str, config: dict[str, Any]) -> list[str]:
    """The weights the library's layer creates, in its order (names relative to the layer)."""
    if class_name in ("RelativeSegmentEmbedding", "MaskEmbedding"):
        return ["embeddings"]
    if class_name == "Memory":
        return ["memory"]
    if class_name == "RelativeBias":
        return ["bias_context", "bias_relative"]
    if class_name == "SegmentBias":
        return ["bias_segment"]
    if class_name == "RelativePartialMultiHeadSelfAttention":
        return ["kernel", "bias"] if config.get("use_bias", False) else ["kernel"]
    return []


def _rows(class_name: str) -> Callable[[str, dict[str, Any]], list[Any]]:
    def rows(name: str, config: dict[str, Any]) -> list[Any]:
        from modern.weight_maps import WeightRule

        return [WeightRule(f"{name}/{weight}", weight) for weight in _weight_names(class_name, config)]

    return rows


def _refuse(config: dict[str, Any], what: str) -> PortError:
    name = config.get("name", "?")
    return PortError(str(name), f"layer {name!r} looks like keras-xlnet's {what}; it is another class of that "
                                "name: rebuild the model in Keras 3 code and pass --model path/to/file.py:factory")


def modern_config(class_name: str, config: dict[str, Any]) -> dict[str, Any]:
    """The legacy layer config as its port's constructor arguments, refused in one line where it differs."""
    _, allowed, _ = CLASSES[class_name]
    extra = sorted(set(config) - allowed - BASE_KEYS)
    if extra:
        raise _refuse(config, f"{class_name} but its config has keys the library never writes ({', '.join(extra)})")
    config = dict(config)
    if class_name == "RelativeSegmentEmbedding":
        units = config.get("units")
        shape = (config.pop("input_dim", None), config.pop("output_dim", None))
        if shape != (2, units) or config.pop("mask_zero", False):
            raise _refuse(config, f"RelativeSegmentEmbedding but it embeds {shape[0]} x {shape[1]} "
                                  f"(the library: 2 x units={units}, no mask_zero)")
        config.pop("input_length", None)
    if class_name == "RelativePartialMultiHeadSelfAttention":
        units, heads = config.get("units"), config.get("num_head")
        if not (isinstance(units, int) and isinstance(heads, int) and heads > 0 and units % heads == 0):
            raise _refuse(config, f"RelativePartialMultiHeadSelfAttention but units={units} is not a multiple "
                                  f"of num_head={heads}")
    if class_name == "Memory":
        sizes = {key: config.get(key) for key in ("batch_size", "memory_len", "target_len", "output_dim")}
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in sizes.values()):
            raise _refuse(config, f"Memory but its sizes are not counts ({sizes})")
    return config


def _build(class_name: str) -> Callable[[dict[str, Any]], Any]:
    def build(config: dict[str, Any]) -> Any:
        import modern.layers.xlnet_family as ports

        return getattr(ports, class_name).from_config(modern_config(class_name, config))

    return build


def _callers(config: dict[str, Any]) -> dict[str, set[tuple[str, int]]]:
    """For each layer name, the (class, slot) pairs that take its outputs."""
    callers: dict[str, set[tuple[str, int]]] = {}
    for layer in iter_layers(config):
        for node in layer.get("inbound_nodes") or []:
            for slot, item in enumerate(node if isinstance(node, list) else []):
                if isinstance(item, list) and item and isinstance(item[0], str):
                    callers.setdefault(item[0], set()).add((str(layer.get("class_name")), slot))
    return callers


def _integer_id_inputs(config: dict[str, Any]) -> None:
    callers = _callers(config)
    for layer in iter_layers(config):
        layer_config = layer.get("config")
        if layer.get("class_name") != "InputLayer" or not isinstance(layer_config, dict):
            continue
        used_by = callers.get(str(layer_config.get("name")), set())
        if used_by and used_by <= ID_SLOTS and layer_config.get("dtype") == "float32":
            layer_config["dtype"] = "int32"


def _is_ours(layer: dict[str, Any]) -> bool:
    legacy = legacy_class_of(layer)
    return legacy is not None and family_of(legacy) is FAMILY


def translate(config: dict[str, Any]) -> dict[str, Any]:
    """Swap this family's entries for their registered ports; declare the id inputs ``int32``.

    Only files with at least one layer of this family change. Runs before
    the bert family's translation (:data:`FAMILY_MODULES` order), so the
    id slots still carry the library's class names.
    """
    if not any(_is_ours(layer) for layer in iter_layers(config)):
        return config
    config = copy.deepcopy(config)
    import modern.layers.xlnet_family  # noqa: F401  (registers the ports)

    _integer_id_inputs(config)
    for layer in iter_layers(config):
        legacy = legacy_class_of(layer)
        if legacy is not None and family_of(legacy) is FAMILY:
            layer["config"] = modern_config(legacy.class_name, layer["config"])
            layer["class_name"] = f"{PACKAGE}>{legacy.class_name}"
    return config


def legacy_custom_objects() -> dict[str, Any]:
    """The libraries' own classes on tf_keras, in the oracle's child (with the era shim they need)."""
    import tf_keras

    try:
        from legacy_ref.artefacts.xlnet_family import library_classes

        classes = library_classes()
    except ImportError:
        return {}  # the oracle names the class that is missing
    if not issubclass(classes["Memory"], tf_keras.layers.Layer):
        raise PortError("--verify", "keras-xlnet must run on tf_keras: pass --legacy-path DIR "
                                    "(the directory where keras-xlnet & co. are installed)")
    return classes


FAMILY = Family(
    name="xlnet-family",
    description="keras-xlnet, keras-transformer-xl and keras-trans-mask layers -> modern.layers.xlnet_family",
    legacy_classes=tuple(
        LegacyClass(class_name, required, _build(class_name), _rows(class_name), called_on=called_on)
        for class_name, (required, _, called_on) in CLASSES.items()
    ),
    translate_config=translate,
    legacy_custom_objects=legacy_custom_objects,
)
