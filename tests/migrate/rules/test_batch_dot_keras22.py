"""KM204 for Keras 2.2 code: K.batch_dot keeps Keras 2.2.4's meaning (modern.compat.batch_dot_keras22).

The reference below is Keras 2.2.4's batch_dot (TensorFlow backend) as its source and
docstring define it, written in NumPy here: pad the lower-rank operand with trailing
axes of size 1; rank-2 operands: sum of products over ``axes``; otherwise a batched
matmul with ``x`` transposed unless ``axes[0]`` is its last axis and ``y`` transposed
when ``axes[1]`` is its last axis; squeeze the padding; a rank-1 result gets an axis.
"""

import numpy as np
import pytest

from tests.migrate.helpers import assert_fixed_point, rw


def keras224_batch_dot(x: np.ndarray, y: np.ndarray, axes=None) -> np.ndarray:
    if isinstance(axes, int):
        axes = (axes, axes)
    x_ndim, y_ndim = x.ndim, y.ndim
    if axes is None:
        axes = [x_ndim - 1, y_ndim - 2]
    diff = abs(x_ndim - y_ndim)
    if x_ndim > y_ndim:
        y = y.reshape(y.shape + (1,) * diff)
    elif y_ndim > x_ndim:
        x = x.reshape(x.shape + (1,) * diff)
    if x.ndim == 2 and y.ndim == 2:
        out = (x * y).sum(axes[0]) if axes[0] == axes[1] else (x.T * y).sum(axes[1])
    else:
        a = x if axes[0] == x.ndim - 1 else np.swapaxes(x, -1, -2)
        b = np.swapaxes(y, -1, -2) if axes[1] == y.ndim - 1 else y
        out = a @ b
    if diff:
        idx = x_ndim + y_ndim - 3 if x_ndim > y_ndim else x_ndim - 1
        out = out.squeeze(tuple(range(idx, idx + diff)))
    return out[:, None] if out.ndim == 1 else out


CASES = [
    ((32, 20, 1), (32, 30, 20), (1, 2)),  # the 2.2.4 docstring's example: (32, 1, 30)
    ((2, 3, 4, 5), (2, 3, 5, 6), (3, 2)),  # rank 4: the leading axes are matmul batch axes in 2.2.4
    ((2, 3, 4), (2, 4), None),
    ((2, 3, 4), (2, 4), (2, 1)),
    ((2, 4), (2, 4, 5), (1, 1)),
    ((2, 4), (2, 4), 1),
    ((2, 5, 3), (2, 5, 4), 1),
]


@pytest.mark.parametrize("xs, ys, axes", CASES)
def test_compat_matches_the_224_definition(xs, ys, axes):
    from keras import ops

    from modern.compat import batch_dot_keras22

    rng = np.random.default_rng(0)
    x = rng.normal(size=xs).astype("float32")
    y = rng.normal(size=ys).astype("float32")
    want = keras224_batch_dot(x.astype("float64"), y.astype("float64"), axes)
    got = ops.convert_to_numpy(batch_dot_keras22(x, y, axes))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_docstring_example_and_the_23_difference():
    from keras import ops

    from modern.compat import batch_dot, batch_dot_keras22

    x, y = np.ones((32, 20, 1), "float32"), np.ones((32, 30, 20), "float32")
    assert tuple(batch_dot_keras22(x, y, (1, 2)).shape) == (32, 1, 30)
    x4, y4 = np.ones((2, 3, 4, 5), "float32"), np.ones((2, 3, 5, 6), "float32")
    assert tuple(batch_dot_keras22(x4, y4, (3, 2)).shape) == (2, 3, 4, 6)
    assert tuple(ops.convert_to_numpy(batch_dot(x4, y4, (3, 2))).shape) == (2, 3, 4, 3, 6)  # 2.3's meaning


KERAS22 = "from keras import backend as K\nfrom keras.engine.topology import Layer\n"


def test_keras22_code_gets_the_224_meaning():
    code, findings = rw(KERAS22 + "def f(a, b):\n    return K.batch_dot(a, b, axes=(3, 2))\n")
    assert "return compat.batch_dot_keras22(a, b, axes=(3, 2))" in code
    assert any(f.rule == "KM204" and f.fixed and "2.2.4" in f.message for f in findings)
    # Equal visible ranks 3: the two meanings agree, so the plain form stays.
    code, _ = rw(KERAS22 + "def f(a, b):\n    a = K.reshape(a, (-1, 2, 3))\n    b = K.reshape(b, (-1, 3, 4))\n"
                 "    return K.batch_dot(a, b)\n")
    assert "ops.matmul(a, b)" in code


def test_tf_keras_code_unchanged_and_idempotent():
    src = "from tensorflow.keras import backend as K\ndef f(a, b):\n    return K.batch_dot(a, b, axes=(3, 2))\n"
    code, _ = rw(src)
    assert "compat.batch_dot(a, b, axes=(3, 2))" in code and "keras22" not in code
    assert_fixed_point(KERAS22 + "def f(a, b):\n    return K.batch_dot(a, b, axes=(3, 2))\n")
