"""The tutorial's functions and layers in Keras 3 against the legacy goldens.

Each golden case was produced by ``legacy_ref.tutorial`` on ``tf_keras``; here
the :mod:`modern.layers.seq2seq` equivalent is built, filled through the
weight map of :mod:`modern.weight_maps.tutorial` (the one ``migrate port``
uses), called with the same inputs (legacy float masks converted to Keras
keep-masks) and compared at the migration tolerance. Runs on every Keras 3
backend; never imports TensorFlow or ``legacy_ref``.
"""

from __future__ import annotations

import numpy as np
import pytest

import keras
from keras import ops

from modern.layers.seq2seq import (
    AdditiveMaskMultiHeadAttention,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
    attention_mask_from_legacy,
    causal_padding_mask,
    padding_mask,
    positional_encoding,
    scaled_dot_product_attention,
)
from modern.weight_maps.tutorial import load_legacy_weights
from tests.modern.goldens import assert_matches_golden, load_golden

BACKEND = keras.backend.backend()


def _check(actual, expected, what):
    diff = assert_matches_golden(actual, expected, what=what)
    print(f"[{BACKEND}] {what}: max abs diff {diff:.3g}")
    return diff


def _np(x):
    return ops.convert_to_numpy(x)


# ---------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------


def test_positional_encoding_is_bit_identical():
    case = load_golden("tutorial_positional_encoding")
    table = positional_encoding(case.config["args"]["position"], case.config["args"]["d_model"])
    assert table.dtype == np.float32
    np.testing.assert_array_equal(table, case.outputs["pe"][0])
    print(f"[{BACKEND}] tutorial_positional_encoding: max abs diff 0 (bit-identical)")


def test_positional_encoding_odd_depth_and_errors():
    table = positional_encoding(7, 5)
    assert table.shape == (7, 5)
    np.testing.assert_array_equal(table[0], np.array([0, 1, 0, 1, 0], np.float32))
    with pytest.raises(ValueError):
        positional_encoding(5, 0)


def test_masks_match_tutorial_create_masks():
    case = load_golden("tutorial_masks")
    inp, tar = case.inputs["inp"], case.inputs["tar"]
    blocked = case.outputs

    keep_inp = _np(padding_mask(inp))
    assert keep_inp.shape == (inp.shape[0], 1, inp.shape[1]) and keep_inp.dtype == bool
    np.testing.assert_array_equal(keep_inp, blocked["padding_mask"][:, 0] == 0)
    np.testing.assert_array_equal(keep_inp, blocked["enc_padding_mask"][:, 0] == 0)
    np.testing.assert_array_equal(keep_inp, blocked["dec_padding_mask"][:, 0] == 0)

    keep_tar = _np(causal_padding_mask(tar))
    np.testing.assert_array_equal(keep_tar, blocked["look_ahead_combined"][:, 0] == 0)

    # The converter accepts each shape the tutorial builds.
    np.testing.assert_array_equal(_np(attention_mask_from_legacy(blocked["padding_mask"])), keep_inp)
    np.testing.assert_array_equal(_np(attention_mask_from_legacy(blocked["look_ahead_combined"])), keep_tar)
    np.testing.assert_array_equal(
        _np(attention_mask_from_legacy(blocked["look_ahead_mask"])), np.tril(np.ones((5, 5), bool))
    )
    assert attention_mask_from_legacy(None) is None
    with pytest.raises(ValueError, match="head axis"):
        attention_mask_from_legacy(np.zeros((2, 3, 4, 4), np.float32))


@pytest.mark.parametrize("return_scores", [True, False], ids=["with_scores", "without_scores"])
def test_scaled_dot_product_attention(return_scores):
    # depth_v (6) != depth (4) here, which jax's fused kernel does not take:
    # without scores this exercises the fallback to the explicit path there.
    case = load_golden("tutorial_scaled_dot_product_attention")
    # Legacy layout (batch, heads, seq, depth) -> Keras layout (batch, seq, heads, depth).
    q, k, v = (np.transpose(case.inputs[n], (0, 2, 1, 3)) for n in ("q", "k", "v"))
    mask = attention_mask_from_legacy(case.inputs["mask"])
    result = scaled_dot_product_attention(q, k, v, mask, return_attention_scores=return_scores)
    out = result[0] if return_scores else result
    what = f"sdpa output ({'with' if return_scores else 'without'} scores)"
    _check(np.transpose(_np(out), (0, 2, 1, 3)), case.outputs["output"], what)
    if return_scores:
        _check(result[1], case.outputs["attention_weights"], "sdpa attention_weights")


# ---------------------------------------------------------------------------
# Multi-head attention
# ---------------------------------------------------------------------------

MHA_CASES = ["tutorial_mha_padding", "tutorial_mha_look_ahead", "tutorial_mha_cross", "tutorial_mha_batch1"]


def _mha_from_case(case, layer=None):
    args = case.config["args"]
    if layer is None:
        layer = AdditiveMaskMultiHeadAttention(args["num_heads"], key_dim=args["d_model"] // args["num_heads"])
    layer.build(case.inputs["q"].shape, case.inputs["v"].shape, case.inputs["k"].shape)
    load_legacy_weights(layer, case.weights, "MultiHeadAttention")
    return layer


def _mha_call(layer, case, **kwargs):
    # The tutorial called layer(v, k, q, mask); Keras 3 names the arguments.
    return layer(
        query=case.inputs["q"],
        value=case.inputs["v"],
        key=case.inputs["k"],
        attention_mask=attention_mask_from_legacy(case.inputs.get("mask")),
        **kwargs,
    )


@pytest.mark.parametrize("name", MHA_CASES)
def test_mha_matches_golden(name):
    case = load_golden(name)
    layer = _mha_from_case(case)
    out, weights = _mha_call(layer, case, return_attention_scores=True)
    _check(out, case.outputs["output"], f"{name} output (explicit)")
    _check(weights, case.outputs["attention_weights"], f"{name} attention_weights")
    fused = _mha_call(layer, case)
    _check(fused, case.outputs["output"], f"{name} output (fused)")


@pytest.mark.parametrize("name", MHA_CASES)
def test_stock_keras_mha_agrees_where_every_query_sees_a_key(name):
    """The tutorial layer *is* keras.layers.MultiHeadAttention once the heads are split."""
    case = load_golden(name)
    args = case.config["args"]
    stock = keras.layers.MultiHeadAttention(args["num_heads"], key_dim=args["d_model"] // args["num_heads"])
    _mha_from_case(case, stock)
    out, weights = _mha_call(stock, case, return_attention_scores=True)
    _check(out, case.outputs["output"], f"{name} output (stock keras MHA)")
    _check(weights, case.outputs["attention_weights"], f"{name} attention_weights (stock keras MHA)")


def _tutorial_mha_numpy(q, k, v, blocked, weights, heads):
    """The 2021 formula in NumPy float32: additive -1e9 mask, softmax, heads concatenated."""

    def project(x, name):
        return x @ weights[f"{name}/kernel"] + weights[f"{name}/bias"]

    def split(x):
        b, t, d = x.shape
        return x.reshape(b, t, heads, d // heads).transpose(0, 2, 1, 3)

    qh, kh, vh = split(project(q, "wq")), split(project(k, "wk")), split(project(v, "wv"))
    logits = (qh @ kh.transpose(0, 1, 3, 2)) / np.sqrt(np.float32(qh.shape[-1]))
    logits = (logits + blocked * np.float32(-1e9)).astype(np.float32)
    logits = logits - logits.max(axis=-1, keepdims=True)
    attn = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    out = (attn @ vh).transpose(0, 2, 1, 3).reshape(q.shape[0], q.shape[1], -1)
    return project(out, "dense"), attn


def test_fully_masked_rows_attend_uniformly_like_the_tutorial():
    """A query whose keys are all padding: tutorial = uniform weights; stock Keras 3 = zeros."""
    case = load_golden("tutorial_mha_cross")
    q, k, v = case.inputs["q"], case.inputs["k"], case.inputs["v"]
    blocked = case.inputs["mask"].copy()
    blocked[1] = 1.0  # every key of the second sequence is padding
    ref_out, ref_attn = _tutorial_mha_numpy(q, k, v, blocked, case.weights, case.config["args"]["num_heads"])
    np.testing.assert_allclose(ref_attn[1], 1.0 / k.shape[1], rtol=1e-6)

    layer = _mha_from_case(case)
    keep = attention_mask_from_legacy(blocked)
    out, attn = layer(query=q, value=v, key=k, attention_mask=keep, return_attention_scores=True)
    _check(attn, ref_attn, "all-padding rows: attention_weights vs tutorial formula")
    _check(out, ref_out, "all-padding rows: output vs tutorial formula (explicit)")
    _check(layer(query=q, value=v, key=k, attention_mask=keep), ref_out, "all-padding rows: output (fused)")

    stock = keras.layers.MultiHeadAttention(4, key_dim=4)
    _mha_from_case(case, stock)
    _, stock_attn = stock(query=q, value=v, key=k, attention_mask=keep, return_attention_scores=True)
    # Documented Keras 3 behaviour, the reason for AdditiveMaskMultiHeadAttention.
    assert float(np.max(np.abs(_np(stock_attn)[1]))) == 0.0


def test_mha_rejects_dropout_and_rank_4_inputs():
    with pytest.raises(ValueError, match="dropout"):
        AdditiveMaskMultiHeadAttention(2, key_dim=4, dropout=0.1)
    layer = AdditiveMaskMultiHeadAttention(2, key_dim=4)
    with pytest.raises(ValueError, match="rank-3"):
        layer.build((1, 2, 3, 8), (1, 2, 3, 8))


# ---------------------------------------------------------------------------
# Encoder and decoder blocks
# ---------------------------------------------------------------------------


def _loaded(layer_class, *input_names):
    """A factory of ``layer_class`` for a golden case: built on the shapes of the
    named inputs, filled with the case's legacy weights."""

    def factory(case):
        layer = layer_class(**case.config["args"])
        layer.build(*(case.inputs[name].shape for name in input_names))
        load_legacy_weights(layer, case.weights)
        return layer

    return factory


_encoder_layer = _loaded(TransformerEncoderLayer, "x")
_decoder_layer = _loaded(TransformerDecoderLayer, "x", "enc_output")
_encoder = _loaded(TransformerEncoder, "x")
_decoder = _loaded(TransformerDecoder, "x", "enc_output")


def test_encoder_layer_matches_golden():
    case = load_golden("tutorial_encoder_layer")
    layer = _encoder_layer(case)
    y = layer(case.inputs["x"], attention_mask=attention_mask_from_legacy(case.inputs["mask"]), training=False)
    _check(y, case.outputs["y"], "tutorial_encoder_layer y")


@pytest.mark.parametrize("use_causal_mask", [False, True], ids=["legacy_mask_only", "causal_and_legacy_mask"])
def test_decoder_layer_matches_golden(use_causal_mask):
    case = load_golden("tutorial_decoder_layer")
    layer = _decoder_layer(case)

    def call(**kwargs):
        return layer(
            case.inputs["x"],
            case.inputs["enc_output"],
            self_attention_mask=attention_mask_from_legacy(case.inputs["look_ahead_mask"]),
            cross_attention_mask=attention_mask_from_legacy(case.inputs["padding_mask"]),
            use_causal_mask=use_causal_mask,
            **kwargs,
        )

    y, block1, block2 = call(training=False, return_attention_scores=True)
    tag = f"tutorial_decoder_layer (use_causal_mask={use_causal_mask})"
    _check(y, case.outputs["y"], f"{tag} y")
    _check(block1, case.outputs["block1"], f"{tag} block1")
    _check(block2, case.outputs["block2"], f"{tag} block2")
    _check(call(), case.outputs["y"], f"{tag} y (fused)")


def test_encoder_matches_golden():
    case = load_golden("tutorial_encoder")
    layer = _encoder(case)
    legacy_mask = attention_mask_from_legacy(case.inputs["mask"])
    _check(layer(case.inputs["x"], attention_mask=legacy_mask, training=False), case.outputs["y"], "tutorial_encoder y")
    # The Keras idiom: the same mask derived from the ids.
    y_idiom = layer(case.inputs["x"], attention_mask=padding_mask(case.inputs["x"]))
    _check(y_idiom, case.outputs["y"], "tutorial_encoder y (padding_mask)")


def test_decoder_matches_golden():
    case = load_golden("tutorial_decoder")
    layer = _decoder(case)
    x, enc = case.inputs["x"], case.inputs["enc_output"]
    cross = attention_mask_from_legacy(case.inputs["padding_mask"])
    y, attention = layer(
        x,
        enc,
        self_attention_mask=attention_mask_from_legacy(case.inputs["look_ahead_mask"]),
        cross_attention_mask=cross,
        use_causal_mask=False,
        training=False,
        return_attention_scores=True,
    )
    _check(y, case.outputs["y"], "tutorial_decoder y")
    expected_keys = sorted(k for k in case.outputs if k.startswith("decoder_layer"))
    assert sorted(attention) == expected_keys
    for key in expected_keys:
        _check(attention[key], case.outputs[key], f"tutorial_decoder {key}")
    # The Keras idiom: target padding mask + use_causal_mask=True (the default).
    y_idiom = layer(x, enc, self_attention_mask=padding_mask(x), cross_attention_mask=cross)
    _check(y_idiom, case.outputs["y"], "tutorial_decoder y (padding_mask + causal, fused)")


# ---------------------------------------------------------------------------
# Configuration and saving
# ---------------------------------------------------------------------------


# The layer cases of the round-trip tests; no factory means _mha_from_case.
LAYER_FACTORIES = [
    ("tutorial_mha_cross", None),
    ("tutorial_encoder_layer", _encoder_layer),
    ("tutorial_decoder_layer", _decoder_layer),
    ("tutorial_encoder", _encoder),
    ("tutorial_decoder", _decoder),
]


def _same_weights(a, b):
    assert [v.path.split("/", 1)[1] for v in a.weights] == [v.path.split("/", 1)[1] for v in b.weights]
    for va, vb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(_np(va), _np(vb))


@pytest.mark.parametrize("name, factory", LAYER_FACTORIES)
def test_get_config_round_trip(name, factory):
    case = load_golden(name)
    layer = _mha_from_case(case) if factory is None else factory(case)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer) and restored.get_config() == config
    assert keras.saving.get_registered_name(type(layer)) == f"modern>{type(layer).__name__}"


def _functional(name, layer, case):
    """A functional model around one layer, so it can go through a `.keras` file."""
    if name == "tutorial_mha_cross":
        q = keras.Input(case.inputs["q"].shape[1:], name="q")
        v = keras.Input(case.inputs["v"].shape[1:], name="v")
        return keras.Model([q, v], layer(query=q, value=v)), [case.inputs["q"], case.inputs["v"]]
    if name == "tutorial_encoder_layer":
        x = keras.Input(case.inputs["x"].shape[1:])
        return keras.Model(x, layer(x)), case.inputs["x"]
    if name == "tutorial_decoder_layer":
        x = keras.Input(case.inputs["x"].shape[1:])
        enc = keras.Input(case.inputs["enc_output"].shape[1:])
        return keras.Model([x, enc], layer(x, enc)), [case.inputs["x"], case.inputs["enc_output"]]
    if name == "tutorial_encoder":
        ids = keras.Input((None,), dtype="int32")
        return keras.Model(ids, layer(ids, attention_mask=padding_mask(ids))), case.inputs["x"].astype("int32")
    ids = keras.Input((None,), dtype="int32")
    enc = keras.Input(case.inputs["enc_output"].shape[1:])
    model = keras.Model([ids, enc], layer(ids, enc, self_attention_mask=padding_mask(ids)))
    return model, [case.inputs["x"].astype("int32"), case.inputs["enc_output"]]


@pytest.mark.parametrize("name, factory", LAYER_FACTORIES)
def test_keras_file_round_trip_is_bit_exact(name, factory, tmp_path):
    case = load_golden(name)
    layer = _mha_from_case(case) if factory is None else factory(case)
    model, inputs = _functional(name, layer, case)
    before = _np(model(inputs))
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    _same_weights(model, loaded)
    np.testing.assert_array_equal(_np(loaded(inputs)), before)
