"""KM310: weights= in layer constructors (rules/layer_weights.py)."""

from tests.migrate.helpers import assert_fixed_point, rw


def test_reported_on_dense():
    src = "from keras.layers import Dense\nd = Dense(3, weights=[w, b])\n"
    code, findings = rw(src)
    assert code == src
    assert [(f.rule, f.fixed, f.line) for f in findings] == [("KM310", False, 2)]
    assert "set_weights" in findings[0].message


def test_noop_embedding_and_bidirectional():
    src = ("import tensorflow as tf\ne = tf.keras.layers.Embedding(10, 4, weights=[m])\n"
           "b = tf.keras.layers.Bidirectional(r, weights=ws)\n")
    code, findings = rw(src)
    assert "KM310" not in {f.rule for f in findings}


def test_alias_through_keras22_module():
    _, findings = rw("from keras.layers import core as C\nd = C.Dense(3, weights=ws)\n")
    assert "KM310" in {f.rule for f in findings}


def test_unrelated_call_left_alone():
    assert rw("d = make(weights=[1])\n") == ("d = make(weights=[1])\n", [])


def test_idempotent():
    assert_fixed_point("from keras.layers import Dense\nd = Dense(3, weights=[w, b])\n")
