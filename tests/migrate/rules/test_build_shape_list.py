"""KM316: ``isinstance(input_shape, list)`` in build() (rules/build_shape_list.py).

The case is keras-multi-head 0.29.0's ``MultiHeadAttention.build``, which tests/realworld
runs end to end: before the rule its ``.keras`` file failed to load ("'int' object is
not subscriptable").
"""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rw

ATTENTION = '''
from tensorflow import keras


class Attention(keras.layers.Layer):
    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list):
            q, k, v = input_shape
            return q[:-1] + (v[-1],)
        return input_shape

    def build(self, input_shape):
        if isinstance(input_shape, list):
            q, k, v = input_shape
        else:
            q = k = v = input_shape
        self.w = self.add_weight(shape=(int(q[-1]), int(v[-1])), initializer='ones', name='w')
        super(Attention, self).build(input_shape)

    def call(self, inputs):
        if isinstance(inputs, list):
            q, k, v = inputs
        else:
            q = k = v = inputs
        return keras.backend.dot(q, self.w) + k * 0 + v * 0
'''

_TEST = "(isinstance(input_shape, list) and len(input_shape) > 0 and isinstance(input_shape[0], (list, tuple)))"


def test_shape_tests_rewritten_in_build_and_compute_output_shape():
    code, findings = rw(ATTENTION)
    assert code.count(_TEST) == 2
    assert "if isinstance(inputs, list):" in code  # call() sees tensors, not shapes: untouched
    assert sorted(f.message.split(":")[0] for f in findings if f.rule == "KM316") == [
        "Attention.build", "Attention.compute_output_shape"]


def test_list_or_tuple_and_other_names():
    src = ("import tensorflow as tf\n\n\nclass L(tf.keras.layers.Layer):\n    def build(self, shapes):\n"
           "        self.many = not isinstance(shapes, (list, tuple))\n")
    code, _ = rw(src)
    assert "not (isinstance(shapes, list) and len(shapes) > 0 and isinstance(shapes[0], (list, tuple)))" in code


def test_noop_cases():
    for src in (
        "import keras\n\n\nclass L(keras.layers.Layer):\n    def build(self, s):\n"
        "        self.d = isinstance(s, dict)\n",
        "class Plain:\n    def build(self, s):\n        return isinstance(s, list)\n",
        "import keras\n\n\nclass L(keras.layers.Layer):\n    def build(self, s):\n"
        "        return isinstance(other, list)\n",
    ):
        code, findings = rw(src)
        assert "len(" not in code and not [f for f in findings if f.rule == "KM316"], src


def test_rule_off_and_idempotent():
    code, _ = rw(ATTENTION, ignore=frozenset({"KM316"}))
    assert _TEST not in code
    assert_fixed_point(ATTENTION)


def test_rewritten_layer_reloads_from_keras_file(tmp_path):
    """Built from a tuple, rebuilt from the JSON list on load: same weights, same outputs."""
    import keras

    code, _ = rw(ATTENTION)
    namespace: dict[str, object] = {"__name__": "km316_case"}
    exec(compile(code, "km316_case.py", "exec"), namespace)
    inputs = keras.Input((3, 4))
    model = keras.Model(inputs, namespace["Attention"](name="att")(inputs))  # type: ignore[operator]
    x = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), expected)
