"""KM324: ``x op= y`` on a tensor in a layer's ``call()`` becomes ``x = x op y``."""

from __future__ import annotations

import numpy as np
import pytest

from tests.migrate.helpers import assert_fixed_point, rw

SRC = """\
import keras
from keras import ops


class Gate(keras.layers.Layer):
    def build(self, input_shape):
        self.b = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="b")

    def call(self, inputs, mask=None):
        e = ops.sigmoid(inputs)
        e -= 0.5 * (1.0 - e)
        e *= self.b
        e **= 2
        parts = [e]
        parts += [e]
        self.calls = 0
        def helper(t):
            t += 1
            return t
        return helper(e) - 1
"""


def test_before_after():
    code, findings = rw(SRC)
    assert "        e = e - (0.5 * (1.0 - e))\n        e = e * self.b\n        e = e ** 2\n" in code
    assert "parts += [e]" in code and "            t += 1\n" in code  # a list, a nested function: left alone
    (finding,) = [f for f in findings if f.rule == "KM324"]
    assert finding.fixed and finding.line == 9 and "3 augmented" in finding.message
    assert_fixed_point(SRC)


@pytest.mark.parametrize("src", [
    "def f(x):\n    x += 1\n    return x\n",  # not a layer
    "import keras\nclass L(keras.layers.Layer):\n    def build(self, s):\n        n = 1\n        n += 1\n",  # not call()
    "import keras\nclass L(keras.layers.Layer):\n    def call(self, x):\n        self.n += 1\n        x[0] -= 1\n"
    "        return x\n",
])
def test_noop(src):
    code, findings = rw(src)
    assert not [f for f in findings if f.rule == "KM324"]


@pytest.mark.backends
def test_same_numbers_and_trains_on_every_backend():
    """The rewritten layer computes what the original computes, and trains, on this backend;
    on torch the original's in-place update breaks the backward pass."""
    import keras

    code, _ = rw(SRC)
    rewritten: dict = {}
    original: dict = {}
    exec(compile(code, "rewritten.py", "exec"), rewritten)  # noqa: S102 - our own fixture
    exec(compile(SRC.replace("class Gate", "class Gate0"), "original.py", "exec"), original)  # noqa: S102
    x = np.random.default_rng(0).standard_normal((3, 4)).astype("float32")
    y = np.zeros((3, 4), "float32")

    def model(layer_class):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((4,))
        m = keras.Model(inputs, layer_class()(keras.layers.Dense(4)(inputs)))
        m.compile("sgd", "mse")
        return m

    new, old = model(rewritten["Gate"]), model(original["Gate0"])
    new.set_weights(old.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(new(x)), keras.ops.convert_to_numpy(old(x)), rtol=0, atol=1e-7)
    assert np.isfinite(new.train_on_batch(x, y))
    if keras.backend.backend() == "torch":
        with pytest.raises(RuntimeError, match="inplace operation"):
            old.train_on_batch(x, y)
