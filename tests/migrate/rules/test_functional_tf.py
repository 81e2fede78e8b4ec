"""KM305: raw TF ops on symbolic tensors in functional code (rules/functional_tf.py)."""

from tests.migrate.helpers import assert_fixed_point, rw

SRC = '''
import tensorflow as tf

def build():
    x = tf.keras.Input(shape=(4,))
    y = tf.reduce_mean(x, axis=-1, keepdims=True)
    z = tf.concat([x, y], axis=-1)
    w = tf.einsum('bi->b', z)
    return tf.keras.Model(x, w)
'''


def test_positive_and_unsupported():
    code, findings = rw(SRC)
    assert "ops.mean(x, axis=-1, keepdims=True)" in code
    assert "ops.concatenate([x, y], axis=-1)" in code
    assert "tf.einsum('bi->b', z)" in code
    assert ("KM305", False) in {(f.rule, f.fixed) for f in findings}


def test_noop_outside_functional_code():
    src = "import tensorflow as tf\n\ndef f(x):\n    return tf.reduce_mean(x)\n"
    assert rw(src) == (src, [])


def test_alias_keras22_input():
    code, _ = rw("import tensorflow as tf\nfrom keras.layers import Input\nx = Input((3,))\ny = tf.shape(x)\n")
    assert "y = ops.shape(x)" in code


def test_idempotent():
    assert_fixed_point(SRC)
