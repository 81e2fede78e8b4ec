"""KM408: float step in LearningRateSchedule.__call__ (rules/float_step_schedule.py)."""

from tests.migrate.helpers import assert_fixed_point, rw

SRC = '''
import tensorflow as tf

class Noam(tf.keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, d):
        self.d = d

    def __call__(self, step):
        """Doc."""
        return tf.math.rsqrt(step) * self.d
'''


def test_positive():
    code, findings = rw(SRC)
    assert '"""Doc."""\n        step = ops.cast(step, "float32")\n        return tf.math.rsqrt(step)' in code
    assert "from keras import ops" in code
    assert "KM408" in {f.rule for f in findings}


def test_noop_other_classes():
    src = "class A:\n    def __call__(self, step):\n        return step\n"
    assert rw(src) == (src, [])


def test_alias_keras22_import_and_subclass_chain():
    code, _ = rw("from keras.optimizers.schedules import LearningRateSchedule\n"
                 "class A(LearningRateSchedule):\n    pass\nclass B(A):\n    def __call__(self, t):\n        return t\n")
    assert 't = ops.cast(t, "float32")' in code


def test_unsupported_one_line_body_reported():
    _, findings = rw("import keras\nclass S(keras.optimizers.schedules.LearningRateSchedule):\n"
                     "    def __call__(self, step): return step\n")
    assert [(f.rule, f.fixed) for f in findings] == [("KM312", True), ("KM408", False)]


def test_idempotent():
    assert_fixed_point(SRC)
