"""KM604: sample weights in Keras 2.2 code scale the loss differently (rules/sample_weight_scale.py)."""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rules_of, rw

K22 = "from keras import backend as K\nfrom keras.models import Model\n"


def test_positive_reported():
    code, findings = rw(K22 + "model.fit(x, y, sample_weight=w, epochs=2)\nmodel.evaluate(x, y, sample_weight=w)\n"
                        "model.train_on_batch(x, y, sample_weight=w)\n")
    assert "sample_weight=w" in code  # nothing to rewrite: no Keras 3 argument divides by the non-zero count
    assert [(f.rule, f.fixed, f.line) for f in findings if f.rule == "KM604"] == [
        ("KM604", False, 3), ("KM604", False, 4), ("KM604", False, 5)]


def test_noop_without_weights_and_in_tf_keras2():
    _, findings = rw(K22 + "model.fit(x, y, class_weight=c)\n")
    assert "KM604" not in rules_of(findings)
    _, findings = rw("import tensorflow as tf\nmodel.fit(x, y, sample_weight=w)\n")
    assert "KM604" not in rules_of(findings)  # tf.keras 2 already divided by the batch size


def test_alias_from_flag_and_unsupported_positional():
    _, findings = rw("import keras\nmodel.fit(x, y, sample_weight=w)\n", source="keras-2.2")
    assert rules_of(findings) >= {"KM604"}
    _, findings = rw(K22 + "model.fit(x, y, 32, 1, 0, None, 0.0, None, True, None, w)\n")
    assert "KM604" not in rules_of(findings)  # positional sample_weight: not seen (a reported miss is fine)


def test_idempotent():
    assert_fixed_point(K22 + "model.fit(x, y, sample_weight=w)\n")


def test_the_scale_the_report_names():
    """Keras 3 evaluates sum(w*l)/N; Keras 2.2.4's weighted_masked_objective gave sum(w*l)/count(w != 0),
    which the fix in the message (weights times N / count(w != 0)) reproduces on Keras 3."""
    import keras

    x = np.array([[1.0], [2.0], [3.0], [4.0]], "float32")
    y = np.zeros((4, 1), "float32")
    w = np.array([1.0, 0.0, 2.0, 0.0], "float32")
    inputs = keras.Input((1,))
    model = keras.Model(inputs, keras.layers.Dense(1, kernel_initializer="ones", use_bias=False)(inputs))
    model.compile("sgd", "mse")
    losses = (w * x[:, 0] ** 2)
    keras22 = float(losses.sum() / np.count_nonzero(w))
    plain = model.evaluate(x, y, sample_weight=w, batch_size=4, verbose=0)
    fixed = model.evaluate(x, y, sample_weight=w * 4 / np.count_nonzero(w), batch_size=4, verbose=0)
    assert abs(plain - keras22) > 1.0 and abs(fixed - keras22) < 1e-5
