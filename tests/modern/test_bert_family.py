"""``modern.layers.bert_family`` against goldens made by the real CyberZHG libraries.

The goldens (``tests/goldens/bert_family``) come from
``legacy_ref/artefacts/bert_family.py``, which runs keras-bert,
keras-multi-head, keras-self-attention... on tf_keras and records each
library's version. Backend-agnostic: runs again under jax and torch
(``-m backends``). Run with ``-s`` to see every case's maximum difference.
"""

from __future__ import annotations

import inspect
import json

import keras
import numpy as np
import pytest
from keras import ops

from modern.layers import bert_family
from tests.modern.goldens import GOLDEN_DIR, assert_matches_golden, load_golden, max_abs_diff

CASES = sorted(p.stem for p in (GOLDEN_DIR / "bert_family").glob("*.npz") if p.stem != "gelu")

# The library classes and their ports (keras-embed-sim's names included).
PORTS = {
    "TokenEmbedding": bert_family.TokenEmbedding,
    "EmbeddingSimilarity": bert_family.EmbeddingSimilarity,
    "EmbeddingSim": bert_family.EmbeddingSimilarity,
    "TaskEmbedding": bert_family.TaskEmbedding,
    "PositionEmbedding": bert_family.PositionEmbedding,
    "TrigPosEmbedding": bert_family.TrigPosEmbedding,
    "SeqSelfAttention": bert_family.SeqSelfAttention,
    "ScaledDotProductAttention": bert_family.ScaledDotProductAttention,
    "MultiHeadAttention": bert_family.MultiHeadAttention,
    "LayerNormalization": bert_family.LayerNormalization,
    "FeedForward": bert_family.FeedForward,
    "Masked": bert_family.Masked,
    "Extract": bert_family.Extract,
}

DIFFS: dict[str, float] = {}


def _golden(case):
    return load_golden(f"bert_family/{case}")


def _pick(names, arrays):
    if names is None:
        return None
    if isinstance(names, list):
        return [_pick(n, arrays) for n in names]
    return arrays[names]


def _port(golden):
    config = golden.config
    args = dict(config["args"])
    if args.get("activation") == "gelu":
        # The libraries' "gelu" is the tanh approximation (see activations.py).
        args["activation"] = bert_family.gelu_tanh
    return PORTS[config["layer"]](name=config["name"], **args)


def _filled(golden):
    """The port built on the golden's inputs, holding the golden's weights."""
    layer = _port(golden)
    inputs = _pick(golden.config["inputs"], golden.inputs)
    mask = _pick(golden.config.get("mask"), golden.inputs)
    # As the golden script did: a mask goes to call() only where call() takes one.
    kwargs = {} if mask is None or "mask" not in inspect.signature(layer.call).parameters else {"mask": mask}
    layer(inputs, **kwargs)
    for variable in layer.weights:
        variable.assign(golden.weights[variable.path])
    return layer, inputs, kwargs


@pytest.mark.parametrize("case", CASES)
def test_matches_library_golden_with_the_librarys_weight_names(case):
    golden = _golden(case)
    layer, inputs, kwargs = _filled(golden)
    # Same names, same order as the library's weights (what a port pairs by).
    assert [v.path for v in layer.weights] == golden.config["weight_order"]
    outputs = layer(inputs, training=False, **kwargs) if golden.config["layer"] == "FeedForward" else layer(
        inputs, **kwargs)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    DIFFS[f"{case}:y"] = assert_matches_golden(outputs[0], golden.outputs["y"], what=f"{case} y")
    if "second" in golden.outputs:
        DIFFS[f"{case}:second"] = assert_matches_golden(outputs[1], golden.outputs["second"], what=f"{case} second")
    else:
        assert len(outputs) == 1
    if "mask" in golden.outputs:
        mask = layer.compute_mask(inputs, _pick(golden.config.get("mask"), golden.inputs))
        mask = mask[0] if isinstance(mask, list) else mask
        np.testing.assert_array_equal(ops.convert_to_numpy(mask).astype(bool), golden.outputs["mask"].astype(bool))
    if "loss" in golden.outputs:
        assert len(layer.losses) == 1
        DIFFS[f"{case}:loss"] = assert_matches_golden(layer.losses[0], golden.outputs["loss"], atol=1e-5 * max(
            1.0, abs(float(golden.outputs["loss"]))), what=f"{case} regularizer loss")


def test_gelu_tanh_matches_library_and_differs_from_keras_default():
    golden = load_golden("bert_family/gelu")
    x = golden.inputs["x"]
    DIFFS["gelu:tanh"] = assert_matches_golden(bert_family.gelu_tanh(x), golden.outputs["y"], atol=1e-6, what="gelu")
    # Keras 3's "gelu" (erf) is another function: a silent change if swapped.
    erf = max_abs_diff(ops.convert_to_numpy(keras.activations.gelu(x)), golden.outputs["y"])
    DIFFS["gelu:keras-default-erf (expected > 1e-4)"] = erf
    assert 1e-4 < erf < 1e-3, erf


@pytest.mark.parametrize("case", ["mha_qkv", "seq_self_attention_multiplicative", "token_embedding", "feed_forward_gelu"])
def test_keras_file_round_trip(case, tmp_path):
    """A functional model of the port saves to .keras and loads (safe mode) with its numbers."""
    golden = _golden(case)
    layer, inputs, _ = _filled(golden)
    arrays = inputs if isinstance(inputs, list) else [inputs]
    tensors = [keras.Input(shape=a.shape[1:], dtype=str(a.dtype)) for a in arrays]
    out = layer(tensors if isinstance(inputs, list) else tensors[0])
    model = keras.Model(tensors, out)
    before = model.predict(arrays, verbose=0)
    path = tmp_path / f"{case}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    after = loaded.predict(arrays, verbose=0)
    for b, a in zip(before if isinstance(before, list) else [before], after if isinstance(after, list) else [after]):
        assert max_abs_diff(a, b) == 0.0
    inner = loaded.get_layer(golden.config["name"])
    assert type(inner) is type(layer)
    assert inner.get_config() == layer.get_config()
    if case == "feed_forward_gelu":
        # The tanh gelu survives the file under its own name, not as Keras's "gelu".
        assert "gelu_tanh" in json.dumps(inner.get_config()["activation"])


def test_print_max_abs_diffs():
    for key, value in sorted(DIFFS.items()):
        print(f"  {key}: {value:.3g}")
