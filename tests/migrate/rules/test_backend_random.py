"""KM211: K.random_* and K.dropout to keras.random (rules/backend_random.py, tables.RANDOM_OPS)."""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rules_of, rw

HEAD = "from keras import backend as K\n"


def test_positive_seedless():
    code, findings = rw(HEAD + "a = K.random_normal((2, 3), 0.0, 0.5)\nb = K.random_uniform((4,), maxval=2.0)\n"
                               "c = K.truncated_normal(shape, dtype='float16')\nd = K.dropout(x, 0.25, seed=None)\n")
    assert "a = keras.random.normal((2, 3), mean=0.0, stddev=0.5)" in code
    assert "b = keras.random.uniform((4,), maxval=2.0)" in code
    assert "c = keras.random.truncated_normal(shape, dtype='float16')" in code
    assert "d = keras.random.dropout(x, 0.25)" in code
    assert rules_of(findings) == {"KM211"} and all(f.fixed for f in findings)


def test_dropout_scales_like_keras2():
    code, _ = rw(HEAD + "y = K.dropout(x, 0.5)\n")
    import keras

    scope = {"x": np.ones((64, 64), "float32")}
    exec(compile(code.replace(HEAD, ""), "<migrated>", "exec"), scope)
    values = set(np.unique(keras.ops.convert_to_numpy(scope["y"])).tolist())
    assert values == {0.0, 2.0}  # kept units scaled by 1 / (1 - rate), as tf.nn.dropout did


def test_noop():
    src = "import keras\ny = keras.random.normal((2,), seed=keras.random.SeedGenerator(1))\n"
    assert rw(src) == (src, [])


def test_alias_tf_keras():
    code, _ = rw("import tensorflow as tf\nn = tf.keras.backend.random_normal([3])\n")
    assert "n = keras.random.normal([3])" in code


def test_seed_reported_not_rewritten():
    src = HEAD + "n = K.random_normal((2,), seed=42)\nd = K.dropout(x, 0.5, None, 7)\n"
    code, findings = rw(src)
    assert code == src
    assert [(f.rule, f.fixed) for f in findings] == [("KM211", False)] * 2
    assert "SeedGenerator" in findings[0].message


def test_idempotent():
    assert_fixed_point(HEAD + "a = K.random_uniform((2, 2))\nb = K.dropout(a, 0.1)\n")
