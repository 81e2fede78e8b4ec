"""KC102: softmax over attention scores of padded sequences with no mask."""

from __future__ import annotations

import pytest

from tests.migrate.check.helpers import hits, line_of

FUNCTIONAL = """
import keras
from keras import layers, ops
tokens = keras.Input(shape=(None,), dtype="int32")
emb = layers.Embedding(1000, 32, mask_zero=True)(tokens)
q = layers.Dense(32)(emb)
scores = ops.matmul(q, ops.transpose(emb, (0, 2, 1))) / 5.0
{softmax}
"""

IGNORED_MASK = """
import tensorflow as tf
from tensorflow.keras import layers

class Attention(layers.Layer):
    def call(self, q, k, v, mask=None):
        scores = tf.matmul(q, k, transpose_b=True)
        scores = scores / tf.math.sqrt(32.0)
        {body}
        return tf.matmul(weights, v)
"""

CASES = [
    (FUNCTIONAL, "weights = ops.softmax(scores)  # <-",
     ("keep = ops.cast(ops.not_equal(tokens, 0), 'float32')[:, None, :]\n"
     "weights = ops.softmax(scores + (1.0 - keep) * -1e9)")),
    (FUNCTIONAL, "weights = layers.Softmax()(scores)  # <-",
     "weights = layers.Softmax()(scores, mask=ops.not_equal(tokens, 0)[:, None, :])"),
    (IGNORED_MASK, "weights = tf.nn.softmax(scores, axis=-1)  # <-",
     "weights = tf.nn.softmax(scores + (1.0 - mask) * -1e9, axis=-1)"),
    (IGNORED_MASK, "weights = tf.nn.softmax(scores, axis=-1)  # <-",
     "weights = tf.nn.softmax(tf.where(mask, scores, -1e9), axis=-1)"),
]


@pytest.mark.parametrize(("program", "bad", "good"), CASES)
def test_flagged_and_fixed(program: str, bad: str, good: str) -> None:
    bad_code = program.replace("{softmax}", bad).replace("{body}", bad)
    good_code = program.replace("{softmax}", good).replace("{body}", good.replace("\n", "\n        "))
    assert hits(bad_code, "KC102") == [("KC102", line_of(bad_code, "# <-"))]
    assert hits(good_code) == []


def test_softmax_that_is_not_over_keys() -> None:
    """A softmax over a vocabulary (``dot`` on a weight), over features, or with no padding in sight."""
    code = """
from keras import backend as K
import keras
class Similarity(keras.layers.Layer):
    def call(self, inputs, mask=None):
        x, embeddings = inputs
        return keras.activations.softmax(K.dot(x, K.transpose(embeddings)))
def classify(h):
    return K.softmax(keras.layers.Dense(10)(h))
def attend(q, k):
    return K.softmax(K.batch_dot(q, k, axes=[2, 2]))
"""
    assert hits(code) == []
