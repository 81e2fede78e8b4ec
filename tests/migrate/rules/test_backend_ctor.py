"""KM210: K.constant/variable/zeros/ones/eye (rules/backend_ctor.py)."""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rules_of, rw

HEAD = "from keras import backend as K\n"
SRC = HEAD + ("c = K.constant(3)\nd = K.constant([1, 2], dtype='int32', name='c')\n"
              "v = K.variable(np.arange(6.0).reshape(2, 3), name='w')\nz = K.zeros((2, 3))\n"
              "o = K.ones(4, dtype='float16')\ne = K.eye(3)\n")


def test_positive_floatx_written_out():
    code, findings = rw(SRC)
    assert "c = ops.convert_to_tensor(3, dtype=keras.config.floatx())" in code
    assert "d = ops.convert_to_tensor([1, 2], dtype='int32')" in code
    assert "v = keras.Variable(np.arange(6.0).reshape(2, 3), dtype=keras.config.floatx(), name='w')" in code
    assert "z = keras.Variable(ops.zeros((2, 3), dtype=keras.config.floatx()))" in code
    assert "o = keras.Variable(ops.ones(4, dtype='float16'))" in code
    assert "e = keras.Variable(ops.eye(3, dtype=keras.config.floatx()))" in code
    assert rules_of(findings) == {"KM210"} and all(f.fixed for f in findings)


def test_same_values_and_dtypes_as_tf_keras():
    import tf_keras as tfk
    import keras

    code, _ = rw(SRC)
    scope: dict = {"np": np}
    exec(compile(code.replace("from keras import backend as K\n", ""), "<migrated>", "exec"), scope)
    legacy: dict = {"np": np, "K": tfk.backend}
    exec(compile(SRC.replace(HEAD, ""), "<legacy>", "exec"), legacy)
    for name in "cdvzoe":
        want, got = legacy[name], scope[name]
        assert np.dtype(want.dtype.as_numpy_dtype) == np.dtype(keras.backend.standardize_dtype(got.dtype)), name
        np.testing.assert_array_equal(np.asarray(want), keras.ops.convert_to_numpy(got))
        assert isinstance(got, keras.Variable) == hasattr(want, "assign"), name  # variables stay variables


def test_noop_on_keras3_code():
    src = "import keras\nfrom keras import ops\nz = ops.zeros((2, 3))\nv = keras.Variable(z)\n"
    assert rw(src) == (src, [])


def test_alias_tf_keras_backend():
    code, _ = rw("import tensorflow as tf\nx = tf.keras.backend.variable(0.5, dtype=tf.keras.backend.floatx())\n")
    assert "x = keras.Variable(0.5, dtype=keras.backend.floatx())" in code


def test_unsupported_reported():
    src = HEAD + ("a = K.zeros((n, 3))\nb = K.constant(1, shape=(2,))\nc = K.variable(1.0, constraint=nn)\n"
                  "e = K.variable(1.0, name='scope/w')\n")
    code, findings = rw(src)
    assert code == src
    assert [(f.rule, f.fixed, f.line) for f in findings] == [("KM210", False, n) for n in range(2, 6)]
    assert "ops.zeros(shape, dtype=...) for a tensor" in findings[0].message


def test_idempotent():
    assert_fixed_point(SRC)


def test_dtype_that_may_be_none_keeps_floatx():
    # bert4keras 0.11.5's where(): K.constant(x, dtype=dtype(y)), dtype() returning None for
    # Python numbers; Keras 2 then used floatx (keras.ops would infer int32 from 0).
    import keras

    src = HEAD + "def dtype(t):\n    return getattr(t, 'dtype', None)\n\n\nd = K.constant(0, dtype=dtype(y))\n"
    code, findings = rw(src)
    assert "d = ops.convert_to_tensor(0, dtype=dtype(y) or keras.config.floatx())" in code
    assert [(f.rule, f.fixed) for f in findings if f.rule == "KM210"] == [("KM210", True)]
    namespace: dict[str, object] = {"y": 3}
    exec(compile(code, "km210.py", "exec"), namespace)
    assert keras.backend.standardize_dtype(namespace["d"].dtype) == keras.config.floatx()  # type: ignore[attr-defined]
    namespace = {"y": keras.ops.ones((2,), dtype="int32")}
    exec(compile(code, "km210.py", "exec"), namespace)
    assert keras.backend.standardize_dtype(namespace["d"].dtype) == "int32"  # type: ignore[attr-defined]
