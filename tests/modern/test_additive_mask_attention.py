"""``AdditiveMaskMultiHeadAttention`` as a Keras layer: the stock layer's contract, its cache, its configs.

The golden comparisons with the tutorial are in ``test_tutorial_layers.py``;
here the layer is checked against ``keras.layers.MultiHeadAttention`` (same
weights, every query sees at least one key, where both must agree), against
itself (the cached decoding against the full call) and against the configs
that ``.keras`` files written by earlier versions hold. Backend-agnostic.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops

from modern.layers import AdditiveMaskMultiHeadAttention

ATOL = 1e-5


def _np(x):
    return ops.convert_to_numpy(x)


def _pair(seed=0, query_length=5, key_length=7, features=16):
    rng = np.random.default_rng(seed)
    query = rng.normal(size=(2, query_length, features)).astype("float32")
    value = rng.normal(size=(2, key_length, features)).astype("float32")
    return rng, query, value


def _twins(**kwargs):
    """The layer and a stock ``MultiHeadAttention`` with the same arguments and weights."""
    layer = AdditiveMaskMultiHeadAttention(**kwargs)
    stock = keras.layers.MultiHeadAttention(**kwargs)
    return layer, stock


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"value_dim": 6},
        {"use_bias": False},
        {"output_shape": 8},
        {"output_shape": (2, 4)},
    ],
    ids=["default", "value_dim", "no_bias", "output_shape_int", "output_shape_2d"],
)
def test_equals_stock_multi_head_attention(kwargs):
    rng, query, value = _pair()
    layer, stock = _twins(num_heads=4, key_dim=4, **kwargs)
    # Built, not called: the stock layer's fused path fails on jax when value_dim != key_dim
    # (jax's fused kernel needs equal depths); its explicit path, compared below, does not.
    layer.build(query.shape, value.shape)
    stock.build(query.shape, value.shape)
    assert [tuple(v.shape) for v in layer.weights] == [tuple(v.shape) for v in stock.weights]
    assert [v.path.split("/", 1)[1] for v in layer.weights] == [v.path.split("/", 1)[1] for v in stock.weights]
    layer.set_weights(stock.get_weights())
    keep = rng.random((2, 5, 7)) > 0.4
    keep[:, :, 0] = True  # every query sees a key: where the two layers must agree
    out, scores = layer(query, value, attention_mask=keep, return_attention_scores=True)
    stock_out, stock_scores = stock(query, value, attention_mask=keep, return_attention_scores=True)
    np.testing.assert_allclose(_np(out), _np(stock_out), rtol=0, atol=ATOL)
    np.testing.assert_allclose(_np(scores), _np(stock_scores), rtol=0, atol=ATOL)
    fused = layer(query, value, attention_mask=keep)
    np.testing.assert_allclose(_np(fused), _np(stock_out), rtol=0, atol=ATOL)


def test_keras_masks_of_the_inputs_are_used_like_the_stock_layer():
    rng = np.random.default_rng(3)
    ids_q = rng.integers(1, 20, size=(2, 5))
    ids_v = rng.integers(1, 20, size=(2, 7))
    ids_q[0, 3:] = 0
    ids_v[1, 4:] = 0
    outputs = {}
    for layer_class in (AdditiveMaskMultiHeadAttention, keras.layers.MultiHeadAttention):
        keras.utils.set_random_seed(0)
        q_in = keras.Input((None,), dtype="int32")
        v_in = keras.Input((None,), dtype="int32")
        embedding = keras.layers.Embedding(20, 16, mask_zero=True)
        attended = layer_class(num_heads=4, key_dim=4, name="mha")(embedding(q_in), embedding(v_in))
        model = keras.Model([q_in, v_in], attended)
        outputs[layer_class] = model, _np(model([ids_q, ids_v]))
    (model, ours), (stock_model, theirs) = outputs.values()
    np.testing.assert_array_equal(_np(model.weights[0]), _np(stock_model.weights[0]))
    # Masked queries (all keys blocked) are where additive and stock masking differ by design.
    valid = ids_q != 0
    np.testing.assert_allclose(ours[valid], theirs[valid], rtol=0, atol=ATOL)


def test_cache_update_gives_the_rows_of_the_causal_call():
    _, x, _ = _pair(seed=1, query_length=6)
    layer = AdditiveMaskMultiHeadAttention(num_heads=4, key_dim=4)
    full, full_scores = layer(x, x, use_causal_mask=True, return_attention_scores=True)
    shape = (2, 6, 4, 4)
    cache = (ops.zeros(shape), ops.zeros(shape))
    for position in range(6):
        keep = np.arange(6)[None, None, :] <= position
        step = x[:, position : position + 1]
        out, scores, cache = layer(
            step, step, attention_mask=np.broadcast_to(keep, (2, 1, 6)), return_attention_scores=True,
            cache=cache, cache_update_index=position,
        )
        np.testing.assert_allclose(_np(out)[:, 0], _np(full)[:, position], rtol=0, atol=ATOL)
        np.testing.assert_allclose(_np(scores)[:, :, 0], _np(full_scores)[:, :, position], rtol=0, atol=ATOL)
    np.testing.assert_allclose(_np(cache[0]), _np(layer.key_dense(x)), rtol=0, atol=ATOL)
    np.testing.assert_allclose(_np(cache[1]), _np(layer.value_dense(x)), rtol=0, atol=ATOL)


def test_static_cache_is_the_cross_attention():
    rng, query, value = _pair(seed=2)
    layer = AdditiveMaskMultiHeadAttention(num_heads=4, key_dim=4)
    keep = rng.random((2, 1, 7)) > 0.3
    expected = layer(query, value, attention_mask=keep)
    cache = (layer.key_dense(value), layer.value_dense(value))
    out, returned = layer(query, None, attention_mask=keep, cache=cache)
    np.testing.assert_allclose(_np(out), _np(expected), rtol=0, atol=ATOL)
    assert returned[0] is cache[0] and returned[1] is cache[1]
    with pytest.raises(ValueError, match="causal"):
        layer(query, None, cache=cache, use_causal_mask=True)


def test_symbolic_cross_attention_declares_its_shapes():
    layer = AdditiveMaskMultiHeadAttention(num_heads=4, key_dim=4, output_shape=10)
    query, value = keras.Input((7, 16)), keras.Input((9, 16))
    out, scores = layer(query, value, return_attention_scores=True)
    assert tuple(out.shape) == (None, 7, 10)
    assert tuple(scores.shape) == (None, 4, 7, 9)


# The config of a layer saved while AdditiveMaskMultiHeadAttention subclassed
# keras.layers.MultiHeadAttention, as it stands in such .keras files.
MULTI_HEAD_ATTENTION_CONFIG = {
    "name": "mha",
    "trainable": True,
    "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None},
    "num_heads": 4,
    "key_dim": 4,
    "value_dim": 4,
    "dropout": 0.0,
    "use_bias": True,
    "use_gate": False,
    "output_shape": None,
    "attention_axes": [1],
    "sliding_window": None,
    "kernel_initializer": {
        "module": "keras.initializers",
        "class_name": "GlorotUniform",
        "config": {"seed": None},
        "registered_name": None,
    },
    "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": None},
    "kernel_regularizer": None,
    "bias_regularizer": None,
    "activity_regularizer": None,
    "kernel_constraint": None,
    "bias_constraint": None,
    "seed": None,
}


def test_configs_of_the_multi_head_attention_subclass_load():
    layer = AdditiveMaskMultiHeadAttention.from_config(MULTI_HEAD_ATTENTION_CONFIG)
    assert (layer.num_heads, layer.key_dim, layer.value_dim, layer.name) == (4, 4, 4, "mha")
    config = layer.get_config()
    assert AdditiveMaskMultiHeadAttention.from_config(config).get_config() == config
    for key, value in (("use_gate", True), ("sliding_window", 3), ("attention_axes", [2]), ("dropout", 0.1)):
        with pytest.raises(ValueError, match=key.split("_")[-1]):
            AdditiveMaskMultiHeadAttention(num_heads=4, key_dim=4, **{key: value})
