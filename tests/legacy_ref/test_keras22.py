"""The Keras-2.2 reference (seed 003) behaves as the legacy code did.

Expectations are computed with NumPy closed forms (sinusoids, softmax
attention, layer norm, the warmup-cosine formula), never hard-coded arrays.
"""

from __future__ import annotations

import io
import os

import numpy as np
import pytest

from legacy_ref import keras22
from legacy_ref.keras22 import (
    LayerNorm,
    LayerNormalization,
    MultiHeadAttention,
    Position_Embedding,
    ScaledDotProductAttention,
    WarmUpCosineDecayScheduler,
    build_model,
    cosine_decay_with_warmup,
)

import tf_keras
K = tf_keras.backend

ATOL = 1e-5
RNG_SEED = 22


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(RNG_SEED)


def _normal(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


# --------------------------------------------------------------------------
# NumPy closed forms
# --------------------------------------------------------------------------


def sinusoid_np(seq_len: int, size: int) -> np.ndarray:
    """pe[p, 2i] = sin(p / 10000^(2i/size)), pe[p, 2i+1] = cos(same)."""
    pos = np.arange(seq_len, dtype=np.float64)[:, None]
    i = np.arange(size // 2, dtype=np.float64)[None, :]
    angle = pos / 10000.0 ** (2 * i / size)
    pe = np.empty((seq_len, size))
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle)
    return pe


def softmax_np(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def attention_np(q, k, v, history_only=False, key_mask=None):
    """Legacy scaled dot-product attention with the -10000 additive masks."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    logits = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if history_only:
        future = np.arange(k.shape[-2])[None, :] > np.arange(q.shape[-2])[:, None]
        logits = logits - 10000.0 * future
    if key_mask is not None:
        keep = np.asarray(key_mask, np.float64)
        logits = logits - 10000.0 * (1.0 - keep[..., None, :])
    weights = softmax_np(logits)
    return weights @ v, weights


def mha_np(q, k, v, weights, head_num, activation="relu", history_only=False, key_mask=None):
    """Legacy multi-head attention: activation on projections and on the output."""
    act = (lambda a: np.maximum(a, 0.0)) if activation == "relu" else (lambda a: a)
    wq, bq, wk, bk, wv, bv, wo, bo = weights

    def project(x, w, b):
        y = np.asarray(x, np.float64) @ w
        return act(y + b if b is not None else y)

    def split(x):
        b, s, d = x.shape
        return x.reshape(b, s, head_num, d // head_num).transpose(0, 2, 1, 3)

    qh, kh, vh = split(project(q, wq, bq)), split(project(k, wk, bk)), split(project(v, wv, bv))
    mask = None if key_mask is None else np.asarray(key_mask)[:, None, :]
    out, att = attention_np(qh, kh, vh, history_only, mask)
    b, h, s, dh = out.shape
    merged = out.transpose(0, 2, 1, 3).reshape(b, s, h * dh)
    y = merged @ wo
    return act(y + bo if bo is not None else y), att


def layer_norm_np(x, epsilon=1e-14):
    x = np.asarray(x, np.float64)
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + epsilon)


def schedule_np(t, base, total, warmup_lr=0.0, warmup=0, hold=0):
    """The warmup / hold / cosine / zero schedule, written piecewise."""
    if t > total:
        return 0.0
    if warmup > 0 and t < warmup:
        return warmup_lr + (base - warmup_lr) * t / warmup
    if hold > 0 and t <= warmup + hold:
        return base
    return 0.5 * base * (1 + np.cos(np.pi * (t - warmup - hold) / (total - warmup - hold)))


def _mha_weights(layer: MultiHeadAttention, rng: np.random.Generator) -> list:
    """Random weights set into ``layer``; returns them as (Wq, bq, ..., Wo, bo) with None for absent biases."""
    values = []
    for w in layer.weights:
        shape = tuple(w.shape)
        scale = 1.0 / np.sqrt(shape[0]) if len(shape) == 2 else 0.3
        values.append((rng.standard_normal(shape) * scale).astype(np.float32))
    layer.set_weights(values)
    if layer.use_bias:
        return values
    wq, wk, wv, wo = values
    return [wq, None, wk, None, wv, None, wo, None]


# --------------------------------------------------------------------------
# Runtime isolation
# --------------------------------------------------------------------------


def test_importing_the_reference_leaves_keras_3() -> None:
    import keras

    assert keras.__version__.startswith("3"), keras.__version__
    assert "TF_USE_LEGACY_KERAS" not in os.environ
    assert keras22.keras_legacy.__version__.startswith("2.")
    assert not keras22.Layer.__module__.startswith("keras")


# --------------------------------------------------------------------------
# Position_Embedding
# --------------------------------------------------------------------------


def test_position_embedding_sum_adds_interleaved_sinusoids(rng) -> None:
    x = _normal(rng, 2, 7, 10)
    layer = Position_Embedding(size=4)  # size is overwritten in sum mode (legacy quirk)
    y = layer(x).numpy()
    assert y.shape == x.shape
    assert layer.size == 10
    np.testing.assert_allclose(y, x + sinusoid_np(7, 10)[None], atol=ATOL)
    assert layer.compute_output_shape((None, 7, 10)) == (None, 7, 10)


def test_position_embedding_concat_puts_encoding_first(rng) -> None:
    x = _normal(rng, 3, 5, 6)
    layer = Position_Embedding(size=8, mode="concat")
    y = layer(x).numpy()
    assert y.shape == (3, 5, 8 + 6)
    assert layer.compute_output_shape((None, 5, 6)) == (None, 5, 14)
    np.testing.assert_allclose(y[..., :8], np.broadcast_to(sinusoid_np(5, 8), (3, 5, 8)), atol=ATOL)
    np.testing.assert_array_equal(y[..., 8:], x)
    # Even features are sines, odd features cosines: position 0 gives 0, 1, 0, 1, ...
    np.testing.assert_allclose(y[0, 0, :8], np.tile([0.0, 1.0], 4), atol=1e-7)


def test_position_embedding_handles_variable_length() -> None:
    inputs = tf_keras.Input(shape=(None, 4))
    model = tf_keras.Model(inputs, Position_Embedding(mode="sum")(inputs))
    for seq_len in (3, 9):
        zeros = np.zeros((2, seq_len, 4), np.float32)
        np.testing.assert_allclose(model(zeros).numpy()[1], sinusoid_np(seq_len, 4), atol=ATOL)


def test_position_embedding_rejects_odd_size_and_unknown_mode() -> None:
    with pytest.raises(ValueError, match="even"):
        Position_Embedding(size=5, mode="concat")(np.zeros((1, 2, 3), np.float32))
    with pytest.raises(ValueError, match="mode"):
        Position_Embedding(mode="prepend")


# --------------------------------------------------------------------------
# ScaledDotProductAttention
# --------------------------------------------------------------------------


def test_sdpa_matches_softmax_attention(rng) -> None:
    q, k, v = _normal(rng, 2, 4, 8), _normal(rng, 2, 6, 8), _normal(rng, 2, 6, 5)
    layer = ScaledDotProductAttention()
    y = layer([q, k, v]).numpy()
    expected, weights = attention_np(q, k, v)
    assert y.shape == (2, 4, 5)
    np.testing.assert_allclose(y, expected, atol=ATOL)
    np.testing.assert_allclose(layer.attention.numpy(), weights, atol=ATOL)
    assert layer.compute_output_shape([(None, 4, 8), (None, 6, 8), (None, 6, 5)]) == (None, 4, 5)


def test_sdpa_single_tensor_is_self_attention(rng) -> None:
    x = _normal(rng, 2, 5, 6)
    np.testing.assert_allclose(ScaledDotProductAttention()(x).numpy(), attention_np(x, x, x)[0], atol=ATOL)


def test_sdpa_key_mask_zeroes_masked_keys(rng) -> None:
    q, k, v = _normal(rng, 2, 4, 8), _normal(rng, 2, 6, 8), _normal(rng, 2, 6, 5)
    key_mask = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 0, 1, 0, 0]], dtype=bool)
    layer = ScaledDotProductAttention()
    y = layer([q, k, v], mask=[None, key_mask, None]).numpy()
    attention = layer.attention.numpy()
    assert np.all(attention[1][:, ~key_mask[1]] < 1e-6)
    np.testing.assert_allclose(attention.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(y, attention_np(q, k, v, key_mask=key_mask)[0], atol=ATOL)
    # Whatever sits at the masked keys and values does not reach the output.
    k2, v2 = k.copy(), v.copy()
    k2[1, ~key_mask[1]] = 50.0
    v2[1, ~key_mask[1]] = -50.0
    y2 = layer([q, k2, v2], mask=[None, key_mask, None]).numpy()
    np.testing.assert_allclose(y2, y, atol=1e-6)


def test_sdpa_fully_masked_row_falls_back_to_unmasked_attention(rng) -> None:
    # -10000 rather than -inf: masking every key shifts the whole row, and the
    # softmax is shift-invariant, so the row is (up to float32 rounding of
    # logits near -10000) the *unmasked* attention -- not NaN, not uniform.
    q, k, v = _normal(rng, 1, 3, 4), _normal(rng, 1, 5, 4), _normal(rng, 1, 5, 2)
    layer = ScaledDotProductAttention()
    y = layer([q, k, v], mask=[None, np.zeros((1, 5), bool), None]).numpy()
    expected_y, expected_att = attention_np(q, k, v)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(layer.attention.numpy(), expected_att, atol=2e-3)
    np.testing.assert_allclose(y, expected_y, atol=1e-2)


def test_sdpa_history_only_never_looks_ahead(rng) -> None:
    x = _normal(rng, 2, 6, 8)
    layer = ScaledDotProductAttention(history_only=True)
    y = layer(x).numpy()
    attention = layer.attention.numpy()
    assert np.all(np.triu(attention[0], k=1) < 1e-6) and np.all(np.triu(attention[1], k=1) < 1e-6)
    np.testing.assert_allclose(y, attention_np(x, x, x, history_only=True)[0], atol=ATOL)
    for cut in (1, 3, 5):
        changed = x.copy()
        changed[:, cut:] = _normal(rng, 2, 6 - cut, 8) * 5
        np.testing.assert_allclose(layer(changed).numpy()[:, :cut], y[:, :cut], atol=1e-6)


def test_sdpa_return_attention_and_masks(rng) -> None:
    q, k, v = _normal(rng, 2, 3, 4), _normal(rng, 2, 5, 4), _normal(rng, 2, 5, 6)
    layer = ScaledDotProductAttention(return_attention=True)
    y, attention = layer([q, k, v])
    expected_y, expected_att = attention_np(q, k, v)
    np.testing.assert_allclose(y.numpy(), expected_y, atol=ATOL)
    np.testing.assert_allclose(attention.numpy(), expected_att, atol=ATOL)
    assert layer.compute_output_shape([(None, 3, 4), (None, 5, 4), (None, 5, 6)]) == [(None, 3, 6), (None, 3, 5)]
    query_mask = np.ones((2, 3), bool)
    assert layer.compute_mask(None, [query_mask, None, None])[0] is query_mask
    assert ScaledDotProductAttention().compute_mask(None, [query_mask, None, None]) is query_mask


# --------------------------------------------------------------------------
# MultiHeadAttention
# --------------------------------------------------------------------------


def test_mha_weight_names_order_and_shapes() -> None:
    layer = MultiHeadAttention(head_num=2, name="mha")
    layer([np.zeros((1, 3, 6), np.float32), np.zeros((1, 4, 10), np.float32), np.zeros((1, 4, 8), np.float32)])
    names = [w.name for w in layer.weights]
    assert names == [f"mha/mha_{n}:0" for n in ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")]
    shapes = [tuple(w.shape) for w in layer.weights]
    assert shapes == [(6, 8), (8,), (10, 8), (8,), (8, 8), (8,), (8, 8), (8,)]
    no_bias = MultiHeadAttention(head_num=2, use_bias=False, name="nb")
    no_bias(np.zeros((1, 3, 4), np.float32))
    assert [w.name for w in no_bias.weights] == ["nb/nb_Wq:0", "nb/nb_Wk:0", "nb/nb_Wv:0", "nb/nb_Wo:0"]


def test_mha_kernels_are_drawn_independently() -> None:
    # tf_keras would reuse one seed per unseeded initializer instance; Keras 2.2 did not.
    layer = MultiHeadAttention(head_num=2)
    layer(np.zeros((1, 3, 4), np.float32))
    wq, _, wk, _, wv, _, wo, _ = layer.get_weights()
    assert not np.allclose(wq, wk) and not np.allclose(wk, wv) and not np.allclose(wv, wo)


def test_mha_rejects_head_num_not_dividing_features() -> None:
    with pytest.raises(IndexError, match="head number 3"):
        MultiHeadAttention(head_num=3)(np.zeros((1, 2, 8), np.float32))


@pytest.mark.parametrize(
    "args",
    [
        {"head_num": 4},
        {"head_num": 2, "activation": None},
        {"head_num": 4, "use_bias": False},
        {"head_num": 1},
    ],
    ids=["relu", "linear", "no_bias", "one_head"],
)
def test_mha_matches_numpy_reference(rng, args) -> None:
    x = _normal(rng, 2, 7, 8)
    layer = MultiHeadAttention(**args)
    layer(x)
    weights = _mha_weights(layer, rng)
    y = layer(x).numpy()
    expected, expected_att = mha_np(x, x, x, weights, args["head_num"], args.get("activation", "relu"))
    assert y.shape == (2, 7, 8)
    np.testing.assert_allclose(y, expected, atol=ATOL)
    assert layer.attention.shape == (2, args["head_num"], 7, 7)
    np.testing.assert_allclose(layer.attention.numpy(), expected_att, atol=ATOL)


def test_mha_cross_attention_with_different_lengths(rng) -> None:
    q, k, v = _normal(rng, 1, 5, 6), _normal(rng, 1, 7, 10), _normal(rng, 1, 7, 8)
    layer = MultiHeadAttention(head_num=2, activation=None)
    layer([q, k, v])
    weights = _mha_weights(layer, rng)
    y = layer([q, k, v]).numpy()
    assert y.shape == (1, 5, 8)
    assert layer.compute_output_shape([(None, 5, 6), (None, 7, 10), (None, 7, 8)]) == (None, 5, 8)
    np.testing.assert_allclose(y, mha_np(q, k, v, weights, 2, None)[0], atol=ATOL)


def test_mha_key_mask_semantics(rng) -> None:
    x = _normal(rng, 3, 6, 8)
    mask = np.array([[1] * 6, [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]], dtype=bool)
    layer = MultiHeadAttention(head_num=2)
    layer(x)
    weights = _mha_weights(layer, rng)
    y = layer(x, mask=mask)
    attention = layer.attention.numpy()
    for b in range(3):
        assert np.all(attention[b][..., ~mask[b]] < 1e-6)
    np.testing.assert_allclose(y.numpy(), mha_np(x, x, x, weights, 2, key_mask=mask)[0], atol=ATOL)
    # The query mask propagates.
    np.testing.assert_array_equal(np.asarray(y._keras_mask), mask)
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(x, [mask, None, None])), mask)
    # Changing the padded positions leaves the unpadded outputs untouched.
    changed = x.copy()
    changed[~mask] = 7.0
    y2 = layer(changed, mask=mask).numpy()
    np.testing.assert_allclose(y2[mask], y.numpy()[mask], atol=1e-6)


def test_mha_history_only_with_odd_length_and_batch_of_one(rng) -> None:
    x = _normal(rng, 1, 7, 8)
    layer = MultiHeadAttention(head_num=2, history_only=True)
    layer(x)
    weights = _mha_weights(layer, rng)
    y = layer(x).numpy()
    np.testing.assert_allclose(y, mha_np(x, x, x, weights, 2, history_only=True)[0], atol=ATOL)
    assert np.all(np.triu(layer.attention.numpy()[0, 0], k=1) < 1e-6)
    assert np.all(np.triu(layer.attention.numpy()[0, 1], k=1) < 1e-6)
    for cut in (1, 4, 6):
        changed = x.copy()
        changed[:, cut:] += 3.0
        np.testing.assert_allclose(layer(changed).numpy()[:, :cut], y[:, :cut], atol=1e-6)


def test_mha_return_attention_extension(rng) -> None:
    x = _normal(rng, 2, 5, 8)
    plain = MultiHeadAttention(head_num=2, name="plain")
    with_att = MultiHeadAttention(head_num=2, return_attention=True, name="with_att")
    plain(x)
    with_att(x)
    with_att.set_weights(plain.get_weights())
    y, attention = with_att(x)
    np.testing.assert_allclose(y.numpy(), plain(x).numpy(), atol=1e-6)
    np.testing.assert_allclose(attention.numpy(), plain.attention.numpy(), atol=1e-6)
    assert with_att.compute_output_shape((None, 5, 8)) == [(None, 5, 8), (None, 2, 5, 5)]
    assert "return_attention" not in plain.get_config()
    assert with_att.get_config()["return_attention"] is True


def test_mha_output_keeps_static_shape_in_a_functional_model() -> None:
    inputs = tf_keras.Input(shape=(9, 8))
    outputs = MultiHeadAttention(head_num=4)(inputs)
    assert tuple(outputs.shape) == (None, 9, 8)


# --------------------------------------------------------------------------
# Layer norms
# --------------------------------------------------------------------------


def test_layernorm_is_weightless_with_tiny_epsilon(rng) -> None:
    x = _normal(rng, 2, 5, 8) * 3 + 1.5
    layer = LayerNorm()
    y = layer(x).numpy()
    assert layer.weights == []
    assert layer.epsilon == pytest.approx(1e-14)
    assert layer.gamma == 0.0 and layer.beta == 0.0
    np.testing.assert_allclose(y, layer_norm_np(x), atol=ATOL)
    # A constant row normalises to 0: with epsilon 1e-14 nothing blows up.
    np.testing.assert_array_equal(layer(np.full((1, 1, 4), 3.0, np.float32)).numpy(), 0.0)


def test_layernorm_scale_multiplies_by_zero_quirk(rng) -> None:
    x = _normal(rng, 1, 3, 4)
    np.testing.assert_array_equal(LayerNorm(scale=True)(x).numpy(), 0.0)


def test_layernormalization_has_gamma_and_beta(rng) -> None:
    x = _normal(rng, 2, 5, 8) * 2 - 1
    layer = LayerNormalization(name="ln")
    layer(x)
    assert [w.name for w in layer.weights] == ["ln/gamma:0", "ln/beta:0"]
    assert [tuple(w.shape) for w in layer.weights] == [(8,), (8,)]
    assert layer.epsilon == pytest.approx(1e-14)
    np.testing.assert_allclose(layer(x).numpy(), layer_norm_np(x), atol=ATOL)  # ones / zeros
    gamma, beta = 1 + _normal(rng, 8) * 0.3, _normal(rng, 8) * 0.3
    layer.set_weights([gamma, beta])
    np.testing.assert_allclose(layer(x).numpy(), layer_norm_np(x) * gamma + beta, atol=ATOL)
    scale_only = LayerNormalization(center=False)
    scale_only(x)
    assert [w.name.split("/")[-1] for w in scale_only.weights] == ["gamma:0"]


# --------------------------------------------------------------------------
# get_config round trips
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layer",
    [
        Position_Embedding(size=6, mode="concat"),
        Position_Embedding(),
        ScaledDotProductAttention(return_attention=True, history_only=True),
        MultiHeadAttention(
            head_num=3, activation="tanh", use_bias=False, history_only=True, kernel_regularizer="l2",
            kernel_initializer="he_normal",
        ),
        MultiHeadAttention(head_num=2, return_attention=True),
        LayerNorm(epsilon=1e-6, scale=True),
        LayerNormalization(center=False, epsilon=1e-5, gamma_initializer="zeros"),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_get_config_round_trips(layer) -> None:
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    assert config["name"] == layer.name


def test_mha_clone_from_config_computes_the_same(rng) -> None:
    x = _normal(rng, 2, 4, 6)
    layer = MultiHeadAttention(head_num=3, activation="tanh", history_only=True)
    y = layer(x).numpy()
    clone = MultiHeadAttention.from_config(layer.get_config())
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(x).numpy(), y, atol=1e-6)


# --------------------------------------------------------------------------
# The classifier
# --------------------------------------------------------------------------

SMALL = {"vocab_size": 50, "max_len": 12, "model_dim": 16, "head_num": 4, "num_class": 3}


def test_classifier_layers_names_and_shapes(rng) -> None:
    K.clear_session()
    model = build_model(**SMALL, num_blocks=4)
    names = [layer.name for layer in model.layers]
    for prefix in ("t1", "t2", "t3", "t4"):
        for part in ("att1", "do1", "add1", "LN1", "fc1", "fc2", "do2", "LN2"):
            assert f"{prefix}_{part}" in names
        # The named second residual is dead: an unnamed add() replaced it.
        assert f"{prefix}_add2" not in names
    assert names[:4] == ["inputs", "embedding", "position__embedding", "dropout"]
    assert names[-3:] == ["global_average_pooling1d", "dropout_1", "outputs"]
    # The final Add sums the last three blocks.
    final_add = model.layers[-4]
    assert isinstance(final_add, tf_keras.layers.Add)
    assert [t._keras_history.layer.name for t in final_add.input] == ["t2_LN2", "t3_LN2", "t4_LN2"]
    assert model.input.dtype == "int32" and tuple(model.input.shape) == (None, 12)
    for layer in model.layers[1:-3]:
        assert tuple(layer.output.shape) == (None, 12, 16 if "fc1" not in layer.name else 64), layer.name
    assert tuple(model.output.shape) == (None, 3)
    tokens = rng.integers(0, 50, size=(5, 12)).astype(np.int32)
    tokens[:, 8:] = 0
    probs = model(tokens, training=False).numpy()
    assert probs.shape == (5, 3)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-6)
    # The legacy optimizer and loss.
    assert isinstance(model.optimizer, tf_keras.optimizers.legacy.Adam)
    assert float(K.get_value(model.optimizer.lr)) == pytest.approx(5e-5)
    assert model.loss == "categorical_crossentropy"


@pytest.mark.parametrize("num_blocks", [1, 2])
def test_classifier_with_few_blocks_sums_all_of_them(num_blocks: int) -> None:
    model = build_model(**SMALL, num_blocks=num_blocks, compile=False)
    producer = model.get_layer(index=-3).input._keras_history.layer
    if num_blocks == 1:
        assert producer.name == "t1_LN2"
    else:
        assert isinstance(producer, tf_keras.layers.Add)
        assert [t._keras_history.layer.name for t in producer.input] == ["t1_LN2", "t2_LN2"]
    assert model.optimizer is None


def test_classifier_embedding_matrix_and_ffn_dim(rng) -> None:
    matrix = _normal(rng, 50, 16)
    model = build_model(**SMALL, num_blocks=1, ffn_dim=24, embedding_matrix=matrix, compile=False)
    embedding = [layer for layer in model.layers if isinstance(layer, tf_keras.layers.Embedding)][0]
    np.testing.assert_array_equal(embedding.get_weights()[0], matrix)
    assert model.get_layer("t1_fc1").get_weights()[0].shape == (16, 24)
    assert model.get_layer("t1_fc2").get_weights()[0].shape == (24, 16)
    with pytest.raises(ValueError, match="embedding_matrix"):
        build_model(**SMALL, num_blocks=1, embedding_matrix=matrix[:10])


def test_classifier_config_round_trips_with_custom_objects(rng) -> None:
    model = build_model(**SMALL, num_blocks=2, compile=False)
    clone = tf_keras.Model.from_config(model.get_config(), custom_objects=keras22.custom_objects())
    clone.set_weights(model.get_weights())
    tokens = rng.integers(0, 50, size=(2, 12)).astype(np.int32)
    np.testing.assert_allclose(clone(tokens).numpy(), model(tokens).numpy(), atol=1e-6)
    assert set(keras22.custom_objects()) == {
        "Position_Embedding", "ScaledDotProductAttention", "MultiHeadAttention", "LayerNorm", "LayerNormalization",
    }


# --------------------------------------------------------------------------
# Warmup cosine schedule
# --------------------------------------------------------------------------

SCHEDULE = {"learning_rate_base": 0.01, "total_steps": 40, "warmup_learning_rate": 0.001, "warmup_steps": 8,
            "hold_base_rate_steps": 5}


def test_schedule_phases_match_closed_form() -> None:
    base, total, warmup_lr, warmup, hold = 0.01, 40, 0.001, 8, 5

    def lr(t):
        return float(cosine_decay_with_warmup(t, **SCHEDULE))

    assert lr(0) == pytest.approx(warmup_lr, abs=1e-15)
    for t in range(1, warmup):  # linear warmup
        assert lr(t) == pytest.approx(warmup_lr + (base - warmup_lr) * t / warmup, abs=1e-12)
    assert lr(warmup) == pytest.approx(base, abs=1e-15)  # peak
    for t in range(warmup, warmup + hold + 1):  # held, step warmup+hold included ('>' in the test)
        assert lr(t) == base
    for t in range(warmup + hold + 1, total + 1):  # cosine
        expected = 0.5 * base * (1 + np.cos(np.pi * (t - warmup - hold) / (total - warmup - hold)))
        assert lr(t) == pytest.approx(expected, abs=1e-12)
    assert lr(total) == pytest.approx(0.0, abs=1e-15)
    for t in (total + 1, total + 10):
        assert lr(t) == 0.0
    # Vectorised use gives the same values as step-by-step calls.
    steps = np.arange(0, 50)
    np.testing.assert_allclose(cosine_decay_with_warmup(steps, **SCHEDULE), [lr(int(t)) for t in steps], atol=0)
    np.testing.assert_allclose([lr(int(t)) for t in steps], [schedule_np(int(t), base, total, warmup_lr, warmup, hold)
                                                              for t in steps], atol=1e-12)


def test_schedule_without_warmup_or_hold_is_plain_cosine() -> None:
    for t in range(0, 25):
        expected = 0.0 if t > 20 else 0.5 * 0.002 * (1 + np.cos(np.pi * t / 20))
        assert float(cosine_decay_with_warmup(t, 0.002, 20)) == pytest.approx(expected, abs=1e-15)


def test_schedule_errors() -> None:
    with pytest.raises(ValueError, match="total_steps"):
        cosine_decay_with_warmup(0, 0.01, total_steps=5, warmup_steps=6)
    with pytest.raises(ValueError, match="warmup_learning_rate"):
        cosine_decay_with_warmup(0, 0.01, total_steps=10, warmup_learning_rate=0.1, warmup_steps=2)
    # Without warmup the base/warmup comparison is never made (legacy behaviour).
    assert float(cosine_decay_with_warmup(0, 0.01, total_steps=10, warmup_learning_rate=0.1)) == pytest.approx(0.01)


def _sgd_probe_model():
    """y = w * x with w a single weight, trained by legacy SGD on mse."""
    model = tf_keras.Sequential([tf_keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros",
                                                       input_shape=(1,))])
    model.compile(optimizer=tf_keras.optimizers.legacy.SGD(learning_rate=0.5), loss="mse")
    return model


@pytest.mark.slow
def test_scheduler_sets_optimizer_lr_every_batch(capsys) -> None:
    args = {"learning_rate_base": 0.1, "total_steps": 6, "warmup_learning_rate": 0.02, "warmup_steps": 2,
            "hold_base_rate_steps": 1}
    seen: list[float] = []
    weights: list[float] = []

    class Probe(tf_keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(float(K.get_value(self.model.optimizer.lr)))
            weights.append(float(self.model.get_weights()[0][0, 0]))

    model = _sgd_probe_model()
    scheduler = WarmUpCosineDecayScheduler(**args, verbose=1)
    x, y = np.ones((8, 1), np.float32), np.ones((8, 1), np.float32)
    model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0, callbacks=[scheduler, Probe()])
    expected = np.array([cosine_decay_with_warmup(t, **args) for t in range(8)], dtype=np.float32)
    assert scheduler.global_step == 8
    np.testing.assert_array_equal(np.array(scheduler.learning_rates, dtype=np.float32), expected)
    np.testing.assert_allclose(seen, expected, rtol=1e-7)
    # The optimizer really used that rate: with w*1 vs 1 under mse, w' = w - lr * 2 (w - 1).
    weights.append(float(model.get_weights()[0][0, 0]))
    for step in range(8):
        np.testing.assert_allclose(weights[step + 1], weights[step] - expected[step] * 2 * (weights[step] - 1),
                                   atol=1e-6)
    assert "Batch 00001: setting learning rate to" in capsys.readouterr().out


@pytest.mark.slow
def test_a_few_training_steps_lower_the_loss(rng) -> None:
    # Seeded: the initial weights otherwise depend on what ran before.
    keras22.keras_legacy.utils.set_random_seed(11)
    model = build_model(**SMALL, num_blocks=2, dropout=0.0, learning_rate=2e-3)
    tokens = rng.integers(1, 50, size=(8, 12)).astype(np.int32)
    tokens[:, 9:] = 0
    labels = np.eye(3, dtype=np.float32)[tokens[:, 0] % 3]
    first = model.evaluate(tokens, labels, verbose=0)[0]
    for _ in range(15):
        model.train_on_batch(tokens, labels)
    last = model.evaluate(tokens, labels, verbose=0)[0]
    assert last < 0.9 * first, (first, last)


@pytest.mark.slow
def test_golden_training_loop_equals_fit_with_the_callback() -> None:
    """The golden's hook-driven train_on_batch loop is what fit does with the callback."""
    from legacy_ref.goldens.keras22 import TRAIN_SCHEDULE, assign_weights, draw_weights, train_batches

    args = {**SMALL, "num_blocks": 1, "dropout": 0.0}
    rng = np.random.default_rng(5)
    models = [build_model(**args) for _ in range(2)]
    initial = draw_weights(models[0], rng)
    tokens, labels = train_batches(rng, 5, 4, args)
    schedulers = [WarmUpCosineDecayScheduler(**TRAIN_SCHEDULE) for _ in range(2)]

    loop_model, fit_model = models
    assign_weights(loop_model, initial)
    fit_model.set_weights(loop_model.get_weights())
    schedulers[0].set_model(loop_model)
    losses = []
    for step in range(5):
        schedulers[0].on_batch_begin(step)
        losses.append(loop_model.train_on_batch(tokens[step], labels[step])[0])
        schedulers[0].on_batch_end(step)
    history = fit_model.fit(tokens.reshape(20, 12), labels.reshape(20, 3), batch_size=4, shuffle=False, verbose=0,
                            callbacks=[schedulers[1]])
    np.testing.assert_array_equal(schedulers[0].learning_rates, schedulers[1].learning_rates)
    assert history.history["loss"][0] == pytest.approx(np.mean(losses), abs=1e-6)
    for a, b in zip(loop_model.get_weights(), fit_model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)


# --------------------------------------------------------------------------
# Golden cases
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def golden_cases():
    from legacy_ref.goldens.keras22 import cases

    return cases()


REQUIRED_CASES = {
    "keras22_position_embedding_sum", "keras22_position_embedding_concat", "keras22_sdpa_plain",
    "keras22_sdpa_history_only", "keras22_sdpa_key_mask", "keras22_sdpa_return_attention", "keras22_mha_default",
    "keras22_mha_linear", "keras22_mha_no_bias", "keras22_mha_history_only", "keras22_mha_key_mask",
    "keras22_mha_cross", "keras22_layernorm", "keras22_layernormalization", "keras22_classifier",
    "keras22_warmup_cosine", "keras22_cosine_no_warmup", "keras22_classifier_train",
}


@pytest.mark.slow
def test_golden_cases_are_complete_small_and_finite(golden_cases) -> None:
    assert set(golden_cases) == REQUIRED_CASES
    for name, case in golden_cases.items():
        buffer = io.BytesIO()
        np.savez(buffer, **case.to_arrays())
        assert len(buffer.getvalue()) < 200_000, name
        assert case.outputs, name
        for key, value in {**case.weights, **case.outputs}.items():
            assert np.all(np.isfinite(value)), (name, key)
            assert value.dtype in (np.float32, np.float64), (name, key)


@pytest.mark.slow
def test_golden_mha_cases_agree_with_numpy(golden_cases) -> None:
    for name in ("keras22_mha_default", "keras22_mha_linear", "keras22_mha_no_bias", "keras22_mha_history_only",
                 "keras22_mha_key_mask", "keras22_mha_cross"):
        case = golden_cases[name]
        args = case.config["args"]
        w = {key.split("_")[-1]: value for key, value in case.weights.items()}
        weights = [w.get(n) for n in ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")]
        if "x" in case.inputs:
            q = k = v = case.inputs["x"]
        else:
            q, k, v = (case.inputs[n] for n in ("q", "k", "v"))
        y, attention = mha_np(q, k, v, weights, args["head_num"], args.get("activation", "relu"),
                              args.get("history_only", False), case.inputs.get("mask"))
        np.testing.assert_allclose(case.outputs["y"], y, atol=ATOL, err_msg=name)
        np.testing.assert_allclose(case.outputs["attention"], attention, atol=ATOL, err_msg=name)
        assert all(key.startswith("mha/mha_") for key in case.weights), name
    assert np.abs(golden_cases["keras22_mha_default"].outputs["y"]).max() > 0.1


@pytest.mark.slow
def test_golden_classifier_weight_names_are_the_hdf5_names(golden_cases) -> None:
    K.clear_session()
    case = golden_cases["keras22_classifier"]
    model = build_model(**case.config["args"], compile=False)
    assert [w.name[:-2] for w in model.weights] == list(case.weights)
    assert case.config["layer_names"] == [layer.name for layer in model.layers]
    model.set_weights(list(case.weights.values()))
    np.testing.assert_allclose(model(case.inputs["tokens"], training=False).numpy(), case.outputs["y"], atol=1e-6)
    assert np.any(case.inputs["tokens"] == 0)


@pytest.mark.slow
def test_golden_schedule_and_training_cases(golden_cases) -> None:
    schedule = golden_cases["keras22_warmup_cosine"]
    args = schedule.config["args"]
    expected = [schedule_np(int(t), args["learning_rate_base"], args["total_steps"], args["warmup_learning_rate"],
                            args["warmup_steps"], args["hold_base_rate_steps"]) for t in schedule.inputs["steps"]]
    np.testing.assert_allclose(schedule.outputs["lr"], expected, atol=1e-12)
    assert schedule.inputs["steps"].max() > args["total_steps"]
    train = golden_cases["keras22_classifier_train"]
    assert train.outputs["loss"].shape == (5,) and train.outputs["lr"].shape == (5,)
    sched = train.config["scheduler"]["args"]
    np.testing.assert_allclose(train.outputs["lr"], [cosine_decay_with_warmup(t, **sched) for t in range(5)],
                               rtol=1e-7)
    assert train.config["args"]["dropout"] == 0.0
    trained = {k[len("trained."):]: v for k, v in train.outputs.items() if k.startswith("trained.")}
    assert trained.keys() == train.weights.keys()
    assert all(not np.array_equal(trained[k], train.weights[k]) for k in trained)
