"""KM101/KM102/KM103: namespaces (rules/imports.py, tables.MODULE_ROWS)."""

import importlib
import importlib.util

import pytest

from tests.migrate.helpers import assert_fixed_point, rules_of, rw


def test_positive_engine_and_submodules():
    code, findings = rw("from keras.engine.topology import Layer, InputSpec\n"
                        "from keras.layers.core import Dense\nfrom keras.utils.np_utils import to_categorical\n"
                        "from keras.engine.training import Model\n")
    assert "from keras.layers import Layer, InputSpec" in code
    assert "from keras.layers import Dense" in code
    assert "from keras.utils import to_categorical" in code
    assert "from keras import Model" in code
    assert rules_of(findings) == {"KM101"}


def test_positive_tf_keras_namespace():
    code, findings = rw("import tensorflow as tf\nfrom tensorflow import keras\n"
                        "from tensorflow.keras.layers import Dense\nm = tf.keras.Sequential([Dense(2)])\n"
                        "p = tf.keras.layers.experimental.preprocessing.Rescaling(1.0)\n")
    assert "import keras\n" in code and "from tensorflow import keras" not in code
    assert "from keras.layers import Dense" in code
    assert "keras.Sequential([Dense(2)])" in code and "tf.keras" not in code
    assert "keras.layers.Rescaling(1.0)" in code
    assert "KM102" in rules_of(findings)


def test_noop():
    src = "import keras\nfrom keras import layers\nx = keras.layers.Dense(3)\nimport numpy as np\n"
    assert rw(src) == (src, [])


def test_alias_python_keras_and_split_import():
    code, _ = rw("from tensorflow.python.keras.engine import Layer, Model\nimport tensorflow.keras as tfk\n"
                 "d = tfk.layers.Dense(1)\n")
    assert "from keras.layers import Layer" in code and "from keras import Model" in code
    assert "import keras as tfk" in code


def test_unknown_symbol_reported():
    code, findings = rw("from keras.layers import CuDNNLSTM\n")
    assert "CuDNNLSTM" in code
    assert [(f.rule, f.fixed) for f in findings] == [("KM103", False)]


def test_idempotent():
    assert_fixed_point("import tensorflow as tf\nfrom keras.layers.recurrent import LSTM\n"
                       "x = tf.keras.layers.Dense(2)\n")


def test_import_findings_point_at_their_line():
    _, findings = rw("import os\nfrom keras.layers.core import Dense\nfrom keras.layers import Merge\n")
    assert [(f.rule, f.line, f.column) for f in findings] == [("KM101", 2, 1), ("KM311", 3, 1)]


# -- one pass settles (issue 10): removed names stay reported, never moved to a module that lacks them --


@pytest.mark.parametrize("src", [
    # `import keras` (here added by KM312 for the decorator) once made the module name of the import
    # a reference, and the second run moved it to `from keras.layers import Recurrent`
    "from keras.layers.recurrent import Recurrent\nclass A(Recurrent):\n    pass\n",
    "import keras\nfrom keras.preprocessing.image import ImageDataGenerator\ng = ImageDataGenerator()\n",
    "from keras.preprocessing.image import ImageDataGenerator\ng = ImageDataGenerator(rescale=1 / 255)\n",
    # a module import that moves: the second run sees the Keras 3 name; the report must read the same
    "from keras.layers import recurrent\nclass A(recurrent.Recurrent):\n    pass\n",
    "from tensorflow.keras.preprocessing import image\ng = image.ImageDataGenerator()\nx = image.load_img(p)\n",
])
@pytest.mark.parametrize("todo", [False, True])
def test_removed_names_settle_in_one_pass(src: str, todo: bool) -> None:
    once, first = rw(src, todo_comments=todo)
    twice, second = rw(once, todo_comments=todo)
    assert twice == once
    assert [(f.rule, f.message) for f in first if not f.fixed] == [(f.rule, f.message) for f in second]
    # the import's own report; a call of ImageDataGenerator is also reported by KM323 (what to write instead)
    assert [f.rule for f in second if f.rule != "KM323"] == ["KM103"]
    # every import the rewrite wrote exists in Keras 3; the legacy one it could not move is kept as it was
    for line in once.splitlines():
        if line.startswith("from keras") and line not in src:
            module = line.split()[1]
            names = [n.split(" as ")[0].strip() for n in line.split(" import ")[1].split(",")]
            imported = importlib.import_module(module)
            assert all(hasattr(imported, n) or importlib.util.find_spec(f"{module}.{n}") for n in names), line


def test_removed_name_report_says_what_to_use() -> None:
    _, findings = rw("from keras.preprocessing.image import ImageDataGenerator\n")
    assert "image_dataset_from_directory" in findings[0].message
    _, findings = rw("from keras.layers.recurrent import Recurrent\n")
    assert "keras.layers.RNN" in findings[0].message


def test_backend_config_module_is_keras_config():
    """keras-bert 0.89's optimizers import tf.keras's private backend_config for epsilon();
    Keras 3 has the same functions in keras.config (KM103 'no keras.backend_config' before)."""
    src = ("from tensorflow.python.keras import backend_config\n"
           "from tensorflow.keras.backend_config import floatx\n"
           "eps = backend_config.epsilon()\nkind = floatx()\n")
    code, findings = rw(src)
    assert "from keras import config as backend_config\n" in code
    assert "from keras.config import floatx\n" in code
    assert not [f for f in findings if not f.fixed]
    assert_fixed_point(src)
    namespace: dict[str, object] = {}
    exec(compile(code, "backend_config.py", "exec"), namespace)
    assert (namespace["eps"], namespace["kind"]) == (1e-7, "float32")


def test_added_import_goes_above_code_when_the_only_import_was_dropped():
    # The file's one import (K) is dropped; the first statement is a call, not a
    # docstring, so `from keras import ops` must come before it, not after it.
    code, _ = rw("from keras import backend as K\nm.compile(loss='mse')\nx = K.sum(y)\n")
    assert code.splitlines()[0] == "from keras import ops", code
    docstring, _ = rw('"""Doc."""\nfrom keras import backend as K\nx = K.sum(y)\n')
    assert docstring.splitlines()[:2] == ['"""Doc."""', "from keras import ops"], docstring
