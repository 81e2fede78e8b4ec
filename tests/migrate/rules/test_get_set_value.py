"""KM206: K.get_value / K.set_value (rules/get_set_value.py)."""

from tests.migrate.helpers import assert_fixed_point, rw

HEAD = "from keras import backend as K\n"


def test_positive_optimizer_lr_in_callback():
    code, findings = rw(HEAD + "import keras\nclass CB(keras.callbacks.Callback):\n"
                        "    def on_batch_begin(self, batch, logs=None):\n"
                        "        old = K.get_value(self.model.optimizer.lr)\n"
                        "        K.set_value(self.model.optimizer.lr, old * 0.5)\n")
    assert "ops.convert_to_numpy(self.model.optimizer.learning_rate)" in code
    assert "self.model.optimizer.learning_rate.assign(old * 0.5)" in code
    assert {f.rule for f in findings} == {"KM206", "KM402"}


def test_noop():
    src = "v.assign(3)\n"
    assert rw(src) == (src, [])


def test_alias():
    code, _ = rw("import tensorflow as tf\ntf.keras.backend.set_value(v, 1.0)\n")
    assert "v.assign(1.0)" in code


def test_unsupported_reported():
    _, findings = rw(HEAD + "K.set_value(v)\n")
    assert [(f.rule, f.fixed) for f in findings] == [("KM206", False)]


def test_non_atom_target_parenthesised():
    code, _ = rw(HEAD + "K.set_value(a if c else b, 1)\n")
    assert "(a if c else b).assign(1)" in code


def test_idempotent():
    assert_fixed_point(HEAD + "K.set_value(opt.lr, K.get_value(opt.lr) * 2)\n")
