"""KM330: functions a .keras file names are registered (rules/saved_functions.py)."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rules_of, rw

DECORATOR = '@keras.saving.register_keras_serializable(package="t")\n'

SRC = """\
from keras.layers import Lambda, Input
from keras.models import Model


def distance(vects):
    x, y = vects
    return x - y


def out_shape(shapes):
    return shapes[0]


def pair_loss(y_true, y_pred):
    return y_pred


def hit_rate(y_true, y_pred):
    return y_pred


def helper(x):
    return x


d = Lambda(distance, output_shape=out_shape)([a, b])
model.compile(loss=pair_loss, optimizer='rmsprop', metrics=[hit_rate])
"""


def test_positive_lambda_and_compile_functions_registered():
    code, findings = rw(SRC)
    for name in ("distance", "out_shape", "pair_loss", "hit_rate"):
        assert f"{DECORATOR}def {name}(" in code
    assert f"{DECORATOR}def helper" not in code
    assert "import keras\n" in code
    found = sorted(f.line for f in findings if f.rule == "KM330")
    assert found == [5, 10, 14, 18] and all(f.fixed for f in findings if f.rule == "KM330")


def test_registered_beside_another_module_rule():
    """KM317 (a function named like a Keras activation) and KM330 both rewrite the module:
    each module hook hands its result on (``chain``), so neither ends the other's turn
    (cifar10_cnn_capsule: its ``softmax`` was registered and its ``margin_loss`` was not)."""
    src = ("import keras\n\ndef softmax(x, axis=-1):\n    return x\n\ndef margin_loss(y_true, y_pred):\n"
           "    return y_pred\n\nm.compile(loss=margin_loss, optimizer='adam')\n")
    code, findings = rw(src)
    assert f"{DECORATOR}def softmax(" in code and f"{DECORATOR}def margin_loss(" in code
    assert {f.rule for f in findings if f.fixed} >= {"KM317", "KM330"}
    assert_fixed_point(code)


def test_positional_dict_and_tuple_forms():
    src = ("import keras\n\ndef f(x):\n    return x\n\ndef g(a, b):\n    return b\n\ndef h(a, b):\n    return b\n\n"
           "keras.layers.Lambda(f)\nm.compile('sgd', {'out': g}, (h,))\n")
    code, _ = rw(src)
    assert code.count(DECORATOR) == 3


def test_noop_registered_nested_or_strings():
    src = ("import keras\n\n@keras.saving.register_keras_serializable()\ndef f(x):\n    return x\n\n"
           "def outer():\n    def g(x):\n        return x\n    return keras.layers.Lambda(g)\n\n"
           "keras.layers.Lambda(f)\nm.compile(loss='mse', metrics=['accuracy'])\n")
    code, findings = rw(src)
    assert code == src and "KM330" not in rules_of(findings)


def test_unsupported_python_lambda_reported():
    code, findings = rw("import keras\ny = keras.layers.Lambda(lambda t: t * 2)(x)\n")
    assert [f.fixed for f in findings if f.rule == "KM330"] == [False]
    assert "lambda t: t * 2" in code


def test_alias_tf_keras_and_renamed_import():
    src = "import tensorflow as tf\nfrom tensorflow.keras.layers import Lambda as L\n\ndef f(x):\n    return x\n\nL(f)\n"
    code, _ = rw(src)
    assert DECORATOR in code
    code, _ = rw("import tensorflow as tf\n\ndef f(x):\n    return x\n\ntf.keras.layers.Lambda(f)\n")
    assert DECORATOR in code


def test_idempotent():
    assert_fixed_point(SRC)


def test_rewritten_model_reloads_with_safe_mode(tmp_path):
    """Keras 3: without the registration load_model(safe_mode=True) cannot find the Lambda's
    function; with it, the model reloads and predicts the same."""
    import keras

    src = ("from keras.layers import Lambda, Input, Dense\nfrom keras.models import Model\n\n"
           "def double(x):\n    return x * 2.0\n\n"
           "def build():\n    i = Input((3,))\n    return Model(i, Lambda(double)(Dense(2)(i)))\n")
    code, _ = rw(src)
    for label, text in (("legacy", src), ("rewritten", code)):
        path = tmp_path / label / "km330_module.py"
        path.parent.mkdir()
        path.write_text(text)
        spec = importlib.util.spec_from_file_location("km330_module", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["km330_module"] = module
        spec.loader.exec_module(module)
        model = module.build()
        x = np.ones((2, 3), "float32")
        model.save(tmp_path / label / "m.keras")
        try:
            loaded = keras.saving.load_model(tmp_path / label / "m.keras", safe_mode=True)
        except Exception as exc:  # noqa: BLE001 - the legacy text must fail here
            assert label == "legacy", exc
            assert "double" in str(exc)
        else:
            assert label == "rewritten"
            np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=0)
        finally:
            sys.modules.pop("km330_module", None)
            keras.saving.get_custom_objects().pop("t>double", None)
