"""KM603: compile metrics 'acc'/'ce' as Keras 2.2 chose them from the loss (rules/metric_by_loss.py)."""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rules_of, rw

K22 = "from keras import backend as K\nfrom keras.layers import Dense\n"


def test_positive_binary_loss():
    code, findings = rw(K22 + "m.compile('adam', loss='binary_crossentropy', metrics=['acc', 'ce'])\n")
    assert ("metrics=[keras.metrics.BinaryAccuracy(name='acc'), keras.metrics.BinaryCrossentropy(name='ce')]"
            in code)
    assert [f.fixed for f in findings if f.rule == "KM603"] == [True]


def test_positive_categorical_sparse_and_other_losses():
    code, findings = rw(K22 + "from keras import losses\n"
                        "a.compile(optimizer='sgd', loss='categorical_crossentropy', metrics=['accuracy', \"crossentropy\"])\n"
                        "b.compile('sgd', losses.sparse_categorical_crossentropy, ['ce'])\n"
                        "c.compile('sgd', 'mse', ['accuracy', 'mae'])\n")
    assert "metrics=['acc', keras.metrics.CategoricalCrossentropy(name=\"ce\")]" in code
    assert "['sparse_categorical_crossentropy'" not in code
    assert "[keras.metrics.SparseCategoricalCrossentropy(name='ce')]" in code
    assert "c.compile('sgd', 'mse', ['acc', 'mae'])" in code
    assert all(f.fixed for f in findings if f.rule == "KM603")


def test_noop():
    src = K22 + "m.compile('adam', loss='binary_crossentropy', metrics=['mae', keras_metric])\nm.compile('adam', 'mse')\n"
    code, findings = rw(src)
    assert "metrics=['mae', keras_metric]" in code and "KM603" not in rules_of(findings)


def test_unsupported_reported():
    code, findings = rw(K22 + "m.compile('sgd', loss=my_loss, metrics=['acc'])\nn.compile('sgd', 'mse', ['ce'])\n")
    assert "metrics=['acc']" in code and "['ce']" in code
    unfixed = [f.message for f in findings if f.rule == "KM603" and not f.fixed]
    assert len(unfixed) == 2 and "BinaryAccuracy" in unfixed[0] and "'ce' with loss 'mse'" in unfixed[1]


def test_alias_tf_keras_ce_reported_only():
    code, findings = rw("import tensorflow as tf\nm.compile('adam', loss='binary_crossentropy', metrics=['acc', 'ce'])\n")
    assert "metrics=['acc', 'ce']" in code
    assert [(f.rule, f.fixed) for f in findings if f.rule == "KM603"] == [("KM603", False)]
    code, _ = rw("from keras.models import Model\nfrom keras import backend\n"
                 "m.compile('adam', loss='binary_crossentropy', metrics=['accuracy'])\n")
    assert "keras.metrics.BinaryAccuracy(name='acc')" in code


def test_idempotent():
    assert_fixed_point(K22 + "m.compile('adam', loss='binary_crossentropy', metrics=['acc'])\n"
                       "n.compile('adam', loss='categorical_crossentropy', metrics=['accuracy'])\n")


def test_rewritten_compile_reports_what_keras22_reported():
    """A 3-unit sigmoid model: Keras 2.2.4 computed binary accuracy (mean of round(p) == y) under
    'acc'; tf_keras and unrewritten Keras 3 code report categorical accuracy."""
    import keras
    import tf_keras

    x = np.array([[1.0, -1.0], [0.5, 0.2]], "float32")
    y = np.array([[1, 0, 0], [0, 1, 1]], "float32")

    def build(k):  # type: ignore[no-untyped-def]
        inputs = k.Input((2,))
        return k.Model(inputs, k.layers.Dense(3, activation="sigmoid", kernel_initializer="ones")(inputs))

    p = 1 / (1 + np.exp(-x.sum(axis=1, keepdims=True) * np.ones((1, 3))))
    keras22 = float(np.mean(np.equal(y, np.round(p))))  # 2.2.4 metrics.binary_accuracy

    code, _ = rw(K22 + "model.compile('sgd', loss='binary_crossentropy', metrics=['acc'])\n")
    model = build(keras)
    exec(compile(code, "compile.py", "exec"), {"model": model})
    migrated = model.evaluate(x, y, verbose=0, return_dict=True)
    legacy = build(tf_keras)
    legacy.compile("sgd", loss="binary_crossentropy", metrics=["acc"])
    tf_keras2 = legacy.evaluate(x, y, verbose=0, return_dict=True)["acc"]
    assert abs(migrated["acc"] - keras22) < 1e-6 and abs(tf_keras2 - keras22) > 0.1


def test_own_loss_function_is_not_binary_crossentropy():
    """Keras 2.2 picked binary accuracy for a loss only when it was losses.binary_crossentropy itself;
    a function of the module (Keras 2.2.4's cifar10_cnn_capsule margin_loss) leaves the choice to the
    output width, as Keras 3 does: 'accuracy' is renamed, nothing is reported."""
    code, findings = rw(K22 + "def margin_loss(y, p):\n    return p\n"
                        "model.compile(loss=margin_loss, optimizer='adam', metrics=['accuracy'])\n")
    assert "metrics=['acc']" in code
    assert [(f.fixed, f.message) for f in findings if f.rule == "KM603"] == [
        (True, "metrics as Keras 2.2 chose them (loss not a Keras name): 'accuracy' -> 'acc'")]
