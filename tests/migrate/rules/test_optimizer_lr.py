"""KM401/KM402: optimizer lr/decay and optimizer.lr (rules/optimizer_lr.py)."""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rw


def test_positive_lr_kwarg_and_attr():
    code, findings = rw("import keras\nopt = keras.optimizers.Adam(lr=5e-5)\nprint(opt.lr)\nopt.lr = 0.1\n")
    assert "Adam(learning_rate=5e-5)" in code
    assert "print(opt.learning_rate)" in code and "opt.learning_rate = 0.1" in code
    assert {f.rule for f in findings} == {"KM401", "KM402"}


def test_decay_becomes_inverse_time_decay():
    code, _ = rw("from keras.optimizers import SGD\nopt = SGD(lr=0.1, decay=1e-3, momentum=0.9)\n")
    assert ("SGD(learning_rate=keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=1e-3), "
            "momentum=0.9)") in code
    assert "import keras\n" in code


def test_keras22_default_pinned():
    code, _ = rw("from keras.optimizers import Adagrad\nfrom keras import backend as K\nopt = Adagrad()\ne = K.epsilon()\n")
    assert "Adagrad(learning_rate=0.01, initial_accumulator_value=0.0)" in code  # KM401 + KM409


def test_noop():
    src = "import keras\nopt = keras.optimizers.Adam(learning_rate=1e-3)\nx = layer.lr\n"
    assert rw(src) == (src, [])


def test_alias_tf_keras():
    code, _ = rw("import tensorflow as tf\nopt = tf.keras.optimizers.RMSprop(lr=1e-3)\n")
    assert "keras.optimizers.RMSprop(learning_rate=1e-3)" in code


def test_unsupported_receiver_left_alone():
    src = "x = thing.lr\n"
    assert rw(src) == (src, [])


def test_idempotent():
    assert_fixed_point("from keras.optimizers import SGD\nopt = SGD(lr=0.1, decay=1e-3)\nopt.lr = 2\n")


def test_inverse_time_decay_matches_legacy_decay():
    import tf_keras as tfk
    import keras

    legacy = tfk.optimizers.legacy.SGD(learning_rate=0.1, decay=1e-2)
    sched = keras.optimizers.schedules.InverseTimeDecay(0.1, decay_steps=1, decay_rate=1e-2)
    for step in (0, 1, 7, 100):
        legacy.iterations.assign(step)
        np.testing.assert_allclose(float(legacy._decayed_lr("float32")), float(sched(step)), rtol=1e-6)
