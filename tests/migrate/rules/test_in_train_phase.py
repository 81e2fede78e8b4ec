"""KM213: K.in_train_phase (rules/in_train_phase.py).

The case is keras-position-wise-feed-forward 0.8.0's dropout branch, run by tests/realworld.
"""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rw

FEED_FORWARD = '''
from tensorflow import keras
from tensorflow.keras import backend as K


class Drop(keras.layers.Layer):
    def call(self, h, training=None):
        def dropped_inputs():
            return K.dropout(h, 0.5, K.shape(h))
        return K.in_train_phase(dropped_inputs, h, training=training)
'''


def test_in_train_phase_becomes_a_conditional():
    code, findings = rw(FEED_FORWARD)
    assert ("return ((dropped_inputs() if callable(dropped_inputs) else dropped_inputs) if training "
            "else (h() if callable(h) else h))") in code
    assert ("KM213", True) in {(f.rule, f.fixed) for f in findings}


def test_aliases_and_expressions():
    code, _ = rw("import tensorflow as tf\ny = tf.keras.backend.in_train_phase(a * 2, lambda: b, training=t)\n")
    assert "y = ((a * 2) if t else (lambda: b)())" in code
    code, _ = rw("from tensorflow.keras.backend import in_train_phase as itp\ny = itp(a, b, t)\n")
    assert "y = ((a() if callable(a) else a) if t else (b() if callable(b) else b))" in code


def test_without_training_reported():
    for src in ("from tensorflow.keras import backend as K\ny = K.in_train_phase(a, b)\n",
                "from tensorflow.keras import backend as K\ny = K.in_train_phase(a, b, training=None)\n",
                "from tensorflow.keras import backend as K\nf = K.in_train_phase\n"):
        code, findings = rw(src)
        assert "in_train_phase" in code
        assert [(f.rule, f.fixed) for f in findings if f.rule == "KM213"] == [("KM213", False)], src
        assert "`training` argument of call()" in [f for f in findings if f.rule == "KM213"][0].message


def test_noop_and_idempotent():
    src = "import keras\ny = a if training else b\n"
    assert rw(src) == (src, [])
    assert_fixed_point(FEED_FORWARD)


def test_rewritten_layer_drops_only_in_training():
    import keras

    code, _ = rw(FEED_FORWARD)
    namespace: dict[str, object] = {}
    exec(compile(code, "km213.py", "exec"), namespace)
    layer = namespace["Drop"]()  # type: ignore[operator]
    x = np.ones((4, 50), "float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)), x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x, training=False)), x)
    dropped = keras.ops.convert_to_numpy(layer(x, training=True))
    assert (dropped == 0).any() and set(np.unique(dropped)) <= {0.0, 2.0}
