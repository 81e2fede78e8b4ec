"""KM320: a Wrapper subclass's Keras 2 bookkeeping (rules/wrapper_legacy_tracking.py).

The real case is keras-multi-head 0.29's ``MultiHead`` (tests/realworld); ``HEADS`` below
is a small wrapper of the same kind written for these tests: per-head copies of its
template made in ``build``, tracking properties over Keras 2's private lists, the
per-input ``get_losses_for``, sublayer configs in Keras 2's serialized form, and the
``try``/``except`` fallback between two spellings of ``Wrapper``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.migrate.helpers import assert_fixed_point, rules_of, rw

IMPORTS = "from tensorflow import keras\nfrom tensorflow.keras import backend as K\n"

HEADS = IMPORTS + '''
try:
    Wrapper = keras.layers.Wrapper
except AttributeError:
    Wrapper = keras.layers.wrappers.Wrapper


class HeadsKM320(Wrapper):
    """Copies of one layer side by side; their outputs stacked on a new last axis."""

    def __init__(self, layer, copies=2, **kwargs):
        if isinstance(layer, list):
            self.layer = layer[0]
            self.layers = layer
        else:
            self.layer = layer
            self.layers = []
        self.copies = len(self.layers) or copies
        super(HeadsKM320, self).__init__(self.layer, **kwargs)

    def get_config(self):
        config = super(HeadsKM320, self).get_config()
        config.pop('layer')
        config['layers'] = [{'class_name': sub.__class__.__name__, 'config': sub.get_config()}
                            for sub in self.layers]
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        layers = [keras.layers.deserialize(c, custom_objects=custom_objects) for c in config.pop('layers')]
        return cls(layers, **config)

    def build(self, input_shape):
        if not self.layers:
            self.layer.build(input_shape)
            base = self.layer.get_config()
            for i in range(self.copies):
                base['name'] = 'head_{}'.format(i)
                self.layers.append(self.layer.__class__.from_config(base))
        for i, sub in enumerate(self.layers):
            with K.name_scope('sub_{}'.format(i)):
                sub.build(input_shape)
        super(HeadsKM320, self).build(input_shape)

    def compute_output_shape(self, input_shape):
        return self.layers[0].compute_output_shape(input_shape) + (len(self.layers),)

    def call(self, inputs):
        return K.stack([sub.call(inputs) for sub in self.layers], axis=-1)

    @property
    def trainable_weights(self):
        weights = self._trainable_weights[:]
        for sub in self.layers:
            weights += sub.trainable_weights
        return weights

    @property
    def non_trainable_weights(self):
        weights = self._non_trainable_weights[:]
        for sub in self.layers:
            weights += sub.non_trainable_weights
        return weights

    @property
    def losses(self):
        losses = list(self._losses)
        for sub in self.layers:
            if hasattr(sub, 'losses'):
                losses += sub.losses
        return losses

    def get_losses_for(self, inputs=None):
        return super(HeadsKM320, self).get_losses_for(inputs)
'''


def _km320(findings):  # type: ignore[no-untyped-def]
    return [f for f in findings if f.rule == "KM320"]


def test_bookkeeping_deleted_and_template_left_unbuilt():
    code, findings = rw(HEADS)
    for gone in ("def trainable_weights", "def non_trainable_weights", "def losses", "def get_losses_for",
                 "_trainable_weights", "self.layer.build(input_shape)", "super(HeadsKM320, self).build"):
        assert gone not in code, gone
    assert ("        # Keras 3's Wrapper.build would build the template self.layer too; the copies hold the weights\n"
            "        keras.layers.Layer.build(self, input_shape)\n") in code
    assert ("            with keras.name_scope('sub_{}'.format(i)):\n                if not sub.built:\n"
            "                    sub.build(input_shape)\n") in code
    assert "config['layers'] = [keras.layers.serialize(sub)\n" in code
    # what stays: the copies are still made from the template's config
    assert "            base = self.layer.get_config()\n" in code and "self.layer.__class__.from_config(base)" in code
    km320 = _km320(findings)
    assert all(f.fixed for f in km320) and len(km320) == 7  # 3 properties, get_losses_for, config, 2 in build
    assert "@keras.saving.register_keras_serializable" in code  # KM312: the fallback alias is the Wrapper
    assert not [f for f in findings if not f.fixed]


def test_findings_inside_deleted_methods_are_dropped():
    """keras-multi-head's get_updates_for uses keras.utils.generic_utils.object_list_uid (KM103, needs review);
    the method is deleted, so nothing is left to review."""
    src = HEADS + ('''
    def get_updates_for(self, inputs=None):
        uid = keras.utils.generic_utils.object_list_uid(inputs)
        return self._updates
''')
    code, findings = rw(src)
    assert "object_list_uid" not in code and "def get_updates_for" not in code
    assert "KM103" not in rules_of(findings)


def test_no_op_outside_wrappers_and_without_overrides():
    layer = IMPORTS + '''
class Frozen(keras.layers.Layer):
    @property
    def trainable_weights(self):
        return self._trainable_weights[:1]
'''
    code, findings = rw(layer)
    assert "def trainable_weights" in code and "KM320" not in rules_of(findings)
    plain = IMPORTS + '''
class Twice(keras.layers.Wrapper):
    def build(self, input_shape):
        self.layer.build(input_shape)
        super(Twice, self).build(input_shape)

    def call(self, inputs):
        return self.layer(self.layer(inputs))
'''
    code, findings = rw(plain)
    assert "self.layer.build(input_shape)" in code and "super(Twice, self).build(input_shape)" in code
    assert "KM320" not in rules_of(findings)
    # a fallback to something that is not the same Keras class: not a Wrapper, left alone
    other = HEADS.replace("Wrapper = keras.layers.wrappers.Wrapper", "Wrapper = keras.layers.Layer")
    code, findings = rw(other)
    assert "def trainable_weights" in code and "KM320" not in rules_of(findings)


def test_unsupported_property_reported_with_what_to_write():
    src = HEADS.replace("        weights = self._trainable_weights[:]\n        for sub in self.layers:\n"
                        "            weights += sub.trainable_weights\n        return weights\n",
                        "        return [w for w in self._trainable_weights if w.trainable]\n")
    code, findings = rw(src, todo_comments=True)
    assert "def trainable_weights" in code
    open_ = [f for f in _km320(findings) if not f.fixed]
    assert len(open_) == 1 and "HeadsKM320.trainable_weights reads Keras 2's private lists" in open_[0].message
    assert "delete it: Keras 3 tracks the variables of the layer and of every sublayer" in open_[0].message
    assert "# TODO(migrate KM320)" in code


def test_property_with_a_setter_is_reported():
    src = HEADS.replace("    @property\n    def losses(self):",
                        "    @trainable_weights.setter\n    def trainable_weights(self, value):\n"
                        "        self._frozen = value\n\n    @property\n    def losses(self):")
    code, findings = rw(src)
    assert "def trainable_weights(self):" in code and "@trainable_weights.setter" in code
    open_ = [f for f in _km320(findings) if not f.fixed]
    assert [f.message.split(" ", 1)[0] for f in open_] == ["HeadsKM320.trainable_weights"]


def test_template_used_for_numbers_is_reported():
    """A class that calls its template (not only its copies) needs its weights: the template is not
    left unbuilt; the finding says what to write when the template's weights are not needed."""
    src = HEADS.replace("return K.stack([sub.call(inputs) for sub in self.layers], axis=-1)",
                        "return K.stack([sub.call(inputs) for sub in self.layers] + [self.layer(inputs)], axis=-1)")
    code, findings = rw(src)
    assert "self.layer.build(input_shape)" in code and "super(HeadsKM320, self).build(input_shape)" in code
    open_ = [f for f in _km320(findings) if not f.fixed]
    assert len(open_) == 1 and "uses the template itself (self.layer(inputs))" in open_[0].message
    assert "call `keras.layers.Layer.build(self, input_shape)` instead of `super().build(input_shape)`" in \
        open_[0].message


def test_copy_spellings_and_no_copy():
    for copy in ("type(self.layer).from_config(base)", "type(self.layer)(**base)", "copy.deepcopy(self.layer)",
                 "keras.layers.deserialize(keras.layers.serialize(self.layer))"):
        code, findings = rw("import copy\n" + HEADS.replace("self.layer.__class__.from_config(base)", copy))
        assert "keras.layers.Layer.build(self, input_shape)" in code and all(f.fixed for f in _km320(findings)), copy
    code, findings = rw(HEADS.replace("self.layer.__class__.from_config(base)", "keras.layers.Dense(4)"))
    assert "super(HeadsKM320, self).build(input_shape)" in code
    open_ = [f for f in _km320(findings) if not f.fixed]
    assert len(open_) == 1 and "does not visibly copy the template in build()" in open_[0].message


def test_per_input_method_still_called_is_reported():
    src = HEADS + "\n    def regularisation(self):\n        return self.get_losses_for(None)\n"
    code, findings = rw(src)
    assert "def get_losses_for" in code
    open_ = [f for f in _km320(findings) if not f.fixed]
    assert len(open_) == 1 and "regularisation call(s) it" in open_[0].message


def test_aliases():
    body = HEADS.split("class HeadsKM320(Wrapper):", 1)[1]
    for head, base in (("from tensorflow.keras.layers import Wrapper as W\n", "W"),
                       ("import keras\nfrom keras.layers import Wrapper\n", "Wrapper"),
                       ("import keras\n", "keras.layers.wrappers.Wrapper"),
                       ("import tensorflow as tf\n", "tf.keras.layers.Wrapper")):
        src = IMPORTS + head + f"\n\nclass HeadsKM320({base}):" + body
        code, findings = rw(src)
        assert "def trainable_weights" not in code and "keras.layers.Layer.build(self, input_shape)" in code, head
        assert len(_km320(findings)) == 7, head
    # a subclass of a local Wrapper subclass
    src = IMPORTS + "\n\nclass Base(keras.layers.Wrapper):\n    pass\n\n\nclass HeadsKM320(Base):" + body
    code, _ = rw(src.replace("super(HeadsKM320, self).build(input_shape)", "Base.build(self, input_shape)"))
    assert "def trainable_weights" not in code and "keras.layers.Layer.build(self, input_shape)" in code


def test_idempotent():
    assert_fixed_point(HEADS)


@pytest.mark.slow
def test_numbers_weights_and_keras_file(tmp_path: Path):
    """The legacy class on tf_keras and the rewritten one on Keras 3: the legacy weights file (4 weights,
    the copies') loads, the outputs are equal, and the .keras file reloads with safe_mode=True and no
    custom_objects to the same outputs."""
    import keras
    import tf_keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 6, 8)).astype("float32")
    legacy_ns: dict = {"keras": tf_keras, "K": tf_keras.backend}
    exec(compile(HEADS.replace(IMPORTS, ""), "heads_legacy.py", "exec"), legacy_ns)
    inputs = tf_keras.Input((6, 8))
    legacy = tf_keras.Model(inputs, legacy_ns["HeadsKM320"](tf_keras.layers.Dense(4), copies=2, name="heads")(inputs))
    assert len(legacy.get_layer("heads").weights) == 4
    legacy.save_weights(str(tmp_path / "legacy.h5"))
    expected = legacy.predict(x, verbose=0)

    code, _ = rw(HEADS)
    modern_ns: dict = {"__name__": "heads_km320"}
    exec(compile(code, "heads_km320.py", "exec"), modern_ns)
    inputs = keras.Input((6, 8))
    model = keras.Model(inputs, modern_ns["HeadsKM320"](keras.layers.Dense(4), copies=2, name="heads")(inputs))
    assert [w.path for w in model.get_layer("heads").weights] == [
        "heads/sub_0/head_0/kernel", "heads/sub_0/head_0/bias", "heads/sub_1/head_1/kernel", "heads/sub_1/head_1/bias"]
    model.load_weights(str(tmp_path / "legacy.h5"))
    got = model.predict(x, verbose=0)
    assert np.max(np.abs(got - expected)) <= 1e-6
    model.save(str(tmp_path / "m.keras"))
    reloaded = keras.saving.load_model(str(tmp_path / "m.keras"), safe_mode=True)
    assert len(reloaded.get_layer("heads").weights) == 4
    assert np.max(np.abs(reloaded.predict(x, verbose=0) - expected)) <= 1e-6
