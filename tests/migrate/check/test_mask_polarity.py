"""KC103: a mask's polarity (1 = keep or 1 = masked) against the way it is applied."""

from __future__ import annotations

import pytest

from tests.migrate.check.helpers import hits, line_of

# The 2021 tutorial's shape: the mask is made by one function, passed through two layers
# positionally, and added as `mask * -1e9` in a third place.
TUTORIAL = """
import tensorflow as tf


def create_padding_mask(seq):
    seq = tf.cast(tf.math.{cmp}(seq, 0), tf.float32)
    return seq[:, tf.newaxis, tf.newaxis, :]


def scaled_dot_product_attention(q, k, v, mask):
    logits = tf.matmul(q, k, transpose_b=True) / 8.0
    if mask is not None:
        logits += (mask * -1e9)  # <-
    return tf.matmul(tf.nn.softmax(logits, axis=-1), v)


class MultiHeadAttention(tf.keras.layers.Layer):
    def call(self, v, k, q, mask):
        return scaled_dot_product_attention(q, k, v, mask)


class EncoderLayer(tf.keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.mha = MultiHeadAttention()

    def call(self, x, training, mask):
        return self.mha(x, x, x, mask)


def encode(inp, x):
    layer = EncoderLayer()
    enc_padding_mask = create_padding_mask(inp)
    return layer(x, True, enc_padding_mask)
"""


def test_tutorial_mask_through_layers() -> None:
    bad = TUTORIAL.replace("{cmp}", "not_equal")  # 1 = keep, added as 1 = masked
    good = TUTORIAL.replace("{cmp}", "equal")  # the tutorial as written
    assert hits(bad) == [("KC103", line_of(bad, "# <-"))]
    assert hits(good) == []


LOCAL = """
from keras import ops

def attend(scores, seq):
    {build}
    return ops.softmax({apply})  # <-
"""

CASES = [
    # (mask built, applied wrongly, applied correctly)
    ("mask = ops.cast(ops.not_equal(seq, 0), 'float32')", "scores + mask * -1e9",
     "scores + (1.0 - mask) * -1e9"),
    ("mask = ops.cast(seq == 0, 'float32')", "scores + (1 - mask) * -1e9", "scores + mask * -1e9"),
    ("mask = seq != 0", "ops.where(mask, -1e9, scores)", "ops.where(mask, scores, -1e9)"),
    ("mask = ops.equal(seq, 0)", "ops.where(mask, scores, float('-inf'))",
     "ops.where(mask, float('-inf'), scores)"),
    ("mask = ops.cast(seq > 0, 'float32')", "scores - 1e9 * mask", "scores - 1e9 * (1 - mask)"),
    ("mask = ops.cast(ops.equal(seq, 0), 'float32')", "scores + (mask - 1) * 1e9", "scores + mask * -1e4"),
]


@pytest.mark.parametrize(("build", "wrong", "right"), CASES, ids=[c[1] for c in CASES])
def test_local_masks(build: str, wrong: str, right: str) -> None:
    bad = LOCAL.format(build=build, apply=wrong)
    good = LOCAL.format(build=build, apply=right)
    assert hits(bad) == [("KC103", line_of(bad, "# <-"))]
    assert hits(good) == []


def test_keras_attention_mask_is_keep() -> None:
    code = """
import tensorflow as tf
from tensorflow import keras
tokens = keras.Input(shape=(None,), dtype="int32")
x = keras.layers.Embedding(100, 16)(tokens)
mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=8)
mask = tf.math.{cmp}(tokens, 0)[:, tf.newaxis, :]
out = mha(x, x, attention_mask=mask)  # <-
"""
    bad = code.replace("{cmp}", "equal")
    assert hits(bad) == [("KC103", line_of(bad, "# <-"))]
    assert hits(code.replace("{cmp}", "not_equal")) == []


def test_combined_masks_and_unknown_ones() -> None:
    """``maximum`` of two 1 = masked masks stays masked; a mask of unknown making says nothing."""
    code = """
import tensorflow as tf
def masks(inp, tar, size):
    look_ahead = 1 - tf.linalg.band_part(tf.ones((size, size)), -1, 0)
    padding = tf.cast(tf.math.{cmp}(tar, 0), tf.float32)
    return tf.maximum(padding, look_ahead)
def attend(scores, inp, tar, loaded_mask):
    scores = scores + masks(inp, tar, 4) * -1e9  # <-
    return tf.nn.softmax(scores + loaded_mask * -1e9)
"""
    bad = code.replace("{cmp}", "not_equal")  # maximum(keep, masked): unknown, so silent
    assert hits(bad) == []
    good = code.replace("{cmp}", "equal")
    assert hits(good) == []
    flipped = good.replace("look_ahead = 1 - tf.linalg", "look_ahead = tf.linalg").replace(
        "tf.math.equal(tar, 0)", "tf.math.not_equal(tar, 0)").replace("tf.maximum", "tf.minimum")
    assert hits(flipped) == [("KC103", line_of(flipped, "# <-"))]


def test_a_mask_passed_down_many_calls_is_read_once() -> None:
    """Four levels, thirty calls each: found once, at the use, without reading each path again."""
    lines = ["import tensorflow as tf", "def f0(x, mask):", "    return tf.nn.softmax(x + mask * -1e9)  # <-"]
    for i in range(1, 4):
        lines += [f"def f{i}(x, mask):", *[f"    x = f{i - 1}(x, mask)"] * 30, "    return x"]
    lines += ["m = tf.cast(tf.math.not_equal(t, 0), tf.float32)", *["y = f3(x, m)"] * 50]
    code = "\n".join(lines) + "\n"
    assert hits(code) == [("KC103", 3)]
