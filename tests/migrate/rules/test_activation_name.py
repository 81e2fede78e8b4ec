"""KM317: a module-level function named like a Keras 3 activation (rules/activation_name.py).

The case is keras-transformer 0.40.0's tanh-approximation ``gelu``; before the rule a
keras-bert ``.keras`` round trip loaded Keras 3's exact gelu in its place (5.8e-4 off).
"""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rw

GELU = '''
import math

from tensorflow.keras import backend as K


def gelu(x):
    """An approximation of gelu."""
    return 0.5 * x * (1.0 + K.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)))
'''


def test_clashing_function_registered():
    code, findings = rw(GELU)  # the helper names the file t.py
    assert '@keras.saving.register_keras_serializable(package="t")\ndef gelu(x):' in code
    assert "import keras" in code
    assert [(f.rule, f.fixed) for f in findings if f.rule == "KM317"] == [("KM317", True)]


def test_noop_cases():
    for src in ("def my_act(x):\n    return x\n",  # no clash: Keras 3 fails loudly on an unknown name
                "import keras\n\n\n@keras.saving.register_keras_serializable(package='p')\ndef gelu(x):\n"
                "    return x\n",
                "def outer():\n    def gelu(x):\n        return x\n    return gelu\n"):
        code, findings = rw(src)
        assert code.count("register_keras_serializable") == src.count("register_keras_serializable"), src
        assert not [f for f in findings if f.rule == "KM317"]


def test_rule_off_and_idempotent():
    code, _ = rw(GELU, ignore=frozenset({"KM317"}))
    assert "register_keras_serializable" not in code
    assert_fixed_point(GELU)


def test_round_trip_keeps_the_function(tmp_path):
    import keras

    code, _ = rw(GELU)
    namespace: dict[str, object] = {"__name__": "km317_gelu"}
    exec(compile(code, "km317_gelu.py", "exec"), namespace)
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(3, activation=namespace["gelu"], name="d")(inputs))
    x = np.linspace(-3, 3, 6, dtype="float32").reshape(2, 3)
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert reloaded.get_layer("d").activation is namespace["gelu"]
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))
