"""KM605: custom objects registered under a Keras 3 activation's name (rules/custom_activation_name.py)."""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rules_of, rw

SRC = """\
import keras
from keras.utils.generic_utils import get_custom_objects

def gelu_tanh(x):
    return x

def set_gelu():
    keras.utils.get_custom_objects()['gelu'] = gelu_tanh

custom_objects = {'gelu_tanh': gelu_tanh, 'swish': gelu_tanh}
get_custom_objects().update(custom_objects)
get_custom_objects().update({"mish": gelu_tanh})
"""


def test_positive_reported_at_each_registration():
    code, findings = rw(SRC)
    found = [(f.line, f.message.split(":")[0]) for f in findings if f.rule == "KM605"]
    assert found == [(8, "custom object 'gelu' = gelu_tanh"), (11, "custom object 'swish' = gelu_tanh"),
                     (12, "custom object 'mish' = gelu_tanh")]
    assert not any(f.fixed for f in findings if f.rule == "KM605")
    assert "['gelu'] = gelu_tanh" in code


def test_noop_names_keras3_does_not_have():
    _, findings = rw("import keras\nkeras.utils.get_custom_objects().update({'gelu_tanh': f, 'MyLayer': L})\n"
                     "keras.utils.get_custom_objects()['my_act'] = f\nother()['gelu'] = f\n")
    assert "KM605" not in rules_of(findings)


def test_alias_tf_keras():
    _, findings = rw("import tensorflow as tf\ntf.keras.utils.get_custom_objects()['swish'] = my_swish\n")
    assert rules_of(findings) >= {"KM605"}


def test_unsupported_dynamic_keys_not_seen():
    _, findings = rw("import keras\nfor k, f in pairs:\n    keras.utils.get_custom_objects()[k] = f\n")
    assert "KM605" not in rules_of(findings)


def test_idempotent():
    assert_fixed_point(SRC)


def test_what_the_registration_changes():
    """tf_keras takes the registered function for activation='gelu'; Keras 3 its own erf gelu. Passing
    the function itself, as the report says, gives the registered one on Keras 3."""
    import keras
    import tf_keras

    def gelu(x):  # type: ignore[no-untyped-def]
        return x * 0.0 + 42.0

    x = np.ones((1, 1), "float32")
    registry = tf_keras.utils.get_custom_objects()
    registry["gelu"] = gelu
    try:
        legacy = float(tf_keras.layers.Dense(1, activation="gelu", kernel_initializer="ones")(x).numpy()[0, 0])
    finally:
        del registry["gelu"]
    keras.saving.get_custom_objects()["gelu"] = gelu
    try:
        by_name = keras.layers.Dense(1, activation="gelu", kernel_initializer="ones")(x)
    finally:
        del keras.saving.get_custom_objects()["gelu"]
    by_function = keras.layers.Dense(1, activation=gelu, kernel_initializer="ones")(x)
    assert legacy == 42.0 and float(keras.ops.convert_to_numpy(by_function)[0, 0]) == 42.0
    assert abs(float(keras.ops.convert_to_numpy(by_name)[0, 0]) - 0.8413447) < 1e-5
