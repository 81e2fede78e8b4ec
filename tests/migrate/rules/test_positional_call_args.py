"""KM301: positional training/mask to keywords (rules/positional_call_args.py)."""

from tests.migrate.helpers import assert_fixed_point, rw

SRC = '''
import tensorflow as tf

class Block(tf.keras.layers.Layer):
    def call(self, x, training, mask):
        return x

class Stack(tf.keras.layers.Layer):
    def __init__(self):
        super(Stack, self).__init__()
        self.first = Block()
        self.layers_ = [Block() for _ in range(2)]

    def call(self, x, training, mask=None):
        x = self.first(x, training, mask)
        for i in range(2):
            x = self.layers_[i](x, training, mask)
        return x

block = Block()
y = block(z, False, None)
'''


def test_positive():
    code, findings = rw(SRC)
    assert "self.first(x, training=training, mask=mask)" in code
    assert "self.layers_[i](x, training=training, mask=mask)" in code
    assert "block(z, training=False, mask=None)" in code
    assert sum(f.rule == "KM301" for f in findings) == 3


def test_noop_unknown_callee_and_keywords():
    src = "y = f(a, b, c)\nz = self.layer(x, training=True)\n"
    assert rw(src) == (src, [])


def test_alias_keras22_layer_base():
    code, _ = rw("from keras.engine.topology import Layer\nclass A(Layer):\n    def call(self, x, mask=None):\n"
                 "        return x\nclass B(Layer):\n    def __init__(self):\n        self.a = A()\n"
                 "    def call(self, x):\n        return self.a(x, None)\n")
    assert "self.a(x, mask=None)" in code


def test_unsupported_too_many_arguments_reported():
    _, findings = rw("import keras\nclass A(keras.layers.Layer):\n    def call(self, x):\n        return x\n"
                     "a = A()\ny = a(x, 1, 2)\n")
    assert [(f.rule, f.fixed) for f in findings if f.rule == "KM301"] == [("KM301", False)]


def test_idempotent():
    assert_fixed_point(SRC)
