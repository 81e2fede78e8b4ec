"""KM212: K.backend() (rules/backend_name.py) -> keras.backend.backend(), never a KM209 report."""

from tests.migrate.helpers import assert_fixed_point, rules_of, rw

TF = "import tensorflow as tf\n"


def test_tf_keras_call_is_moved_to_keras():
    code, findings = rw(TF + "if tf.keras.backend.backend() == 'tensorflow':\n    pass\n")
    assert code == "import tensorflow as tf\nimport keras\nif keras.backend.backend() == 'tensorflow':\n    pass\n"
    assert [(f.rule, f.fixed) for f in findings] == [("KM212", True)]


def test_tf_keras_backend_alias():
    code, findings = rw("from tensorflow.keras import backend as K\nname = K.backend()\n")
    assert "name = keras.backend.backend()" in code and "K." not in code
    assert "KM212" in rules_of(findings, fixed=True) and "KM209" not in rules_of(findings)


def test_module_alias_through_tensorflow():
    code, _ = rw("import tensorflow.keras.backend as B\nname = B.backend()\n")
    assert "name = keras.backend.backend()" in code


def test_standalone_keras_is_already_keras3():
    """`from keras import backend as KB`: keras.backend.backend exists in Keras 3; nothing to do, no KM209."""
    src = "from keras import backend as KB\nname = KB.backend()\n"
    assert rw(src, source="keras-2.2") == (src, [])


def test_used_as_a_value():
    code, findings = rw(TF + "get_name = tf.keras.backend.backend\n")
    assert "get_name = keras.backend.backend\n" in code
    assert [(f.rule, f.fixed) for f in findings] == [("KM212", True)]


def test_noop():
    src = "import keras\nname = keras.backend.backend()\n"
    assert rw(src) == (src, [])


def test_arguments_reported():
    _, findings = rw("from tensorflow.keras import backend as K\nname = K.backend(1)\n")
    assert [(f.rule, f.fixed) for f in findings if f.rule.startswith("KM2")] == [("KM212", False)]


def test_idempotent():
    assert_fixed_point(TF + "from tensorflow.keras import backend as K\na = K.backend()\nb = tf.keras.backend.backend()\n")


def test_same_answer_as_tf_keras():
    """The rewrite keeps the value: both name the backend in use (TensorFlow for tf_keras)."""
    import keras
    import tf_keras

    assert tf_keras.backend.backend() == "tensorflow"
    assert keras.backend.backend() == keras.config.backend()
    if keras.config.backend() == "tensorflow":
        assert keras.backend.backend() == tf_keras.backend.backend()
