"""The CyberZHG family (keras-bert and the libraries under it) and what it becomes.

keras-bert, keras-transformer and keras-gpt-2 build their models from the
layers of keras-embed-sim, keras-pos-embd, keras-layer-normalization,
keras-position-wise-feed-forward, keras-self-attention and keras-multi-head.
Their full-model HDF5 files port with no code: every layer below becomes its
:mod:`modern.layers.bert_family` port, which takes the library's constructor
arguments and call form and keeps its weight names, so the weight rows are
name for name (``<layer>/<weight>`` -> ``<weight>``).

==============================  ==============================================
legacy class (recognised by)    modern layer
==============================  ==============================================
``TokenEmbedding``,             ``TokenEmbedding`` (weight ``embeddings``)
``EmbeddingRet``
(input_dim, output_dim,
mask_zero; Embedding's keys)
``EmbeddingSimilarity``         ``EmbeddingSimilarity`` (``bias``)
(initializer, regularizer,
constraint)
``EmbeddingSim`` (+ use_bias,   ``EmbeddingSimilarity``
stop_gradient)
``TaskEmbedding``               ``TaskEmbedding`` (``embeddings``)
``PositionEmbedding``           ``PositionEmbedding`` (``embeddings``)
(input_dim, output_dim, mode)
``TrigPosEmbedding``            ``TrigPosEmbedding``
(mode, output_dim)
``SeqSelfAttention`` (units,    ``SeqSelfAttention`` (``<name>_Add_Wt``...)
attention_type,
attention_width)
``FeedForward`` (units,         ``FeedForward`` (``<name>_W1``...)
dropout_rate, ...)
``Masked`` (return_masked),     ``Masked``, ``Extract``
``Extract`` (index)
``MultiHeadAttention``          ``MultiHeadAttention`` (``<name>_Wq``...)
(head_num, history_only,
use_bias) *called on a list*
``ScaledDotProductAttention``   ``ScaledDotProductAttention``
(return_attention,
history_only) *on a list*
``MultiHead`` (layers; every    ``MultiHead`` (``<name>_W``, ``<name>_b``, then
key of its config: see          each head's weights: ``sub_<i>/kernel`` ->
:data:`MULTI_HEAD_KEYS`)        ``<head>/kernel``; heads: :data:`MULTI_HEAD_HEADS`)
==============================  ==============================================

Recognition and the Keras-2.2 family. The seed classifier's
``MultiHeadAttention``, ``ScaledDotProductAttention`` and weighted
``LayerNormalization`` (:mod:`migrate.weights.families.keras22`) are copies of
keras-multi-head's, keras-self-attention's and keras-layer-normalization's:
the same config keys, the same weights, the same function. Config keys alone
cannot tell them apart, so the saved entry's *call* decides: an entry called
on a list ``[q, k, v]`` (keras-transformer's decoder, any cross attention) is
this family's (its port takes that list), an entry called on one tensor is
the Keras-2.2 family's (:class:`modern.layers.ActivatedMultiHeadAttention`
computes the same function). In a file that uses this family the
verification oracle runs the library's own classes for all those names
(:attr:`Family.originals`), so keras-bert's self-attention is checked against
keras-multi-head itself.

Refusals. An entry with a class name of this family and its identifying keys
but other keys beside them (:data:`ALLOWED_KEYS`) is refused with one line
naming the layer and the keys that differ; weight shapes are checked by the
plan (each row's exact shape). Nothing is written then.

File-wide fixes (:func:`translate`), applied only to files that use this
family: its ``"gelu"`` (in ``activation`` and ``attention_activation`` of any
layer, ``Dense`` included) is the libraries' tanh gelu, registered as the
custom object ``gelu`` by every library of the family, and becomes
:func:`modern.layers.bert_family.gelu_tanh` (Keras 3 would read Keras's erf
gelu, 4.7e-4 away); Keras 2 merge layers (``Add``...) become the
``migrate_compat`` ones that keep Keras 2's output mask (keras-bert's
token + segment ``Add``; with Keras 3's rule the padding mask is lost).

Oracle: the library's classes, imported in the verification child from
``migrate port --legacy-path DIR`` (or ``MIGRATE_LEGACY_PATH``), on tf_keras.

Keras-2.2-era files (saved with standalone Keras 2.2.4: ``keras_version``
2.2.4, a ``Model`` config without ``module`` keys, ``Adam`` with ``lr`` /
``decay`` and its order-only ``training/Adam/Variable_k`` state) need nothing
more: the configs of this family's layers are the same, Keras 3's legacy
loader and tf_keras (the oracle) both read the 2.2.4 layout, and
:mod:`migrate.weights.optimizer_state` pairs the state by order. keras-bert's
Keras-2 ``AdamWarmup`` state in that order is refused (``--no-optimizer``).
Tested on the library's files rewritten into that layout
(``legacy_ref/artefacts/keras224_layout.py``).
"""

from __future__ import annotations

import copy
import importlib
from typing import Any, Callable

from migrate.weights.config_safety import iter_layers
from migrate.weights.errors import PortError
from migrate.weights.families import Family, LegacyClass, family_of, legacy_class_of

PACKAGE = "modern.bert_family"
GELU = f"{PACKAGE}>gelu_tanh"

# Base layer keys tf_keras and Keras 2.2.4 write for any layer.
BASE_KEYS = frozenset({"name", "trainable", "dtype", "batch_input_shape", "batch_size", "activity_regularizer"})
_EMBEDDING_KEYS = frozenset({"input_dim", "output_dim", "embeddings_initializer", "embeddings_regularizer",
                             "embeddings_constraint", "mask_zero", "input_length"})
_PROJECTION_KEYS = frozenset({"use_bias", "kernel_initializer", "bias_initializer", "kernel_regularizer",
                              "bias_regularizer", "kernel_constraint", "bias_constraint"})

# Data: legacy class -> (identifying keys, every key its get_config writes, modern class).
CLASSES: dict[str, tuple[frozenset[str], frozenset[str], str]] = {
    "TokenEmbedding": (frozenset({"input_dim", "output_dim", "mask_zero"}), _EMBEDDING_KEYS, "TokenEmbedding"),
    "EmbeddingRet": (frozenset({"input_dim", "output_dim", "mask_zero"}), _EMBEDDING_KEYS, "TokenEmbedding"),
    "EmbeddingSimilarity": (frozenset({"initializer", "regularizer", "constraint"}),
                            frozenset({"initializer", "regularizer", "constraint"}), "EmbeddingSimilarity"),
    "EmbeddingSim": (frozenset({"use_bias", "initializer", "stop_gradient"}),
                     frozenset({"use_bias", "initializer", "regularizer", "constraint", "stop_gradient"}),
                     "EmbeddingSimilarity"),
    "TaskEmbedding": (frozenset({"input_dim", "output_dim", "mask_zero"}), _EMBEDDING_KEYS - {"input_length"},
                      "TaskEmbedding"),
    "PositionEmbedding": (frozenset({"input_dim", "output_dim", "mode"}), _EMBEDDING_KEYS | {"mode"},
                          "PositionEmbedding"),
    "TrigPosEmbedding": (frozenset({"mode", "output_dim"}), frozenset({"mode", "output_dim"}), "TrigPosEmbedding"),
    "SeqSelfAttention": (frozenset({"units", "attention_type", "attention_width"}),
                         _PROJECTION_KEYS - {"use_bias"} | {
                             "units", "attention_width", "attention_type", "return_attention", "history_only",
                             "use_additive_bias", "use_attention_bias", "attention_activation",
                             "attention_regularizer_weight"},
                         "SeqSelfAttention"),
    "FeedForward": (frozenset({"units", "dropout_rate", "kernel_initializer"}),
                    _PROJECTION_KEYS | {"units", "activation", "dropout_rate"}, "FeedForward"),
    "Masked": (frozenset({"return_masked"}), frozenset({"return_masked"}), "Masked"),
    "Extract": (frozenset({"index"}), frozenset({"index"}), "Extract"),
    "MultiHeadAttention": (frozenset({"head_num", "history_only", "use_bias"}),
                           _PROJECTION_KEYS | {"head_num", "activation", "history_only"}, "MultiHeadAttention"),
    "ScaledDotProductAttention": (frozenset({"return_attention", "history_only"}),
                                  frozenset({"return_attention", "history_only"}), "ScaledDotProductAttention"),
    # keras-multi-head's wrapper. Its `layers` key (the heads, listed) names it;
    # every other key is then required too (_checked_multi_head), so a look-alike
    # is refused saying which keys differ.
    "MultiHead": (frozenset({"layers"}), frozenset({"layers", "hidden_dim", "use_bias", "reg_index", "reg_slice",
                                                    "reg_factor"}), "MultiHead"),
}

# Classes whose Keras-2.2 copies are recognised on one-tensor calls: this
# family takes only the entries called on a list (module docstring).
CALLED_ON_SEVERAL = frozenset({"MultiHeadAttention", "ScaledDotProductAttention"})

# Keras 2 merge layers whose output mask Keras 3 computes differently.
MERGE_LAYERS = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")

# Where the libraries keep each class (the oracle imports them from there).
LIBRARY_MODULES: dict[str, str] = {
    "TokenEmbedding": "keras_bert.layers",
    "EmbeddingSimilarity": "keras_bert.layers",
    "TaskEmbedding": "keras_bert.layers",
    "Masked": "keras_bert.layers",
    "Extract": "keras_bert.layers",
    "EmbeddingRet": "keras_embed_sim",
    "EmbeddingSim": "keras_embed_sim",
    "PositionEmbedding": "keras_pos_embd",
    "TrigPosEmbedding": "keras_pos_embd",
    "SeqSelfAttention": "keras_self_attention",
    "ScaledDotProductAttention": "keras_self_attention",
    "MultiHeadAttention": "keras_multi_head",
    "MultiHead": "keras_multi_head",
    "LayerNormalization": "keras_layer_normalization",
    "FeedForward": "keras_position_wise_feed_forward",
    "gelu": "keras_transformer",
}


def _weight_names(class_name: str, name: str, config: dict[str, Any]) -> list[str]:
    """The weights the library's layer creates for ``config``, in its order (names relative to the layer)."""
    if class_name in ("TokenEmbedding", "EmbeddingRet", "TaskEmbedding", "PositionEmbedding"):
        return ["embeddings"]
    if class_name == "EmbeddingSimilarity" or (class_name == "EmbeddingSim" and config.get("use_bias", True)):
        return ["bias"]
    if class_name == "MultiHeadAttention":
        bias = config.get("use_bias", True)
        return [f"{name}_{w}{x}" for x in "qkvo" for w in ("W", "b") if w == "W" or bias]
    if class_name == "FeedForward":
        bias = config.get("use_bias", True)
        return [f"{name}_{w}{x}" for x in "12" for w in ("W", "b") if w == "W" or bias]
    if class_name == "SeqSelfAttention":
        attention_bias = config.get("use_attention_bias", True)
        if config.get("attention_type", "additive") == "multiplicative":
            return [f"{name}_Mul_Wa"] + ([f"{name}_Mul_ba"] if attention_bias else [])
        return [f"{name}_Add_{w}" for w, keep in (("Wt", True), ("Wx", True),
                                                 ("bh", config.get("use_additive_bias", True)), ("Wa", True),
                                                 ("ba", attention_bias)) if keep]
    return []


# --------------------------------------------------------------------------
# keras-multi-head's MultiHead wrapper
# --------------------------------------------------------------------------

# Every key keras-multi-head 0.29's MultiHead.get_config writes besides the base keys
# (no `layer_num`: the heads are listed in `layers`).
MULTI_HEAD_KEYS = CLASSES["MultiHead"][1]


def _with_bias(names: list[str]) -> Callable[[dict[str, Any]], list[str]]:
    return lambda config: [n for n in names if not n.endswith("bias") or config.get("use_bias", True)]


# Data: the head classes a MultiHead may wrap, with their weights in creation order
# given the head's config. tf_keras saves head i's weights as
# `<wrapper>/sub_<i>/<weight>`, Keras 3 keeps them as `<wrapper>/<head>/<weight>`:
# the same <weight> names, the same order. Another class is refused (its weight
# names are not known here, and pairing by guess could fill the wrong variable).
MULTI_HEAD_HEADS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "Dense": _with_bias(["kernel", "bias"]),
    "Conv1D": _with_bias(["kernel", "bias"]),
    "Conv2D": _with_bias(["kernel", "bias"]),
    "LSTM": _with_bias(["lstm_cell/kernel", "lstm_cell/recurrent_kernel", "lstm_cell/bias"]),
    "GRU": _with_bias(["gru_cell/kernel", "gru_cell/recurrent_kernel", "gru_cell/bias"]),
    "SimpleRNN": _with_bias(["simple_rnn_cell/kernel", "simple_rnn_cell/recurrent_kernel", "simple_rnn_cell/bias"]),
}

# Head config keys tf_keras writes that Keras 3's built-ins refuse, with the only
# value that keeps the layer the same (another value is refused).
MULTI_HEAD_DROPPED_HEAD_KEYS: dict[str, tuple[Any, str]] = {
    "time_major": (False, "Keras 3's recurrent layers are batch-major, as time_major=False is"),
    "batch_input_shape": (None, "a head is built by its wrapper, on the shape the wrapper gives it"),
}
_RECURRENT = frozenset({"LSTM", "GRU", "SimpleRNN"})


def _multi_head_refusal(config: dict[str, Any], what: str) -> PortError:
    name = str(config.get("name", "?"))
    return PortError(name, f"layer {name!r} looks like keras-multi-head's MultiHead but {what}; it is another "
                           "class of that name: rebuild the model in Keras 3 code and pass --model path/to/file.py:factory")


def _heads(config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The (class name, config) of each head, refused in one line when the list is not the library's."""
    heads = config.get("layers")
    if not isinstance(heads, list) or not heads:
        raise _multi_head_refusal(config, "its 'layers' is not a non-empty list of layer configs")
    found = []
    for index, head in enumerate(heads):
        class_name = head.get("class_name") if isinstance(head, dict) else None
        head_config = head.get("config") if isinstance(head, dict) else None
        if not isinstance(head_config, dict) or not isinstance(head_config.get("name"), str):
            raise _multi_head_refusal(config, f"its head #{index} is not a layer config")
        if class_name not in MULTI_HEAD_HEADS:
            raise _multi_head_refusal(config, f"its head {head_config['name']!r} is a {class_name}, which the port "
                                              f"does not wrap (known heads: {', '.join(MULTI_HEAD_HEADS)})")
        found.append((class_name, head_config))
    return found


def _is_slice(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 3 and all(v is None or type(v) is int for v in value)


def _checked_multi_head(config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The heads of a MultiHead config whose keys, heads and options are the library's; else one line."""
    missing = sorted(MULTI_HEAD_KEYS - set(config))
    if missing:
        raise _multi_head_refusal(config, f"its config lacks keys the library always writes ({', '.join(missing)})")
    heads = _heads(config)
    hidden = config["hidden_dim"]
    if hidden is not None and not (type(hidden) is int and hidden > 0):
        raise _multi_head_refusal(config, f"its hidden_dim is {hidden!r}, not a positive int or null")
    index, slices, factor = config["reg_index"], config["reg_slice"], config["reg_factor"]
    if index is not None:
        smallest = min(len(MULTI_HEAD_HEADS[c](h)) for c, h in heads)
        if not (isinstance(index, list) and all(type(i) is int and 0 <= i < smallest for i in index)):
            raise _multi_head_refusal(config, f"its reg_index {index!r} is not a list of weight indices of its heads")
        if not (isinstance(slices, list) and len(slices) == len(index) and all(
                s is None or _is_slice(s) or (isinstance(s, list) and s and all(map(_is_slice, s))) for s in slices)):
            raise _multi_head_refusal(config, f"its reg_slice {slices!r} is not one slice list per reg_index")
        if not (isinstance(factor, list) and len(factor) == len(index)
                and all(isinstance(f, (int, float)) and not isinstance(f, bool) for f in factor)):
            raise _multi_head_refusal(config, f"its reg_factor {factor!r} is not one number per reg_index")
    return heads


def _keras3_head(class_name: str, head_config: dict[str, Any], wrapper: dict[str, Any]) -> dict[str, Any]:
    """One head's legacy config as Keras 3 serializes a built-in layer (``module`` and all).

    Left as data: Keras 3 builds it when the wrapper is built, after every
    family's fixes (the Keras 2 ``hard_sigmoid`` of a recurrent head is pinned
    by the built-ins family, which walks nested configs too).
    """
    head_config = _pin_gelu(dict(head_config))
    for key, (keep, _why) in MULTI_HEAD_DROPPED_HEAD_KEYS.items():
        if key not in head_config:
            continue
        value = head_config.pop(key)
        if value != keep and (key != "time_major" or class_name in _RECURRENT):
            raise _multi_head_refusal(wrapper, f"its head {head_config['name']!r} has {key}={value!r}, "
                                               f"which Keras 3 has no equivalent of")
    return {"module": "keras.layers", "class_name": class_name, "config": head_config, "registered_name": None}


def _multi_head_config(config: dict[str, Any]) -> dict[str, Any]:
    heads = _checked_multi_head(config)
    return {**config, "layers": [_keras3_head(c, h, config) for c, h in heads]}


def _multi_head_rows(name: str, config: dict[str, Any]) -> list[Any]:
    """The wrapper's projection, then head by head: ``<name>/sub_<i>/<w>`` -> ``<head>/<w>``."""
    from modern.weight_maps import WeightRule

    heads = _checked_multi_head(config)
    rows = []
    if config["hidden_dim"] is not None:
        rows.append(WeightRule(f"{name}/{name}_W", f"{name}_W"))
        if config.get("use_bias", True):
            rows.append(WeightRule(f"{name}/{name}_b", f"{name}_b"))
    for index, (class_name, head_config) in enumerate(heads):
        rows += [WeightRule(f"{name}/sub_{index}/{weight}", f"{head_config['name']}/{weight}")
                 for weight in MULTI_HEAD_HEADS[class_name](head_config)]
    return rows


def _rows(class_name: str) -> Callable[[str, dict[str, Any]], list[Any]]:
    if class_name == "MultiHead":
        return _multi_head_rows

    def rows(name: str, config: dict[str, Any]) -> list[Any]:
        from modern.weight_maps import WeightRule

        # The ports keep the library's weight names: row for row, name for name.
        return [WeightRule(f"{name}/{weight}", weight) for weight in _weight_names(class_name, name, config)]

    return rows


def _checked(class_name: str, config: dict[str, Any]) -> dict[str, Any]:
    """The config, refused in one line when it carries keys the library never writes."""
    _, allowed, _ = CLASSES[class_name]
    extra = sorted(set(config) - allowed - BASE_KEYS)
    if extra:
        raise PortError(
            str(config.get("name", "?")),
            f"layer {config.get('name', '?')!r} looks like the CyberZHG family's {class_name} but its config has "
            f"keys the library never writes ({', '.join(extra)}); it is another class of that name: "
            "rebuild the model in Keras 3 code and pass --model path/to/file.py:factory",
        )
    mode = config.get("mode")
    if class_name in ("PositionEmbedding", "TrigPosEmbedding") and mode not in ("expand", "add", "concat"):
        raise PortError(str(config.get("name", "?")), f"layer {config.get('name')!r}: {class_name} mode {mode!r} "
                                                      "is none of the library's (expand, add, concat)")
    return config


def _pin_gelu(config: dict[str, Any]) -> dict[str, Any]:
    for key in ("activation", "attention_activation"):
        if config.get(key) == "gelu":
            config[key] = GELU
    return config


def modern_config(class_name: str, config: dict[str, Any]) -> dict[str, Any]:
    """The legacy layer config as its port's constructor arguments."""
    config = _pin_gelu(dict(_checked(class_name, config)))
    # Keras 3 takes the length from the input; the port refuses the key.
    config.pop("input_length", None)
    if class_name == "MultiHead":
        config = _multi_head_config(config)
    return config


def _build(class_name: str) -> Callable[[dict[str, Any]], Any]:
    def build(config: dict[str, Any]) -> Any:
        import modern.layers.bert_family as ports

        config = modern_config(class_name, config)
        # The registered name is for Keras 3's legacy loader; a direct build
        # takes the function.
        config.update({k: ports.gelu_tanh for k, v in config.items() if v == GELU})
        return getattr(ports, CLASSES[class_name][2]).from_config(config)

    return build


def _is_ours(layer: dict[str, Any]) -> bool:
    legacy = legacy_class_of(layer)
    return legacy is not None and family_of(legacy) is FAMILY


# Layers whose (first) input is integer ids: token, segment, task, position.
_ID_CONSUMERS = frozenset({"Embedding", "TokenEmbedding", "EmbeddingRet"})


def _integer_token_inputs(config: dict[str, Any]) -> None:
    """Declare ``int32`` the float ``Input`` layers that only feed embedding lookups.

    keras-bert's ``Input-Token`` and ``Input-Segment`` are float32 inputs
    holding ids (Keras 2 embeddings cast them). Declared as ids, the ported
    model says what it takes and the port's probe input draws ids instead of
    normal noise (negative "ids" fail on the legacy side). Keras 3 casts a
    float array given to an int input, as the legacy embeddings did.
    """
    layers = list(iter_layers(config))
    consumers: dict[str, set[str]] = {}
    for layer in layers:
        for node in layer.get("inbound_nodes") or []:
            for item in node if isinstance(node, list) else []:
                if isinstance(item, list) and item and isinstance(item[0], str):
                    consumers.setdefault(item[0], set()).add(str(layer.get("class_name")))
    for layer in layers:
        layer_config = layer.get("config")
        if layer.get("class_name") != "InputLayer" or not isinstance(layer_config, dict):
            continue
        used_by = consumers.get(str(layer_config.get("name")), set())
        if used_by and used_by <= _ID_CONSUMERS and layer_config.get("dtype") == "float32":
            layer_config["dtype"] = "int32"


def translate(config: dict[str, Any]) -> dict[str, Any]:
    """Swap this family's entries for their registered ports and apply the file-wide fixes.

    Only files with at least one layer of this family change. Each of its
    entries gets the port's registered name as ``class_name`` (Keras 3's
    loader finds registered classes by that name before any custom object)
    and the port's constructor arguments as ``config``.
    """
    layers = list(iter_layers(config))
    if not any(_is_ours(layer) for layer in layers):
        return config
    config = copy.deepcopy(config)
    import modern.compat  # noqa: F401  (registers the Keras 2 merge layers)
    import modern.layers.bert_family  # noqa: F401  (registers the ports and gelu_tanh)

    _integer_token_inputs(config)
    for layer in iter_layers(config):
        legacy = legacy_class_of(layer)
        layer_config = layer.get("config")
        if legacy is not None and family_of(legacy) is FAMILY:
            layer["config"] = modern_config(legacy.class_name, layer_config)
            layer["class_name"] = f"{PACKAGE}>{CLASSES[legacy.class_name][2]}"
        elif isinstance(layer_config, dict):
            _pin_gelu(layer_config)
            if layer.get("class_name") in MERGE_LAYERS:
                layer["class_name"] = f"migrate_compat>{layer['class_name']}"
    return config


def legacy_custom_objects() -> dict[str, Any]:
    """The libraries' own classes (and their ``gelu``), imported on tf_keras in the oracle's child."""
    import tf_keras

    objects: dict[str, Any] = {}
    for name, module in LIBRARY_MODULES.items():
        try:
            objects[name] = getattr(importlib.import_module(module), name)
        except ImportError:
            continue  # the oracle names what a file needs and is missing
        if isinstance(objects[name], type) and not issubclass(objects[name], tf_keras.layers.Layer):
            # `from tensorflow import keras` gave Keras 3: the child was not
            # told where the libraries are, so it did not switch tf.keras.
            raise PortError("--verify", "the CyberZHG libraries must run on tf_keras: pass --legacy-path DIR "
                                        "(the directory where keras-bert & co. are installed)")
    return objects


FAMILY = Family(
    name="bert-family",
    description="CyberZHG layers (keras-bert, keras-transformer, keras-gpt-2 and their layer libraries) "
                "-> modern.layers.bert_family",
    legacy_classes=tuple(
        LegacyClass(class_name, required, _build(class_name), _rows(class_name),
                    called_on="several" if class_name in CALLED_ON_SEVERAL else None)
        for class_name, (required, _, _) in CLASSES.items()
    ),
    translate_config=translate,
    legacy_custom_objects=legacy_custom_objects,
    originals=True,
)
