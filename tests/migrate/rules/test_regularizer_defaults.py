"""KM601: keras.regularizers.l1_l2() keeps its Keras 2 strengths (rules/regularizer_defaults.py)."""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rules_of, rw

K22 = "from keras import backend as K\nfrom keras.layers import Dense\nfrom keras.regularizers import l1_l2\n"


def test_positive_defaults_written_out():
    code, findings = rw(K22 + "d = Dense(3, kernel_regularizer=l1_l2())\ne = Dense(3, kernel_regularizer=l1_l2(0.1))\n")
    assert "kernel_regularizer=l1_l2(l1=0.01, l2=0.01)" in code
    assert "kernel_regularizer=l1_l2(0.1, l2=0.01)" in code
    assert [f.fixed for f in findings if f.rule == "KM601"] == [True, True]


def test_noop_both_given():
    src = K22 + "r = l1_l2(l1=0.0, l2=1e-4)\ns = l1_l2(0.1, 0.2)\n"
    code, findings = rw(src)
    assert "r = l1_l2(l1=0.0, l2=1e-4)" in code and "s = l1_l2(0.1, 0.2)" in code
    assert "KM601" not in rules_of(findings)


def test_alias_tf_keras():
    code, _ = rw("import tensorflow as tf\nr = tf.keras.regularizers.l1_l2(l2=1e-3)\n")
    assert "keras.regularizers.l1_l2(l2=1e-3, l1=0.01)" in code


def test_unsupported_unknown_dialect_and_star_args():
    code, findings = rw("import keras\nr = keras.regularizers.l1_l2()\nkw = {}\ns = keras.regularizers.l1_l2(**kw)\n")
    assert "l1_l2()" in code
    assert [(f.rule, f.fixed) for f in findings if f.rule == "KM601"] == [("KM601", False)]


def test_idempotent():
    assert_fixed_point(K22 + "d = Dense(3, kernel_regularizer=l1_l2())\n")


def test_rewritten_penalty_equals_the_keras2_one():
    """The rewritten call on Keras 3 computes tf_keras's l1_l2() penalty; the unrewritten one is 0."""
    import keras
    import tf_keras

    w = np.array([[0.5, -2.0], [1.5, 0.25]], "float32")
    legacy = float(tf_keras.regularizers.l1_l2()(w))
    code, _ = rw("import tensorflow as tf\nreg = tf.keras.regularizers.l1_l2()\n")
    namespace: dict[str, object] = {}
    exec(compile(code, "reg.py", "exec"), namespace)
    migrated = float(keras.ops.convert_to_numpy(namespace["reg"](w)))  # type: ignore[operator]
    assert legacy > 0 and abs(migrated - legacy) <= 1e-6 * legacy
    assert float(keras.ops.convert_to_numpy(keras.regularizers.l1_l2()(w))) == 0.0
