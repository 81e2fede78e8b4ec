"""KM311: the Keras 1 Merge layer (rules/merge_layer.py, tables.MERGE_MODES)."""

from tests.migrate.helpers import assert_fixed_point, rw


def test_reported_with_replacement_for_mode():
    src = ("from keras.layers import Merge\nimport keras\n"
           "m = Merge(mode='concat', concat_axis=1)([a, b])\ns = keras.layers.Merge()([a, b])\n"
           "f = Merge(mode=lambda xs: xs[0])\n")
    code, findings = rw(src)
    assert code == src
    messages = [(f.rule, f.line, f.message) for f in findings]
    assert [m[:2] for m in messages] == [("KM311", 1), ("KM311", 3), ("KM311", 4), ("KM311", 5)]
    assert "Concatenate(axis=concat_axis)" in messages[1][2]
    assert "Add()" in messages[2][2] and "Lambda" in messages[3][2]


def test_keras1_merge_function():
    _, findings = rw("from keras.layers import merge\ny = merge([a, b], mode='mul')\n")
    assert [(f.rule, f.line, f.message.split(": ")[1]) for f in findings if f.rule == "KM311"] == [
        ("KM311", 2, "use keras.layers.Multiply()")]


def test_noop_keras2_merge_layers():
    src = "from keras.layers import Add, Concatenate\ny = Add()([a, b])\n"
    # KM311 leaves Keras 2 merge layers alone; KM315 (test_merge_mask.py) swaps Add for its
    # compat twin with Keras 2's output mask, so it is off here.
    code, findings = rw(src, source="tf-keras-2", ignore=frozenset({"KM315"}))
    assert code == src and findings == []


def test_alias_tf_keras():
    _, findings = rw("import tensorflow as tf\ny = tf.keras.layers.Merge(mode='ave')([a, b])\n")
    assert [f.rule for f in findings] == ["KM311"] and "Average()" in findings[0].message


def test_idempotent():
    assert_fixed_point("from keras.layers import Merge\nm = Merge(mode='sum')([a, b])\n")
