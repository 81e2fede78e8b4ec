"""KM325: attributes a layer's ``__init__`` sets before the base ``__init__`` become locals, set after it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from migrate.rewrite.rules.init_before_super import _DIFFERENT, _OVERWRITTEN
from tests.migrate.helpers import assert_fixed_point, rw
from tests.migrate.rules import init_before_super_probe

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

SRC = """\
import keras
from keras import ops


class Heads(keras.layers.Wrapper):
    def __init__(self, layer, copies=2, scale=None, **kwargs):
        if isinstance(layer, list):
            self.layer = layer[0]
            self.heads = layer
        else:
            self.layer = layer
            self.heads = []
        self.copies = copies if self.heads == [] else len(self.heads)
        self.scale, self.offset = scale, 0.5
        self.offset += 0.25
        self.w = self.v = None
        self.supports_masking = self.layer.supports_masking
        super(Heads, self).__init__(self.layer, **kwargs)
        self.ready = True

    def build(self, input_shape):
        if not self.heads:
            self.heads = [self.layer.__class__.from_config(self.layer.get_config()) for _ in range(self.copies)]
        for head in self.heads:
            head.build(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        return self.heads[0].compute_output_shape(input_shape) + (self.copies,)

    def call(self, inputs):
        scale = 1.0 if self.scale is None else self.scale
        return ops.stack([head(inputs) * scale + self.offset for head in self.heads], axis=-1)
"""

AFTER = """\
        if isinstance(layer, list):
            self_layer = layer[0]
            self_heads = layer
        else:
            self_layer = layer
            self_heads = []
        self_copies = copies if self_heads == [] else len(self_heads)
        self_scale, self_offset = scale, 0.5
        self_offset += 0.25
        self_w = self_v = None
        super(Heads, self).__init__(self_layer, **kwargs)
        self.heads = self_heads
        self.copies = self_copies
        self.scale = self_scale
        self.offset = self_offset
        self.w = self_w
        self.v = self_v
        self.ready = True
"""


def _km325(findings):
    return [f for f in findings if f.rule == "KM325"]


def test_before_after():
    code, findings = rw(SRC)
    assert AFTER in code
    (finding,) = _km325(findings)
    assert finding.fixed and finding.line == 6
    # the Wrapper's own __init__ sets layer and the Layer's sets supports_masking: not set again
    assert "self.layer not set again" in finding.message and "self.supports_masking not set again" in finding.message
    assert_fixed_point(SRC)


@pytest.mark.parametrize("call", ["super().__init__(**kwargs)", "keras.layers.Layer.__init__(self, **kwargs)",
                                  "Base.__init__(self, **kwargs)"])
def test_base_call_spellings(call):
    src = ("import keras\nBase = keras.layers.Layer\nclass L(Base):\n    def __init__(self, units, **kwargs):\n"
           f"        self.units = units\n        self.dense = keras.layers.Dense(units)\n        {call}\n")
    code, findings = rw(src)
    assert (f"        self_units = units\n        self_dense = keras.layers.Dense(units)\n        {call}\n"
            "        self.units = self_units\n        self.dense = self_dense\n") in code
    assert [f.fixed for f in _km325(findings)] == [True]


REVIEW = {
    "some paths": "        if units:\n            self.units = units\n",
    "a `for` statement": "        for i in range(2):\n            self.units = i\n",
    "del": "        self.units = units\n        del self.units\n",
    "lambda": "        self.units = units\n        self.f = lambda: self.units\n",
    "is called after": "        self.units = units\n        self.setup()\n",
    "is passed on": "        self.units = units\n        print(self)\n",
    "updates a value": "        self.units += 1\n",
    "resets it to False": "        self.stateful = True\n",
}


@pytest.mark.parametrize("why", REVIEW)
def test_reported_and_left_as_written(why):
    src = (f"import keras\nclass L(keras.layers.Layer):\n    def __init__(self, units=1, **kwargs):\n{REVIEW[why]}"
           "        super().__init__(**kwargs)\n\n    def setup(self):\n        pass\n")
    code, findings = rw(src)
    (finding,) = _km325(findings)
    assert not finding.fixed and why in finding.message and "after it" in finding.message
    assert "self_" not in code and finding.line >= 4  # the statement it is about


def test_branch_that_raises_sets_nothing():
    src = ("import keras\nclass L(keras.layers.Layer):\n    def __init__(self, units, **kwargs):\n"
           "        if units > 0:\n            self.units = units\n        elif units == 0:\n"
           "            self.units = 1\n        else:\n            raise ValueError(units)\n"
           "        super().__init__(**kwargs)\n")
    code, findings = rw(src)
    assert "            self_units = 1\n" in code and "        super().__init__(**kwargs)\n        self.units = self_units\n" in code
    assert [f.fixed for f in _km325(findings)] == [True]


def test_property_setter_reported():
    src = ("import keras\nclass L(keras.layers.Layer):\n    def __init__(self, units, **kwargs):\n"
           "        self.units = units\n        super().__init__(**kwargs)\n\n    @property\n    def units(self):\n"
           "        return self._units\n\n    @units.setter\n    def units(self, value):\n        self._units = value\n")
    code, findings = rw(src)
    assert [(f.fixed, f.line, "is a property of the class" in f.message) for f in _km325(findings)] == [(False, 4, True)]
    assert "self_" not in code


@pytest.mark.parametrize("src, why", [
    (("import keras\nclass A(keras.layers.Layer):\n    def __init__(self, **kwargs):\n"
      "        super().__init__(**kwargs)\nclass B(A):\n    def __init__(self, **kwargs):\n        self.n = 1\n"
      "        super().__init__(**kwargs)\n"), "its base A defines __init__"),
    (("import keras\nclass D(keras.layers.Dense):\n    def __init__(self, **kwargs):\n        self.n = 1\n"
      "        super().__init__(4, **kwargs)\n"), "keras.layers.Dense sets attributes of its own"),
])
def test_bases_whose_init_is_unknown(src, why):
    code, findings = rw(src)
    assert [(f.fixed, why in f.message) for f in _km325(findings)] == [(False, True)]
    assert "self_" not in code


@pytest.mark.parametrize("src", [
    # already fine: the base call first
    ("import keras\nclass L(keras.layers.Layer):\n    def __init__(self, n, **kwargs):\n"
     "        super().__init__(**kwargs)\n        self.n = n\n"),
    # reads and calls before the block sets anything are fine as they are
    ("import keras\nclass L(keras.layers.Layer):\n    def __init__(self, n, **kwargs):\n        k = self.prep(n)\n"
     "        super().__init__(**kwargs)\n\n    def prep(self, n):\n        return n\n"),
    # not a layer
    "class C(object):\n    def __init__(self):\n        self.n = 1\n        super().__init__()\n",
])
def test_noop(src):
    code, findings = rw(src)
    assert not _km325(findings)
    assert "self_" not in code


def test_overwritten_table_measured_on_tf_keras():
    """Every attribute the rule does not set again is overwritten by tf_keras's base __init__
    (legacy code ran there), and the ones it reports behave as ``_DIFFERENT`` says."""
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-m", "tests.migrate.rules.init_before_super_probe"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    legacy = json.loads(done.stdout)
    assert {a: legacy[a] for a in _OVERWRITTEN} == dict.fromkeys(_OVERWRITTEN, "overwritten")
    assert {a: legacy[a] for a in _DIFFERENT} == {"stateful": "overwritten", "name": "refused", "input_spec": "refused"}


@pytest.mark.backends
def test_rewritten_layer_runs_as_written_on_every_backend():
    """Keras 3's base __init__ overwrites the same attributes (so not setting them again is
    exact); the rewritten wrapper builds, computes the original's numbers and trains on this
    backend; on torch the original cannot even be made (a sublayer before Module.__init__)."""
    import keras

    measured = init_before_super_probe.probe(keras)
    assert {a: measured[a] for a in _OVERWRITTEN} == dict.fromkeys(_OVERWRITTEN, "overwritten")
    assert {a: measured[a] for a in _DIFFERENT} == {"stateful": "kept", "name": "overwritten",
                                                     "input_spec": "overwritten"}

    code, _ = rw(SRC)
    rewritten: dict = {}
    exec(compile(code, "rewritten.py", "exec"), rewritten)  # noqa: S102 - our own fixture
    x = np.random.default_rng(0).standard_normal((3, 4)).astype("float32")
    keras.utils.set_random_seed(0)
    new = rewritten["Heads"](keras.layers.Dense(3), copies=2, scale=2.0)
    assert new.ready and new.layer is not None and new.supports_masking is False
    y = keras.ops.convert_to_numpy(new(x))
    assert y.shape == (3, 3, 2) and len(new.trainable_weights) == 4  # the copies' weights; the template unbuilt
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in new.heads[1].weights)
    np.testing.assert_allclose(y[..., 1], (x @ kernel + bias) * 2.0 + 0.75, rtol=1e-6, atol=1e-6)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Flatten()(new(inputs)))
    model.compile("sgd", "mse")
    assert np.isfinite(model.train_on_batch(x, np.zeros((3, 6), "float32")))
    original: dict = {}
    exec(compile(SRC, "original.py", "exec"), original)  # noqa: S102
    if keras.backend.backend() == "torch":
        with pytest.raises(AttributeError, match="before Module.__init__"):
            original["Heads"](keras.layers.Dense(3))
    else:
        old = original["Heads"](keras.layers.Dense(3), copies=2, scale=2.0)
        old.build((3, 4))
        old.set_weights(new.get_weights())
        np.testing.assert_allclose(keras.ops.convert_to_numpy(old(x)), keras.ops.convert_to_numpy(new(x)), atol=1e-6)
