"""KM101 rows of ``tables.RENAMED_NAMES``: loss/metric short aliases Keras 3 dropped."""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rules_of, rw

SRC = """\
from keras.losses import mse, binary_crossentropy
from keras import metrics
import keras

loss = mse(a, b) + keras.losses.mae(a, b)
m = metrics.kld
"""


def test_aliases_to_long_names():
    code, findings = rw(SRC)
    assert "from keras.losses import mean_squared_error as mse, binary_crossentropy" in code
    assert "keras.losses.mean_absolute_error(a, b)" in code
    assert "keras.metrics.kl_divergence" in code
    assert rules_of(findings, fixed=True) >= {"KM101"}
    assert "KM103" not in rules_of(findings)


def test_noop_long_names_untouched():
    src = "from keras.losses import mean_squared_error\nimport keras\nf = keras.losses.binary_crossentropy\n"
    code, findings = rw(src)
    assert code == src and not findings


def test_alias_through_tf_keras():
    code, _ = rw("import tensorflow as tf\nf = tf.keras.losses.mse\n")
    assert "keras.losses.mean_squared_error" in code


def test_unsupported_unknown_alias_still_reported():
    _, findings = rw("from keras.losses import not_a_loss\n")
    assert "KM103" in rules_of(findings)


def test_idempotent():
    assert_fixed_point(SRC)


def test_same_function_on_both_sides():
    import keras
    import tf_keras

    y, p = np.array([[0.2, 0.7]], "float32"), np.array([[0.1, 0.9]], "float32")
    for short, long in (("mse", "mean_squared_error"), ("mae", "mean_absolute_error"), ("kld", "kl_divergence"),
                        ("msle", "mean_squared_logarithmic_error"), ("mape", "mean_absolute_percentage_error")):
        legacy = np.asarray(getattr(tf_keras.losses, short)(y, p))
        modern = np.asarray(getattr(keras.losses, long)(y, p))
        np.testing.assert_allclose(modern, legacy, rtol=1e-6, err_msg=short)
