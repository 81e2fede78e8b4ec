"""KM205: K.switch (rules/switch.py) -> ops.cond / compat.switch, never ops.switch."""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rw

HEAD = "from keras import backend as K\n"


def test_positive():
    code, findings = rw(HEAD + "y = K.switch(c, a, b)\n")
    assert "compat.switch(c, a, b)" in code and "ops.switch" not in code
    assert findings[0].rule == "KM205" and findings[0].fixed


def test_scalar_literal_with_thunks_is_cond():
    code, _ = rw(HEAD + "y = K.switch(True, lambda: a, lambda: b)\n")
    assert "ops.cond(True, lambda: a, lambda: b)" in code


def test_noop():
    src = "from keras import ops\ny = ops.where(c, a, b)\n"
    assert rw(src) == (src, [])


def test_alias():
    code, _ = rw("import tensorflow.keras.backend as B\ny = B.switch(c, a, b)\n")
    assert "compat.switch(c, a, b)" in code


def test_unsupported_reported():
    _, findings = rw(HEAD + "y = K.switch(*args)\n")
    assert [(f.rule, f.fixed) for f in findings] == [("KM205", False)]


def test_idempotent():
    assert_fixed_point(HEAD + "y = K.switch(c > 0, a, b)\n")


def test_compat_switch_matches_tf_keras():
    from tf_keras import backend as tfk
    from keras import ops

    from modern import compat

    rng = np.random.RandomState(0)
    a = rng.randn(2, 3, 4).astype("float32")
    b = rng.randn(2, 3, 4).astype("float32")
    cond = rng.rand(2, 3) > 0.5
    want = tfk.switch(tfk.constant(cond, dtype='bool'), tfk.constant(a), tfk.constant(b)).numpy()
    np.testing.assert_array_equal(ops.convert_to_numpy(compat.switch(cond, a, b)), want)
    scalar = np.array(True)
    np.testing.assert_array_equal(ops.convert_to_numpy(compat.switch(scalar, lambda: a, lambda: b)), a)
