"""KM409: optimizer arguments whose Keras 2 meaning differs (rules/optimizer_defaults.py)."""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rules_of, rw

K22 = "from keras import backend as K\nfrom keras.optimizers import Adam, Adagrad, Nadam\n"


def test_positive_epsilon_none_and_adagrad_pin():
    code, findings = rw(K22 + "a = Adam(lr=1e-3, epsilon=None)\ng = Adagrad(lr=0.05)\n")
    assert "a = Adam(learning_rate=1e-3, epsilon=keras.config.epsilon())" in code
    assert "g = Adagrad(learning_rate=0.05, initial_accumulator_value=0.0)" in code
    fixed = [f.message for f in findings if f.rule == "KM409" and f.fixed]
    assert len(fixed) == 2
    assert [f.rule for f in findings if not f.fixed] == ["KM409"]  # epsilon placement in Adagrad


def test_pinned_accumulator_reproduces_the_keras22_first_step():
    import keras

    # gradients well above sqrt(epsilon): where the epsilon sits does not show (that part is reported)
    lr, eps, g = 0.05, 1e-7, np.array([0.3, -2.0, 0.1], "float32")
    keras22 = -lr * g / (np.sqrt(g * g) + eps)  # accumulators from K.zeros, epsilon outside the root
    for init, close in ((0.0, True), (0.1, False)):
        v = keras.Variable(np.zeros(3, "float32"))
        opt = keras.optimizers.Adagrad(learning_rate=lr, initial_accumulator_value=init)
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), v)])
        assert np.allclose(keras.ops.convert_to_numpy(v), keras22, rtol=1e-5) == close


def test_nadam_reported():
    code, findings = rw(K22 + "n = Nadam(lr=2e-3, schedule_decay=0.004)\nm = Nadam()\n")
    assert "schedule_decay=0.004" in code  # left for a human: no Keras 3 equivalent
    notes = [f.message for f in findings if f.rule == "KM409"]
    assert any("schedule_decay" in m for m in notes) and any("0.96**(0.004*step)" in m for m in notes)


def test_noop_tf_keras2():
    src = ("import tensorflow as tf\no = tf.keras.optimizers.Adagrad(learning_rate=0.1)\n"
           "n = tf.keras.optimizers.Nadam()\n")
    code, findings = rw(src)
    assert "initial_accumulator_value" not in code and "KM409" not in rules_of(findings)


def test_alias_epsilon_none_any_dialect():
    code, _ = rw("import tensorflow as tf\no = tf.keras.optimizers.RMSprop(epsilon=None)\n")
    assert "RMSprop(epsilon=keras.config.epsilon())" in code


def test_idempotent():
    assert_fixed_point(K22 + "a = Adam(epsilon=None)\ng = Adagrad()\n")


def test_rmsprop_epsilon_placement_reported_for_keras22():
    _, findings = rw(K22 + "from keras.optimizers import RMSprop\nr = RMSprop(lr=1e-3)\n")
    assert [f.message for f in findings if f.rule == "KM409" and not f.fixed] == [
        "RMSprop: Keras 3 divides by sqrt(v + epsilon), Keras 2.2 by sqrt(v) + epsilon; updates differ slightly"]
    _, findings = rw("import tensorflow as tf\nr = tf.keras.optimizers.RMSprop()\n")
    assert "KM409" not in rules_of(findings)


def test_lion_tf_keras2_learning_rate_pinned():
    src = ("import tensorflow as tf\nfrom tensorflow.keras.optimizers import Lion\na = tf.keras.optimizers.Lion()\n"
           "b = Lion(beta_1=0.95)\nc = Lion(3e-4)\nd = Lion(learning_rate=1e-5)\n")
    code, findings = rw(src)
    assert "a = keras.optimizers.Lion(learning_rate=0.0001)" in code
    assert "b = Lion(learning_rate=0.0001, beta_1=0.95)" in code
    assert "c = Lion(3e-4)" in code and "d = Lion(learning_rate=1e-5)" in code
    assert len([f for f in findings if f.rule == "KM409" and f.fixed]) == 2
    assert_fixed_point(src)
    _, findings = rw("import keras\nopt = keras.optimizers.Lion()\n")  # maybe Keras 3 already: left alone
    assert "KM409" not in rules_of(findings)


def test_lion_pin_reproduces_the_tf_keras_step():
    import tf_keras
    import tensorflow as tf
    import keras

    g = np.array([0.3, -2.0], "float32")
    v_legacy = tf.Variable(np.zeros(2, "float32"))
    tf_keras.optimizers.Lion().apply_gradients([(tf.constant(g), v_legacy)])
    code, _ = rw("import tensorflow as tf\nopt = tf.keras.optimizers.Lion()\n")
    namespace: dict[str, object] = {}
    exec(compile(code, "lion.py", "exec"), namespace)
    v = keras.Variable(np.zeros(2, "float32"))
    namespace["opt"].apply_gradients([(keras.ops.convert_to_tensor(g), v)])  # type: ignore[attr-defined]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(v), v_legacy.numpy(), rtol=1e-6)
