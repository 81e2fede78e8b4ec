"""KM319: call(self, inputs, mask=None, **kwargs) gets the inputs' masks (rules/mask_with_kwargs.py).

The case is bert4keras 0.11.5's MultiHeadAttention, called as layer([q, k, v], a_bias=None),
run by tests/realworld.
"""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rw

LAYER = '''
import tensorflow as tf
from tensorflow import keras


class Pool(keras.layers.Layer):
    def __init__(self, **kwargs):
        super(Pool, self).__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None, **kwargs):
        x = inputs[0]
        if mask is None or mask[0] is None:
            return tf.reduce_sum(x, axis=1)
        m = tf.cast(mask[0], x.dtype)[:, :, None]
        return tf.reduce_sum(x * m, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None
'''


def test_call_added_before_call():
    code, findings = rw(LAYER)
    assert "    def __call__(self, inputs, *args, **kwargs):\n" in code
    assert code.index("def __init__") < code.index("def __call__") < code.index("def call(")
    assert 'kwargs["mask"] = keras.tree.map_structure(lambda t: getattr(t, "_keras_mask", None), inputs)' in code
    assert [(f.rule, f.fixed) for f in findings if f.rule == "KM319"] == [("KM319", True)]


def test_noop_and_idempotent():
    for src in (LAYER.replace("mask=None, **kwargs", "mask=None"),  # Keras 3 passes the mask itself
                LAYER.replace("mask=None, **kwargs", "**kwargs"),  # takes no mask
                LAYER.replace("    def call(", "    def __call__(self, *a, **k):\n        return 1\n\n    def call(")):
        code, findings = rw(src)
        assert "KM319" not in {f.rule for f in findings}, src
        assert code.count("__call__") == src.count("__call__")
    assert_fixed_point(LAYER)


def test_rewritten_layer_sees_the_mask():
    import keras

    code, _ = rw(LAYER)
    namespace: dict[str, object] = {}
    exec(compile(code, "km319.py", "exec"), namespace)
    tokens = keras.Input((4,))
    x = keras.layers.Embedding(5, 2, mask_zero=True, embeddings_initializer="ones")(tokens)
    pooled = namespace["Pool"]()([x, x], a_bias=None)  # type: ignore[operator]
    model = keras.Model(tokens, pooled)
    got = model.predict(np.array([[1, 2, 0, 0]]), verbose=0)
    # Keras 2: the two padded positions are masked out (sum of 2 ones); without the rule Keras 3 sums 4.
    np.testing.assert_array_equal(got, [[2.0, 2.0]])
