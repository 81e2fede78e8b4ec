"""KM313: a required `mask` argument of a layer is not a Keras mask (rules/mask_argument.py)."""

from tests.migrate.helpers import assert_fixed_point, rw


# -- a `mask` argument is not a Keras mask: compute_mask -> None, so Keras 3 does not warn (issue 10) --

MASKED = '''
import tensorflow as tf


class Attention(tf.keras.layers.Layer):
    def call(self, q, k, mask):
        return q * k + mask


class Block(tf.keras.layers.Layer):
    def __init__(self):
        super(Block, self).__init__()
        self.att = Attention()

    def call(self, x, training, mask):
        return self.att(x, x, mask)
'''


def test_required_mask_argument_gets_compute_mask():
    code, findings = rw(MASKED)
    for cls in ("Attention", "Block"):
        section = code.split(f"class {cls}(", 1)[1].split("\nclass ", 1)[0]
        assert section.count("def compute_mask(self, inputs, mask=None):") == 1, section
        # right after call(), blank line above, no trailing whitespace
        assert "\n\n    def compute_mask(self, inputs, mask=None):\n" in section
    assert "self.att(x, k=x, mask=mask)" in code
    assert {f.message.split(":", 1)[0] for f in findings if f.rule == "KM313"} == {
        "Attention", "Block"}


def test_mask_noop_cases():
    """A Keras-style optional mask, a layer that says how it masks, or no mask at all: left alone."""
    for body in ("def call(self, x, mask=None):\n        return x\n",
                 "def call(self, x, mask):\n        return x\n\n    def compute_mask(self, inputs, mask=None):\n"
                 "        return mask\n",
                 "def __init__(self):\n        super().__init__()\n        self.supports_masking = True\n\n"
                 "    def call(self, x, mask):\n        return x\n",
                 "def call(self, x, training):\n        return x\n"):
        src = f"import keras\n\n\nclass L(keras.layers.Layer):\n    {body}"
        code, _ = rw(src)
        assert "def compute_mask(self, inputs, mask=None):\n        # `mask`" not in code, body


def test_mask_not_a_layer_or_rule_off():
    src = "class Plain:\n    def call(self, x, mask):\n        return x\n"
    assert rw(src) == (src, [])
    code, _ = rw(MASKED, ignore=frozenset({"KM313"}))
    assert "compute_mask" not in code


def test_mask_idempotent():
    assert_fixed_point(MASKED)
    assert_fixed_point(MASKED, todo_comments=True)


def test_mask_keyword_runs_without_warning_and_keeps_numbers():
    import warnings

    import numpy as np

    code, _ = rw(MASKED)
    namespace: dict[str, object] = {}
    exec(compile(code, "migrated.py", "exec"), namespace)
    x = np.arange(6, dtype="float32").reshape(2, 3)
    m = np.full((2, 3), 0.5, "float32")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = namespace["Block"]()(x, training=False, mask=m)  # type: ignore[operator]
    assert not [w for w in caught if "mask" in str(w.message)], [str(w.message) for w in caught]
    assert np.allclose(np.asarray(out), x * x + m)
    assert getattr(out, "_keras_mask", None) is None  # as in Keras 2: the outputs carry no mask
