"""The shared attention core and the flat-matmul projections (``modern.layers._attention_kernel``).

Both exist for speed on TensorFlow only; these tests pin that they compute
what the Keras ops they replace compute, on whichever backend runs them (on
TensorFlow the fast paths are the ones exercised).
"""

import keras
import numpy as np
import pytest
from keras import ops

from modern.layers._attention_kernel import (
    FlatMatmulEinsumDense,
    _tensordot_split,
    dot_product_attention,
)
from modern.layers.seq2seq import AdditiveMaskMultiHeadAttention


@pytest.mark.parametrize(
    "equation, expected",
    [
        ("abc,cde->abde", (2, 1)),  # MultiHeadAttention's projections to heads
        ("abcd,cde->abe", (2, 2)),  # its output projection
        ("ab,bc->ac", (1, 1)),
        ("abc,dce->abde", None),  # contracted axis not leading in the kernel
        ("abc,cde->abed", None),  # output axes reordered
        ("abcd,cde->abde", None),  # an axis shared by input, kernel and output
        ("...b,bc->...c", None),  # ellipsis
        ("abc,cde", None),  # not an einsum equation with an output
    ],
)
def test_tensordot_split(equation, expected):
    assert _tensordot_split(equation) == expected


@pytest.mark.parametrize(
    "equation, input_shape, output_shape, bias_axes",
    [
        ("abc,cde->abde", (3, 5, 12), (None, 4, 6), "de"),
        ("abcd,cde->abe", (3, 5, 4, 6), (None, 10), "e"),
        ("abc,cde->abde", (1, 7, 12), (None, 2, 3), None),
    ],
)
def test_flat_matmul_einsum_dense_equals_einsum_dense(equation, input_shape, output_shape, bias_axes):
    rng = np.random.default_rng(0)
    x = rng.normal(size=input_shape).astype("float32")
    reference = keras.layers.EinsumDense(equation, output_shape, bias_axes=bias_axes, activation="relu")
    flat = FlatMatmulEinsumDense(equation, output_shape, bias_axes=bias_axes, activation="relu")
    reference.build(input_shape)
    flat.build(input_shape)
    weights = [rng.normal(size=w.shape).astype("float32") for w in reference.get_weights()]
    reference.set_weights(weights)
    flat.set_weights(weights)
    expected = ops.convert_to_numpy(reference(x))
    got = ops.convert_to_numpy(flat(x))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_flat_matmul_einsum_dense_keeps_lora():
    # The LoRA delta lives in `kernel`; the flat path must read it from there.
    x = np.random.default_rng(1).normal(size=(2, 3, 8)).astype("float32")
    layer = FlatMatmulEinsumDense("abc,cde->abde", (None, 2, 4), bias_axes="de")
    layer.build(x.shape)
    before = ops.convert_to_numpy(layer(x))
    layer.enable_lora(2, b_initializer="ones")
    after = ops.convert_to_numpy(layer(x))
    expected = np.einsum("abc,cde->abde", x, ops.convert_to_numpy(layer.kernel)) + ops.convert_to_numpy(layer.bias)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("with_bias", [False, True])
def test_dot_product_attention_equals_keras_op(with_bias):
    rng = np.random.default_rng(2)
    query = rng.normal(size=(2, 5, 3, 4)).astype("float32")
    key = rng.normal(size=(2, 7, 3, 4)).astype("float32")
    value = rng.normal(size=(2, 7, 3, 4)).astype("float32")
    bias = None
    if with_bias:
        keep = rng.random((2, 1, 1, 7)) > 0.3
        bias = np.where(keep, 0.0, -1e9).astype("float32")
    expected = ops.dot_product_attention(query, key, value, bias=bias, scale=0.5)
    got = dot_product_attention(query, key, value, bias=bias, scale=0.5)
    np.testing.assert_allclose(ops.convert_to_numpy(got), ops.convert_to_numpy(expected), rtol=0, atol=1e-6)


def test_attention_layer_projections_are_flat_with_unchanged_variables():
    layer = AdditiveMaskMultiHeadAttention(num_heads=2, key_dim=4, name="mha")
    x = np.ones((1, 3, 8), "float32")
    layer(x, x)
    sublayers = (layer.query_dense, layer.key_dense, layer.value_dense, layer.output_dense)
    assert all(type(sublayer) is FlatMatmulEinsumDense for sublayer in sublayers)
    paths = sorted(v.path for v in layer.weights)
    assert paths == sorted(
        f"mha/{part}/{kind}" for part in ("query", "key", "value", "attention_output") for kind in ("kernel", "bias")
    )
