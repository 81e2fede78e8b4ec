"""KM308 (rules/hard_sigmoid.py) and KM304 (string activations, rules/layer_kwargs.py) in Keras 2 code."""

from tests.migrate.helpers import assert_fixed_point, rules_of, rw


def test_positive_reference_import_and_get():
    code, findings = rw("import keras\nfrom keras.engine.topology import Layer\n"
                        "from keras.activations import hard_sigmoid, relu\n"
                        "a = keras.layers.Dense(3, activation=keras.activations.hard_sigmoid)\n"
                        "b = keras.layers.LSTM(4, recurrent_activation=hard_sigmoid)\n"
                        "c = keras.activations.get('hard_sigmoid')\n")
    assert "from modern.compat import legacy_hard_sigmoid as hard_sigmoid" in code
    assert "from keras.activations import relu" in code
    assert "Dense(3, activation=compat.legacy_hard_sigmoid)" in code
    assert "LSTM(4, recurrent_activation=hard_sigmoid)" in code  # the name now is the legacy function
    assert "c = compat.legacy_hard_sigmoid" in code and "from modern import compat" in code
    assert {"KM308"} <= rules_of(findings, fixed=True)


def test_tf_keras_string_activation_and_alias():
    code, findings = rw("import tensorflow as tf\nfrom tensorflow.keras import activations as A\n"
                        "d = tf.keras.layers.Dense(2, activation='hard_sigmoid')\nf = A.hard_sigmoid\n")
    assert "Dense(2, activation=compat.legacy_hard_sigmoid)" in code
    assert "f = compat.legacy_hard_sigmoid" in code
    assert {"KM304", "KM308"} <= rules_of(findings, fixed=True)


def test_noop():
    src = "import tensorflow as tf\nd = tf.nn.sigmoid(x)\ns = 'hard_sigmoid'\n"
    assert rw(src) == (src, [])


def test_unknown_dialect_reported():
    src = "import keras\nf = keras.activations.hard_sigmoid\nd = keras.layers.Dense(2, activation='hard_sigmoid')\n"
    code, findings = rw(src)
    assert code == src
    assert sorted((f.rule, f.fixed) for f in findings) == [("KM304", False), ("KM308", False)]
    code, _ = rw(src, source="tf-keras-2")
    assert "f = compat.legacy_hard_sigmoid" in code


def test_idempotent():
    assert_fixed_point("from keras.activations import hard_sigmoid\nfrom keras import backend as K\n"
                       "y = hard_sigmoid(x) + K.epsilon()\n")
