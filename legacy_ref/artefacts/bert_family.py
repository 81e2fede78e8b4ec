"""Goldens and full-model files made by the real CyberZHG libraries (keras-bert and the ones under it).

Run on tf_keras, in a process of its own, with the published libraries importable::

    TF_USE_LEGACY_KERAS=1 python -m legacy_ref.artefacts.bert_family goldens [--out tests/goldens/bert_family]
    TF_USE_LEGACY_KERAS=1 python -m legacy_ref.artefacts.bert_family bert OUT.h5 [--no-training-config] ...
    TF_USE_LEGACY_KERAS=1 python -m legacy_ref.artefacts.bert_family test-files DIR

``TF_USE_LEGACY_KERAS=1`` is needed because the libraries write
``from tensorflow import keras``; it is set for this process only, never in
the test process. The libraries are found in ``--legacy-path DIR`` (default:
``<venv>/realworld``, where ``./dev`` installs them) and appended to
``sys.path`` *after* everything else, so the ``tests`` and ``demo`` packages
they ship cannot shadow ours.

``goldens`` builds each layer of the family once, from fixed seeds, sets
every weight to a fixed non-trivial draw, runs a fixed input through it in
inference mode and saves the case (:mod:`legacy_ref.goldens.format`; the
config records the library and its version) as
``tests/goldens/bert_family/<case>.npz``. ``bert`` saves a tiny
``keras_bert.get_model`` as a full-model HDF5 file, the input of the
no-code port tests.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "tests" / "goldens" / "bert_family"
DEFAULT_LEGACY_PATH = Path(sys.prefix) / "realworld"
SEED = 15

# The libraries and the distributions that carry them, for the version in each golden.
DISTRIBUTIONS = {
    "keras_bert": "keras-bert",
    "keras_embed_sim": "keras-embed-sim",
    "keras_pos_embd": "keras-pos-embd",
    "keras_layer_normalization": "keras-layer-normalization",
    "keras_position_wise_feed_forward": "keras-position-wise-feed-forward",
    "keras_self_attention": "keras-self-attention",
    "keras_multi_head": "keras-multi-head",
    "keras_transformer": "keras-transformer",
}


def use_libraries(legacy_path: Path) -> None:
    """Make the published libraries importable (on tf_keras) in this process."""
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise SystemExit("run with TF_USE_LEGACY_KERAS=1: the libraries import `from tensorflow import keras`")
    if not legacy_path.is_dir():
        raise SystemExit(f"{legacy_path}: no such directory; install the libraries (./dev test does) or pass --legacy-path")
    sys.path.append(str(legacy_path))


def _version(module: str) -> str:
    dist = DISTRIBUTIONS[module]
    path = Path(sys.modules[module].__file__).resolve().parents[1]
    found = list(metadata.distributions(name=dist, path=[str(path)]))
    return found[0].version if found else metadata.version(dist)


# --------------------------------------------------------------------------
# The cases: (name, library module, class name, constructor args, call inputs, call masks)
# --------------------------------------------------------------------------


def _inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The fixed inputs every case draws from (batch 2, length 5, width 8)."""
    tokens = np.array([[2, 7, 11, 4, 0], [3, 19, 0, 0, 0]], dtype="int32")
    return {
        "x": rng.normal(0.0, 1.0, (2, 5, 8)).astype("float32"),
        "q": rng.normal(0.0, 1.0, (2, 3, 8)).astype("float32"),
        "k": rng.normal(0.0, 1.0, (2, 5, 6)).astype("float32"),
        "v": rng.normal(0.0, 1.0, (2, 5, 8)).astype("float32"),
        "matrix": rng.normal(0.0, 0.5, (20, 8)).astype("float32"),
        "tokens": tokens,
        "mask": (tokens != 0),
        "q_mask": np.array([[1, 1, 0], [1, 0, 0]], dtype=bool),
        "positions": np.array([[-7, -2, 0, 3, 9], [0, 1, 2, 3, 4]], dtype="int32"),
        "float_positions": np.array([[0.0, 1.0, 2.0, 5.0, 11.0], [3.0, 2.0, 1.0, 0.0, 7.0]], dtype="float32"),
        "tasks": np.array([[2], [0]], dtype="int32"),
        "marks": np.array([[0, 1, 1, 0, 1], [1, 0, 1, 1, 0]], dtype="int32"),
    }


# Each case: library module, class name, args, inputs (a name or a list of
# names), mask (None, a name, or a list of names/None).
CASES: dict[str, dict[str, Any]] = {
    "token_embedding": dict(module="keras_bert", cls="TokenEmbedding",
                            args={"input_dim": 20, "output_dim": 8, "mask_zero": True}, inputs="tokens"),
    "embedding_similarity": dict(module="keras_bert", cls="EmbeddingSimilarity", args={},
                                 inputs=["x", "matrix"], mask=["mask", None]),
    "embed_sim_no_bias": dict(module="keras_embed_sim", cls="EmbeddingSim", args={"use_bias": False},
                              inputs=["x", "matrix"]),
    "task_embedding": dict(module="keras_bert", cls="TaskEmbedding",
                           args={"input_dim": 3, "output_dim": 8, "mask_zero": True}, inputs=["x", "tasks"],
                           mask=["mask", None]),
    "position_expand": dict(module="keras_pos_embd", cls="PositionEmbedding",
                            args={"input_dim": 4, "output_dim": 6, "mode": "expand", "mask_zero": True},
                            inputs="positions"),
    "position_add": dict(module="keras_pos_embd", cls="PositionEmbedding",
                         args={"input_dim": 7, "output_dim": 8, "mode": "add"}, inputs="x", mask="mask"),
    "position_concat": dict(module="keras_pos_embd", cls="PositionEmbedding",
                            args={"input_dim": 7, "output_dim": 4, "mode": "concat"}, inputs="x"),
    "trig_expand": dict(module="keras_pos_embd", cls="TrigPosEmbedding",
                        args={"mode": "expand", "output_dim": 6}, inputs="float_positions"),
    "trig_add": dict(module="keras_pos_embd", cls="TrigPosEmbedding", args={"mode": "add"}, inputs="x", mask="mask"),
    "trig_concat": dict(module="keras_pos_embd", cls="TrigPosEmbedding",
                        args={"mode": "concat", "output_dim": 4}, inputs="x"),
    "seq_self_attention_additive": dict(module="keras_self_attention", cls="SeqSelfAttention",
                                       args={"units": 6}, inputs="x", mask="mask"),
    "seq_self_attention_history": dict(module="keras_self_attention", cls="SeqSelfAttention",
                                      args={"units": 4, "history_only": True, "attention_activation": "sigmoid",
                                            "use_additive_bias": False}, inputs="x"),
    "seq_self_attention_local": dict(module="keras_self_attention", cls="SeqSelfAttention",
                                    args={"units": 4, "attention_width": 3, "use_attention_bias": False},
                                    inputs="x", mask="mask"),
    "seq_self_attention_multiplicative": dict(
        module="keras_self_attention", cls="SeqSelfAttention",
        args={"attention_type": "multiplicative", "return_attention": True, "attention_regularizer_weight": 0.01},
        inputs="x", mask="mask"),
    "sdpa_self": dict(module="keras_self_attention", cls="ScaledDotProductAttention", args={}, inputs="x",
                      mask="mask"),
    "sdpa_qkv": dict(module="keras_self_attention", cls="ScaledDotProductAttention",
                     args={"return_attention": True, "history_only": True}, inputs=["q", "x", "v"],
                     mask=["q_mask", "mask", "mask"]),
    "mha_self": dict(module="keras_multi_head", cls="MultiHeadAttention",
                     args={"head_num": 2, "activation": None}, inputs="x", mask="mask"),
    "mha_qkv": dict(module="keras_multi_head", cls="MultiHeadAttention",
                    args={"head_num": 4, "history_only": True}, inputs=["q", "k", "v"],
                    mask=["q_mask", "mask", "mask"]),
    "mha_no_bias": dict(module="keras_multi_head", cls="MultiHeadAttention",
                        args={"head_num": 2, "use_bias": False, "activation": "tanh"}, inputs="x"),
    "layer_normalization": dict(module="keras_layer_normalization", cls="LayerNormalization", args={},
                                inputs="x", mask="mask"),
    "feed_forward_gelu": dict(module="keras_position_wise_feed_forward", cls="FeedForward",
                              args={"units": 12, "activation": "gelu", "dropout_rate": 0.1}, inputs="x",
                              mask="mask"),
    "feed_forward_relu": dict(module="keras_position_wise_feed_forward", cls="FeedForward",
                              args={"units": 6, "use_bias": False}, inputs="x"),
    "masked": dict(module="keras_bert", cls="Masked", args={"return_masked": True}, inputs=["x", "marks"],
                   mask=["mask", None]),
    "extract": dict(module="keras_bert", cls="Extract", args={"index": 1}, inputs="x", mask="mask"),
}


def _library_class(module: str, cls: str) -> Any:
    import importlib

    # keras-bert keeps its layers in a subpackage it does not re-export.
    where = "keras_bert.layers" if module == "keras_bert" else module
    return getattr(importlib.import_module(where), cls)


def _library_gelu() -> Callable[[Any], Any]:
    from keras_transformer import gelu

    return gelu


def _pick(names: Any, arrays: dict[str, np.ndarray]) -> Any:
    if names is None:
        return None
    if isinstance(names, list):
        return [_pick(n, arrays) for n in names]
    return arrays[names]


def _flatten(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def make_case(name: str, spec: dict[str, Any]) -> Any:
    """Run one library layer on its fixed input; return the golden case."""
    import tensorflow as tf
    import tf_keras

    from legacy_ref.goldens.format import GoldenCase

    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    arrays = _inputs(rng)
    args = dict(spec["args"])
    if args.get("activation") == "gelu":
        args["activation"] = _library_gelu()
    layer = _library_class(spec["module"], spec["cls"])(name=name, **args)
    inputs = _pick(spec["inputs"], arrays)
    mask = _pick(spec.get("mask"), arrays)
    as_tensors = (lambda v: None if v is None else tf.constant(v))
    tf_inputs = [as_tensors(v) for v in inputs] if isinstance(inputs, list) else as_tensors(inputs)
    tf_mask = [as_tensors(v) for v in mask] if isinstance(mask, list) else as_tensors(mask)
    # A mask goes to call() only where call() takes one; compute_mask gets it always.
    call_kwargs = {} if mask is None or not _takes(layer, "mask") else {"mask": tf_mask}
    layer(tf_inputs, **call_kwargs)  # build
    weights = {}
    for variable in layer.weights:
        value = rng.normal(0.0, 0.5, variable.shape).astype("float32")
        variable.assign(value)
        weights[variable.name.split(":")[0]] = value
    outputs = _flatten(layer(tf_inputs, training=False, **call_kwargs) if _takes(layer, "training")
                       else layer(tf_inputs, **call_kwargs))
    result = {"y": outputs[0].numpy()}
    if len(outputs) > 1:
        result["second"] = outputs[1].numpy()
    out_mask = layer.compute_mask(tf_inputs, tf_mask)
    first_mask = _flatten(out_mask)[0] if out_mask is not None else None
    if first_mask is not None:
        result["mask"] = np.asarray(first_mask)
    if layer.losses:
        result["loss"] = np.asarray(sum(float(v) for v in layer.losses), dtype="float32")
    used = set(_flatten(spec["inputs"])) | {m for m in _flatten(spec.get("mask")) if m is not None}
    config = {
        "case": name,
        "library": DISTRIBUTIONS[spec["module"]],
        "version": _version(spec["module"]),
        "layer": spec["cls"],
        "name": name,
        "args": spec["args"],
        "inputs": spec["inputs"],
        "mask": spec.get("mask"),
        "weight_order": list(weights),
    }
    return GoldenCase(config=config, inputs={k: arrays[k] for k in sorted(used)}, weights=weights, outputs=result)


def _takes(layer: Any, argument: str) -> bool:
    import inspect

    parameters = inspect.signature(layer.call).parameters
    return argument in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def make_gelu_case() -> Any:
    """The family's tanh gelu on a grid (where it differs most from the erf gelu: |x| ~ 2)."""
    import tensorflow as tf

    from legacy_ref.goldens.format import GoldenCase

    x = np.linspace(-6.0, 6.0, 241).astype("float32")
    y = _library_gelu()(tf.constant(x)).numpy()
    config = {"case": "gelu", "library": "keras-transformer", "version": _version("keras_transformer"),
              "layer": "gelu", "args": {}}
    return GoldenCase(config=config, inputs={"x": x}, outputs={"y": y})


# keras-multi-head's MultiHead wrapper: (template class, template args, wrapper args,
# input, mask). ``reg_slice`` is given per regularized index in the library's
# config form (``[start, stop, step]``, or a list of those for a tuple of slices).
MULTI_HEAD_CASES: dict[str, dict[str, Any]] = {
    "multi_head_dense": dict(template=("Dense", {"units": 4, "activation": "tanh", "bias_initializer": "random_normal"}),
                             args={"layer_num": 3}, inputs="x", mask="mask"),
    "multi_head_dense_hidden": dict(template=("Dense", {"units": 5, "bias_initializer": "random_normal"}),
                                    args={"layer_num": 2, "hidden_dim": 8, "reg_index": [0, 1], "reg_factor": 0.1},
                                    inputs="x"),
    "multi_head_lstm": dict(template=("LSTM", {"units": 3, "return_sequences": True,
                                              "bias_initializer": "random_normal"}),
                            args={"layer_num": 2, "hidden_dim": 8, "use_bias": False, "reg_index": [1, 2],
                                  "reg_slice": [[[0, 3, None], [3, 6, None]], [0, 6, None]],
                                  "reg_factor": [0.01, 0.5]},
                            inputs="x", mask="mask"),
    "multi_head_conv1d": dict(template=("Conv1D", {"filters": 3, "kernel_size": 2, "padding": "causal",
                                                   "bias_initializer": "random_normal"}),
                              args={"layer_num": 2}, inputs="x"),
}


def _python_slices(reg_slice: Any) -> Any:
    """The JSON form of ``reg_slice`` (per index) as the Python slices the constructor takes."""
    if reg_slice is None:
        return None
    return [None if s is None else tuple(slice(*b) for b in s) if isinstance(s[0], list) else slice(*s)
            for s in reg_slice]


def make_multi_head_case(name: str, spec: dict[str, Any]) -> Any:
    """Run keras-multi-head's MultiHead around a tf_keras template on its fixed input.

    The heads keep the weights they were built with (seeded draws): the
    library computes its regularization term inside ``build`` from those
    values (``get_weights``), and a functional model's ``losses`` hold it
    until the model is first called, so that is when it is read. The input
    projection (``hidden_dim``) gets a fixed draw afterwards, as the other
    cases' weights do.
    """
    import tensorflow as tf
    import tf_keras
    from keras_multi_head import MultiHead

    from legacy_ref.goldens.format import GoldenCase

    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    arrays = _inputs(rng)
    template_class, template_args = spec["template"]
    args = {**spec["args"], "reg_slice": _python_slices(spec["args"].get("reg_slice"))}
    layer = MultiHead(getattr(tf_keras.layers, template_class)(name=f"{name}_head", **template_args), name=name,
                      **args)
    x = arrays[spec["inputs"]]
    inputs = [tf_keras.Input(shape=x.shape[1:])]
    mask = arrays[spec["mask"]] if spec.get("mask") else None
    if mask is not None:
        inputs.append(tf_keras.Input(shape=mask.shape[1:], dtype="bool"))
    model = tf_keras.Model(inputs, layer(inputs[0], mask=inputs[1] if mask is not None else None))
    built_losses = [float(v) for v in model.losses]
    weights = {}
    for variable in layer.weights:
        key = variable.name.split(":")[0]
        if key.startswith(f"{name}/{name}_"):
            variable.assign(rng.normal(0.0, 0.5, variable.shape).astype("float32"))
        weights[key] = variable.numpy()
    feeds = [x] + ([mask] if mask is not None else [])
    result = {"y": model(feeds, training=False).numpy()}
    # What a train step sees after its forward call: the library's term is gone by then.
    losses_after_a_call = len(model.losses)
    out_mask = layer.compute_mask(tf.constant(x), None if mask is None else tf.constant(mask))
    if out_mask is not None:
        result["mask"] = np.asarray(out_mask)
    if built_losses:
        result["loss"] = np.asarray(sum(built_losses), dtype="float32")
    config = {
        "case": name,
        "library": DISTRIBUTIONS["keras_multi_head"],
        "version": _version("keras_multi_head"),
        "layer": "MultiHead",
        "name": name,
        "template": {"class_name": template_class, "config": {"name": f"{name}_head", **template_args}},
        "args": spec["args"],
        "inputs": spec["inputs"],
        "mask": spec.get("mask"),
        "weight_order": list(weights),
        "head_names": [head.name for head in layer.layers],
        "library_losses_after_a_call": losses_after_a_call,
    }
    used = {spec["inputs"]} | ({spec["mask"]} if spec.get("mask") else set())
    return GoldenCase(config=config, inputs={k: arrays[k] for k in sorted(used)}, weights=weights, outputs=result)


def write_goldens(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    cases = [(name, make_case(name, spec)) for name, spec in CASES.items()] + [("gelu", make_gelu_case())]
    for name, case in cases:
        path = out_dir / f"{name}.npz"
        case.save(path)
        paths.append(path)
    # The MultiHead wrapper's cases in a folder of their own: they are read by
    # tests/modern/test_bert_family_multi_head.py, not by the per-layer loop.
    (out_dir / "multi_head").mkdir(exist_ok=True)
    for name, spec in MULTI_HEAD_CASES.items():
        path = out_dir / "multi_head" / f"{name}.npz"
        make_multi_head_case(name, spec).save(path)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------
# Full-model files
# --------------------------------------------------------------------------

BERT_ARGS: dict[str, Any] = {"token_num": 20, "pos_num": 16, "seq_len": 8, "embed_dim": 8, "transformer_num": 2,
                             "head_num": 2, "feed_forward_dim": 12, "dropout_rate": 0.1}


def bert_probe() -> list[np.ndarray]:
    """Inputs of the tiny BERT: tokens (with padding), segments, masked-LM marks."""
    tokens = np.array([[2, 5, 9, 3, 7, 3, 0, 0], [2, 11, 3, 12, 13, 14, 3, 0]], dtype="float32")
    segments = np.array([[0, 0, 0, 0, 1, 1, 0, 0], [0, 0, 0, 1, 1, 1, 1, 0]], dtype="float32")
    marks = np.array([[0, 1, 0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 0, 1, 0, 0]], dtype="float32")
    return [tokens, segments, marks]


def write_bert(path: Path, *, training_config: bool = True, training: bool = True, **overrides: Any) -> Path:
    """Save a tiny ``keras_bert.get_model`` (non-trivial weights) as a full-model HDF5 file."""
    import warnings

    import tf_keras
    import keras_bert

    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(SEED)
    args = {**BERT_ARGS, **overrides}
    built = keras_bert.get_model(training=training, **args)
    model = built if training else tf_keras.models.Model(*built)
    rng = np.random.default_rng(SEED)
    model.set_weights([rng.normal(0.0, 0.3, w.shape).astype("float32") for w in model.get_weights()])
    if training_config:
        # keras-bert's own AdamWarmup is written for the OptimizerV2 API that
        # tf_keras 2.21's default optimizers no longer have; its legacy Adam
        # is what such a file holds.
        model.compile(optimizer=tf_keras.optimizers.legacy.Adam(1e-3), loss="sparse_categorical_crossentropy")
        # A few steps, so the file holds optimizer state as a trained checkpoint does.
        probe = bert_probe()
        if training:
            targets = [rng.integers(0, args["token_num"], (2, args["seq_len"], 1)), rng.integers(0, 2, (2, 1))]
        else:
            targets = rng.integers(0, 2, (2, args["seq_len"], 1))
        model.fit(probe if training else probe[:2], targets, epochs=2, batch_size=2, verbose=0, shuffle=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        model.save(str(path), save_format="h5", include_optimizer=training_config)
    return path


def _randomised(model: Any) -> Any:
    rng = np.random.default_rng(SEED)
    model.set_weights([rng.normal(0.0, 0.3, w.shape).astype("float32") for w in model.get_weights()])
    return model


def write_transformer(path: Path) -> Path:
    """A tiny keras-transformer encoder-decoder (its decoder calls MultiHeadAttention on
    ``[query, encoded, encoded]``), saved without a training config."""
    import tf_keras
    import keras_transformer

    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(SEED)
    model = _randomised(keras_transformer.get_model(token_num=20, embed_dim=8, encoder_num=1, decoder_num=1,
                                                    head_num=2, hidden_dim=12, dropout_rate=0.1))
    model.save(str(path), save_format="h5", include_optimizer=False)
    return path


def transformer_probe() -> list[np.ndarray]:
    encoder = np.array([[3, 5, 7, 2, 0, 0], [4, 9, 11, 13, 6, 2]], dtype="float32")
    decoder = np.array([[1, 8, 12, 0, 0, 0], [1, 3, 3, 5, 7, 0]], dtype="float32")
    return [encoder, decoder]


def _gpt2_model_module() -> Any:
    """keras-gpt-2's ``model`` module alone: the package's ``__init__`` also imports its
    BPE tokenizer, which needs ``regex`` (not installed: the libraries come with --no-deps)."""
    import importlib.util

    spec = importlib.util.find_spec("keras_gpt_2")
    assert spec is not None and spec.submodule_search_locations
    path = Path(list(spec.submodule_search_locations)[0]) / "model.py"
    module_spec = importlib.util.spec_from_file_location("keras_gpt_2_model", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def write_gpt2(path: Path) -> Path:
    """A tiny keras-gpt-2 model (causal attention, tied output), saved without a training config."""
    import tf_keras

    keras_gpt_2 = _gpt2_model_module()
    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(SEED)
    model = _randomised(keras_gpt_2.get_model(n_vocab=20, n_ctx=16, n_embd=8, n_head=2, n_layer=2))
    model.save(str(path), save_format="h5", include_optimizer=False)
    return path


def gpt2_probe() -> list[np.ndarray]:
    return [np.array([[3, 5, 7, 2, 9, 1, 4], [4, 9, 11, 13, 6, 2, 19]], dtype="float32")]


def write_multi_head(path: Path) -> Path:
    """A small model of keras-multi-head's MultiHead wrappers, trained two steps and saved with
    its training config: a masked input through MultiHead(LSTM) (two heads), and the
    input through MultiHead(Dense) (three heads, a projection and the regularization
    options), merged into a softmax."""
    import warnings

    import tf_keras
    from keras_multi_head import MultiHead

    layers = tf_keras.layers
    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(SEED)
    inputs = layers.Input(shape=(6, 4), name="Input")
    recurrent = MultiHead(layers.LSTM(3, name="rnn"), layer_num=2, name="MultiHead-LSTM")(
        layers.Masking(0.0, name="Masking")(inputs))
    dense = MultiHead(layers.Dense(5, activation="tanh", name="dense"), layer_num=3, hidden_dim=4,
                      reg_index=[0, 1], reg_slice=[(slice(0, 2), slice(None)), None], reg_factor=0.01,
                      name="MultiHead-Dense")(inputs)
    merged = layers.Concatenate(name="Concatenate")([layers.Flatten(name="Flatten-LSTM")(recurrent),
                                                     layers.Flatten(name="Flatten-Dense")(dense)])
    model = _randomised(tf_keras.Model(inputs, layers.Dense(2, activation="softmax", name="Output")(merged)))
    # Eagerly: the same two steps, without tracing the LSTM heads into a train
    # function (about 12 s of CPU here, for a step that computes the same).
    model.compile(optimizer=tf_keras.optimizers.legacy.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  run_eagerly=True)
    rng = np.random.default_rng(SEED)
    for _ in range(2):
        model.train_on_batch(multi_head_probe(), rng.integers(0, 2, (2, 1)))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        model.save(str(path), save_format="h5")
    return path


def multi_head_probe() -> list[np.ndarray]:
    """Two sequences, the first padded with zero steps (masked by the Masking layer)."""
    x = np.random.default_rng(SEED + 1).normal(0.0, 1.0, (2, 6, 4)).astype("float32")
    x[0, 4:] = 0.0
    return [x]


def legacy_outputs(path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    """The saved model's outputs on ``inputs``, loaded back the way the library's users loaded it."""
    import tf_keras
    import keras_bert
    import keras_transformer

    from keras_multi_head import MultiHead

    custom = {**keras_transformer.get_custom_objects(), **_gpt2_model_module().get_custom_objects(),
              **keras_bert.get_custom_objects(), "MultiHead": MultiHead}
    model = tf_keras.models.load_model(str(path), custom_objects=custom, compile=False)
    outputs = model(inputs, training=False)
    return [np.asarray(o) for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


def write_test_files(out_dir: Path) -> list[Path]:
    """Everything the port tests need, in one process: the goldens (to compare with
    the committed ones); a trained keras-bert file with its training config, a
    keras-bert feature model, a keras-transformer and a keras-gpt-2 file without
    one; a trained file of keras-multi-head's MultiHead wrappers; and each file's
    outputs on its probe (``<stem>.outputs.npz``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = write_goldens(out_dir / "goldens")
    files = (
        ("bert_train", lambda p: write_bert(p, training_config=True, training=True), bert_probe()),
        ("bert_features", lambda p: write_bert(p, training_config=False, training=False), bert_probe()[:2]),
        ("transformer", write_transformer, transformer_probe()),
        ("gpt2", write_gpt2, gpt2_probe()),
        ("multi_head", write_multi_head, multi_head_probe()),
    )
    for stem, write, probe in files:
        path = write(out_dir / f"{stem}.h5")
        outputs = legacy_outputs(path, probe)
        np.savez(out_dir / f"{stem}.outputs.npz", **{f"input_{i}": a for i, a in enumerate(probe)},
                 **{f"output_{i}": a for i, a in enumerate(outputs)})
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m legacy_ref.artefacts.bert_family", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--legacy-path", type=Path, default=DEFAULT_LEGACY_PATH,
                        help=f"directory holding the published libraries (default: {DEFAULT_LEGACY_PATH})")
    sub = parser.add_subparsers(dest="what", required=True)
    goldens = sub.add_parser("goldens", help="write the layer goldens")
    goldens.add_argument("--out", type=Path, default=DEFAULT_OUT)
    bert = sub.add_parser("bert", help="save a tiny keras_bert.get_model as a full-model HDF5 file")
    bert.add_argument("out", type=Path)
    bert.add_argument("--no-training-config", action="store_true", help="save without compiling")
    bert.add_argument("--features", action="store_true", help="the feature model (training=False)")
    bert.add_argument("--transformer-num", type=int, default=BERT_ARGS["transformer_num"])
    test_files = sub.add_parser("test-files", help="goldens, keras-bert files and their outputs, for the port tests")
    test_files.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    use_libraries(args.legacy_path)
    if args.what == "goldens":
        for path in write_goldens(args.out):
            print(f"wrote {path} ({path.stat().st_size} bytes)")
    elif args.what == "test-files":
        write_test_files(args.out)
        print(f"wrote {args.out}")
    else:
        write_bert(args.out, training_config=not args.no_training_config, training=not args.features,
                   transformer_num=args.transformer_num)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
