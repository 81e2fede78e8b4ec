"""KM201/KM202/KM203/KM207/KM209: K.* to keras.ops (rules/backend.py, tables.BACKEND_ROWS)."""

from tests.migrate.helpers import assert_fixed_point, rules_of, rw

HEAD = "from keras import backend as K\n"


def test_positive_defaults_written_out():
    code, findings = rw(HEAD + "y = K.concatenate([a, b])\nz = K.argmax(p)\nc = K.cumsum(x)\ne = K.expand_dims(x)\n")
    assert "ops.concatenate([a, b], axis=-1)" in code
    assert "ops.argmax(p, axis=-1)" in code
    assert "ops.cumsum(x, axis=0)" in code
    assert "ops.expand_dims(x, axis=-1)" in code
    assert "from keras import ops" in code
    assert "backend as K" not in code  # alias no longer used
    assert rules_of(findings) == {"KM202"}


def test_false_friends():
    code, _ = rw(HEAD + "a = K.dot(x, w)\nb = K.repeat(v, 3)\nc = K.sqrt(s)\nd = K.in_top_k(p, t, 5)\n")
    assert "ops.dot(x, w)" in code and "matmul" not in code
    assert "ops.repeat(ops.expand_dims(v, axis=1), 3, axis=1)" in code
    assert "ops.sqrt(ops.maximum(s, 0.0))" in code
    assert "ops.in_top_k(t, p, 5)" in code


def test_noop_on_keras3_code():
    src = "import keras\nfrom keras import ops\ny = ops.sum(x, axis=1)\nz = keras.backend.epsilon()\n"
    code, findings = rw(src)
    assert code == src and findings == []


def test_alias_through_tf_keras_backend():
    code, findings = rw("import tensorflow as tf\nKB = tf.keras.backend\n"
                        "y = tf.keras.backend.sum(x, axis=1)\nz = tf.keras.backend.epsilon()\n")
    assert "ops.sum(x, axis=1)" in code
    assert "keras.backend.epsilon()" in code and "tf.keras.backend.epsilon" not in code
    assert "KM201" in rules_of(findings, fixed=True)


def test_alias_import_named_kb_far_from_use():
    code, _ = rw("def f(x):\n    return KB.mean(x, axis=-1)\n\nimport keras.backend as KB\n")
    assert "ops.mean(x, axis=-1)" in code


def test_kept_config_helpers_on_standalone_alias():
    code, findings = rw(HEAD + "eps = K.epsilon() * K.floatx()\n")
    assert "K.epsilon()" in code and "from keras import backend as K" in code
    assert findings == []


def test_unsupported_reported():
    code, findings = rw(HEAD + "f = K.function([a], [b])\n")
    assert "K.function" in code
    assert [(f.rule, f.fixed, f.line) for f in findings] == [("KM209", False, 2)]


def test_unconvertible_argument_reported():
    _, findings = rw(HEAD + "y = K.bias_add(x, b, data_format='channels_first')\n")
    assert rules_of(findings, fixed=False) == {"KM203"}


def test_reference_without_call():
    code, _ = rw(HEAD + "from keras.layers import Lambda\nl = Lambda(K.sum)\n")
    assert "Lambda(ops.sum)" in code


def test_parenthesises_non_atoms():
    code, _ = rw(HEAD + "s = K.int_shape(a + b)\n")
    assert "tuple((a + b).shape)" in code


def test_idempotent():
    assert_fixed_point(HEAD + "y = K.concatenate([K.exp(a), K.pow(b, 2)])\nz = K.epsilon()\n")


def test_comments_above_a_dropped_alias_import_stay():
    code, _ = rw("import numpy as np\n\n\n# --- Keras part ---\nfrom keras import backend as K\n"
                 "y = K.sum(x, axis=1)\n")
    assert "\n\n\n# --- Keras part ---\ny = ops.sum(x, axis=1)\n" in code
    assert "backend as K" not in code
    code, _ = rw("import keras\n# trailing note\nfrom keras import backend as K\n")
    assert code.endswith("# trailing note\n") and "backend as K" not in code


def test_name_scope_is_keras_name_scope():
    """K.name_scope (keras-multi-head's MultiHead builds each copy under one) is
    keras.name_scope: same context manager, so variables created inside keep their prefix."""
    src = ("from tensorflow import keras\nfrom tensorflow.keras import backend as K\n"
           "with K.name_scope('sub_0'):\n    v = keras.Variable(1.0, name='w')\n")
    code, findings = rw(src)
    assert "with keras.name_scope('sub_0'):" in code and "K.name_scope" not in code
    assert ("KM203", True) in {(f.rule, f.fixed) for f in findings}
    assert_fixed_point(src)
    namespace: dict[str, object] = {}
    exec(compile(code, "name_scope.py", "exec"), namespace)
    assert namespace["v"].path == "sub_0/w"  # type: ignore[attr-defined]


def test_value_reads_writes_and_temporal_padding_match_tf_keras():
    """K.eval, K.batch_get_value, K.batch_set_value and K.temporal_padding (bert4keras uses all
    four) rewritten, run on Keras 3, against the same calls on tf_keras in this process."""
    import numpy as np
    import tf_keras

    src = (HEAD + "def values(v, w, x):\n"
           "    K.batch_set_value(zip([v, w], [np.full((2,), 3.0), np.eye(2)]))\n"
           "    return K.eval(v), K.batch_get_value([v, w]), K.temporal_padding(x, (2, 1)), K.temporal_padding(x)\n")
    code, findings = rw(src)
    assert "K." not in code and ("KM203", True) in {(f.rule, f.fixed) for f in findings}
    assert_fixed_point(src)
    import keras

    namespace: dict[str, object] = {"np": np}
    exec(compile(code, "values.py", "exec"), namespace)
    x = np.arange(12, dtype="float32").reshape(1, 4, 3)
    got = namespace["values"](keras.Variable(np.zeros(2)), keras.Variable(np.zeros((2, 2))), x)  # type: ignore[operator]
    tk = tf_keras.backend
    v, w = tk.variable(np.zeros(2)), tk.variable(np.zeros((2, 2)))
    tk.batch_set_value(zip([v, w], [np.full((2,), 3.0), np.eye(2)]))
    expected = (tk.eval(v), tk.batch_get_value([v, w]), tk.temporal_padding(x, (2, 1)), tk.temporal_padding(x))
    np.testing.assert_array_equal(got[0], expected[0])
    for a, b in zip(got[1], expected[1]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(got[2:], expected[2:]):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_pool2d_picks_the_pool_by_its_mode_like_tf_keras():
    """K.pool2d (bert4keras's sequence pooling passes pool_mode through) -> ops.max_pool or
    ops.average_pool by the mode, strides written out (ops' default is the pool size)."""
    import numpy as np
    import tf_keras

    src = HEAD + "def pool(x, mode, padding):\n    return K.pool2d(x, (1, 3), padding=padding, pool_mode=mode)\n"
    code, findings = rw(src)
    assert "K." not in code and "strides=(1, 1)" in code and ("KM203", True) in {(f.rule, f.fixed) for f in findings}
    assert_fixed_point(src)
    namespace: dict[str, object] = {}
    exec(compile(code, "pool.py", "exec"), namespace)
    x = np.random.default_rng(3).normal(size=(2, 1, 7, 4)).astype("float32")
    for mode in ("max", "avg"):
        for padding in ("valid", "same"):
            got = np.asarray(namespace["pool"](x, mode, padding))  # type: ignore[operator]
            expected = tf_keras.backend.pool2d(x, (1, 3), padding=padding, pool_mode=mode).numpy()
            assert got.shape == expected.shape, (mode, padding)
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6, err_msg=f"{mode} {padding}")
