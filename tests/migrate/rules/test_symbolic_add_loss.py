"""KM322: add_loss of a symbolic tensor on a functional model (rules/symbolic_add_loss.py).

That the code the finding describes runs on Keras 3 is shown on Keras 2.2.4's two VAE
scripts by ``tests/realworld/keras_examples/test_suggested_fixes.py``.
"""

from tests.migrate.helpers import assert_fixed_point, rules_of, rw

VAE = """\
from keras.layers import Input, Dense
from keras.models import Model
from keras import backend as K

inputs = Input(shape=(4,))
z_mean = Dense(2)(inputs)
outputs = Dense(4)(z_mean)
vae = Model(inputs, outputs, name='vae')
kl_loss = K.sum(K.square(z_mean), axis=-1)
vae.add_loss(K.mean(kl_loss))
vae.compile(optimizer='adam')
"""


def test_reported_with_the_code_to_write():
    code, findings = rw(VAE)
    km322 = [f for f in findings if f.rule == "KM322"]
    assert [(f.fixed, f.line) for f in km322] == [(False, 10)]
    message = km322[0].message
    assert message.startswith("vae.add_loss(ops.mean(kl_loss)): Keras 3 has no add_loss on a functional model")
    assert "class AddLoss(keras.layers.Layer)" in message and "self.add_loss(ops.mean(kl_loss))" in message
    assert "vae = Model(<its inputs>, AddLoss()([<its output>" in message
    assert "vae.add_loss(ops.mean(kl_loss))" in code  # the statement itself is left for the human


def test_alias_tf_keras_model():
    src = """\
    import tensorflow as tf
    from tensorflow import keras

    x = keras.Input((3,))
    m = tf.keras.Model(x, keras.layers.Dense(1)(x))
    m.add_loss(tf.reduce_mean(x))
    """
    _, findings = rw(src)
    assert "KM322" in rules_of(findings, fixed=False)


def test_noop_layer_add_loss_and_other_receivers():
    src = """\
    from keras.layers import Layer
    from keras.models import Sequential
    from keras import backend as K

    class Penalty(Layer):
        def call(self, x):
            self.add_loss(K.sum(x))
            return x

    seq = Sequential()
    other = object()
    other.add_loss(1)
    """
    _, findings = rw(src)
    assert "KM322" not in rules_of(findings)


def test_todo_comment_and_idempotent():
    once = assert_fixed_point(VAE, todo_comments=True)
    assert once.count("TODO(migrate KM322)") == 1
