"""KM214: K.update/update_add/update_sub and self.add_update (rules/variable_update.py).

The case is keras-transformer-xl 0.14.0's Memory layer (also in keras-xlnet), run by
tests/realworld.
"""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rw

MEMORY = '''
from tensorflow import keras
from tensorflow.keras import backend as K


class Memory(keras.layers.Layer):
    def build(self, input_shape):
        self.memory = self.add_weight(shape=(2, 3), initializer="zeros", trainable=False, name="memory")
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="count")
        super(Memory, self).build(input_shape)

    def call(self, inputs):
        new_memory = K.concatenate([self.memory[:, 1:], inputs], axis=1)
        self.add_update(K.update(self.memory, new_memory), inputs)
        self.add_update(K.update_add(self.count, 1.0))
        return new_memory
'''


def test_update_becomes_assign_and_add_update_goes():
    code, findings = rw(MEMORY)
    assert "        self.memory.assign(new_memory)\n" in code
    assert "        self.count.assign_add(1.0)\n" in code
    assert "add_update" not in code and "K.update" not in code
    assert [(f.rule, f.fixed) for f in findings if f.rule == "KM214"] == [("KM214", True)] * 4


def test_aliases_keywords_and_expression_use():
    code, _ = rw("import tensorflow as tf\nop = tf.keras.backend.update_sub(x=v, decrement=d * 2)\n")
    assert "op = v.assign_sub(d * 2)" in code
    code, _ = rw("from keras import backend as KB\nKB.update(a.b[0], KB.zeros((2,)))\n")
    assert "a.b[0].assign(" in code


def test_unsupported_reported():
    cases = {
        "from keras import backend as K\nf = K.update\n": "used as a value",
        "from keras import backend as K\nK.update(v, x, y)\n": "with these arguments",
        "import keras\nclass L(keras.layers.Layer):\n    def call(self, x):\n"
        "        self.add_update([op1, op2])\n        return x\n": "add_update(...) is not Keras 3 API",
    }
    for src, words in cases.items():
        code, findings = rw(src)
        km214 = [f for f in findings if f.rule == "KM214"]
        assert [f.fixed for f in km214] == [False], src
        assert words in km214[0].message and "v.assign(x)" in km214[0].message


def test_noop_and_idempotent():
    src = "import keras\nmodel.add_update(x)\nv.assign(x)\n"  # another object's add_update is not Keras's
    assert rw(src) == (src, [])
    assert_fixed_point(MEMORY)


def test_rewritten_layer_keeps_its_memory():
    import keras

    code, _ = rw(MEMORY)
    namespace: dict[str, object] = {}
    exec(compile(code, "km214.py", "exec"), namespace)
    layer = namespace["Memory"]()  # type: ignore[operator]
    for step in (1.0, 2.0):
        out = keras.ops.convert_to_numpy(layer(np.full((2, 1), step, "float32")))
    # The two calls shifted 1 and then 2 into the memory and counted both (Keras 2's updates).
    np.testing.assert_array_equal(out, [[0, 1, 2], [0, 1, 2]])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.memory), [[0, 1, 2], [0, 1, 2]])
    assert float(keras.ops.convert_to_numpy(layer.count)) == 2.0
