"""KM208: Keras 1 / TF 1 relics (rules/relics.py)."""

from tests.migrate.helpers import assert_fixed_point, rw


def test_positive():
    code, findings = rw("n = x._keras_shape[-1]\nm = int(y.shape[1].value)\n")
    assert "n = x.shape[-1]" in code and "int(y.shape[1])" in code
    assert {f.rule for f in findings} == {"KM208"}


def test_noop():
    src = "v = self.value\nw = shape[1].value\n"
    assert rw(src) == (src, [])


def test_alias_chain():
    code, _ = rw("d = self.inp._keras_shape[1].value\n")
    assert code == "d = self.inp.shape[1]\n"


def test_unsupported_image_dim_ordering_reported():
    _, findings = rw("from keras import backend as K\nif K.image_dim_ordering() == 'th':\n    pass\n")
    assert [(f.rule, f.fixed) for f in findings] == [("KM209", False)]


def test_idempotent():
    assert_fixed_point("n = x._keras_shape[-1]\n")
