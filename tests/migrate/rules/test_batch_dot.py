"""KM204: K.batch_dot (rules/batch_dot.py) and its compat fallback."""

import numpy as np
import pytest

from migrate.rewrite.rules.batch_dot import einsum_for
from tests.migrate.helpers import assert_fixed_point, rules_of, rw

HEAD = "from keras import backend as K\n"


def test_positive_known_ranks_become_einsum_or_matmul():
    code, findings = rw(HEAD + "def f(x):\n    a = K.reshape(x, (-1, 4, 8))\n    b = K.reshape(x, (-1, 8, 4))\n"
                        "    c = K.batch_dot(a, b)\n    d = K.batch_dot(a, a, axes=2)\n    return c, d\n")
    assert "ops.matmul(a, b)" in code
    assert 'ops.einsum("bij,bkj->bik", a, a)' in code
    assert rules_of(findings) == {"KM201", "KM204"}


def test_unknown_ranks_use_compat():
    # tf.keras 2.x code: 2.3's meaning (standalone `from keras import backend` reads as Keras 2.2 and gets
    # compat.batch_dot_keras22, see test_batch_dot_keras22.py)
    code, findings = rw("from tensorflow.keras import backend as K\ndef f(q, k):\n    return K.batch_dot(q, k, axes=2)\n")
    assert "compat.batch_dot(q, k, axes=2)" in code and "from modern import compat" in code
    assert [f.fixed for f in findings if f.rule == "KM204"] == [True]
    code, _ = rw(HEAD + "def f(q, k):\n    return K.batch_dot(q, k, axes=2)\n")
    assert "compat.batch_dot_keras22(q, k, axes=2)" in code


def test_noop():
    src = "from keras import ops\ny = ops.einsum('bij,bjk->bik', a, b)\n"
    assert rw(src) == (src, [])


def test_alias():
    code, _ = rw("import tensorflow as tf\ny = tf.keras.backend.batch_dot(a, b)\n")
    assert "compat.batch_dot(a, b)" in code


def test_unsupported_batch_axis_reported():
    _, findings = rw(HEAD + "def f(x):\n    a = K.reshape(x, (2, 3, 4))\n    return K.batch_dot(a, a, axes=(0, 0))\n")
    assert ("KM204", False) in {(f.rule, f.fixed) for f in findings}


def test_idempotent():
    assert_fixed_point(HEAD + "def f(q, k):\n    return K.batch_dot(q, k, axes=[2, 2])\n")


@pytest.mark.parametrize("xr,yr,axes", [(2, 2, None), (3, 3, None), (3, 3, 2), (2, 3, None), (3, 2, None),
                                        (4, 3, (3, 1)), (3, 4, (1, 2)), (4, 4, None), (3, 3, (1, 1))])
def test_compat_and_einsum_match_tf_keras(xr, yr, axes):
    from tf_keras import backend as tf_keras_backend
    from keras import ops

    from modern import compat

    rng = np.random.RandomState(0)
    x_shape = [2, 3, 4, 5][:xr]
    y_shape = [2, 4, 3, 5][:yr]
    ax = axes if axes is not None else None
    # make the contracted sizes agree
    a0, a1 = (ax if isinstance(ax, tuple) else ((ax, ax) if ax is not None else
                                                 (xr - 1, yr - 1 if yr == 2 else yr - 2)))
    y_shape[a1] = x_shape[a0]
    x = rng.randn(*x_shape).astype("float32")
    y = rng.randn(*y_shape).astype("float32")
    want = tf_keras_backend.batch_dot(x, y, axes=axes).numpy()
    got = ops.convert_to_numpy(compat.batch_dot(x, y, axes=axes))
    np.testing.assert_allclose(got, want, atol=1e-5)
    eq, expand = einsum_for(xr, yr, list(axes) if isinstance(axes, tuple) else (
        [axes, axes] if axes is not None else None))
    res = ops.convert_to_numpy(ops.einsum(eq, x, y))
    if expand:
        res = res[..., None]
    np.testing.assert_allclose(res, want, atol=1e-5)
