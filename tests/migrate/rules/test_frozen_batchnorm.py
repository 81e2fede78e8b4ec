"""KM606: frozen BatchNormalization in Keras 2.2 code (rules/frozen_batchnorm.py)."""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rules_of, rw

K22 = "from keras import backend as K\nfrom keras.layers import BatchNormalization, Dense\n"


def test_positive_reported():
    code, findings = rw(K22 + "bn = BatchNormalization(trainable=False)\nfor layer in base.layers:\n"
                        "    layer.trainable = False\n")
    assert "BatchNormalization(trainable=False)" in code
    assert [(f.rule, f.fixed, f.line) for f in findings if f.rule == "KM606"] == [
        ("KM606", False, 3), ("KM606", False, 5)]


def test_noop():
    _, findings = rw("from keras import backend as K\nfrom keras.layers import Dense\nd = Dense(3)\n"
                     "d.trainable = False\nbn_like = Dense(2, trainable=False)\n")
    assert "KM606" not in rules_of(findings)  # no BatchNormalization in sight
    _, findings = rw("import tensorflow as tf\nbn = tf.keras.layers.BatchNormalization(trainable=False)\n")
    assert "KM606" not in rules_of(findings)  # tf.keras 2 already froze BN in inference mode


def test_alias_applications():
    _, findings = rw("from keras import backend as K\nfrom keras.applications.resnet50 import ResNet50\n"
                     "base = ResNet50(weights=None)\nbase.trainable = False\n")
    assert [f.line for f in findings if f.rule == "KM606"] == [4]


def test_unsupported_trainable_variable_not_reported():
    _, findings = rw(K22 + "bn = BatchNormalization(trainable=flag)\n")
    assert "KM606" not in rules_of(findings)


def test_idempotent():
    assert_fixed_point(K22 + "bn = BatchNormalization(trainable=False)\n")


def test_frozen_batchnorm_on_both_runtimes():
    """Called in training on a batch of mean 5: tf_keras and Keras 3 leave it (moving statistics 0/1);
    Keras 2.2.4's call normalised it with the batch's own mean and variance."""
    import keras
    import tf_keras

    x = np.array([[3.0], [7.0]], "float32")
    keras22 = (x - x.mean()) / np.sqrt(x.var() + 1e-3)  # BatchNormalization.call in training, 2.2.4
    legacy = tf_keras.layers.BatchNormalization(trainable=False)(x, training=True).numpy()
    modern = keras.ops.convert_to_numpy(keras.layers.BatchNormalization(trainable=False)(x, training=True))
    np.testing.assert_allclose(legacy, modern, atol=1e-6)
    assert np.abs(modern - keras22).max() > 1.0
