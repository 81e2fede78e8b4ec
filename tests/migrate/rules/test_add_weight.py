"""KM302: add_weight positional order (rules/add_weight.py)."""

from tests.migrate.helpers import assert_fixed_point, rw


def test_positive():
    code, findings = rw("w = self.add_weight('kernel', (3, 4), initializer='zeros')\n")
    assert "self.add_weight(name='kernel', shape=(3, 4), initializer='zeros')" in code
    assert findings[0].rule == "KM302" and findings[0].fixed


def test_noop():
    src = "w = self.add_weight(shape=(3,), name='b')\n"
    assert rw(src) == (src, [])


def test_alias_other_receiver():
    code, _ = rw("w = layer.add_weight('b', (3,), 'float32')\n")
    assert "layer.add_weight(name='b', shape=(3,), dtype='float32')" in code


def test_unsupported_star_args():
    _, findings = rw("w = self.add_weight('k', *rest)\n")
    assert [(f.rule, f.fixed) for f in findings] == [("KM302", False)]


def test_idempotent():
    assert_fixed_point("w = self.add_weight('kernel', (3, 4))\n")
